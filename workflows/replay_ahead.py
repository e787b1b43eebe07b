"""Replay's reader process works out, ahead of the deciding process, what the rules will ask of
each ticket's texts (benchmarks/README.md, thirty-sixth session: replay's two processes).

Routing's classification by the phrases (and the learned model) and risk's phrase signals are
pure functions of a ticket's texts (subject, description, the customer's messages) and the
rules, each kept in its rule's memo by those texts. The reader folds each line's events into
a ticket state of its own (`apply_event`, the decider's fold, in the lines' order, which is
the order replay decides events in), and for texts not seen lately it works both answers out
and sends them ahead of the line's events; the deciding process keeps them in the memos
(`WorkedOut.keep`) before it decides those events. The decider then finds the answer where it
would have worked it out: the same answer, since it is the same function of the same inputs
(the memos are looked up by the texts' values). Where the reader's fold differs from the
decider's (events the store drops as duplicates, a failed decision), the texts differ too, the
answer sent is never looked up, and the decider works out its own as before.

An answer whose working-out logged anything or raised is not sent: the decider works it out
itself, so what is logged (or raised) comes where it did in one process.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from deskbridge.config.rules import RulesConfig
from deskbridge.workflows.decision import view_of
from deskbridge.workflows.model import TicketEvent, TicketState
from deskbridge.workflows.rules import risk, routing
from deskbridge.workflows.state import apply_event, new_state

T = TypeVar("T")

# An answer is sent again once this many others were sent after it: the memos keep the
# latest CLASSIFIED_KEPT / TEXTS_KEPT answers, so one sent long ago may have left them.
SEND_AGAIN_AFTER = min(routing.CLASSIFIED_KEPT, risk.TEXTS_KEPT) // 2


class WorkedOut:
    """Answers for texts, worked out by the reader: routing's (`routing.read_texts`) and risk's
    (`risk.read_texts`), each as (texts, answer)."""

    __slots__ = ("risk", "routing")

    def __init__(self) -> None:
        self.routing: list[tuple[Any, Any]] = []
        self.risk: list[tuple[Any, Any]] = []

    def keep(self, rules: RulesConfig) -> None:
        """Keep the answers in the rules' memos, for the deciding process's `rules`."""
        for texts, result in self.routing:
            routing.keep_read_texts(rules, texts, result)
        if self.risk and rules.risk is not None:
            for texts, found in self.risk:
                risk.keep_read_texts(rules.risk, texts, found)


def work_out_ahead(items: Iterable[T], rules: RulesConfig) -> Iterator[T | WorkedOut]:
    """`items` (`read_lines`'), each line's events preceded by a WorkedOut where they give a
    ticket texts whose answers were not sent lately. Run in the reader process."""
    view = view_of(rules)
    by_routing = view.routing_on
    risk_config = view.risk  # None when disabled
    if not by_routing and risk_config is None:
        yield from items
        return
    states: dict[str, TicketState] = {}
    sent_routing, sent_risk = _Sent(), _Sent()
    for item in items:
        if item.__class__ is tuple:
            ahead = WorkedOut()
            for event in item[0]:  # type: ignore[index]
                state = _fold(states, event)
                if state is None or state.status.is_done:  # the rules read no texts then
                    continue
                if by_routing:
                    texts = routing.texts_of(state)
                    if sent_routing.due(texts):
                        result = _quietly(routing.read_texts, texts, rules)
                        if result is not None:
                            ahead.routing.append((texts, result))
                if risk_config is not None:
                    said = risk.said_key(state)
                    if sent_risk.due(said):
                        found = _quietly(risk.read_texts, said, risk_config)
                        if found is not None:
                            ahead.risk.append((said, found))
            if ahead.routing or ahead.risk:
                yield ahead
        yield item


def _fold(states: dict[str, TicketState], event: TicketEvent) -> TicketState | None:
    key = event.ticket_key
    try:
        state = states.get(key) or new_state(event)
        state = apply_event(state, event)[0]
    except Exception:  # the decider meets it in its turn; this ticket's texts are not sent
        states.pop(key, None)
        return None
    states[key] = state
    return state


class _Sent:
    """The texts whose answers were sent, each with its number among the answers sent."""

    __slots__ = ("count", "numbers")

    def __init__(self) -> None:
        self.count = 0
        self.numbers: dict[Any, int] = {}

    def due(self, texts: Any) -> bool:
        """Whether the answers for `texts` are to be sent (never sent, or not lately); if so,
        they are counted as sent."""
        last = self.numbers.get(texts)
        if last is not None and self.count - last < SEND_AGAIN_AFTER:
            return False
        self.numbers[texts] = self.count
        self.count += 1
        return True


def _quietly(work: Callable[..., T], *args: Any) -> T | None:
    """`work(*args)`, or None where it raised, logged or warned."""
    made: list[object] = []
    handle, show = logging.Logger.handle, warnings.showwarning

    def keep_record(self: logging.Logger, record: logging.LogRecord) -> None:
        made.append(record)

    def keep_warning(*args: Any, **kwargs: Any) -> None:
        made.append(args)

    logging.Logger.handle = keep_record  # type: ignore[method-assign]
    warnings.showwarning = keep_warning
    try:
        answer = work(*args)
    except Exception:
        return None
    finally:
        logging.Logger.handle = handle  # type: ignore[method-assign]
        warnings.showwarning = show
    return None if made else answer
