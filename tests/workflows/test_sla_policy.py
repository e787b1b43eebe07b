"""`select_policy` reads each SLA config's conditions once, as plain values: for every
combination of the conditions a policy can name, it picks the policy the definition picks
(the first whose priority, channel, tags and organization all hold)."""

from __future__ import annotations

from itertools import product

from deskbridge.config.rules import RulesConfig, SlaPolicy
from deskbridge.workflows.model import Priority, Source, TicketState
from deskbridge.workflows.rules.sla import select_policy


def _defined(state: TicketState, policies: list[SlaPolicy]) -> SlaPolicy | None:
    for policy in policies:
        if policy.priority is not None and policy.priority != state.priority:
            continue
        if policy.channel is not None and (state.channel or "").lower() != policy.channel.lower():
            continue
        if policy.tags and not any(t in state.tags for t in policy.tags):
            continue
        wanted = [policy.organization] if policy.organization else policy.organizations
        if wanted and state.organization not in wanted:
            continue
        return policy
    return None


def test_the_policy_picked_is_the_first_whose_conditions_hold(rules: RulesConfig):
    policies = [
        SlaPolicy(name="vip", tags=["vip", "key"], first_reply="30m"),
        SlaPolicy(name="urgent social", priority="urgent", channel="Twitter", first_reply="1h"),
        SlaPolicy(name="urgent", priority="urgent", first_reply="1h"),
        SlaPolicy(name="acme", organization="77", first_reply="2h"),
        SlaPolicy(name="key accounts", organizations=["78", "79"], first_reply="2h"),
        SlaPolicy(name="empty channel", channel="", first_reply="3h"),
        SlaPolicy(name="web", channel="web", first_reply="4h"),
    ]
    config = rules.model_copy(update={"sla": rules.sla.model_copy(update={"policies": policies})})
    picked = set()
    for priority, channel, tags, organization in product(
        [None, *Priority],
        [None, "", "twitter", "TWITTER", "web", "email"],
        [[], ["vip"], ["other", "key"], ["vipx"]],
        [None, "77", "78", "79", "80"],
    ):
        state = TicketState(
            key="zendesk:1",
            source=Source.zendesk,
            ticket_id="1",
            priority=priority,
            channel=channel,
            tags=tags,
            organization=organization,
        )
        policy = select_policy(state, config)
        assert policy is _defined(state, policies)
        picked.add(policy.name if policy else None)
    assert picked == {p.name for p in policies} | {None}
    # Another config is read afresh, not the conditions kept for the first.
    assert select_policy(state, rules) is _defined(state, rules.sla.policies)


def test_a_case_account_matches_its_policy_in_either_id_form(rules: RulesConfig):
    """A policy's organization copied from a report export (15 characters) applies to the
    case whose AccountId Salesforce sends (18), as the roster's user ids do."""
    policies = [
        SlaPolicy(name="key account", organization="0015j00000LmN2r", first_reply="30m"),
        SlaPolicy(name="default", first_reply="8h"),
    ]
    config = rules.model_copy(update={"sla": rules.sla.model_copy(update={"policies": policies})})

    def picked(organization: str) -> str | None:
        case = TicketState(
            key="salesforce:5005j00000TqW8hAAF",
            source=Source.salesforce,
            ticket_id="5005j00000TqW8hAAF",
            organization=organization,
        )
        policy = select_policy(case, config)
        return policy.name if policy else None

    assert picked("0015j00000LmN2rAAF") == "key account"
    assert picked("0015j00000LmN2r") == "key account"
    assert picked("0015j00000LmN2sAAF") == "default"


def test_one_policy_names_a_teams_key_accounts_in_either_id_form(rules: RulesConfig):
    """A team with 20 key accounts wrote 20 copies of its policy, one per `organization`:
    `organizations` lists them in one, each in either id form."""
    policies = [
        SlaPolicy(
            name="key accounts",
            organizations=["0015j00000LmN2r", "0015j00000KeY9aAAB", "Acme Ltd"],
            first_reply="30m",
        ),
        SlaPolicy(name="default", first_reply="8h"),
    ]
    config = rules.model_copy(update={"sla": rules.sla.model_copy(update={"policies": policies})})

    def picked(source: Source, organization: str | None) -> str | None:
        ticket = TicketState(
            key=f"{source}:1", source=source, ticket_id="1", organization=organization
        )
        policy = select_policy(ticket, config)
        return policy.name if policy else None

    case = Source.salesforce
    assert [
        picked(case, account)
        for account in (
            "0015j00000LmN2rAAF",  # the first's 18-character form
            "0015j00000KeY9a",  # the second's 15
            "0015j00000KeY9aAAB",
            "0015j00000LmN2sAAF",  # another account
            None,
        )
    ] == ["key accounts", "key accounts", "key accounts", "default", "default"]
    # A Zendesk organization matches as written: a name, not another form of an id.
    assert [picked(Source.zendesk, o) for o in ("Acme Ltd", "0015j00000LmN2rAAF")] == [
        "key accounts",
        "default",
    ]


def test_clocks_differ_as_their_values_do():
    """`_clocks_differ` answers `!=` on two dicts of clocks (by the clocks' values)."""
    from datetime import UTC, datetime

    from deskbridge.workflows.model import SlaClock, evolve
    from deskbridge.workflows.rules.sla import _clocks_differ

    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    first = SlaClock(metric="first_reply", instance=at.isoformat(), started_at=at, running_since=at)
    resolution = evolve(first, {"metric": "resolution"})
    before = {"first_reply": first, "resolution": resolution}
    cases = [
        dict(before),  # the same clocks
        {"first_reply": evolve(first, {}), "resolution": resolution},  # an equal copy
        {"first_reply": evolve(first, {"used_s": 1.5}), "resolution": resolution},
        {"first_reply": evolve(first, {"running_since": None}), "resolution": resolution},
        {"resolution": resolution, "first_reply": first},  # another order, the same clocks
        {"first_reply": first},
        {**before, "next_reply": evolve(first, {"metric": "next_reply"})},
        {"first_reply": first, "next_reply": resolution},
    ]
    assert [_clocks_differ(c, before) for c in cases] == [c != before for c in cases]
    assert [c != before for c in cases] == [False, False, True, True, False, True, True, True]
