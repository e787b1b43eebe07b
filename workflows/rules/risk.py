"""Risk escalation to the specialist tier: legal or regulatory threats, social media, VIPs,
reopened tickets, repeat contacts and strong anger, each with a weight; at the threshold the
ticket is escalated with every reason listed. Once per level: it is escalated again only when
new signals lift the score to the next multiple of the threshold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from deskbridge.config.rules import RiskConfig
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.decision import Context, Decision, RelatedTicket, Timer, view_of
from deskbridge.workflows.memo import Memo
from deskbridge.workflows.model import (
    RAISE_FORGOTTEN,
    EventKind,
    Priority,
    Source,
    TicketEvent,
    TicketState,
    owner_for,
    same_organization,
)
from deskbridge.workflows.rules.routing import handoff_timer_id
from deskbridge.workflows.text import phrase_index, tokenize

RULE = "risk"
_PRIORITY_ORDER = [Priority.low, Priority.normal, Priority.high, Priority.urgent]
# Named once: on 3.11 `EventKind.x` goes through EnumType.__getattr__, on every event.
_ESCALATION_REQUESTED = EventKind.escalation_requested
# A later ticket's timer: decided again once its earlier contact's events came.
REPEAT_KIND = "risk.repeat_contact"


@dataclass(frozen=True)
class Signal:
    name: str
    weight: float
    reason: str


@lru_cache(maxsize=4096)
def _shouting(subject: str | None) -> bool:
    """Three words or more with letters, and four letters in five capitals. By the subject,
    kept (a ticket's texts are read again for each new message; its subject is the same),
    and letter by letter in C (map and filter): the capitals first, as most subjects have
    few. The letters of the words with letters are all the subject's letters."""
    if not subject:
        return False
    letters = list(filter(_IS_LETTER, subject))
    if sum(map(_IS_CAPITAL, letters)) < 0.8 * len(letters):
        return False
    return sum(any(map(_IS_LETTER, word)) for word in subject.split()) >= 3


_IS_LETTER, _IS_CAPITAL = str.isalpha, str.isupper


# What a ticket's texts say, by the texts: most events change none of them.
TEXTS_KEPT = 8192
_said = Memo(TEXTS_KEPT)
# The phrase signals, whose phrases are looked for in the texts.
_PHRASE_SIGNALS = ("legal", "social_media", "anger")
# What each text mentions (the phrases of each phrase signal), by the text: a new customer
# message is read alone, not with the subject, description and earlier messages again.
_mentioned = Memo(TEXTS_KEPT)


def _mentions(text: str, config: RiskConfig) -> dict[str, frozenset[str]]:
    """The phrases of each phrase signal that `text` mentions (not negated: read as threats,
    see PhraseIndex.find_threats)."""
    found = _mentioned.get(config, text)
    if found is None:
        tokens = tokenize(text)
        found = _mentioned.put(
            config,
            text,
            {
                name: frozenset(phrase_index(tuple(signal.phrases)).find_threats(tokens))
                for name, signal in config.signals.items()
                if name in _PHRASE_SIGNALS
            },
        )
    return found


def _text_reasons(state: TicketState, config: RiskConfig) -> dict[str, str | None]:
    """Each phrase signal's first phrase (in the configured order) that the subject, the
    description or a customer message mentions ("" for anger's shouting: capitals or !!!),
    by those texts."""
    texts = said_key(state)
    found = _said.get(config, texts)
    if found is not None:
        return found
    return _said.put(config, texts, read_texts(texts, config))


def said_key(state: TicketState) -> tuple[str | None, ...]:
    """The texts `_text_reasons` reads, as its answers are kept by: the subject, the
    description and the customer's messages."""
    return (state.subject, state.description, *state.customer_messages)


def read_texts(texts: tuple[str | None, ...], config: RiskConfig) -> dict[str, str | None]:
    """`_text_reasons`' answer for `texts` (`said_key`'s), worked out (pure: replay's reader
    works it out ahead, `keep_read_texts`)."""
    mentions = [_mentions(t, config) for t in texts if t]
    found: dict[str, str | None] = {}
    for name, signal in config.signals.items():
        if name in _PHRASE_SIGNALS:
            # The phrases any text mentions, then the first of them in the configured order:
            # most tickets' texts mention none, and then no phrase is looked at.
            said = frozenset().union(*[m[name] for m in mentions])
            found[name] = next((p for p in signal.phrases if p in said), None) if said else None
    if found.get("anger", "") is None:
        raw_text = " ".join(t for t in texts if t)
        found["anger"] = "" if "!!!" in raw_text or _shouting(texts[0]) else None
    return found


def keep_read_texts(
    config: RiskConfig, texts: tuple[str | None, ...], found: dict[str, str | None]
) -> None:
    """Keep `read_texts(texts, config)`'s answer, worked out elsewhere, for `_text_reasons`
    (an answer kept already stays as it is)."""
    if _said.get(config, texts) is None:
        _said.put(config, texts, found)


def collect_signals(state: TicketState, ctx: Context, config: RiskConfig) -> list[Signal]:
    said = _text_reasons(state, config)
    signals: list[Signal] = []
    for name, weight, channels, tags, organizations in _signal_settings(config):
        reason = None
        if name == "legal":
            phrase = said[name]
            reason = f'mentions "{phrase}"' if phrase else None
        elif name == "social_media":
            channel = (state.channel or "").lower()
            if channel and channel in channels:
                reason = f"came in through {state.channel}"
            elif phrase := said[name]:
                reason = f'mentions "{phrase}"'
        elif name == "vip":
            given = state.tags  # read once (has_tag reads it per configured tag)
            tag = next((t for t in tags if t in given), None) if given else None
            if tag is not None:
                reason = f'tagged "{tag}"'
            elif state.organization and same_organization(
                state.source, state.organization, organizations
            ):
                reason = f"organization {state.organization} is a key account"
        elif name == "reopened":
            reason = "reopened after it was solved" if state.reopened else None
        elif name == "repeat_contact":
            reason = _repeat_contact(state, ctx, config)
        elif name == "anger":
            phrase = said[name]
            if phrase:
                reason = f'strong words ("{phrase}")'
            elif phrase == "":
                reason = "shouting (capitals or !!!)"
        if reason:
            signals.append(Signal(name, weight, reason))
    return signals


def _signal_settings(
    config: RiskConfig,
) -> tuple[tuple[str, float, frozenset[str], tuple[str, ...], tuple[str, ...]], ...]:
    """Each configured signal as (name, weight, channels lower-cased, tags, organizations), in
    the configured order: read from the config once, as the rule collects them on every event
    (each read of a config model's field is pydantic's slow attribute path on 3.11)."""
    settings = _SETTINGS.get(config, ())
    if settings is None:
        settings = _SETTINGS.put(
            config,
            (),
            tuple(
                (
                    name,
                    signal.weight,
                    frozenset(c.lower() for c in signal.channels),
                    tuple(signal.tags),
                    tuple(signal.organizations),
                )
                for name, signal in config.signals.items()
            ),
        )
    return settings


_SETTINGS = Memo(16)


def _repeat_contact(state: TicketState, ctx: Context, config: RiskConfig) -> str | None:
    """Another ticket of the requester's opened within the window before this one: this ticket
    is the repeat contact (the playbook escalates the repeat, the later contact), whichever
    ticket's events arrive first. The earlier ticket is never the repeat: when its events come
    last, `later_contacts` has the later one decided again. A third contact is a repeat too
    (B escalated as A's repeat is C's earlier contact); the nearest earlier one is named."""
    created = state.created_at
    if created is None or not ctx.related:  # most requesters have no other ticket
        return None
    window = config.repeat_contact_window
    earlier = [r for r in ctx.related if created - window <= r.created_at < created]
    if earlier:
        nearest = max(earlier, key=lambda r: r.created_at)
        return f"the requester opened {nearest.key} too, within {window.days} days"
    return None


def later_contacts(state: TicketState, event: TicketEvent, ctx: Context) -> list[Timer]:
    """A timer on each of the requester's tickets opened within the window after this one and
    decided before this one was known (the earlier ticket's events came last, or its first
    events are later): that ticket is this one's repeat contact and is escalated in its own
    turn, as it would have been had this one come first. Only when this ticket's requester and
    creation time become known, so its later events set nothing again. Due when the later
    ticket was opened, or at this event if that came after (the review dates an escalation by
    the helpdesk's time); `known_at` says when deskbridge learned of it (paging goes by it)."""
    view = view_of(ctx.rules)
    config = view.risk  # None when disabled
    created = state.created_at
    if config is None or not view.repeat_contact or created is None or not state.requester:
        return []
    previous = ctx.previous
    if (
        previous is not None
        and previous.requester == state.requester
        and previous.created_at == created
    ):
        return []
    window = config.repeat_contact_window
    timers = []
    for r in ctx.related:
        if created < r.created_at <= created + window and (
            "repeat_contact" not in r.escalation_signals
        ):
            due = max(r.created_at, event.occurred_at)
            payload = {"earlier": state.key, "earlier_created_at": created.isoformat()}
            if due < ctx.now:
                payload["known_at"] = ctx.now.isoformat()
            timers.append(
                Timer(f"{r.key}:{REPEAT_KIND}:{state.key}", r.key, REPEAT_KIND, due, payload)
            )
    return timers


def fire_repeat_contact(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """A later ticket found to be a repeat contact once its earlier one's events came
    (`later_contacts`): its risk decided again with the earlier ticket known."""
    config = view_of(ctx.rules).risk  # None when disabled
    if config is None or state.status.is_done:
        return Decision()
    earlier = RelatedTicket(
        timer.payload["earlier"], datetime.fromisoformat(timer.payload["earlier_created_at"])
    )
    known = replace(ctx, related=(*ctx.related, earlier))
    return _escalate(state, collect_signals(state, known, config), known, config)


def _level(score: float, config: RiskConfig) -> int:
    return int(score // config.threshold)


def _raised(current: Priority | None, target: Priority) -> Priority | None:
    if current is not None and _PRIORITY_ORDER.index(current) >= _PRIORITY_ORDER.index(target):
        return None
    return target


def evaluate_risk(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    config = view_of(ctx.rules).risk  # None when disabled
    if config is None:
        return Decision()
    # A ticket solved before its events came is still the earlier contact of a later one.
    later = later_contacts(state, event, ctx)
    if state.status.is_done:
        return Decision(timers=later)
    signals = collect_signals(state, ctx, config)
    if event.kind is _ESCALATION_REQUESTED:
        note = event.meta.get("note", "")
        signals.append(
            Signal(
                "by_hand",
                config.threshold,
                f"escalated in Slack by {event.meta.get('by', 'someone')}"
                + (f": {note}" if note else ""),
            )
        )
    decision = _escalate(state, signals, ctx, config)
    decision.timers += later
    return decision


def _escalate(
    state: TicketState, signals: list[Signal], ctx: Context, config: RiskConfig
) -> Decision:
    """Escalated at the threshold, with every reason listed; once per level."""
    if not signals:  # most events: no score, under any threshold (it is above 0)
        return Decision()
    score = sum(s.weight for s in signals)
    if score < config.threshold:
        return Decision()
    names = sorted(s.name for s in signals)
    if state.escalation_signals and _level(score, config) <= _level(state.escalation_score, config):
        # Escalated already: a new but weaker signal changes nothing; only reaching the next
        # level (another multiple of the threshold) escalates again, once per level.
        return Decision()
    ticket = state.key
    owner = owner_for(state.source, config.specialist_group, config.specialist_queue)
    listed = "; ".join(f"{s.reason} ({s.name.replace('_', ' ')}, {s.weight:g})" for s in signals)
    reason = f"risk {score:g} ≥ {config.threshold:g}: {listed}"
    signals_key = "+".join(names)  # a riskier set of signals escalates again
    actions = [
        build_action(
            ticket,
            RULE,
            ActionKind.escalate,
            signals_key,
            "escalate",
            reason=reason,
            target="specialists",
            channel=config.specialist_channel,
            lead_channel=ctx.rules.team.lead_channel,
            signals=names,
            score=score,
        ),
        build_action(
            ticket,
            RULE,
            ActionKind.note,
            signals_key,
            "note",
            reason=reason,
            body=f"deskbridge escalated this ticket to the specialist tier: {reason}.",
        ),
    ]
    if owner is not None:  # a Zendesk ticket of a team that gave only the queue stays put
        actions.insert(
            1,
            build_action(
                ticket,
                RULE,
                ActionKind.assign,
                signals_key,
                "assign",
                reason=reason,
                group=owner,
                escalated=True,
            ),
        )
    updates: dict[str, Any] = {
        "escalation_signals": names,
        "escalation_score": score,
        "assigned_groups": [*state.assigned_groups, *([owner] if owner else [])],
    }
    priority = _raised(state.priority, config.raise_priority_to)
    if priority is not None:
        updates.update(_remember_raise(state, priority, ctx))
        actions.insert(
            1,
            build_action(
                ticket,
                RULE,
                ActionKind.set_priority,
                signals_key,
                "priority",
                reason=reason,
                priority=priority.value,
            ),
        )
    # The department's hand-off deadline, if one runs, chases nobody now (fire_handoff: the
    # specialist tier owns an escalated ticket): its timer goes, not left to fire for nothing.
    # One the routing sets in this same event is dropped by the merge (combine.py).
    handoff = state.department is not None and not state.department_acted
    return Decision(
        actions=actions, cancel=[handoff_timer_id(ticket)] if handoff else None, updates=updates
    )


def _remember_raise(
    state: TicketState, priority: Priority, ctx: Context
) -> Mapping[str, Priority | None]:
    """What the ticket's state keeps of raising it to `priority` (TicketState.raised_priority):
    for a case whose written value reads back as another level (urgent written High, read
    high), that level, so the helpdesk's echo of it keeps `priority` (the fold, in
    workflows/state.py). Without it every escalated case lost urgent, its urgent SLA policy
    and pages, at its next notification. Nothing where the value reads back as written
    (Zendesk's priorities are deskbridge's), nor where it is not read at all (check-config
    warns of that)."""
    echo = ctx.rules.salesforce.read_back(priority) if state.source is Source.salesforce else None
    if echo is None or echo is priority:
        if state.raised_priority is None:
            return {}
        return RAISE_FORGOTTEN
    return {
        "raised_priority": priority,
        "raised_priority_echo": echo,
        "raised_priority_from": state.priority,
    }
