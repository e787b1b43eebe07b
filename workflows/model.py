"""deskbridge's one language inside: helpdesk-neutral tickets and events.

Connectors translate vendor payloads into these; workflows never see anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar, dataclass_transform

from pydantic import Field, TypeAdapter, field_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass


class Source(StrEnum):
    zendesk = "zendesk"
    salesforce = "salesforce"


# Zendesk ids (tickets, users, groups, organizations, comments, ticket fields) are positive
# integers; the event-subscription payload sends them as strings, and the API takes no name.
ZENDESK_ID = re.compile(r"[0-9]{1,20}")
# A Salesforce record id (case, user, org, queue): 15 letters and digits, or 18 with the
# suffix that encodes the letters' case.
SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


_CASE_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id_key(value: str) -> str:
    """A Salesforce record id (org, user) in the form ids are compared on: 15 characters. The
    18-character form Salesforce sends (API, outbound messages, Flow) only adds the letters'
    case, five at a time; report exports and Classic URLs show the 15, and people copy either.
    An 18-character id is meant to be compared whatever its case, and a spreadsheet may have
    upper- or lower-cased it: such an id's 15 are given the case its suffix spells. Mixed
    case is taken as written (a typo in the suffix must not change the letters)."""
    if len(value) != 18:
        return value
    head, suffix = value[:15], value[15:].upper()
    if not (head.isupper() or head.islower()) or any(c not in _CASE_SUFFIX for c in suffix):
        return head
    restored = []
    for block, code in enumerate(suffix):
        capitals = _CASE_SUFFIX.index(code)
        for i, c in enumerate(head[block * 5 : block * 5 + 5]):
            restored.append(c.upper() if capitals >> i & 1 else c.lower())
    return "".join(restored)


def salesforce_id_18(value: str) -> str:
    """A 15-character Salesforce record id in the 18-character form the API sends (its keys'
    form): the suffix spells, five characters at a time, which are capital letters. Any other
    length is returned as it is."""
    if len(value) != 15:
        return value
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, c in enumerate(value[start : start + 5]) if "A" <= c <= "Z")
        suffix += _CASE_SUFFIX[bits]
    return value + suffix


def same_organization(source: Source, organization: str, wanted: tuple[str, ...]) -> bool:
    """Whether a ticket's organization is one of the rules file's (`risk.signals.vip.
    organizations`, an SLA policy's `organization` or `organizations`). A case's AccountId
    is compared by its 15-character form, as the roster's user ids are: Salesforce sends 18
    characters, while a report export or a Classic URL shows 15, and a key account copied
    from one never matched."""
    if organization in wanted:
        return True
    if source is not Source.salesforce or SALESFORCE_ID.fullmatch(organization) is None:
        return False
    key = salesforce_id_key(organization)
    return any(
        SALESFORCE_ID.fullmatch(w) is not None and salesforce_id_key(w) == key for w in wanted
    )


class Status(StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    hold = "hold"
    solved = "solved"
    closed = "closed"

    # Solved or closed: each member's own attribute (set below), not a property. The rules
    # ask it of every state ten times an event, and on 3.11 a property is a call each time
    # (an instance attribute is one specialised look-up).
    is_done: bool


for _status in Status:
    _status.is_done = _status in (Status.solved, Status.closed)
del _status


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class EventKind(StrEnum):
    """What happened. `updated` is a snapshot with no specific change (trigger bodies)."""

    created = "created"
    comment_added = "comment_added"
    status_changed = "status_changed"
    priority_changed = "priority_changed"
    tags_changed = "tags_changed"
    group_changed = "group_changed"
    assignee_changed = "assignee_changed"
    type_changed = "type_changed"
    subject_changed = "subject_changed"
    description_changed = "description_changed"
    custom_field_changed = "custom_field_changed"
    updated = "updated"
    # From people acting in Slack on deskbridge's alerts.
    acknowledged = "acknowledged"
    snoozed = "snoozed"
    call_logged = "call_logged"
    department_picked = "department_picked"
    escalation_requested = "escalation_requested"


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone")
    return value


def new_list() -> list:
    """`list` as a field's default factory (`Field(default_factory=new_list)`): pydantic asks
    every factory for its signature while it builds a model, and a builtin's is parsed from
    its text signature (inspect.signature: about 700,000 instructions, against 30,000 for a
    function's). The models' 65 such fields cost 42 M instructions at every start."""
    return []


def new_dict() -> dict:
    """`dict` as a field's default factory: see `new_list`."""
    return {}


# deskbridge's models: pydantic BaseModels and the dataclasses `frozen_model` makes.
ModelT = TypeVar("ModelT")
# The classes made by `frozen_model`.
_FROZEN_MODELS: set[type] = set()


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(Field,))
def frozen_model(cls: type[ModelT]) -> type[ModelT]:
    """A model the decider's hot loop reads attribute by attribute (a ticket's state and its
    parts, kept in memory for many tickets at once; the actions the rules decide): a frozen,
    keyword-only pydantic dataclass, validated when made (`TicketState(...)`, `load_state`),
    changed by `evolve` (a copy). Not a BaseModel: on Python 3.11 each attribute read of a
    BaseModel goes through its `__getattr__` hook, which the interpreter cannot specialise
    (130-180 ns against a plain object's 26-30 ns), and replay makes hundreds of such reads
    per event (benchmarks/README.md)."""
    cls.__post_init__ = _in_field_order
    made = pydantic_dataclass(frozen=True, kw_only=True)(cls)
    _FROZEN_MODELS.add(made)
    return made


def _in_field_order(self: Any) -> None:
    # Validation sets the fields with default factories first; in field order, a model's
    # __dict__ is the same however it was made (orjson writes it in that order, and
    # `evolve` and `build_checked` copy it).
    values = self.__dict__
    _set_attribute(self, "__dict__", {name: values[name] for name in self.__dataclass_fields__})


@frozen_model
class Comment:
    """A comment on a ticket. `body` is kept for rules (keywords) but never logged."""

    id: str
    public: bool
    author_id: str | None = None
    author_is_agent: bool
    is_voice: bool = False
    body: str = ""

    @property
    def is_public_agent_reply(self) -> bool:
        return self.public and self.author_is_agent and not self.is_voice


@frozen_model
class TicketSnapshot:
    """The ticket as the helpdesk described it at `updated_at`. Unknown fields are None."""

    subject: str | None = None
    description: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    type: str | None = None
    tags: tuple[str, ...] | None = None
    group: str | None = None
    assignee: str | None = None
    requester: str | None = None
    organization: str | None = None
    channel: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom_fields: dict[str, str] = Field(default_factory=new_dict)
    # The number people know the ticket by where it is not its id (a Salesforce case's
    # CaseNumber, "00001042"); None where the id is the number (Zendesk) or it was not sent.
    number: str | None = None


@frozen_model
class TicketEvent:
    """One normalised helpdesk event about one ticket."""

    source: Source
    ticket_id: str
    dedupe_key: str
    kind: EventKind
    occurred_at: datetime
    ticket: TicketSnapshot = Field(default_factory=TicketSnapshot)
    comment: Comment | None = None
    actor_id: str | None = None
    vendor_type: str = ""
    # Details of deskbridge's own events (who acted in Slack, the department picked …).
    meta: dict[str, str] = Field(default_factory=new_dict)

    _aware = field_validator("occurred_at")(_require_aware)

    @property
    def ticket_key(self) -> str:
        return ticket_key(self.source, self.ticket_id)


def evolve(model: ModelT, changes: Mapping[str, Any]) -> ModelT:
    """`model` with the changed fields: a shallow copy, not validated again (the rules copy
    a ticket's state several times per event). A frozen model's (`frozen_model`) is its
    `__dict__` copied and updated; a pydantic model's the same, without pydantic's general
    path (copy.copy of each part, extra and private attributes), twice as fast; models with
    extra or private attributes take pydantic's own path."""
    cls = type(model)
    copied = _new_object(cls)
    # The new object's own (empty) `__dict__`, filled: cheaper than a copy set as its
    # `__dict__` (`object.__setattr__` from Python costs as much as the copy), in the same
    # field order.
    values = copied.__dict__
    values.update(model.__dict__)
    values.update(changes)
    if cls in _FROZEN_MODELS:
        return copied
    plain = _PLAIN.get(cls)
    if plain is None:  # extra fields or private attributes possible: pydantic's own path
        plain = _PLAIN[cls] = cls.model_config.get("extra") != "allow" and not (
            cls.__private_attributes__
        )
    if not plain and (
        model.__pydantic_extra__ is not None or model.__pydantic_private__ is not None
    ):
        return model.model_copy(update=dict(changes))
    _set_attribute(copied, "__pydantic_extra__", None)
    _set_attribute(
        copied, "__pydantic_fields_set__", model.__pydantic_fields_set__ | changes.keys()
    )
    _set_attribute(copied, "__pydantic_private__", None)
    return copied


_new_object = object.__new__
_set_attribute = object.__setattr__
# Whether a model class can have no extra fields and no private attributes (their slots are
# then always None): each read of them is a BaseModel.__getattr__ slow path on 3.11.
_PLAIN: dict[type, bool] = {}


def build_checked(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """`model(**values)` for values already checked to be what its validation gives back
    (a connector's parser checks every value it reads): the same model, fields in the same
    order, without validating them again. Fields not given take their defaults. Only for
    models without validators that change values or extra or private attributes; tests
    compare each use with validation."""
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        fields = model.__pydantic_fields__
        defaults = _DEFAULTS[model] = (
            {
                name: None if field.default_factory is not None else field.default
                for name, field in fields.items()
            },
            tuple(
                (name, field.default_factory)
                for name, field in fields.items()
                if field.default_factory is not None
            ),
        )
    plain, factories = defaults
    data = plain.copy()  # in the model's field order; given values keep that order
    data.update(values)
    for name, factory in factories:
        if name not in values:
            data[name] = factory()
    made = _new_object(model)
    _set_attribute(made, "__dict__", data)
    if model in _FROZEN_MODELS:
        return made
    _set_attribute(made, "__pydantic_fields_set__", set(values))
    _set_attribute(made, "__pydantic_extra__", None)
    _set_attribute(made, "__pydantic_private__", None)
    return made


_DEFAULTS: dict[type, tuple[dict[str, Any], tuple]] = {}


def ticket_key(source: Source | str, ticket_id: str) -> str:
    # A member as it is (looking a member up by value, and `.value`, are calls on 3.11).
    member = source if source.__class__ is Source else Source(source)
    return f"{member._value_}:{ticket_id}"


def owner_for(source: Source, group: str | None, salesforce_queue: str | None) -> str | None:
    """The group (Zendesk) or queue (Salesforce) to hand a ticket of `source` to; None for a
    Zendesk ticket where the rules give only a queue (a Salesforce-only team's), which is not
    moved. A queue in the 18-character form Salesforce sends back as the case's OwnerId: the
    echo of deskbridge's own move is then recognised as its own (`assigned_groups`), whichever
    form the rules file gives."""
    if source is Source.salesforce and salesforce_queue:
        return salesforce_id_18(salesforce_queue)
    return group


@frozen_model
class SlaClock:
    """One SLA measurement. `instance` (its start) names its timers and actions, so a restarted
    clock (a new customer message, a reopen) warns and breaches afresh."""

    metric: str
    instance: str
    started_at: datetime
    # None while paused (resolution, waiting on the customer).
    running_since: datetime | None
    # Target time used before `running_since`, in the target's own time (business or calendar).
    used_s: float = 0.0
    fulfilled_at: datetime | None = None
    stopped: bool = False
    # When it stopped unmet (the ticket was solved): a reply written before then and
    # delivered after still meets it. None on a clock stored before it was kept.
    stopped_at: datetime | None = None
    # The time its breach alert named, once the alert went out: what met it by then, known
    # only after, withdraws the alert. None before, and on a clock stored before it was kept.
    breached_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.fulfilled_at is None and not self.stopped


@frozen_model
class OncallStep:
    """One step of an on-call chain as snapshotted when the chain started: when, and whom
    (`oncall`, `next`, `lead`), the people being read when it pages. Chains stored before
    kept the people too (`people`, ignored when read)."""

    after_s: float
    notify: str


@frozen_model
class OncallChain:
    """The ticket's on-call escalation: the chain's steps, copied when the first page went out
    (later config edits do not change a running chain), and whom it has paged. `id` (the first
    page's time) names its actions and is the token its timer carries: a timer of an older
    chain is stale."""

    id: str
    trigger: str
    reason: str
    started_at: datetime
    steps: list[OncallStep]
    # Index of the next step to page; len(steps) when every step has paged.
    next_step: int = 0
    # Slack ids paged so far: they may act on the ticket's alerts.
    paged: list[str] = Field(default_factory=new_list)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    solved_at: datetime | None = None
    # The ticket's how-manyth chain this is, and the latest time any of its chains started:
    # what a new chain's id needs to differ from every earlier one's (new_chain_id), kept in
    # two numbers instead of a list of ids. Stored before they were kept: 1 and None.
    number: int = 1
    latest_started_at: datetime | None = None
    # The customer's wait it was paged for (first_reply, next_reply: an urgent ticket's reply
    # target ran out after hours), and when it ended because a reply written before the first
    # page reached deskbridge after it: the page was a false alarm. None otherwise.
    metric: str | None = None
    withdrawn_at: datetime | None = None

    @property
    def running(self) -> bool:
        """Neither acknowledged, solved nor withdrawn: an acknowledgement still stops it (and
        tells the pager), even once every step has paged."""
        return self.acknowledged_at is None and self.solved_at is None and self.withdrawn_at is None

    @property
    def pending(self) -> bool:
        """Running with steps still to page. A new paging event is told in the thread of a
        pending chain (its later steps page on); otherwise it starts a new chain, or it would
        page nobody: an acknowledged chain, or one whose steps have all paged, pages no more."""
        return self.running and self.next_step < len(self.steps)

    @property
    def open(self) -> bool:
        """Not solved nor withdrawn: either resolves the chain's incident once."""
        return self.solved_at is None and self.withdrawn_at is None


# Status points a ticket's state keeps (TicketState.status_points): enough to place a status
# change delivered minutes late among the events around it.
KEEP_STATUS_POINTS = 20


def status_point_time(point: tuple[datetime, Status]) -> datetime:
    """When a status point (TicketState.status_points) was: its sort key."""
    return point[0]


@frozen_model
class TicketState:
    """What deskbridge knows about a ticket, folded from every event it accepted."""

    key: str
    source: Source
    ticket_id: str
    # The number people know it by, where not its id (TicketSnapshot.number).
    number: str | None = None
    subject: str | None = None
    description: str | None = None
    status: Status = Status.new
    priority: Priority | None = None
    type: str | None = None
    tags: list[str] = Field(default_factory=new_list)
    group: str | None = None
    assignee: str | None = None
    requester: str | None = None
    organization: str | None = None
    channel: str | None = None
    custom_fields: dict[str, str] = Field(default_factory=new_dict)
    created_at: datetime | None = None
    # Event time of the newest snapshot applied; older snapshots are stale and skipped.
    snapshot_at: datetime | None = None
    # The newest comment ids (workflows/state.py KEEP_COMMENT_IDS), so a comment delivered
    # twice counts once; older agent replies are only counted.
    public_agent_reply_ids: list[str] = Field(default_factory=new_list)
    earlier_public_agent_replies: int = 0
    # Event time of the newest public agent reply: a customer message older than it, delivered
    # or re-decided late, was answered already (the SLA rule starts no next-reply clock for it).
    # None on a state stored before it was kept (the SLA rule then reads its clocks).
    last_public_agent_reply_at: datetime | None = None
    # Event times of the public customer messages written after the newest public agent reply,
    # oldest first (the newest KEEP_COMMENT_IDS): a reply delivered late may answer only the
    # older ones, and the SLA rule then starts the next-reply clock from the oldest still
    # waiting, as in writing order. Empty on a state stored before it was kept.
    unanswered_customer_message_at: list[datetime] = Field(default_factory=new_list)
    voice_call_ids: list[str] = Field(default_factory=new_list)
    # The status each event's snapshot gave, by event time, oldest first (the newest
    # KEEP_STATUS_POINTS), stale ones too: a pending period delivered
    # after newer events still pauses the resolution clock for its length (the SLA rule).
    # Empty on a state stored before they were kept.
    status_points: list[tuple[datetime, Status]] = Field(default_factory=new_list)
    # Whether the points began on a state stored before they were kept: its statuses before
    # the first point are unknown, not "running since the ticket started".
    status_points_partial: bool = False
    # When the first customer call known was made (a voice comment, a "Call logged" click),
    # whatever order their events came in. None: no call, or one known only by its tag (or
    # stored before call times were kept).
    call_at: datetime | None = None
    # The 3-response rule's lead check: by when a call must have been made for the team lead
    # not to be told (the written reply past the threshold, plus three_responses.lead_grace;
    # outside business hours, the next opening). None: not planned yet.
    lead_check_by: datetime | None = None
    # Who logged the customer call / acknowledged the alerts in Slack (agent names).
    call_logged_by: str | None = None
    acknowledged_by: str | None = None
    # Public messages from the customer after the description, kept for re-classification.
    customer_messages: list[str] = Field(default_factory=new_list)
    customer_comment_ids: list[str] = Field(default_factory=new_list)
    reopened: bool = False
    # Routing: the department deskbridge routed to, every one it has routed to (no ping-pong),
    # the groups it assigned (their echoes are not hand-offs), and whether a person took over.
    department: str | None = None
    routed_departments: list[str] = Field(default_factory=new_list)
    assigned_groups: list[str] = Field(default_factory=new_list)
    routed_by_hand: bool = False
    department_acted: bool = False
    # SLA: the policy snapshotted when the clocks started (re-chosen when priority changes).
    sla_policy: str | None = None
    sla_clocks: dict[str, SlaClock] = Field(default_factory=new_dict)
    # The stage whose timer each clock set last, by metric (None: none): the rule sets the
    # next stage's alone and firing it sets the one after; a timer of another stage is stale,
    # and the one set is cancelled with the clock. A clock missing here was stored before
    # clocks kept it, when every stage's timer was set at once.
    sla_timer_stages: dict[str, str | None] = Field(default_factory=new_dict)
    # Risk: the signals and score of the last escalation.
    escalation_signals: list[str] = Field(default_factory=new_list)
    escalation_score: float = 0.0
    # The priority the risk rule raised the ticket to, where the helpdesk takes it as a value
    # that reads back as another level (`raised_priority_echo`): Salesforce's standard picklist
    # has no urgent, so urgent is written High, read high. While snapshots carry only that
    # echo, the ticket keeps the raised level (workflows/state.py); `raised_priority_from` is
    # its priority when raised, until the echo comes: a snapshot still carrying it was made
    # before the write landed. Another value is a person's change: taken, and these cleared.
    raised_priority: Priority | None = None
    raised_priority_echo: Priority | None = None
    raised_priority_from: Priority | None = None
    # Whether people were told about the ticket in Slack (so there are threads to update).
    alerted: bool = False
    # After-hours on-call chain (None: never paged).
    oncall: OncallChain | None = None
    # Idempotency keys of actions already decided, so level-triggered rules fire once.
    fired: list[str] = Field(default_factory=new_list)

    @property
    def public_agent_replies(self) -> int:
        return self.earlier_public_agent_replies + len(self.public_agent_reply_ids)

    def has_tag(self, tag: str) -> bool:
        return tag in self.tags


# A ticket's state changes that forget a raise (TicketState.raised_priority and its two
# companions): one place, so the rule that lowers a raise and the fold that sees a person's
# change can never clear different fields. Read-only: callers merge it into their changes.
RAISE_FORGOTTEN: Mapping[str, None] = MappingProxyType(
    {"raised_priority": None, "raised_priority_echo": None, "raised_priority_from": None}
)

_STATE_ADAPTER = TypeAdapter(TicketState)


def load_state(data: Mapping[str, Any]) -> TicketState:
    """A ticket's state from its stored JSON value, validated."""
    return _STATE_ADAPTER.validate_python(data)


def dump_state(state: TicketState) -> dict[str, Any]:
    """A ticket's state as a JSON value to store."""
    return _STATE_ADAPTER.dump_python(state, mode="json")


_EVENT_ADAPTER = TypeAdapter(TicketEvent)


def load_event_json(text: str | bytes) -> TicketEvent:
    """An event from its stored JSON (`dump_event_json`'s), validated."""
    return _EVENT_ADAPTER.validate_json(text)


def dump_event_json(event: TicketEvent) -> str:
    """An event as JSON to store."""
    return _EVENT_ADAPTER.dump_json(event).decode()
