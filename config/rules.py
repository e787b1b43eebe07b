"""The rules file: the team's playbook as YAML, validated by pydantic.

`load_rules(path)` returns a `RulesConfig` or raises `ConfigError` listing every problem with
its path (`sla.policies[2].first_reply: expected a duration like "4h" (…), got "4 hours"`).
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import json
import re
import types
import typing
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from deskbridge.workflows.business_hours import BusinessCalendar, build_calendar, open_per_week
from deskbridge.workflows.model import (
    SALESFORCE_ID,
    ZENDESK_ID,
    Priority,
    Status,
    new_dict,
    new_list,
    salesforce_id_key,
)
from deskbridge.workflows.wording import (
    count_noun,
    decode_file_text,
    describe_not_utf8,
    describe_problems,
)

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


class DurationError(ValueError):
    """A value that is no duration. The rules file's problem says what was given and what is
    taken (describe_error): `example`, a duration the setting might hold, and `least`, the
    shortest it takes when it has a floor. Its text alone (`outbox retry --since`) is short."""

    def __init__(self, example: str = "4h", least: timedelta | None = None):
        super().__init__('expected a duration like "4h"')
        self.example, self.least = example, least

    def describe(self, given: Any) -> str:
        floor = f" of at least {self.least.days}d," if self.least else ""
        return (
            f'expected a duration{floor} like "{self.example}" (whole numbers of days d, hours '
            f'h, minutes m, seconds s: "1d 12h"), got {describe_given(given)}'
        )


def parse_duration(value: Any) -> timedelta:
    """'4h', '30m', '1d 2h', '90s' → timedelta. Plain numbers are refused: units must be said."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
            result = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if result > timedelta(0):
                return result
    raise DurationError


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_wait(value: Any) -> timedelta:
    """Like parse_duration, but "0m" (at once) is allowed."""
    if isinstance(value, str) and value.strip() in ("0", "0s", "0m", "0h"):
        return timedelta(0)
    return parse_duration(value)


class _Model(BaseModel):
    """A section or entry of the rules file. A check of one field against another is a field
    validator of the later one reading `info.data` (the earlier fields that validated), not a
    model validator, which pydantic runs only when every field validates: so its problem is
    listed with the entry's others, in the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_entries(*checks: Callable[[list[tuple[int, Any]]], str | None]) -> WrapValidator:
    """A list's checks of its entries together (names unique, steps in order), given them with
    their index. They run on the entries that validate even when others do not, so their
    problems are listed with theirs in one run, not after they are fixed."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        errors: list[Any] = []
        try:
            result = handler(value)
            entries = list(enumerate(result))
        except ValidationError as exc:
            invalid, errors, title = exc, exc.errors(), exc.title
            broken = {e["loc"][0] for e in errors if e["loc"]}
            kept = [i for i in range(len(value)) if i not in broken] if broken else []
            try:
                entries = list(zip(kept, handler([value[i] for i in kept]), strict=True))
            except ValidationError:  # the list itself is wrong (too short, not a list)
                entries = None
            if entries is None:
                raise
        problems = [p for check in checks if (p := check(entries)) is not None]
        if not problems:
            if errors:
                raise invalid
            return result
        if not errors and len(problems) == 1:
            raise ValueError(problems[0])
        # Raised from a wrap validator, a ValidationError keeps its errors and their paths.
        details = [{k: e[k] for k in ("type", "loc", "input", "ctx") if k in e} for e in errors]
        failed = [
            {"type": "value_error", "loc": (), "input": value, "ctx": {"error": ValueError(p)}}
            for p in problems
        ]
        raise ValidationError.from_exception_data(
            title if errors else "list", [*details, *failed]
        ) from None

    return WrapValidator(validate)


def _known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # OSError: zoneinfo opens the name as a file of the tz database ("Europe" is a folder).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        import zoneinfo

        # Spellings only among the regions' names: "GMT+1" is no misspelt "GMT+0", and
        # "Etc/GMT+1" is an hour behind UTC.
        zones = zoneinfo.available_timezones()
        spelt = [] if re.search(r"\d", value) else [z for z in zones if "/" in z]
        hint = _find_meant_name(value, zones, spelt) or ' (use an IANA name like "Europe/London")'
        raise ValueError(f'unknown timezone "{value}"{hint}') from None
    return value


def _find_meant_name(value: str, names: Iterable[str], spelt: Iterable[str] = ()) -> str:
    """' (did you mean "X"?)' for the name `value` most likely means: one of `names` but for
    its case, else the closest spelling among `spelt`; "" without one."""
    folded = value.casefold()
    meant = [n for n in names if n.casefold() == folded]
    meant = meant or difflib.get_close_matches(value, list(spelt), n=1, cutoff=0.85)
    return f' (did you mean "{meant[0]}"?)' if meant else ""


def _slack_channel(value: str) -> str:
    """A channel as the bot posts to it: "#name", "name" or its id. Slack's channel names have
    no spaces: one written with a space is never found, and every alert to it would be
    dead-lettered (channel_not_found) while check-config said the file was ok."""
    if not value.removeprefix("#").strip() or any(c.isspace() for c in value):
        raise ValueError(
            'expected a Slack channel like "#resolution-leads" (its name has no spaces; Slack '
            f'writes them as "-"), or its id, got "{value}"'
        )
    return value


SlackChannel = Annotated[str, AfterValidator(_slack_channel)]


class TeamConfig(_Model):
    name: str = "Resolution team"
    timezone: str = "UTC"
    lead_channel: SlackChannel = Field(description="Slack channel where team leads are told things")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _known_timezone(value)


_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _slack_user_id(value: str) -> str:
    if not _SLACK_USER.match(value):
        message = f'expected a Slack user id like "U012AB3CD", got "{value}"'
        meant = value.strip().strip("<@>").upper()  # "u02priya01", a mention "<@U02PRIYA01>"
        # A digit, as every member ID has: a name in small letters ("wendy", "@ursula") fits
        # the pattern once in capitals, and was told to be written as WENDY.
        if _SLACK_USER.match(meant) and any(c.isdigit() for c in meant):
            message += f": write it as {meant}"
        else:  # a name or a handle ("tom", "@priya"): where the id is found
            message += " (a member ID: in Slack, the person's profile → ⋮ → Copy member ID)"
        raise ValueError(message)
    return value


SlackUserId = Annotated[str, AfterValidator(_slack_user_id)]


# A queue's record id: key prefix 00G, 15 characters, or 18 with the case-checksum suffix.
_SALESFORCE_QUEUE = re.compile(r"00G[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


Metric = Literal["first_reply", "next_reply", "resolution"]
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_opening_hours(value: Any) -> tuple[time, time]:
    """'09:00-18:00' → (09:00, 18:00); '24:00' closes at midnight."""
    match = _HOURS.match(value) if isinstance(value, str) else None
    if match:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2 == 24 and m2 == 0)):
            opens = time(h1, m1)
            closes = time.max if h2 == 24 else time(h2, m2)
            if closes > opens:
                return opens, closes
            # Hours past midnight belong to two days (the calendar runs them together).
            raise ValueError(
                "opening hours must close after they open: split hours past midnight there, "
                'e.g. "22:00-24:00" on one day and "00:00-06:00" on the next'
            )
    raise ValueError('expected opening hours like "09:00-18:00"')


