"""How well the routing rules do on a team's labelled tickets (pure): accuracy, misroutes
(sent to the wrong department, or a non-problem sent anywhere) apart from unclassified tickets
(a person is asked to pick), and the confusion table. `deskbridge routing evaluate` prints it.

A labelled ticket (YAML list or JSON Lines, one object per ticket):
    id: L001                      # any unique text (or number)
    subject: "Order 100482 — tracking hasn't moved"
    description: "…"              # optional
    tags: []                      # optional
    customer_messages: []         # optional: the customer's later messages
    department: logistics         # the right answer: a department key, or none
    category: damaged_item        # optional notes, not read: the category meant, and
    why: "…"                      # why that department
Any other field is refused (a misspelt one would be read as missing).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from deskbridge.config.rules import (
    RoutingConfig,
    describe_error,
    describe_kind,
    describe_yaml_error,
    format_location,
    read_yaml,
)
from deskbridge.connectors.parsing import describe_json_error
from deskbridge.workflows.classify import Classification, RoutingModel, classify_ticket

NONE = "none"


def _number_as_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class LabelledTicket(BaseModel):
    # A misspelt field ("subjet") is refused, not read as a ticket without a subject.
    model_config = ConfigDict(extra="forbid")

    # A ticket's number is a natural id (`id: 48213`, which YAML and JSON read as a number):
    # taken as its text, not refused as "Input should be a valid string".
    id: Annotated[str, BeforeValidator(_number_as_text)] = Field(min_length=1)
    subject: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    customer_messages: list[str] = Field(default_factory=list)
    department: str = Field(min_length=1)
    # Notes for the people who label, not read by the rules: the category they had in mind,
    # and why that department.
    category: str | None = None
    why: str | None = None


_FIELDS = ", ".join(LabelledTicket.model_fields)


class LabelledSetError(ValueError):
    """A labelled file that cannot be read, with every problem and where it is."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_labelled(text: str, jsonl: bool, departments: Iterable[str]) -> list[LabelledTicket]:
    """YAML (a list of tickets) or JSON Lines → tickets; every problem is reported at once,
    by position (`[3].department`, or `line 4` for JSON Lines), in the file's order."""
    # (position in the file, problem): sorted at the end, so a line that is not JSON is
    # listed where it is, not before the problems of the lines above it.
    problems: list[tuple[int, str]] = []
    raw: list[tuple[int, str, object]] = []
    if jsonl:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw.append((number, f"line {number}", json.loads(line)))
            except (ValueError, RecursionError) as exc:
                reason = describe_json_error(exc)
                problems.append((number, f"line {number}: invalid JSON: {reason}"))
    else:
        try:
            data = read_yaml(text)
        except yaml.YAMLError as exc:
            problem = describe_yaml_error(exc)
            if text.lstrip().startswith("{"):  # JSON Lines in a file not named so
                problem += " (JSON Lines are read from a .jsonl or .ndjson file)"
            raise LabelledSetError([problem]) from None
        if data is None:  # empty, or only comments: said as an empty JSON Lines file is
            raise LabelledSetError(["no tickets (the file is empty)"])
        if not isinstance(data, list):
            raise LabelledSetError([f"expected a list of tickets, got {describe_kind(data)}"])
        raw = [(i, f"[{i}]", item) for i, item in enumerate(data)]
    allowed = {*departments, NONE}

    def check_department(position: int, where: str, department: object) -> None:
        if isinstance(department, str) and department and department not in allowed:
            problems.append(
                (
                    position,
                    f"{where}.department: unknown department {department!r}"
                    f" (expected one of {', '.join(sorted(allowed))})",
                )
            )

    tickets: list[LabelledTicket] = []
    seen: set[str] = set()

    def check_id(position: int, where: str, ticket_id: object) -> None:
        if isinstance(ticket_id, str) and ticket_id:
            if ticket_id in seen:
                problems.append((position, f"{where}.id: {ticket_id!r} appears twice"))
            seen.add(ticket_id)

    for position, where, item in raw:
        if not isinstance(item, dict):
            # Said plainly here: pydantic's "(top level): Input should be a valid dictionary or
            # instance of LabelledTicket" names a class, not what to write.
            got = describe_kind(item)
            problems.append(
                (position, f"{where}: expected a ticket with id and department, got {got}")
            )
            continue
        try:
            ticket = LabelledTicket.model_validate(item)
        except ValidationError as exc:
            problems += [
                (position, f"{where}.{format_location(e['loc'])}: {_describe(e)}")
                for e in exc.errors()
            ]
            # The ticket's other mistakes are listed too, not one at a time per run.
            check_department(position, where, item.get("department"))
            check_id(position, where, _number_as_text(item.get("id")))
            continue
        check_department(position, where, ticket.department)
        check_id(position, where, ticket.id)
        tickets.append(ticket)
    if problems:
        raise LabelledSetError([problem for _, problem in sorted(problems, key=lambda p: p[0])])
    if not tickets:
        raise LabelledSetError(["no tickets" + ("" if text.strip() else " (the file is empty)")])
    return tickets