OpeningHours = Annotated[tuple[time, time], BeforeValidator(parse_opening_hours)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class AgentConfig(_Model):
    """One person on the roster: maps Slack users to helpdesk agents."""

    name: str
    slack_id: SlackUserId
    zendesk_id: str | None = None
    salesforce_id: str | None = None
    team: str | None = None
    role: Literal["agent", "lead"] = "agent"
    # Tenure decides the daily response target (coaching).
    started_on: date | None = None
    # Working hours per weekday, local time (coaching nudges only then); default: the team's
    # business hours. Holidays and closures of the business calendar apply to everyone.
    works: dict[Weekday, list[OpeningHours]] | None = None


class ThreeResponsesConfig(_Model):
    enabled: bool = True
    threshold: int = Field(default=3, ge=1)
    call_required_tag: str = "call_required"
    call_logged_tag: str = "call_logged"
    # How long after the written reply past the threshold the lead is told: a call made
    # before that reply whose event comes this late still spares the lead. "0m": at once.
    lead_grace: Annotated[timedelta, BeforeValidator(parse_wait)] = timedelta(minutes=5)
    note: str = (
        "deskbridge: {replies} written replies and the ticket is not solved. "
        "Per the 3-response rule, please call the customer and log the call."
    )


DepartmentKey = Literal["logistics", "quality", "post_sales"]


def check_an_owner(queue: str | None, info: ValidationInfo, group: str, needs: str) -> str | None:
    """A Salesforce queue, refused when left out with the Zendesk `group` before it (given as
    null or not at all; a group with a problem of its own is listed as that)."""
    if queue is None and group in info.data and info.data[group] is None:
        raise ValueError(
            f"missing, and so is {group}: {needs} ({group}), its Salesforce queue, or both; a "
            "team on one helpdesk gives that one's"
        )
    return queue


class DepartmentConfig(_Model):
    # Shown wherever a person meets the department: route alerts, the reasons, the Pick
    # department menu, the review.
    name: str
    # The Zendesk group and the Salesforce queue (00G…) that own the department's work: a
    # team on one helpdesk gives that one's (at least one of the two).
    group: str | None = None
    # Checked when left out too (neither given); a field's check, so the entry's other
    # problems are listed in the same run.
    salesforce_queue: str | None = Field(default=None, validate_default=True)
    slack_channel: SlackChannel
    # Helpdesk user ids of the department's members: a reply from one of them is the hand-off.
    members: list[str] = Field(default_factory=new_list)
    handoff_within: Duration = timedelta(hours=4)
    # The window runs in the team's business hours; a desk that works around the clock (a
    # warehouse on night shifts) is overdue on the clock, as an SLA policy's calendar_time.
    handoff_calendar_time: bool = False

    @field_validator("salesforce_queue")
    @classmethod
    def _has_an_owner(cls, queue: str | None, info: ValidationInfo) -> str | None:
        return check_an_owner(queue, info, "group", "a department needs its Zendesk group")

    def has_member(self, source: str, user_id: str | None) -> bool:
        """Whether `user_id`, a user of helpdesk `source`, is one of `members`, matched as the
        roster matches ids (`helpdesk_id_key`): a Salesforce user by either form of their id,
        a Zendesk user as listed."""
        if not user_id:
            return False
        if source == "zendesk":
            return user_id in self.members
        key = salesforce_id_key(user_id)
        return any(salesforce_id_key(member) == key for member in self.members)


class SalesforceConfig(_Model):
    """How a Salesforce org's picklists read in deskbridge's terms."""

    # Case statuses by meaning; anything else is open (and logged, webhook.unmapped_status, so
    # the team lists it). IsClosed also counts as solved.
    new_statuses: list[str] = Field(default_factory=lambda: ["New"])
    # Salesforce's own picklist has Working and Escalated: open, said so, not logged (read
    # through find_open_statuses: the default yields to another list naming them).
    open_statuses: list[str] = Field(default_factory=lambda: ["Working", "Escalated"])
    pending_statuses: list[str] = Field(default_factory=lambda: ["Waiting on Customer"])
    hold_statuses: list[str] = Field(default_factory=lambda: ["On Hold"])
    solved_statuses: list[str] = Field(default_factory=lambda: ["Resolved"])
    closed_statuses: list[str] = Field(default_factory=lambda: ["Closed"])
    priorities: dict[str, Priority] = Field(
        default_factory=lambda: {
            "Critical": Priority.urgent,
            "High": Priority.high,
            "Medium": Priority.normal,
            "Low": Priority.low,
        }
    )
    # deskbridge priority → the picklist value written back.
    write_priorities: dict[Priority, str] = Field(
        default_factory=lambda: {
            Priority.urgent: "High",
            Priority.high: "High",
            Priority.normal: "Medium",
            Priority.low: "Low",
        }
    )
    # Case Origin → channel name used by SLA policies and risk signals.
    origins: dict[str, str] = Field(default_factory=new_dict)
    # Each listed Status value's meaning (read_status), built once.
    _status_by_value: dict[str, Status] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _map_statuses(self) -> SalesforceConfig:
        self._status_by_value = {
            value: _STATUS_OF_LIST[name]
            for name in _STATUS_LISTS
            for value in _find_statuses(self, name)
        }
        return self

    def read_back(self, level: Priority) -> Priority | None:
        """The level a case set to `level` reads back as: its `write_priorities` value as
        `priorities` reads it (None: not written, or not read). Urgent written High (the
        standard picklist's highest) reads back as high."""
        value = self.write_priorities.get(level)
        return None if value is None else self.priorities.get(value)

    def read_status(self, value: str) -> Status | None:
        """What a Case Status value means by the lists; None for one they do not list. A
        value has one meaning (a file listing one under two is refused, and open_statuses'
        default yields to the others), so the lists are read in no order."""
        return self.__pydantic_private__["_status_by_value"].get(value)

    def listed_statuses(self) -> list[str]:
        """Every Status value the lists give a meaning (read_status reads them)."""
        return list(self.__pydantic_private__["_status_by_value"])

    def find_open_statuses(self) -> list[str]:
        """open_statuses; left unset, its default less the values another list names: a file
        written before it existed that lists Escalated as on hold means on hold, and loads (it
        was refused as a Status under two meanings, and serve did not start)."""
        if "open_statuses" in self.model_fields_set:
            return self.open_statuses
        listed = {
            value
            for name in _STATUS_LISTS
            if name != "open_statuses"
            for value in getattr(self, name)
        }
        return [value for value in self.open_statuses if value not in listed]


class CategoryConfig(_Model):
    department: DepartmentKey
    label: str
    # Values of the explicit category field (e.g. a Zendesk dropdown's tag values).
    field_values: list[str] = Field(default_factory=new_list)
    tags: list[str] = Field(default_factory=new_list)
    phrases: list[str] = Field(default_factory=new_list)
    # Scales phrase scores against other categories of its kind.
    weight: float = Field(default=1.0, gt=0)
    # A remedy (refund, replacement, compensation…): a customer asking for it is routed here
    # whatever problem they describe, as the playbook sends approvals to one department.
    remedy: bool = False
    # When set, the category's phrases count only if the ticket also mentions one of these
    # (not negated): a follow-up's "you promised" or "has it been approved" is about a remedy
    # only when a refund, replacement, voucher… is named, not when it is a delivery date.
    needs: list[str] = Field(default_factory=new_list)
    # General words of a department's domain ("courier", "parcel"; "hinge", "fabric"): weak
    # evidence, counted only when no other category's phrase is found, and only from
    # routing.fallback_min_score on.
    fallback: bool = False
    # What a remedy gives, in other words than its phrases ("my money", "what I paid",
    # "another one", "the cost"): counted as asked for only in a clause that has both one of
    # routing.request_words and one of routing.remedy_verbs ("please send another one", "I
    # want my money returned"), or that opens with a remedy verb ("send a working one").
    objects: list[str] = Field(default_factory=new_list)
    # Phrases that name this category's problem only when one of `cues` (words) comes a few
    # words before them (routing.cue_window) with none of routing.cue_stops between: "it
    # arrived yesterday and one leg is broken" is damage in transit, "broken" alone a defect.
    # A cued phrase counts one word more than its length; elsewhere it keeps its own meaning.
    cued: list[str] = Field(default_factory=new_list)
    cues: list[str] = Field(default_factory=new_list)
    # Phrases that, right after a cued phrase, cue it too: "chipped on arrival", "snapped off
    # in delivery", "scratches after delivery". A cued phrase found so counts for this
    # category only: the same words are not also another department's problem.
    cues_after: list[str] = Field(default_factory=new_list)
    # Words that, up to four words before one of this category's phrases in its clause, make
    # it about something else: "the tracking link is broken", "the website is not working"
    # are no product defect.
    not_after: list[str] = Field(default_factory=new_list)
    # A problem of something absent (late, lost, missing) or a remedy: one of
    # routing.resolved_words said of it ("the missing screws arrived", "refund received")
    # means it is over, and its phrases, there and in the subject, do not count.
    resolvable: bool = False


class RoutingConfig(_Model):
    enabled: bool = True
    # The custom field whose value names a category (trigger bodies: a key of "fields").
    category_field: str | None = "problem_category"
    # The same field's id, as Zendesk event subscriptions name it (custom_field_changed).
    category_field_id: str | None = None
    # Words in the subject count this much more than words in the description.
    subject_weight: float = Field(default=1.5, gt=0)
    categories: dict[str, CategoryConfig] = Field(default_factory=new_dict)
    # Phrases that say a ticket is not an order problem (thanks, questions before buying);
    # when they weigh at least as much as all categories found together, none is chosen.
    not_a_problem: list[str] = Field(default_factory=new_list)
    # Remedy phrases that also describe things ("replace", "new one", "swap", "discount"):
    # in the description they count as asked for only in a clause with one of the
    # request_words ("want", "please", "could you"…), otherwise they are only mentioned ("I
    # had to replace the bulb"). Other remedy phrases always count.
    weak_remedies: list[str] = Field(default_factory=new_list)
    request_words: list[str] = Field(default_factory=new_list)
    # Verbs of giving something back ("send", "give", "return", "reverse", "cover"): with a
    # request word they turn a category's `objects` into a remedy request.
    remedy_verbs: list[str] = Field(default_factory=new_list)
    # Words of a question about a remedy that asks for none ("do you offer compensation when
    # a delivery is late?", "just wondering how refunds work"): a remedy in their clause, and
    # the same remedy in the subject, is not asked for.
    inquiry_words: list[str] = Field(default_factory=new_list)
    # A fallback category decides only with at least this score (two general words).
    fallback_min_score: float = Field(default=2.0, ge=0)
    # Ask a person to pick when another department's problem scores at least this share of
    # the best one's (1 never asks; lower asks more often).
    ask_when_close: float = Field(default=0.75, gt=0, le=1)
    # A department's problems (not remedies) found only through topic_words (a thing or a
    # topic: "veneer", "recliner", "courier", "VAT", not a fault like "cracked") decide only
    # from this score on: below it a person is asked. 0 routes on any phrase.
    min_score: float = Field(default=0.0, ge=0)
    topic_words: list[str] = Field(default_factory=new_list)
    # Words that may stand for a word of a phrase of two or more words (a thesaurus): with
    # {arrive: [come, turn up]}, "should have arrived" also matches "should have come" and
    # "should have turned up". One-word phrases are not varied (alone, a synonym is too
    # loose), nor is a variant that is already a phrase of its own somewhere.
    synonyms: dict[str, list[str]] = Field(default_factory=new_dict)
    # How far before a category's `cued` phrase its cue may be (in words), and words that end
    # the search ("it arrived fine, after a month the leg broke").
    # A remedy negated with one of these between ("I never got my refund", "we have not
    # received the replacement") is still a remedy's business: a follow-up, not a refusal.
    receipt_words: list[str] = Field(default_factory=new_list)
    cue_window: int = Field(default=8, ge=1)
    cue_stops: list[str] = Field(default_factory=new_list)
    # Lines that close a message ("Best regards", "Thanks,", "Cordialement"): from the last
    # such line among the final few on, the text is a signature, not the customer's request
    # ("Claims Handler | Refunds & Compensation Team" asks for no refund).
    sign_offs: list[str] = Field(default_factory=new_list)
    # Words that mean a problem or a remedy is over when said of it in its clause ("the
    # missing screws arrived", "refund received", "the refund came through"), for categories
    # with `resolvable: true`; not with a negation, a wish, a modal or a question in the
    # clause ("when will the missing screws arrive", "I want to receive my refund").
    resolved_words: list[str] = Field(default_factory=new_list)
    # Phrases that say there is no order yet ("I haven't ordered yet", "thinking about
    # ordering", "if I buy"): the ticket is a question before buying, and no category's phrase
    # counts ("if I buy it and the price drops, do you refund the difference?").
    before_ordering: list[str] = Field(default_factory=new_list)
    # Words that quote the shop's own pages ("your FAQ mentions", "the website says", "your
    # terms") or report its people suggesting something ("your colleague mentioned", "said I
    # could have"): a remedy after them in their clause is the shop's, asked about, not asked
    # for (nor the same remedy in the subject), unless the clause has a request word ("your
    # terms say I am entitled to a refund").
    page_words: list[str] = Field(default_factory=new_list)
    # Thanks for a remedy ("thanks for refunding the mirror", "thank you for the
    # replacement"): a remedy up to two words after one of these, in a clause that keeps
    # nothing open (as resolved_words), was given, and is not asked for there or in the
    # subject.
    thanked_words: list[str] = Field(default_factory=new_list)
    # What customers thank for in a conversation ("the reply", "your help", "getting back"):
    # thanks for one of these (up to two words after one of thanked_words) said before a
    # problem or a remedy request in the same text do not say the ticket is no order problem
    # ("Thanks for the reply, I still want a refund").
    courtesy_words: list[str] = Field(default_factory=new_list)
    # Words that let a problem go ("never mind that", "not bothered about that", "but
    # whatever"): a problem told in their clause or the two before it, before them, does not
    # count ("the delivery was late, but never mind that; the chairs wobble" is the chairs).
    dismissals: list[str] = Field(default_factory=new_list)
    # Shorter words that let a problem go only where they end their clause ("a tiny scuff,
    # honestly not bothered, you can't see it"); before more words they may be said of
    # something else ("not bothered about a refund, I want it fixed").
    clause_end_dismissals: list[str] = Field(default_factory=new_list)
    # Words that decline a remedy offered ("she declined", "why would I want that"): a remedy
    # told before them in their clause or the one before does not count.
    declines: list[str] = Field(default_factory=new_list)
    # A problem is over only when its phrase opens with one of these (what was absent):
    # "the missing screws arrived", not "the wrong screws arrived".
    absent_words: list[str] = Field(default_factory=new_list)
    # The shop's things (product types, parts): one of `remedy_nouns` right before one names
    # it ("the replacement door", "replacement covers") and counts as asked for only in a
    # clause with a request word, subject included unless it opens the subject.
    # An object of a remedy ending in "…" ("a new …", "another …") counts only before one of
    # `things` ("please send a new glass top"): "a new date" asks for no replacement.
    things: list[str] = Field(default_factory=new_list)
    # Parcels and carriers: named by a remedy word as things are ("the replacement courier"),
    # never an object ("send it with a new courier" asks for no replacement).
    delivery_things: list[str] = Field(default_factory=new_list)
    # Remedy phrases that are only nouns ("replacement", "compensation", "voucher"): before a
    # thing they describe it. Not words that are verbs too: "Refund sofa" asks for a refund.
    remedy_nouns: list[str] = Field(default_factory=new_list)
    # Phrasal verbs: a phrase ending in one of these verbs (as a lemma), followed by one of
    # its particles, is the phrasal verb, another verb ("the money has not come back", "it
    # keeps coming up in handfuls" are not "has not come", "still coming"); the phrase does
    # not count. A phrase that holds the particle itself ("came apart") is unaffected.
    particles: dict[str, list[str]] = Field(default_factory=new_dict)
    # Optional: a classifier learned from the team's own labelled tickets (`deskbridge routing
    # train`), relative to this file. The phrases decide first; the model routes the tickets
    # they leave for a person to pick only from model_min_confidence on.
    model: str | None = Field(default=None, min_length=1)
    # The defaults (0.7, 0.4 and 0.9) were chosen by benchmarks/routing_crossval.py --then
    # --grid: each set's model trained on the other sets, with the phrases as they were while
    # the set was blind, precision first (docs/routing-accuracy.md, "The model's lemma view and
    # thresholds, model16"; 0.6, 0.6 and 0.9 before).
    model_min_confidence: float = Field(default=0.7, gt=0, le=1)
    # With a model: where the phrases chose a department and the model is at least this sure
    # of another answer, the assignee is asked instead (a misroute costs more than a
    # question); null never asks for that.
    ask_when_model_disagrees: float | None = Field(default=0.4, gt=0, le=1)
    # With a model: where the phrases chose a department and the model is at least this sure
    # of another department, the ticket goes to the model's (on the phrases of sets nobody had
    # tuned on, it was right in 37 of the 39 such tickets), and so does a ticket they said is
    # no order problem (right in all 26 such, model29); null never overrules them. Not
    # below ask_when_model_disagrees: it would route where the model is less sure than where
    # it asks.
    # Checked when left at its default too: a file that raises ask_when_model_disagrees above
    # 0.9 must not find the model overruling where it would only ask.
    model_overrides_from: float | None = Field(default=0.9, gt=0, le=1, validate_default=True)

    @field_validator("model_overrides_from")
    @classmethod
    def _overrules_only_when_surer_than_it_asks(
        cls, value: float | None, info: ValidationInfo
    ) -> float | None:
        if value is None:
            return value
        doubt = info.data.get("ask_when_model_disagrees")
        if doubt is not None and value < doubt:
            raise ValueError(f"must be at least routing.ask_when_model_disagrees ({doubt:g})")
        # Nor route over the phrases where it would not be trusted to fill a gap.
        trusted = info.data.get("model_min_confidence")
        if trusted is not None and value < trusted:
            raise ValueError(f"must be at least routing.model_min_confidence ({trusted:g})")
        return value


class SignalConfig(_Model):
    weight: float = Field(ge=0)
    phrases: list[str] = Field(default_factory=new_list)
    tags: list[str] = Field(default_factory=new_list)
    channels: list[str] = Field(default_factory=new_list)
    organizations: list[str] = Field(default_factory=new_list)


class RiskConfig(_Model):
    enabled: bool = True
    threshold: float = Field(default=3, gt=0)
    repeat_contact_window: Duration = timedelta(days=14)
    raise_priority_to: Priority = Priority.urgent
    # As a department's group and queue: at least one of the two.
    specialist_group: str | None = None
    specialist_queue: str | None = Field(default=None, validate_default=True)
    specialist_channel: SlackChannel
    signals: dict[
        Literal["legal", "social_media", "vip", "reopened", "repeat_contact", "anger"],
        SignalConfig,
    ] = Field(default_factory=new_dict)

    @field_validator("specialist_queue")
    @classmethod
    def _has_an_owner(cls, queue: str | None, info: ValidationInfo) -> str | None:
        return check_an_owner(
            queue, info, "specialist_group", "the specialist tier needs its Zendesk group"
        )


class HolidaysConfig(_Model):
    country: str
    subdivision: str | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        from deskbridge.workflows.lazy_imports import country_holidays

        try:
            country_holidays(country, years=2026)
        except NotImplementedError:
            import holidays  # every country's subdivisions: only for a country it does not know

            codes = holidays.list_supported_countries()
            hint = _find_meant_name(country, codes)
            raise ValueError(f'unknown holiday country "{country}"{hint}') from None
        return country

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, subdivision: str | None, info: ValidationInfo) -> str | None:
        from deskbridge.workflows.lazy_imports import country_holidays

        country = info.data.get("country")
        if subdivision is None or country is None:
            return subdivision
        try:
            country_holidays(country, subdiv=subdivision, years=2026)
        except NotImplementedError:
            known = country_holidays(country, years=2026)
            names = [*known.subdivisions, *getattr(known, "subdivisions_aliases", {})]
            hint = _find_meant_name(subdivision, names, names)
            raise ValueError(
                f'"{country}" has no holiday subdivision "{subdivision}"{hint}'
            ) from None
        except Exception as exc:  # a subdivision holidays knows but cannot compute, and similar
            raise ValueError(str(exc).splitlines()[0]) from None
        return subdivision


class BusinessHoursConfig(_Model):
    # Defaults to the team's timezone.
    timezone: str | None = None
    week: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[OpeningHours]]
    holidays: HolidaysConfig | None = None
    closures: list[date] = Field(default_factory=new_list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return value if value is None else _known_timezone(value)

    @field_validator("week")
    @classmethod
    def _some_hours(cls, week: dict) -> dict:
        if not any(week.values()):
            raise ValueError("at least one day needs opening hours")
        return week


def _find_reused_name(policies: list[tuple[int, SlaPolicy]]) -> str | None:
    seen: set[str] = set()
    for _, policy in policies:
        if policy.name in seen:
            return f'policy name "{policy.name}" is used twice'
        seen.add(policy.name)
    return None


def _find_unreachable_policy(policies: list[tuple[int, SlaPolicy]]) -> str | None:
    """A policy that never applies: one before it matches every ticket it would match (the
    first match wins), as a policy without conditions placed first shadows all the others."""
    for later, (_, policy) in enumerate(policies):
        for _, earlier in policies[:later]:
            # A name used twice is said as such (_find_reused_name).
            if earlier.name != policy.name and _covers(earlier, policy):
                return (
                    f'policy "{policy.name}" never applies: "{earlier.name}" before it matches '
                    "every ticket it would (the first match wins: list the narrower one first)"
                )
    return None


def _covers(earlier: SlaPolicy, later: SlaPolicy) -> bool:
    """Whether every ticket `later` matches, `earlier` matches too (as select_policy matches:
    all conditions hold; any one of the tags or organizations; the channel in any case).
    Organizations are compared as written: a 15-character account id does not cover its
    18-character form, which a Zendesk organization of that name would not match."""
    channel = (earlier.channel or "").lower()
    return (
        earlier.priority in (None, later.priority)
        and (earlier.channel is None or channel == (later.channel or "").lower())
        and (not earlier.tags or (bool(later.tags) and set(later.tags) <= set(earlier.tags)))
        and (
            not earlier.accounts
            or (bool(later.accounts) and set(later.accounts) <= set(earlier.accounts))
        )
    )


class SlaPolicy(_Model):
    name: str
    # Conditions, all optional, all must hold: the first matching policy applies.
    priority: Priority | None = None
    channel: str | None = None
    tags: list[str] = Field(default_factory=new_list)
    # One account, or a team's key accounts under one policy: either, not both.
    organization: str | None = None
    organizations: list[str] = Field(default_factory=new_list)
    first_reply: Duration | None = None
    next_reply: Duration | None = None
    resolution: Duration | None = None
    # Targets are business time unless their metric is listed here.
    calendar_time: list[Metric] = Field(default_factory=new_list)

    @field_validator("organizations")
    @classmethod
    def _one_way_to_name_accounts(cls, organizations: list[str], info: ValidationInfo) -> list[str]:
        # Both given, a reader could not tell whether the policy is for their union or a
        # mistake; one list says it.
        if organizations and info.data.get("organization") is not None:
            raise ValueError(
                "give organization (one) or organizations (a list), not both: "
                "list every account under organizations"
            )
        # Written empty (a placeholder, as risk.signals.vip.organizations: [] means no key
        # account), the policy had no account condition and applied to every ticket.
        if not organizations:
            raise ValueError(
                "an empty list: the policy would apply to every ticket; list at least one "
                "account, or remove organizations"
            )
        return organizations

    @property
    def accounts(self) -> tuple[str, ...]:
        """The organizations the policy is for (its `organization` or its `organizations`);
        () when it is for any."""
        return (self.organization,) if self.organization is not None else tuple(self.organizations)


def parse_fraction(value: Any) -> float:
    """A warning's `at`: the fraction of the target used, 0.75. The README says "at 75%", so
    "75%" and 75 are told how to write it, not "expected a number, got a string" or "Input
    should be less than 1". A number in quotes ("0.75") is read as the number, as the other
    numbers' settings read it."""
    number = value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number < 1:
        raise ValueError(
            "expected the fraction of the target used, between 0 and 1 (0.75 for 75%), got "
            + (
                describe_kind(value)
                if isinstance(value, bool) or not isinstance(value, int | float | str)
                else repr(value)
            )
        )
    return float(number)


class SlaWarning(_Model):
    at: Annotated[float, BeforeValidator(parse_fraction)] = Field(
        description="fraction of the target used"
    )
    notify: Literal["assignee", "lead"]


class SlaConfig(_Model):
    enabled: bool = True
    warnings: list[SlaWarning] = Field(
        default_factory=lambda: [
            SlaWarning(at=0.75, notify="assignee"),
            SlaWarning(at=0.9, notify="lead"),
        ]
    )
    # Resolution time does not run while the ticket waits on the customer.
    pause_resolution_when: list[Status] = Field(
        default_factory=lambda: [Status.pending, Status.hold]
    )
    # Checked on the list (not on RulesConfig) so the problem carries the path `sla.policies`.
    policies: Annotated[
        list[SlaPolicy], _check_entries(_find_reused_name, _find_unreachable_policy)
    ] = Field(default_factory=new_list)


# YAML 1.1 reads 11:00 without quotes as a number in base 60 (660): the time it was meant
# to be is not guessed (a plain 660 is a number too), the writer is told to quote it.
_UNQUOTED_TIME = " in quotes (without them YAML reads 11:00 as a number)"


def _quoting_hint(value: Any) -> str:
    return _UNQUOTED_TIME if isinstance(value, int) and not isinstance(value, bool) else ""


_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HANDOFF = re.compile(r"^\s*(?:([a-z]+)\s+)?(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


def parse_handoff(value: Any) -> tuple[int | None, time]:
    """'monday 09:00' → (0, 09:00); '09:00' → (None, 09:00) (daily shifts)."""
    parsed = _parse_day_and_time(value)
    if parsed is None:
        raise ValueError(
            'expected a hand-off like "monday 09:00" (or "09:00" for daily shifts)'
            + _quoting_hint(value)
        )
    return parsed


def parse_weekly_time(value: Any) -> tuple[int | None, time]:
    """A weekly job's day and time ('friday 16:00' → (4, 16:00)). Said as such, not as an
    on-call hand-off: `weekly_on: "freitag 16:00"` was told to write a hand-off, or "09:00"
    for daily shifts, which it may not."""
    parsed = _parse_day_and_time(value)
    if parsed is None or parsed[0] is None:
        raise ValueError(
            'expected a day and a time like "friday 16:00" (the day in English, or its first '
            "three letters)" + _quoting_hint(value)
        )
    return parsed


def _parse_day_and_time(value: Any) -> tuple[int | None, time] | None:
    """'monday 09:00' → (0, 09:00), '09:00' → (None, 09:00); None when it is neither."""
    match = _HANDOFF.match(value) if isinstance(value, str) else None
    if match:
        day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
        names = [n for n in _WEEKDAY_NAMES if day and n.startswith(day.lower()) and len(day) >= 3]
        if hour < 24 and minute < 60 and (day is None or len(names) == 1):
            return (_WEEKDAY_NAMES.index(names[0]) if day else None), time(hour, minute)
    return None


class RotationConfig(_Model):
    members: list[SlackUserId] = Field(min_length=1)
    shift: Literal["weekly", "daily"] = "weekly"
    # Local time in the team's timezone: the weekday and time a shift hands over.
    handoff: Annotated[tuple[int | None, time], BeforeValidator(parse_handoff)]
    # The first member's first shift starts at the hand-off on or after this date.
    start: date

    @field_validator("handoff")
    @classmethod
    def _handoff_fits_shift(
        cls, handoff: tuple[int | None, time], info: ValidationInfo
    ) -> tuple[int | None, time]:
        shift, weekday = info.data.get("shift"), handoff[0]
        if shift == "weekly" and weekday is None:
            raise ValueError('a weekly shift needs a hand-off day, like "monday 09:00"')
        if shift == "daily" and weekday is not None:
            raise ValueError('a daily shift hands off at a time only, like "09:00"')
        return handoff


class OverrideConfig(_Model):
    """Someone covers from..to (local times in the team's timezone)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    person: SlackUserId
    starts: datetime = Field(alias="from")
    ends: datetime = Field(alias="to")

    @field_validator("starts", "ends")
    @classmethod
    def _local_time(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("write a local time without an offset (the team's timezone)")
        return value

    @field_validator("ends")
    @classmethod
    def _ends_after_start(cls, ends: datetime, info: ValidationInfo) -> datetime:
        starts = info.data.get("starts")
        if starts is not None and ends <= starts:
            raise ValueError('must be after "from"')
        return ends


class EscalationStepConfig(_Model):
    # Time since the first page; "0m" pages at once.
    after: Annotated[timedelta, BeforeValidator(parse_wait)]
    # oncall: the person on call; next: the rotation's next member; lead: the lead channel
    # and the roster's leads.
    notify: Literal["oncall", "next", "lead"]


def _find_step_out_of_order(steps: list[tuple[int, EscalationStepConfig]]) -> str | None:
    for (before, earlier), (index, step) in itertools.pairwise(steps):
        if step.after < earlier.after:
            return f"step {index} waits less than step {before}: list the steps in order"
    return None


PageTrigger = Literal["urgent_created", "escalated", "sla_breach_urgent"]


class OncallConfig(_Model):
    channel: SlackChannel
    rotation: RotationConfig
    overrides: list[OverrideConfig] = Field(default_factory=new_list)
    escalation: Annotated[list[EscalationStepConfig], _check_entries(_find_step_out_of_order)] = (
        Field(
            default_factory=lambda: [EscalationStepConfig(after=timedelta(0), notify="oncall")],
            min_length=1,
        )
    )
    page_when: list[PageTrigger] = Field(
        default_factory=lambda: ["urgent_created", "escalated", "sla_breach_urgent"]
    )


class RetentionConfig(_Model):
    """How long stored rows are kept; older ones are purged in small batches (`deskbridge
    purge`, and an hourly job in serve/worker). Undecided and failed events, and actions not
    yet performed, are never purged."""

    events: Duration = timedelta(days=90)
    outbox_done: Duration = timedelta(days=30)
    audit: Duration = timedelta(days=365)
    # Coaching and review history: the facts and the public replies the digest counts.
    activity: Duration = timedelta(days=365)

    @field_validator("events", "outbox_done", "audit", "activity", mode="before")
    @classmethod
    def _at_least(cls, value: Any, info: ValidationInfo) -> timedelta:
        """A retention as written, said back with what is taken (`events: -3`, `soon`): its
        default as the example and, for a history that must stay some time, its floor."""
        name = info.field_name or ""
        shortest, why = _SHORTEST_RETENTION.get(name, (None, ""))
        try:
            kept = parse_duration(value)
        except DurationError:
            example = f"{cls.model_fields[name].default.days}d"
            raise DurationError(example, shortest) from None
        if shortest is not None and kept < shortest:
            raise ValueError(f"at least {shortest.days}d, got {describe_given(value)}: {why}")
        return kept


# What each kept history must still answer, so it cannot be purged sooner.
_SHORTEST_RETENTION = {
    # A purged event's dedupe key is gone: a redelivery of it would be stored and decided again.
    "events": (
        timedelta(days=7),
        "a helpdesk's redelivery must still find the event it repeats "
        "(Salesforce retries for 24 h; a backlog may be re-sent after an outage)",
    ),
    # The four weeks before the week reviewed begin 35 days before its last day; the review of
    # a week may be run on any day of the week after it (a lead back on Friday), so 41 more.
    "activity": (
        timedelta(days=42),
        "the weekly review, run on any day of the week after, compares its week with the four "
        "weeks before it",
    ),
}


class CoachingTarget(_Model):
    # From this many full calendar months after `started_on`.
    from_months: int = Field(ge=0)
    responses: int = Field(ge=1)


def parse_local_time(value: Any) -> time:
    """'11:00' → 11:00 (the team's local time)."""
    match = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", value) if isinstance(value, str) else None
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return time(int(match.group(1)), int(match.group(2)))
    raise ValueError('expected a local time like "11:00"' + _quoting_hint(value))


LocalTime = Annotated[time, BeforeValidator(parse_local_time)]


def _refuse_one_unquoted_time(value: Any) -> Any:
    """`pace_checks: 11:00` is a base-60 number to YAML (660): said as such, not as the list
    hint, which would repeat 660 as the item to write."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('expected a list of local times like ["11:00", "15:30"]' + _UNQUOTED_TIME)
    return value


WeeklyTime = Annotated[tuple[int | None, time], BeforeValidator(parse_weekly_time)]

NudgeKind = Literal[
    "pace", "target_reached", "missed_call", "slow_first_reply", "unnecessary_replies"
]


class DigestConfig(_Model):
    enabled: bool = True
    daily_at: LocalTime = time(17, 30)
    # "friday 16:00"
    weekly_on: WeeklyTime = (4, time(16, 0))
    top_categories: int = Field(default=5, ge=1)


def _find_repeated_tier(targets: list[tuple[int, CoachingTarget]]) -> str | None:
    """Two targets from the same tenure: the one listed last would apply, silently."""
    seen: dict[int, int] = {}
    for _, target in targets:
        if target.from_months in seen:
            return (
                f"two targets from {target.from_months} months ({seen[target.from_months]} and "
                f"{target.responses} responses): keep one"
            )
        seen[target.from_months] = target.responses
    return None


class CoachingConfig(_Model):
    enabled: bool = True
    # Daily written responses by tenure; the highest tier reached applies, from that very day.
    targets: Annotated[list[CoachingTarget], _check_entries(_find_repeated_tier)] = Field(
        default_factory=lambda: [
            CoachingTarget(from_months=0, responses=28),
            CoachingTarget(from_months=3, responses=32),
        ]
    )
    pace_checks: Annotated[list[LocalTime], BeforeValidator(_refuse_one_unquoted_time)] = Field(
        default_factory=lambda: [time(11, 0), time(13, 0), time(15, 30)]
    )
    # How often the day's counts are checked for target_reached and unnecessary_replies.
    check_every: Duration = timedelta(minutes=5)
    unnecessary_window: Duration = timedelta(minutes=10)
    unnecessary_nudge_after: int = Field(default=3, ge=0)
    nudges: dict[NudgeKind, bool] = Field(default_factory=new_dict)
    # The trigger body field (under "fields") carrying Zendesk's satisfaction rating.
    csat_field: str | None = "satisfaction"
    digest: DigestConfig = Field(default_factory=DigestConfig)

    @field_validator("targets")
    @classmethod
    def _targets_from_day_one(cls, targets: list[CoachingTarget]) -> list[CoachingTarget]:
        if not targets or min(t.from_months for t in targets) != 0:
            raise ValueError("needs a target from 0 months (new starters)")
        return sorted(targets, key=lambda t: t.from_months)

    def nudge_on(self, kind: str) -> bool:
        return self.enabled and self.nudges.get(kind, True)


# The rules file's format (its `version`).
RULES_VERSION = 1


class RulesConfig(_Model):
    version: int = RULES_VERSION
    team: TeamConfig
    three_responses: ThreeResponsesConfig = Field(default_factory=ThreeResponsesConfig)
    departments: dict[DepartmentKey, DepartmentConfig] = Field(default_factory=new_dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    risk: RiskConfig | None = None
    business_hours: BusinessHoursConfig | None = None
    sla: SlaConfig = Field(default_factory=SlaConfig)
    agents: list[AgentConfig] = Field(default_factory=new_list)
    salesforce: SalesforceConfig = Field(default_factory=SalesforceConfig)
    oncall: OncallConfig | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    coaching: CoachingConfig = Field(default_factory=CoachingConfig)

    # The team's business calendar, built once when the rules are loaded (None: no hours),
    # and the roster's own working weeks (`works`), by Slack id.
    _calendar: BusinessCalendar | None = PrivateAttr(default=None)
    _agent_calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)
    # The roster by ("slack" | "zendesk" | "salesforce", id), the first agent with each id:
    # the coaching rule looks the author up on every agent reply (it scanned the roster).
    # Salesforce user ids by their 15-character form (`helpdesk_id_key`).
    _agents_by_id: dict[tuple[str, str], AgentConfig] = PrivateAttr(default_factory=dict)
    # The learned routing model (routing.model), loaded once with the file; None without one.
    _routing_model: Any = PrivateAttr(default=None)

    @field_validator("version")
    @classmethod
    def _a_version_this_deskbridge_reads(cls, version: int) -> int:
        # A file written for another format would otherwise be read as this one, silently.
        if version != RULES_VERSION:
            raise ValueError(
                f"this deskbridge reads rules files of version {RULES_VERSION}, not {version}"
            )
        return version

    @model_validator(mode="after")
    def _build_calendar(self) -> RulesConfig:
        hours = self.business_hours
        self._calendar = None if hours is None else build_calendar(hours, self.team.timezone)
        return self._build_roster()

    def _build_roster(self) -> RulesConfig:
        hours = self.business_hours
        zone = (hours and hours.timezone) or self.team.timezone
        self._agent_calendars = {}
        for agent in self.agents:
            if agent.works is not None:
                week = [list(agent.works.get(day, [])) for day in WEEKDAYS]
                if any(week):
                    self._agent_calendars[agent.slack_id] = BusinessCalendar(zone, week)
        by_id: dict[tuple[str, str], AgentConfig] = {}
        for agent in self.agents:
            for kind, agent_id in (
                ("slack", agent.slack_id),
                ("zendesk", agent.zendesk_id),
                ("salesforce", agent.salesforce_id),
            ):
                if agent_id is not None:
                    by_id.setdefault((kind, helpdesk_id_key(kind, agent_id)), agent)
        self._agents_by_id = by_id
        return self

    def model_copy(
        self, *, update: dict[str, Any] | None = None, deep: bool = False
    ) -> RulesConfig:
        """A copy that changes the hours or the team's timezone gets its own calendar."""
        copy = super().model_copy(update=update, deep=deep)
        if update and {"business_hours", "team"} & update.keys():
            copy._build_calendar()
        elif update and "agents" in update:
            copy._build_roster()
        return copy

    @property
    def calendar(self) -> BusinessCalendar | None:
        # Read from the private attributes' dict: `self._calendar` goes through pydantic's
        # __getattr__ (3 us), and the SLA rule asks several times per event.
        return self.__pydantic_private__["_calendar"]

    @property
    def routing_model(self) -> Any:
        """The learned routing model (a `workflows.classify.RoutingModel`), or None."""
        return self.__pydantic_private__["_routing_model"]

    def agent_calendar(self, agent: AgentConfig) -> BusinessCalendar | None:
        """The agent's own working week (roster `works`); None without one, or when it lists
        no hours at all."""
        return self._agent_calendars.get(agent.slack_id)

    def agent_by_slack_id(self, slack_id: str) -> AgentConfig | None:
        return self.__pydantic_private__["_agents_by_id"].get(("slack", slack_id))

    def find_helpdesks_named(self) -> frozenset[str]:
        """The helpdesks ("zendesk", "salesforce") whose owners (a department's group or queue,
        the specialist tier's) or user ids (the roster's) the rules give: a team on one
        helpdesk gives only that one's."""
        owners = [
            (department.group, department.salesforce_queue)
            for department in self.departments.values()
        ]
        if self.risk is not None:
            owners.append((self.risk.specialist_group, self.risk.specialist_queue))
        owners += [(agent.zendesk_id, agent.salesforce_id) for agent in self.agents]
        return frozenset(
            helpdesk
            for pair in owners
            for helpdesk, owner in zip(("zendesk", "salesforce"), pair, strict=True)
            if owner is not None
        )

    def agent_by_helpdesk_id(self, source: str, user_id: str | None) -> AgentConfig | None:
        if not user_id:
            return None
        kind = "zendesk" if source == "zendesk" else "salesforce"
        return self.__pydantic_private__["_agents_by_id"].get(
            (kind, helpdesk_id_key(kind, user_id))
        )


def helpdesk_id_key(kind: str, user_id: str) -> str:
    """The form a roster id of `kind` ("slack", "zendesk", "salesforce") is matched on: a
    Salesforce user id by its 15-character form, so the roster may hold either form (a report
    exports 15 characters, the API sends 18); Slack and Zendesk ids as they are (a Zendesk id
    is a number: its first 15 digits are not the same user)."""
    return salesforce_id_key(user_id) if kind == "salesforce" else user_id


class ConfigError(Exception):
    """A rules file that cannot be used; `problems` lists every one as 'path: message', and
    `warnings` what find_rules_warnings finds in the settings that validated, so that one run
    lists both (the warnings came only once the problems were fixed)."""

    def __init__(self, path: Path | str, problems: list[str], warnings: list[str] | None = None):
        self.path = str(path)
        self.problems = problems
        self.warnings = warnings or []
        super().__init__(describe_problems(self.path, problems))


def format_location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's mark of a mapping's key: the key itself is named
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def describe_kind(value: object) -> str:
    """What a YAML or JSON value is, for an error that expected something else (the value
    itself is not repeated: it may be a customer's words)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):  # YAML reads 2026-12-24 unquoted as a date
        return "a date"
    return type(value).__name__


# A scalar of the wrong kind, by pydantic's error type: what the setting takes.
_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
}


_DATE = 'a date like "2026-03-02" (year-month-day)'
_DATETIME = 'a local date and time like "2026-03-07T18:00"'
# A date or a time that cannot be read, by pydantic's error type: what the setting takes.
_EXPECTED_WHEN = {
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
}


def _as_list(error: dict[str, Any]) -> str:
    """How the one value given is written as a list, when it is one value on a line."""
    given = error.get("input")
    if isinstance(given, dict):
        return ': write each item on a line of its own, starting "- "'
    if isinstance(given, bool) or not isinstance(given, str | int | float | date):
        return ""
    text = given if isinstance(given, str) else str(given)
    if "\n" in text or len(text) > 60:
        return ""
    if isinstance(given, date):
        return f"; for one item, write it in brackets: [{text}]"
    # Every list of the file holds text (or dates): a number in brackets alone would be
    # refused next as "expected text" (organizations: 360001234567), so it is quoted too.
    return f"; for one item, write it in brackets: [{json.dumps(text)}]"


def describe_given(value: Any) -> str:
    """A value of the rules file as an error says it was given: a number or a short line of
    text as written, anything else by its kind."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value and "\n" not in value and len(value) <= 60:
        return json.dumps(value, ensure_ascii=False)
    return "nothing" if value == "" else describe_kind(value)


def describe_error(error: dict[str, Any]) -> str:
    """A pydantic error of a file a person writes, in the rules file's words: what was
    expected and what was found, and how to write it (in quotes, in brackets)."""
    message = error["msg"]
    if isinstance(cause := (error.get("ctx") or {}).get("error"), DurationError):
        message = cause.describe(error.get("input"))
    elif error["type"] in ("model_type", "dict_type"):
        # pydantic's "Input should be a valid dictionary or instance of SlaPolicy" names a class.
        message = f"expected a mapping of settings, got {describe_kind(error.get('input'))}"
    elif error["type"] in _EXPECTED:
        # pydantic's "Input should be a valid integer, unable to parse string as an integer".
        given = error.get("input")
        kind = "a fraction" if error["type"] == "int_from_float" else describe_kind(given)
        message = f"expected {_EXPECTED[error['type']]}, got {kind}"
        if error["type"] == "string_type" and isinstance(given, int | float):
            # An id or a code YAML read as a number or true/false (group: 360010000001,
            # country: NO): written as text, in quotes, it is read as written.
            message += ": write it in quotes"
    elif error["type"] == "list_type":
        # pydantic's "Input should be a valid list", for `page_when: escalated` or
        # `closures: 2026-12-24`: a single item is a list too, in brackets.
        message = f"expected a list, got {describe_kind(error.get('input'))}{_as_list(error)}"
    elif error["type"] in _EXPECTED_WHEN:
        # pydantic's "Input should be a valid date or datetime, invalid character in year"
        # for "12.01.2026"; a date that does not exist keeps its reason ("day value is
        # outside expected range").
        message = f"expected {_EXPECTED_WHEN[error['type']]}"
        reason = str((error.get("ctx") or {}).get("error", ""))
        if "outside expected range" in reason:
            message += f": {reason}"
    elif error["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling)"
    elif error["type"] in ("enum", "literal_error"):
        message = _describe_choice(error)
    elif error["type"] == "missing":
        message = "required setting is missing"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    else:
        message = describe_limit(error) or message
    return message


# pydantic's limits ("Input should be greater than 0", "String should have at most 60
# characters"), which do not say what broke them.
_NUMBER_LIMITS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of"}
)
_TEXT_LIMITS = frozenset({"string_too_short", "string_too_long"})


def describe_limit(error: dict[str, Any]) -> str | None:
    """pydantic's message of a limit, with what broke it: the number as written (0, "-1" from
    the environment), or, for text, its length (the text is not repeated); None for another
    error. The caller leaves out a secret's (the environment's tokens)."""
    given = error.get("input")
    if error["type"] in _NUMBER_LIMITS and isinstance(given, int | float | str):
        if isinstance(given, bool):
            return None
        return f"{error['msg']}, got {given}"
    if error["type"] in _TEXT_LIMITS and isinstance(given, str):
        return f"{error['msg']}, got {count_noun(len(given), 'character')}"
    return None


def _describe_choice(error: dict[str, Any]) -> str:
    """A value (or a mapping's key) that is none of the names it may be: pydantic's "Input
    should be 'low', 'normal', 'high' or 'urgent'" did not say what was written, and a name
    in capitals ("Urgent", "Weekly", a day "Wed") read as an unknown word."""
    expected = error["ctx"]["expected"]
    given = error.get("input")
    if error["loc"][-1:] == ("[key]",):
        # A mapping's key (a department's name, a weekday): the path shows what was written,
        # and "expected …" alone would read as if about a value under it.
        message = f"unknown name: expected {expected}"
    elif isinstance(given, str) and "\n" not in given and len(given) <= 60:
        message = f"expected {expected}, got {json.dumps(given, ensure_ascii=False)}"
    else:
        message = f"expected {expected}, got {describe_kind(given)}"
    if isinstance(given, str) and f"'{given.lower()}'" in expected:
        message += f": write it in lowercase, {given.lower()}"
    return message


def parse_rules(
    data: Any,
    path: Path | str = "<rules>",
    found: list[str] = (),
    env_helpdesks: frozenset[str] = frozenset(),
) -> RulesConfig:
    """The rules in `data`, or a ConfigError listing every problem: `found`, those met while
    reading the file (a key set twice), then the settings'; its warnings judge the helpdesks in
    use with those the environment names, `env_helpdesks` (judge_helpdesks_in_use)."""
    if not isinstance(data, dict):
        # Said with what was found: an empty file (a copy that failed, the wrong path's
        # placeholder) was "expected a mapping of settings", as if it held something else.
        got = "nothing (the file is empty)" if data is None else describe_kind(data)
        raise ConfigError(path, [*found, f"(top level): expected a mapping of settings, got {got}"])
    problems: list[str] = list(found)
    broken: set[Location] = set()
    try:
        rules = valid = RulesConfig.model_validate(data)
    except ValidationError as exc:
        rules = None
        # Tagged annotations put the validator's function name in loc; drop it.
        errors = [
            (tuple(p for p in e["loc"] if not str(p).startswith("function-")), e)
            for e in exc.errors()
        ]
        # A mapping's unknown key (a setting indented one level too little: "departments.
        # handoff_within") is the problem; what is under it is not also listed.
        unknown = {loc[:-1] for loc, _ in errors if loc[-1:] == ("[key]",)}
        for loc, error in errors:
            if loc[-1:] != ("[key]",) and any(loc[: len(key)] == key for key in unknown):
                continue
            message = describe_error(error)
            if error["type"] == "extra_forbidden":
                message = _describe_unknown_setting(loc) or message
            problems.append(f"{format_location(loc)}: {message}")
            broken.add(loc[:2])
        # The checks across sections run on the settings that did validate, so one run lists
        # every problem; a check reading a broken setting is skipped, not guessed.
        valid = _build_valid_sections(data, broken)
    agents = _valid_entries(data, valid, broken, "agents")
    problems += _find_shared_ids(agents)
    departments = dict(_valid_entries(data, valid, broken, "departments"))
    problems += check_references(valid, skip=broken)
    model = None
    # A routing section with mistakes is read without them: its model is None if it is one.
    if valid.routing.model is not None:
        # Imported only with the setting: without it scikit-learn is never loaded.
        from deskbridge.config.routing_model import ModelFileError, load_routing_model

        # Its labels are checked against the departments once they are valid themselves.
        labels = [*valid.departments, "none"] if _usable(broken, ("departments",)) else None
        try:
            model = load_routing_model(Path(path).parent / valid.routing.model, labels)
        except ModelFileError as exc:
            problems.append(f"routing.model: {exc}")
    if rules is None or problems:
        warnings = _find_warnings(valid, broken, agents, departments, env_helpdesks)
        raise ConfigError(path, problems, warnings)
    rules._routing_model = model
    return rules


# A section with at most this many settings names them all after an unknown one that is no
# misspelling of one (`retention.replies`); a longer list would bury the line.
_NAMED_SETTINGS = 8

# Names a user meets elsewhere that are no setting, and what to write instead: `purge` counts
# the replies apart, as the digest reads them, but they are kept as the rest of its history.
_NOT_SETTINGS = {
    ("retention", "replies"): "the replies the review counts are kept for `activity`",
}


def _describe_unknown_setting(loc: tuple[Any, ...]) -> str | None:
    """What an unknown setting at `loc` is likely meant to be: the one it misspells
    (`three_respones`: three_responses), or else, in a section of a few settings, all of them
    (`retention.replies`); None for pydantic's words (a section of many)."""
    annotation: Any = RulesConfig
    for part in loc[:-1]:
        annotation = _find_entry_type(annotation, part)
    model = _unwrap_type(annotation)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    names = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.75)
    if close:
        return f"unknown setting (did you mean {close[0]}?)"
    if not loc[:-1] or len(names) > _NAMED_SETTINGS:
        return None
    note = _NOT_SETTINGS.get((*(p for p in loc[:-1] if not isinstance(p, int)), loc[-1]))
    return f"unknown setting: {format_location(loc[:-1])} has {', '.join(names)}" + (
        f" ({note})" if note else ""
    )


def _find_entry_type(annotation: Any, part: int | str) -> Any:
    """The type of `part` (a setting, a mapping's key, a list's index) in `annotation`;
    None when it has none."""
    annotation = _unwrap_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields.items()
        return next((f.annotation for n, f in fields if part in (n, f.alias)), None)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and not isinstance(part, int):
        return args[1]
    if typing.get_origin(annotation) is list and isinstance(part, int):
        return args[0]
    return None


def _unwrap_type(annotation: Any) -> Any:
    """`annotation` without its Annotated metadata and, when it may be left out, its None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


# Where a setting is: a section and a setting in it ("oncall", "escalation"), or a section.
Location = tuple[int | str, ...]


def _usable(broken: set[Location], *reads: Location) -> bool:
    """Whether the settings a check `reads` validated: none is in, nor holds, one in `broken`."""
    return not any(b[: len(r)] == r or r[: len(b)] == b for b in broken for r in reads)


def _build_valid_sections(data: dict[str, Any], broken: set[Location]) -> RulesConfig:
    """The file's settings that validate, as RulesConfig: each valid section validated as its
    field, a section with some broken settings validated without them (they keep their
    defaults). A section that cannot be (a required setting is broken, or a list or mapping of
    entries has a broken one) keeps its default, unvalidated (model_construct), and is added
    to `broken` whole: only checks that skip what is in `broken` may read the result."""
    fields = RulesConfig.model_fields
    values = {}
    for name, value in data.items():
        if name not in fields:
            continue
        wrong = {loc[1:] for loc in broken if loc[0] == name}
        if wrong and isinstance(value, dict) and _is_section(fields[name].annotation):
            value = {key: item for key, item in value.items() if (key,) not in wrong}
        elif wrong:
            continue
        field = fields[name]
        try:
            values[name] = TypeAdapter(Annotated[field.annotation, field]).validate_python(value)
        except ValidationError:
            broken.add((name,))
    return RulesConfig.model_construct(**values)


def _is_section(annotation: Any) -> bool:
    """A section of settings (a model, or one that may be left out), not a list or mapping."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    return all(o is type(None) or (isinstance(o, type) and issubclass(o, _Model)) for o in options)


def _valid_entries(
    data: dict[str, Any], valid: RulesConfig, broken: set[Location], name: str
) -> list[tuple[Any, Any]]:
    """A list's or mapping's entries (`agents`, `departments`) that validate, with their index
    or key: every one, or those left beside the entries with mistakes (a check across the
    entries, or of each, runs on them, as `_check_entries`' do; not in `valid`, as they must
    not make the list whole for the checks across sections)."""
    if _usable(broken, (name,)):
        entries = getattr(valid, name)
        return list(entries.items() if isinstance(entries, dict) else enumerate(entries))
    given = data.get(name)
    if (name,) in broken or not isinstance(given, list | dict):
        return []
    kept = [
        (at, entry)
        for at, entry in (given.items() if isinstance(given, dict) else enumerate(given))
        if (name, at) not in broken
    ]
    adapter = TypeAdapter(RulesConfig.model_fields[name].annotation)
    if isinstance(given, dict):
        return list(adapter.validate_python(dict(kept)).items())
    entries = adapter.validate_python([entry for _, entry in kept])
    return list(zip([at for at, _ in kept], entries, strict=True))


def _find_shared_ids(agents: list[tuple[int, AgentConfig]]) -> list[str]:
    """An id on two agents: the roster finds the first, and the other is never credited."""
    problems = []
    for field in ("slack_id", "zendesk_id", "salesforce_id"):
        seen: dict[str, int] = {}
        for index, agent in agents:
            value = getattr(agent, field)
            if value is None:
                continue
            # Matched as the roster looks it up: a Salesforce id's two forms are one user.
            key = helpdesk_id_key(field.removesuffix("_id"), value)
            if key in seen:
                problems.append(f"agents[{index}].{field}: {value} is also agents[{seen[key]}]'s")
            seen.setdefault(key, index)
    return problems


def check_references(rules: RulesConfig, skip: set[Location] = frozenset()) -> list[str]:
    """Problems that span sections: names used in one place that must be defined in another.
    A check is left out when a setting it reads is in `skip` (or in a section in it): that
    setting has problems of its own, already reported."""

    def usable(*reads: Location) -> bool:
        return _usable(skip, *reads)

    problems = []
    if (
        usable(("sla", "enabled"), ("sla", "policies"), ("business_hours",))
        and rules.sla.enabled
        and rules.business_hours is None
    ):
        for index, policy in enumerate(rules.sla.policies):
            for metric in ("first_reply", "next_reply", "resolution"):
                if getattr(policy, metric) is not None and metric not in policy.calendar_time:
                    problems.append(
                        f"sla.policies[{index}].{metric}: a business-time target needs a "
                        "business_hours section (or list it under calendar_time)"
                    )
    if usable(("sla", "enabled"), ("sla", "policies"), ("business_hours",)) and rules.sla.enabled:
        problems += _check_targets(rules)
    problems += _check_oncall(rules, usable)
    if usable(("salesforce",)):
        problems += _check_salesforce_statuses(rules.salesforce)
    reads_routing = usable(("routing", "enabled"), ("routing", "categories"), ("departments",))
    if reads_routing and rules.routing.enabled:
        for name, category in rules.routing.categories.items():
            if category.department not in rules.departments:
                problems.append(
                    f"routing.categories.{name}.department: "
                    f'"{category.department}" is not defined under departments'
                )
    return problems


_STATUS_LISTS = (
    "new_statuses",
    "open_statuses",
    "pending_statuses",
    "hold_statuses",
    "solved_statuses",
    "closed_statuses",
)
_STATUS_OF_LIST = dict(
    zip(
        _STATUS_LISTS,
        (Status.new, Status.open, Status.pending, Status.hold, Status.solved, Status.closed),
        strict=True,
    )
)


def _find_statuses(mapping: SalesforceConfig, name: str) -> list[str]:
    """The values of the salesforce list `name` as a case's Status is read (open_statuses'
    default yields to the others)."""
    return mapping.find_open_statuses() if name == "open_statuses" else getattr(mapping, name)


def _check_salesforce_statuses(mapping: SalesforceConfig) -> list[str]:
    """A Status value under two meanings: the case would silently take one of them, so a new
    case listed as solved too stops every clock and rule for it."""
    problems = []
    seen: dict[str, str] = {}
    for name in _STATUS_LISTS:
        for value in _find_statuses(mapping, name):
            if value in seen and seen[value] != name:
                problems.append(
                    f"salesforce.{name}: {value} is also in salesforce.{seen[value]} "
                    "(a Status value has one meaning)"
                )
            seen.setdefault(value, name)
    return problems


# The longest SLA target: a year (366 days) of calendar time, or of the business calendar's
# weekly opening hours. A deadline further off is no service level, and a year keeps every
# due time well within the stretch of days a business calendar keeps for bisection.
MAX_TARGET_DAYS = 366


def _check_targets(rules: RulesConfig) -> list[str]:
    """SLA targets due within a year: of calendar time, or of the opening hours."""
    hours = rules.business_hours
    year = timedelta(days=MAX_TARGET_DAYS)
    if hours is not None:
        business_year = open_per_week(hours.week.get(day, []) for day in WEEKDAYS) * (
            MAX_TARGET_DAYS / 7
        )
    problems = []
    for index, policy in enumerate(rules.sla.policies):
        for metric in ("first_reply", "next_reply", "resolution"):
            target = getattr(policy, metric)
            if target is None:
                continue
            if metric in policy.calendar_time:
                if target > year:
                    problems.append(
                        f"sla.policies[{index}].{metric}: a target is at most a year "
                        f"({MAX_TARGET_DAYS}d)"
                    )
            elif hours is not None and target > business_year:
                problems.append(
                    f"sla.policies[{index}].{metric}: a business-time target is at most a "
                    f"year of business_hours ({business_year.total_seconds() // 3600:.0f}h)"
                )
    return problems


def _check_oncall(rules: RulesConfig, usable: Callable[..., bool]) -> list[str]:
    """On-call people must be on the roster (pages go to their Slack ids, buttons check them).
    Each check runs when the settings it reads validated (`usable`)."""
    oncall = rules.oncall
    if oncall is None:
        return []
    problems = []
    agents = usable(("agents",))
    known = {a.slack_id for a in rules.agents}
    members = oncall.rotation.members if usable(("oncall", "rotation")) else []
    for index, member in enumerate(members if agents else ()):
        if member not in known:
            problems.append(f"oncall.rotation.members[{index}]: {member} is not in agents")
    overrides = oncall.overrides if agents and usable(("oncall", "overrides")) else ()
    for index, override in enumerate(overrides):
        if override.person not in known:
            problems.append(f"oncall.overrides[{index}].person: {override.person} is not in agents")
    if len(set(members)) != len(members):
        problems.append("oncall.rotation.members: a member is listed twice")
    steps = oncall.escalation if agents and usable(("oncall", "escalation")) else ()
    lead = next((i for i, step in enumerate(steps) if step.notify == "lead"), None)
    if lead is not None and not any(a.role == "lead" for a in rules.agents):
        problems.append(f"oncall.escalation[{lead}].notify: no agent has role: lead")
    return problems


# A rules file is a few kilobytes; anything far larger is the wrong file (or /dev/zero).
MAX_RULES_BYTES = 1024 * 1024
# Real rules nest a handful of levels. PyYAML's scanner is quadratic in flow depth ([[[…),
# about 10 s at 1,000 levels, so deeper flow collections are refused as they are scanned.
MAX_FLOW_DEPTH = 100


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A date or time as YAML reads it; one that does not exist (2026-02-30, unquoted) is
    kept as its text, which the setting's own check then refuses with its path (PyYAML
    raised a ValueError, a traceback in check-config)."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


class _RulesLoader(yaml.SafeLoader):
    def fetch_flow_collection_start(self, TokenClass):
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise yaml.scanner.ScannerError(
                problem=f"nested deeper than {MAX_FLOW_DEPTH} levels",
                problem_mark=self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)


_STR_TAG = "tag:yaml.org,2002:str"


def _construct_object(loader: Any, node: yaml.Node, deep: bool = False) -> Any:
    """A string's node is its value, as the safe constructor makes it (`construct_yaml_str`
    gives the node's value, the same object however often the node is met): nearly all of a
    rules file's nodes are strings, and the constructor's general path (the cache by node,
    the recursion check, the look-up by tag) cost a third of loading the example."""
    if node.__class__ is yaml.ScalarNode and node.tag == _STR_TAG:
        return node.value
    return yaml.constructor.BaseConstructor.construct_object(loader, node, deep)


# libyaml's loader (when PyYAML has it) reads dates as the Python one does.
_FastRulesLoader = (
    type("_FastRulesLoader", (yaml.CSafeLoader,), {"construct_object": _construct_object})
    if hasattr(yaml, "CSafeLoader")
    else None
)


def _refuse_unreadable(
    construct: Callable[[Any, yaml.ScalarNode], Any], kind: str
) -> Callable[[Any, yaml.ScalarNode], Any]:
    """`construct`, with a value its explicit tag cannot be (`!!int abc`, `!!bool maybe`,
    `!!timestamp soon`) a YAML error at its line: PyYAML's constructors raised ValueError,
    KeyError or AttributeError, a traceback in check-config. Plain values never get here
    unread: the loader resolves `abc` to a string, and only int-looking text to !!int."""

    def read(loader: Any, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, KeyError, AttributeError):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(
                problem=f'"{node.value}" is not {kind}, as its tag {tag} says',
                problem_mark=node.start_mark,
            ) from None

    return read


_SCALAR_CONSTRUCTORS = {
    "int": (yaml.constructor.SafeConstructor.construct_yaml_int, "a whole number"),
    "float": (yaml.constructor.SafeConstructor.construct_yaml_float, "a number"),
    "bool": (yaml.constructor.SafeConstructor.construct_yaml_bool, "true or false"),
    "timestamp": (_construct_timestamp, "a date or time"),
}
for _loader in (_RulesLoader, _FastRulesLoader):
    if _loader is not None:
        for _name, (_construct, _kind) in _SCALAR_CONSTRUCTORS.items():
            _loader.add_constructor(
                f"tag:yaml.org,2002:{_name}", _refuse_unreadable(_construct, _kind)
            )


def _load_yaml(text: str) -> tuple[Any, list[str]]:
    """The file's data, and its keys set twice as problems. libyaml's safe loader (ten times
    faster: every CLI command and app start reads the file); a file it refuses is read again
    by the Python loader, whose messages name the problem's line and column and which refuses
    deep nesting early."""
    fast = _FastRulesLoader
    if fast is not None:
        try:
            return _read_yaml(fast, text)
        except (yaml.YAMLError, RecursionError):
            pass
    return _read_yaml(_RulesLoader, text)  # a SafeLoader


def read_yaml(text: str) -> Any:
    """Another file users write in YAML (labelled tickets) read as the rules file is: a
    mistake, a tagged value included, a YAMLError at its line (yaml.safe_load raised
    ValueError on `!!int abc`), flow nesting bounded, libyaml's speed."""
    return _load_yaml(text)[0]


def _read_yaml(loader_class: type, text: str) -> tuple[Any, list[str]]:
    """yaml.load, with the composed document looked at for keys set twice on the way."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        # First: constructing merges `<<` keys into the node.
        twice = _keys_set_twice(node, partial(_read_key, loader))
        return loader.construct_document(node), twice
    finally:
        loader.dispose()


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _read_key(loader: Any, key: yaml.ScalarNode) -> Any:
    """A mapping's key as the loader reads it: its constructor for the tag the loader resolved
    the key to (`0x1` an int, 1, and `on` a bool, True). One it cannot read (an unknown tag,
    `!!int abc`) is kept as written: constructing the document says what is wrong with it.
    Called on the constructor's table, not construct_object, which would record a key that
    fails as under construction and then call it recursive."""
    construct = loader.yaml_constructors.get(key.tag)
    if construct is not None:
        with contextlib.suppress(Exception):  # whatever it raises, it raises again later
            return construct(loader, key)
    return (key.tag, key.value)


def _keys_set_twice(root: yaml.Node, read_key: Callable[[yaml.ScalarNode], Any]) -> list[str]:
    """Each key a mapping sets twice, as a problem at its path, in the file's order: YAML
    keeps the last without a word, so a section pasted twice (a second `three_responses:` at
    the end of the file) or an entry's setting written twice silently dropped the first.
    Keys are compared as `read_key` reads them, so as the mapping the loader builds keeps
    them: `1` and `0x1`, `on`, `yes` and `true`, `~` and `null` are one key each (YAML 1.1),
    `"1"` and `1` two."""
    found: list[tuple[int, str]] = []
    seen: set[int] = set()  # a node reached again through an alias is looked at once
    stack: list[tuple[yaml.Node, Location]] = [(root, ())]
    # Taken in the file's order (each node's children pushed last first), so a node that has
    # an anchor is reached first where it is written, and named by that path, not an alias's.
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nested: list[tuple[yaml.Node, Location]] = []
        if isinstance(node, yaml.SequenceNode):
            nested = [
                (item, (*loc, i))
                for i, item in enumerate(node.value)
                if not isinstance(item, yaml.ScalarNode)  # phrases: thousands, no keys
            ]
        elif isinstance(node, yaml.MappingNode):
            keys: dict[Any, yaml.Node] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                    continue  # `<<: *defaults` is meant to be overridden
                if not isinstance(value, yaml.ScalarNode):
                    nested.append((value, (*loc, key.value)))
                first = keys.setdefault(read_key(key), key)
                if first is not key:
                    line, where = key.start_mark.line + 1, format_location((*loc, key.value))
                    spelt = (
                        f' (as "{first.value}" and "{key.value}", one key to YAML)'
                        if first.value != key.value
                        else ""
                    )
                    found.append(
                        (
                            key.start_mark.index,
                            f"{where}: set twice, on lines {first.start_mark.line + 1} and "
                            f"{line}{spelt}: only the one on line {line} would be read; write "
                            "it once",
                        )
                    )
        stack.extend(reversed(nested))
    return [problem for _, problem in sorted(found)]


def sort_as_written(messages: list[str], path: Path) -> list[str]:
    """Messages that name a place in the rules file at `path` ("agents[0].salesforce_id: …",
    check-config's warnings) in the order the file writes those places, so a user working down
    the file meets them in turn; each is placed at the longest part of its path the file
    writes. Those naming no place in it (a default's) follow, as they came; so do all of them
    if the file cannot be read again."""
    try:
        text = decode_file_text(path.read_bytes()[: MAX_RULES_BYTES + 1])  # as load_rules reads it
    except (OSError, UnicodeDecodeError):
        return messages
    return _sort_as_in(messages, text)


def _sort_as_in(messages: list[str], text: str) -> list[str]:
    """sort_as_written for a file already read: `text`, as load_rules decoded it."""
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader if _FastRulesLoader else yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return messages
    places: dict[str, int] = {}
    seen: set[int] = set()  # a node reached again through an alias is placed where written
    stack: list[tuple[yaml.Node | None, Location]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            children = [(item, (*loc, i)) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            children = [(value, (*loc, key.value)) for key, value in node.value]
            for key, _value in node.value:
                places.setdefault(format_location((*loc, key.value)), key.start_mark.index)
        else:
            continue
        for child, child_loc in children:
            places.setdefault(format_location(child_loc), child.start_mark.index)
            stack.append((child, child_loc))

    def place(message: str) -> tuple[int, int]:
        where = message.partition(": ")[0]
        while where:
            if where in places:
                return 0, places[where]
            cut = max(where.rfind("."), where.rfind("["))
            where = where[:cut] if cut > 0 else ""
        return 1, 0

    return sorted(messages, key=place)


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """Where and why a file is not YAML, on one line (PyYAML's own text spans several and
    quotes the line)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
    problem = " ".join(str(getattr(exc, "problem", exc)).split())
    if problem == _TAB_PROBLEM:  # the usual cause: an editor's tab among the indentation
        problem = "a tab, where YAML takes spaces only (indent with spaces)"
    opened = getattr(exc, "context_mark", None)
    if getattr(exc, "context", None) == "while scanning a quoted scalar" and opened:
        # Said at the end of the file, far from the mistake: where the quote was opened.
        return (
            f"line {opened.line + 1}, column {opened.column + 1}: not valid YAML: a quoted "
            "value begins here and is never closed (its closing quote is missing)"
        )
    runaway = _find_runaway_quote(mark) if mark else None
    if runaway is not None:
        # A quote left open pairs with the next value's opening quote, and the error falls
        # on the text after that, lines below the mistake.
        problem += (
            f" (a quoted value runs from line {runaway.line + 1}, column {runaway.column + 1}"
            f" to here: is its closing quote missing on line {runaway.line + 1}?)"
        )
    return f"{where}: not valid YAML: {problem}"


def _find_runaway_quote(at: yaml.Mark) -> yaml.Mark | None:
    """Where a quoted value spanning lines began, when it is what the parser read just before
    `at` (its error). Read from the text the Python loader kept in its marks (the loader whose
    errors are described); None without it."""
    text = at.buffer
    if not text:
        return None
    last = None
    try:
        for token in yaml.scan(text.rstrip("\0"), Loader=yaml.SafeLoader):
            if token.start_mark.index >= at.index:
                break
            last = token
    except yaml.YAMLError:
        pass
    if (
        isinstance(last, yaml.ScalarToken)
        and last.style in ('"', "'")
        and last.start_mark.line < last.end_mark.line
    ):
        return last.start_mark
    return None


# PyYAML's words for a tab that begins a token (an indentation, a list entry's).
_TAB_PROBLEM = "found character '\\t' that cannot start any token"


def load_rules(path: Path | str, env_helpdesks: frozenset[str] = frozenset()) -> RulesConfig:
    """Read and validate a rules file. Any file, however broken (binary, huge, nested
    thousands of levels deep), gives a ConfigError with its problems, never a traceback.
    `env_helpdesks`: as parse_rules'."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_RULES_BYTES + 1)
    except OSError as exc:
        raise ConfigError(path, [f"(file): cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_RULES_BYTES:
        raise ConfigError(
            path, [f"(file): larger than {MAX_RULES_BYTES // 1024} KiB; is this the rules file?"]
        )
    try:
        text = decode_file_text(raw)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path, [f"(file): {describe_not_utf8(exc)}; is this the rules file?"]
        ) from None
    try:
        data, twice = _load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [describe_yaml_error(exc)]) from None
    except RecursionError:
        # PyYAML composes nested nodes recursively; thousands of levels exhaust the stack.
        raise ConfigError(path, ["(file): nested too deeply to be a rules file"]) from None
    try:
        return parse_rules(data, path, twice, env_helpdesks)
    except RecursionError:
        raise ConfigError(path, ["(file): nested too deeply to be a rules file"]) from None
    except ConfigError as exc:
        # In the file's order, as check-config lists the warnings: they came by kind (keys set
        # twice, then each section's settings in the model's order, then the checks across
        # sections), so a user working down the file met line 50's before line 17's.
        raise ConfigError(path, _sort_as_in(exc.problems, text), exc.warnings) from None


def find_rules_warnings(
    rules: RulesConfig, env_helpdesks: frozenset[str] = frozenset()
) -> list[str]:
    """Sections enabled with nothing in them: valid (left empty on purpose, perhaps), but
    summarize_rules leaves them out of the workflows, so check-config says why; and ids and
    tags no helpdesk event will carry; opening hours that overlap; and a learned routing model
    trained on another reading of words than deskbridge's now. `env_helpdesks`: the helpdesks
    the environment names, with which those in use are judged (judge_helpdesks_in_use)."""
    agents = list(enumerate(rules.agents))
    warnings = _find_warnings(rules, set(), agents, rules.departments, env_helpdesks)
    model = rules.routing_model
    stale = model.describe_stale_reading() if model is not None else None
    if stale is not None:
        warnings.append(f"routing.model: {rules.routing.model} was {stale}")
    return warnings


def _find_warnings(
    rules: RulesConfig,
    broken: set[Location],
    agents: list[tuple[int, AgentConfig]],
    departments: dict[str, DepartmentConfig],
    env_helpdesks: frozenset[str] = frozenset(),
) -> list[str]:
    """find_rules_warnings, also for a file with mistakes: `rules` holds the settings that
    validated, `agents` and `departments` the entries that did. A warning that reads a setting
    in `broken` is left out (it would be about a default, not the file), as check_references
    leaves out its checks."""

    def usable(*reads: Location) -> bool:
        return _usable(broken, *reads)

    warnings = []
    for index, agent in agents:
        user = agent.salesforce_id
        if user is not None and not is_salesforce_id(user):  # an email, a typo, a Zendesk id
            said = (
                "is all digits, a Zendesk user id, not a Salesforce id (15 or 18 letters and "
                "digits, starting 005 for a user)"
                if user.isdigit()
                else "is not a Salesforce id (15 or 18 letters and digits)"
            )
            warnings.append(
                f"agents[{index}].salesforce_id: {user} {said}: no reply or call of theirs is "
                "credited to them"
            )
        elif user is not None and not user.startswith(SALESFORCE_USER_PREFIX):
            # A Contact's id (003…) copied from the wrong page: no case's owner or comment's
            # author is ever one, and check-config said ok.
            warnings.append(
                f"agents[{index}].salesforce_id: {user} is {_record_kind(user)}, not a user's "
                f"({SALESFORCE_USER_HELP}): no reply or call of theirs is credited to them"
            )
        user = agent.zendesk_id
        if user is not None and not ZENDESK_ID.fullmatch(user):  # an email or name pasted in
            warnings.append(
                f"agents[{index}].zendesk_id: {user} is not a Zendesk user id (digits, as in "
                "the user's profile address): no reply or call of theirs is credited to them"
            )
        if agent.role == "agent" and agent.zendesk_id is None and agent.salesforce_id is None:
            # Both ids left out (a Salesforce team removing the example's Zendesk ids, a new
            # starter added by Slack id alone): the agent is counted and judged, never credited.
            warnings.append(
                f"agents[{index}]: {agent.name} has neither zendesk_id nor salesforce_id: no "
                "reply or call of theirs is credited to them (the review shows them at 0 "
                "responses) and alerts about their tickets go to the lead channel"
            )
        warnings += _find_overlapping_hours(f"agents[{index}].works", agent.works or {})
    # The departments and the risk section are read only when their workflow runs.
    routing = usable(("routing", "enabled")) and rules.routing.enabled
    routed = departments if routing else {}
    reads_field = routing and usable(("routing", "category_field_id"))
    field = rules.routing.category_field_id if reads_field else None
    risk = rules.risk if usable(("risk", "enabled")) else None
    risk = risk if risk is not None and risk.enabled else None
    # Judged as start-up judges it, so the two never disagree (a helpdesk's variables set: it
    # is in use, and its user ids among a department's members are no mistake).
    in_use = frozenset(judge_helpdesks_in_use(rules.find_helpdesks_named(), env_helpdesks))
    warnings += _find_member_warnings(routed, in_use)
    warnings += _find_department_name_warnings(departments)
    # A team on Salesforce alone: Zendesk's tags and ids are never read.
    if "zendesk" in in_use:
        warnings += _find_tag_warnings(rules, usable, risk)
        warnings += _find_zendesk_id_warnings(routed, field, risk, usable)
    else:
        warnings += _find_case_match_warnings(rules, usable, risk)
    warnings += _find_salesforce_queue_warnings(routed, risk, usable)
    warnings += _find_salesforce_priority_warnings(rules.salesforce, usable)
    warnings += _find_timezone_warnings(rules, usable)
    warnings += _find_idle_pace_checks(rules, usable, agents, departments)
    if routing and usable(("routing", "categories")) and not rules.routing.categories:
        warnings.append("routing: enabled, no categories: no ticket is routed by its words")
    sla = usable(("sla", "enabled"), ("sla", "policies")) and rules.sla.enabled
    if sla and not rules.sla.policies:
        warnings.append("sla: enabled, no policies: no SLA clock will run")
    if sla:
        # Written empty, as a placeholder: no tag condition, where organizations: [] is
        # refused. A warning, not a problem: a file that loaded before must still start.
        warnings += [
            f"sla.policies[{index}].tags: an empty list is no tag condition: the "
            f'"{policy.name}" policy applies to every ticket its other conditions allow; '
            "list a tag, or remove tags"
            for index, policy in enumerate(rules.sla.policies)
            if "tags" in policy.model_fields_set and not policy.tags
        ]
    if rules.business_hours is not None and usable(("business_hours", "week")):
        warnings += _find_overlapping_hours("business_hours.week", rules.business_hours.week)
    oncall = rules.oncall if usable(("oncall", "page_when")) else None
    if oncall is not None and not oncall.page_when:
        # As a section enabled with nothing in it: `page_when: []` left from an edit pages
        # nobody, whatever comes in at night, while the hand-offs are still posted.
        warnings.append(
            "oncall.page_when: empty: nobody is ever paged (the hand-offs are still posted; "
            "the default is [urgent_created, escalated, sla_breach_urgent])"
        )
    return warnings


def _find_overlapping_hours(where: str, week: dict[str, list[tuple[time, time]]]) -> list[str]:
    """Opening hours of a day that overlap others of that day: the calendar counts them once
    (business_hours.py merges them), so they are harmless, but two spans where one was meant
    (a typo, 19:00 for 13:00; a shift pasted twice) were taken without a word."""
    warnings = []
    for day, hours in week.items():
        furthest: tuple[time, int] | None = None  # the latest close so far, and its entry
        for index, (opens, closes) in sorted(enumerate(hours), key=lambda entry: entry[1]):
            if furthest is not None and opens < furthest[0]:
                # Named at the one written later, the other in brackets.
                later, other = max(index, furthest[1]), min(index, furthest[1])
                warnings.append(
                    f"{where}.{day}[{later}]: {_format_hours(hours[later])} overlaps "
                    f"{_format_hours(hours[other])} ({day}[{other}]): the time in both is "
                    "counted once, as one span; write them as one"
                )
            if furthest is None or closes > furthest[0]:
                furthest = (closes, index)
    return warnings


def _format_hours(hours: tuple[time, time]) -> str:
    """Opening hours as the rules file writes them, 09:00-18:00 (a close of 24:00 is time.max)."""
    return "-".join("24:00" if at == time.max else f"{at:%H:%M}" for at in hours)


def is_salesforce_id(value: str) -> bool:
    """A Salesforce record id as a person copies one: 15 or 18 letters and digits, but not all
    digits, which is a Zendesk id of that length: the 18-character form of an all-digit id
    ends in letters (AAA), and a user's id starts 005 and then letters and digits (its pod's
    and its record number's, in base 62). Every id has a digit (its key prefix's or its
    record number's zeros), so 15 letters are a name (QualityTeamLead), not an id."""
    return (
        SALESFORCE_ID.fullmatch(value) is not None and not value.isdigit() and not value.isalpha()
    )


SALESFORCE_USER_PREFIX = "005"
SALESFORCE_USER_HELP = (
    "15 or 18 letters and digits starting 005: Setup → Users, in the user's address"
)
# The key prefixes of the records whose ids are most often pasted in a user's place.
_RECORD_KINDS = {"001": "an Account", "003": "a Contact", "00G": "a queue", "00Q": "a Lead"}


def _record_kind(value: str) -> str:
    """What a Salesforce id that is no user's is the id of, by its key prefix."""
    kind = _RECORD_KINDS.get(value[:3])
    return f"{kind}'s id" if kind else f"the id of a record of another kind ({value[:3]}…)"


def _find_department_name_warnings(departments: dict[str, DepartmentConfig]) -> list[str]:
    """A department's name left blank, or another's (case and spaces aside): the Pick
    department menu, the alerts and the review would show the two as one, and an agent
    picking one could hand the ticket to the wrong desk. Warnings, not problems: such a file
    loaded before the check, and serve must still start with it after an upgrade."""
    warnings = []
    seen: dict[str, str] = {}
    for key, department in departments.items():
        name = department.name.strip().casefold()
        if not name:
            warnings.append(
                f"departments.{key}.name: blank: its alerts, reasons and the Pick department "
                "menu show no name for it"
            )
        elif name in seen:
            warnings.append(
                f'departments.{key}.name: "{department.name}" is also departments.{seen[name]}\'s '
                "name: the Pick department menu and the review would show the two as one"
            )
        seen.setdefault(name, key)
    return warnings


def _find_member_warnings(
    departments: dict[str, DepartmentConfig], helpdesks: frozenset[str]
) -> list[str]:
    """Members of the departments routed to that are no helpdesk user id (an email, a name), or
    only the other helpdesk's where one alone is in use (the example's Zendesk ids kept by a
    team on Salesforce): no event carries one, so their replies never count as the department
    acting and the lead is told at every hand-off deadline."""
    warnings = []
    for key, department in departments.items():
        for index, member in enumerate(department.members):
            path = f"departments.{key}.members[{index}]: {member}"
            acting = f"a reply of theirs does not count as {department.name} acting on a hand-off"
            zendesk = ZENDESK_ID.fullmatch(member) is not None
            salesforce = is_salesforce_id(member)
            if not (zendesk or salesforce):
                warnings.append(
                    f"{path} is neither a Zendesk user id (digits) nor a Salesforce user id "
                    f"(15 or 18 letters and digits): {acting}"
                )
            elif salesforce and not member.startswith(SALESFORCE_USER_PREFIX):
                warnings.append(
                    f"{path} is {_record_kind(member)}, not a user's ({SALESFORCE_USER_HELP}): "
                    f"{acting}"
                )
            elif helpdesks == {"salesforce"} and not salesforce:
                warnings.append(
                    f"{path} is a Zendesk user id, and Salesforce alone is in use (check-config's "
                    f'"helpdesks in use" line): {acting} on a case (a Salesforce user id is 15 or '
                    "18 letters and digits, starting 005: Setup → Users, in the user's address)"
                )
            elif helpdesks == {"zendesk"} and not zendesk:
                warnings.append(
                    f"{path} is a Salesforce user id, and Zendesk alone is in use (check-config's "
                    f'"helpdesks in use" line): {acting} on a ticket (a Zendesk user id is digits, '
                    "the number in the user's address in Zendesk)"
                )
    return warnings


def _find_tag_warnings(
    rules: RulesConfig, usable: Callable[..., bool], risk: RiskConfig | None
) -> list[str]:
    """Tags matched exactly against a ticket's that no Zendesk ticket carries: Zendesk keeps a
    tag in lowercase, a space ending it ("VIP" is "vip" there). A warning, as for Zendesk's ids:
    a Salesforce case has no tags. Routing's category tags are matched in any case."""
    three = rules.three_responses
    tags = [
        (f"three_responses.{name}", getattr(three, name))
        for name in ("call_required_tag", "call_logged_tag")
        if three.enabled and usable(("three_responses", "enabled"), ("three_responses", name))
    ]
    if usable(("sla", "enabled"), ("sla", "policies")) and rules.sla.enabled:
        tags += [
            (f"sla.policies[{index}].tags[{at}]", tag)
            for index, policy in enumerate(rules.sla.policies)
            for at, tag in enumerate(policy.tags)
        ]
    if risk is not None and usable(("risk", "signals")):
        tags += [
            (f"risk.signals.{name}.tags[{at}]", tag)
            for name, signal in risk.signals.items()
            for at, tag in enumerate(signal.tags)
        ]
    return [
        f'{path}: "{tag}" never matches: Zendesk tags are lowercase, without spaces'
        + (f' ("{tag.lower()}")' if tag.split() == [tag] else "")
        for path, tag in tags
        if tag != tag.lower() or tag.split() != [tag]
    ]


_ALONE = 'Salesforce alone is in use (check-config\'s "helpdesks in use" line)'
_ACCOUNT_HELP = (
    "the case's AccountId: 15 or 18 letters and digits starting 001, in the account's address"
)


def _find_case_match_warnings(
    rules: RulesConfig, usable: Callable[..., bool], risk: RiskConfig | None
) -> list[str]:
    """For a team on Salesforce alone, what picks out a VIP that no case can match: tags (a
    case has none) and an organization that is no account id (a name, a Contact's id). The
    example's vip policy and signal are tags, so such a team's key accounts got the default
    SLA and no escalation, and check-config said ok."""
    warnings = []
    if usable(("sla", "enabled"), ("sla", "policies")) and rules.sla.enabled:
        for index, policy in enumerate(rules.sla.policies):
            never = f'the "{policy.name}" policy never applies to a case'
            if policy.tags:
                warnings.append(
                    f"sla.policies[{index}].tags: a case has no tags and {_ALONE}: {never}; "
                    f"list its accounts under organizations ({_ACCOUNT_HELP})"
                )
            named = (
                [("organization", policy.organization)]
                if policy.organization is not None
                else [(f"organizations[{at}]", o) for at, o in enumerate(policy.organizations)]
            )
            # Of a list, the policy still applies to the accounts that are ids.
            some = any(_is_account_id(organization) for _, organization in named)
            never_for = "no case matches it" if some else never
            warnings += [
                f'sla.policies[{index}].{path}: "{organization}" is not a Salesforce account '
                f"id ({_ACCOUNT_HELP}) and {_ALONE}: {never_for}"
                for path, organization in named
                if not _is_account_id(organization)
            ]
    if risk is not None and usable(("risk", "signals")):
        for name, signal in risk.signals.items():
            if signal.tags:
                warnings.append(
                    f"risk.signals.{name}.tags: a case has no tags and {_ALONE}: no case is "
                    f"escalated by them; list key accounts under risk.signals.vip.organizations "
                    f"({_ACCOUNT_HELP})"
                )
            warnings += [
                f'risk.signals.{name}.organizations[{at}]: "{organization}" is not a Salesforce '
                f"account id ({_ACCOUNT_HELP}) and {_ALONE}: no case matches it"
                for at, organization in enumerate(signal.organizations)
                if not _is_account_id(organization)
            ]
    return warnings


def _is_account_id(value: str) -> bool:
    return is_salesforce_id(value) and value.startswith("001")


_GROUP_ID_HELP = "digits: the number ending the group's address in Admin Center → People → Groups"


def _find_zendesk_id_warnings(
    departments: dict[str, DepartmentConfig],
    field: str | None,
    risk: RiskConfig | None,
    usable: Callable[..., bool],
) -> list[str]:
    """Zendesk ids that are not numbers (a group's name, a field's title): the rules file
    cannot tell a Salesforce-only team's placeholder from a mistake, so a warning, which says
    what a Zendesk ticket then misses."""
    warnings = [
        f"departments.{key}.group: {department.group} is not a Zendesk group id "
        f"({_GROUP_ID_HELP}): a Zendesk ticket routed to {department.name} is not "
        "moved to the group (its assign action is dead-lettered)"
        for key, department in departments.items()
        if department.group is not None and not ZENDESK_ID.fullmatch(department.group)
    ]
    if field is not None and not ZENDESK_ID.fullmatch(field):
        warnings.append(
            f"routing.category_field_id: {field} is not a Zendesk ticket field id (digits: "
            "the field's ID in Admin Center → Objects and rules → Tickets → Fields): no "
            "ticket.custom_field_changed event names it"
        )
    group = (risk.specialist_group if risk is not None else None) or "0"
    if usable(("risk", "specialist_group")) and not ZENDESK_ID.fullmatch(group):
        warnings.append(
            f"risk.specialist_group: {group} is not a Zendesk group id ({_GROUP_ID_HELP}): "
            "an escalated Zendesk ticket is not moved to the group (its assign action is "
            "dead-lettered)"
        )
    return warnings


def _find_salesforce_queue_warnings(
    departments: dict[str, DepartmentConfig],
    risk: RiskConfig | None,
    usable: Callable[..., bool],
) -> list[str]:
    """Queues that are not queue ids (a name, a truncated id): a warning, not an error, as for
    Zendesk's ids: a Zendesk-only team's placeholder must not stop it (the example's queues
    had 19 characters until 2026-12-04), and a mistake is said with what a case then misses."""
    queues = [
        (f"departments.{key}.salesforce_queue", d.salesforce_queue, f"routed to {d.name}")
        for key, d in departments.items()
    ]
    if risk is not None and usable(("risk", "specialist_queue")):
        queues.append(("risk.specialist_queue", risk.specialist_queue, "escalated"))
    return [
        f'{path}: "{queue}" ({len(queue)} characters) is not a Salesforce queue id (15 or 18 '
        "letters and digits starting 00G: the id in the queue's address, Setup → Queues): a "
        f"case {what} is not given to the queue (Salesforce refuses the owner)"
        for path, queue, what in queues
        if queue is not None and not _SALESFORCE_QUEUE.fullmatch(queue)
    ]


def _find_salesforce_priority_warnings(
    salesforce: SalesforceConfig, usable: Callable[..., bool]
) -> list[str]:
    """A priority written back that the org's picklist, as `priorities` reads it, does not
    have: a team that put its own values under `priorities` ("Hoch") and kept the default
    `write_priorities` ("High") had a case deskbridge raised read back with no priority (its
    urgent SLA policy and pages lost) or refused by a restricted picklist, and check-config
    said ok. A warning, as for the queues: a Zendesk-only team's section is not checked
    against an org."""
    if not usable(("salesforce", "priorities"), ("salesforce", "write_priorities")):
        return []
    known = salesforce.priorities
    default = "" if "write_priorities" in salesforce.model_fields_set else " (the default)"
    return [
        f'salesforce.write_priorities.{level.value}: "{value}"{default} is not among '
        f"salesforce.priorities ({', '.join(known) or 'none'}): a case deskbridge sets to "
        f"{level.value} is read back with no priority, or refused by a restricted picklist"
        for level, value in salesforce.write_priorities.items()
        if value not in known
    ]


def _find_timezone_warnings(rules: RulesConfig, usable: Callable[..., bool]) -> list[str]:
    """Opening hours on another clock than the team's: the example file names its timezone
    twice, 2,000 lines apart, and a team that changed `team.timezone` alone had its opening
    hours, holidays and SLA clocks on the old one (an hour off from Berlin) while its reviews,
    nudges and on-call hand-offs moved, and check-config said ok. A warning: a team may mean
    it (a desk that keeps another office's hours)."""
    hours = rules.business_hours if usable(("business_hours", "timezone")) else None
    if hours is None or hours.timezone is None or not usable(("team", "timezone")):
        return []
    team = rules.team.timezone
    if hours.timezone == team:
        return []
    return [
        f"business_hours.timezone: {hours.timezone} is not team.timezone ({team}): opening "
        f"hours, holidays and SLA clocks run on {hours.timezone}'s clock, the reviews, nudges "
        f"and on-call hand-offs on {team}'s (leave it out to use the team's)"
    ]


def is_coached(agent: AgentConfig, departments: Iterable[DepartmentConfig]) -> bool:
    """A resolution agent: role `agent`, and no department's member (Logistics and the others
    answer routed tickets; they have no response target)."""
    return agent.role == "agent" and not any(
        d.has_member("zendesk", agent.zendesk_id) or d.has_member("salesforce", agent.salesforce_id)
        for d in departments
    )


def _find_idle_pace_checks(
    rules: RulesConfig,
    usable: Callable[..., bool],
    agents: list[tuple[int, AgentConfig]],
    departments: dict[str, DepartmentConfig],
) -> list[str]:
    """Pace checks at a time of day no coached agent works on any day of the week (their
    roster `works`, else business_hours.week): such a check finds nobody to nudge, every day,
    without a word (23:00 written for 13:00, checks kept from another shift pattern)."""
    reads = (("coaching", "enabled"), ("coaching", "nudges"), ("coaching", "pace_checks"))
    if not usable(*reads, ("business_hours",), ("team", "timezone")):
        return []
    if not rules.coaching.nudge_on("pace") or not rules.coaching.pace_checks:
        return []
    hours = rules.business_hours
    if hours is not None and hours.timezone not in (None, rules.team.timezone):
        return []  # the hours are on another clock than the checks (warned of above)
    weeks = [
        agent.works if agent.works is not None else (hours.week if hours else {})
        for _, agent in agents
        if is_coached(agent, departments.values())
    ]
    spans = [span for week in weeks for day in week.values() for span in day]
    if not spans:
        return []  # nobody coached, or no hours at all: nothing to compare with
    return [
        f"coaching.pace_checks[{index}]: {at:%H:%M} is outside every coached agent's working "
        "hours on every day (business_hours.week, the roster's works): this check never "
        "nudges anyone"
        for index, at in enumerate(rules.coaching.pace_checks)
        if not any(opens <= at < closes for opens, closes in spans)
    ]


HELPDESKS = ("zendesk", "salesforce")


def judge_helpdesks_in_use(
    rules_named: frozenset[str], env_named: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """The helpdesks a team uses, in HELPDESKS' order: those its rules file (find_helpdesks_
    named) or its environment (Settings.find_helpdesks_named) names; every one when neither
    names any (a first trial, `make run`), so each one's warnings say what it would need. The
    one predicate for start-up's warnings, check-config's and /readyz's."""
    named = rules_named | env_named
    return tuple(helpdesk for helpdesk in HELPDESKS if not named or helpdesk in named)


def describe_helpdesks_in_use(rules_named: frozenset[str], env_named: frozenset[str] | None) -> str:
    """check-config's line on the helpdesks it judged in use and why (`env_named` None: the
    environment has mistakes and was not read), so a warning left out is not a mystery."""
    in_use = judge_helpdesks_in_use(rules_named, env_named or frozenset())
    if not rules_named and not env_named:
        why = (
            "neither the rules file (a department's group or queue, the specialist tier's, a "
            "roster id) nor the environment (a ZENDESK_… or SALESFORCE_… variable) names one, "
            "so each is checked"
        )
    else:
        sources = (("the rules file", rules_named), ("the environment", env_named))
        by: dict[str, list[str]] = {}  # who names them: the helpdesks, in their order
        for helpdesk in in_use:
            whom = " and ".join(where for where, named in sources if named and helpdesk in named)
            by.setdefault(whom, []).append(helpdesk)
        if len(by) == 1:
            why = f"named by {next(iter(by))}"
        else:
            why = "; ".join(f"{' and '.join(names)} named by {whom}" for whom, names in by.items())
    if env_named is None:
        why += "; the environment has mistakes and was not read"
    return f"helpdesks in use: {', '.join(in_use)} ({why})"


_STATUS_MEANINGS = (
    ("new", "new_statuses"),
    ("open", "open_statuses"),
    ("pending", "pending_statuses"),
    ("on hold", "hold_statuses"),
    ("solved", "solved_statuses"),
    ("closed", "closed_statuses"),
)


def describe_salesforce_statuses(mapping: SalesforceConfig) -> str:
    """check-config's line on how a case's Status is read, for a team on Salesforce: a value
    listed nowhere is read as open, so an org's own ("Gelöst") must be listed to solve."""
    meanings = "; ".join(
        f"{meaning}: {', '.join(_find_statuses(mapping, name)) or '(none)'}"
        for meaning, name in _STATUS_MEANINGS
    )
    return (
        f"salesforce statuses: {meanings}; any other: open, or solved when the case's IsClosed "
        "is true (logged as webhook.unmapped_status: list it under the one it means)"
    )


def summarize_rules(rules: RulesConfig) -> str:
    enabled = ["3-response rule"] if rules.three_responses.enabled else []
    if rules.routing.enabled and rules.routing.categories:
        model = f", model {rules.routing.model}" if rules.routing.model else ""
        enabled.append(
            f"routing ({len(rules.departments)} departments, "
            f"{len(rules.routing.categories)} categories{model})"
        )
    if rules.risk is not None and rules.risk.enabled:
        enabled.append(f"risk escalation ({len(rules.risk.signals)} signals)")
    if rules.sla.enabled and rules.sla.policies:
        hours = rules.business_hours
        zone = (hours.timezone or rules.team.timezone) if hours else None
        enabled.append("SLA" + (f" (business hours {zone})" if zone else " (calendar time)"))
    if rules.oncall is not None:
        rotation = rules.oncall.rotation
        enabled.append(
            f"on-call ({len(rotation.members)} members, {rotation.shift}, "
            f"{len(rules.oncall.escalation)} steps)"
        )
    return (
        f'team "{rules.team.name}" ({rules.team.timezone}); '
        f"{len(rules.sla.policies)} SLA policies; workflows: {', '.join(enabled) or 'none'}"
    )