def _describe(error) -> str:
    """As the rules file's mistakes are said ("expected a list, got a string; for one item,
    write it in brackets: ["late"]"), not pydantic's "Input should be a valid list"."""
    if error["type"] == "extra_forbidden":
        return f"unknown field (check the spelling; a ticket has {_FIELDS})"
    if error["type"] == "missing":
        return "required field is missing"
    return describe_error(error)


@dataclass(frozen=True)
class Outcome:
    ticket: LabelledTicket
    result: Classification

    @property
    def got(self) -> str:
        return self.result.department or NONE

    @property
    def correct(self) -> bool:
        return self.got == self.ticket.department

    @property
    def misrouted(self) -> bool:
        """Handed to a department that cannot fix it: costlier than asking."""
        return self.got != NONE and not self.correct

    @property
    def unclassified(self) -> bool:
        """Left for a person to pick although it names a problem."""
        return self.got == NONE and self.ticket.department != NONE


@dataclass(frozen=True)
class AccuracyReport:
    outcomes: list[Outcome]
    labels: list[str]

    @property
    def total(self) -> int:
        return len(self.outcomes)

    def share(self, what: str) -> float:
        return sum(getattr(o, what) for o in self.outcomes) / self.total

    def confusion_table(self) -> str:
        counts = Counter((o.ticket.department, o.got) for o in self.outcomes)
        width = max(len(label) for label in self.labels) + 2
        lines = ["expected \\ got".ljust(16) + "".join(x.rjust(width) for x in self.labels)]
        for expected in self.labels:
            row = "".join(str(counts[(expected, got)]).rjust(width) for got in self.labels)
            lines.append(expected.ljust(16) + row)
        return "\n".join(lines)

    def summary(self) -> str:
        correct = sum(o.correct for o in self.outcomes)
        misrouted = sum(o.misrouted for o in self.outcomes)
        unclassified = sum(o.unclassified for o in self.outcomes)
        tickets = "1 ticket" if self.total == 1 else f"{self.total} tickets"
        return (
            f"{tickets}: {correct} correct ({correct / self.total:.1%}),"
            f" {misrouted} misrouted ({misrouted / self.total:.1%}),"
            f" {unclassified} unclassified ({unclassified / self.total:.1%})"
        )

    def misses(self) -> list[str]:
        return [
            f"{o.ticket.id}: expected {o.ticket.department}, got {o.got}"
            f" ({'misrouted' if o.misrouted else 'unclassified'}): {o.result.reason}"
            for o in self.outcomes
            if not o.correct
        ]


def evaluate_accuracy(
    config: RoutingConfig,
    tickets: list[LabelledTicket],
    departments: Iterable[str],
    department_names: dict[str, str] | None = None,
    model: RoutingModel | None = None,
) -> AccuracyReport:
    outcomes = [
        Outcome(
            ticket,
            classify_ticket(
                config,
                subject=ticket.subject,
                description=ticket.description,
                tags=ticket.tags,
                customer_messages=ticket.customer_messages,
                department_names=department_names,
                model=model,
            ),
        )
        for ticket in tickets
    ]
    return AccuracyReport(outcomes, [*departments, NONE])
