"""Block Kit messages (pure): every alert says which ticket, what is wrong, why deskbridge
thinks so, how much SLA time is left, and offers the next step as a button."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ACK = "deskbridge.ack"
SNOOZE_30 = "deskbridge.snooze_30"
SNOOZE_120 = "deskbridge.snooze_120"
CALL_LOGGED = "deskbridge.call_logged"
PICK_DEPARTMENT = "deskbridge.pick_department"
OPEN_TICKET = "deskbridge.open"
# A page's buttons block: its block_id is this and the chain's id.
PAGE_BLOCK = "deskbridge.page:"

CALL_SCRIPT = (
    "*Call script*\n"
    "1. Introduce yourself and say you are calling about order ticket {number}.\n"
    "2. Apologise that it has taken several messages, and summarise what you know so far.\n"
    "3. Ask what outcome they need, and agree the next step and a date.\n"
    "4. Confirm it in writing on the ticket after the call, then press *Call logged*."
)

TITLES = {
    "call_customer": ":telephone_receiver: Call the customer",
    "route": ":package: New ticket for {department}",
    "escalate": ":rotating_light: Escalated to the specialist tier",
    "sla_warning": ":hourglass_flowing_sand: SLA warning",
    "sla_breach": ":fire: SLA breached",
    "page_oncall": ":pager: On-call page",
    "coach": ":dart: Coaching",
    "notify": ":eyes: Needs attention",
}


# Slack's limits (Block Kit reference): longer is refused with invalid_blocks.
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
# Top-level `text` (notifications, and the plain-text retry): Slack allows 40,000 but cuts
# messages past 4,000 into "show more"; an alert needs far less.
MESSAGE_TEXT = 3000
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Slack mrkdwn escaping: ticket text can never @channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis, never inside an escape (&amp;)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def clip_escaped(prefix: str, text: str, limit: int) -> str:
    """`prefix` (ours: a title, a link) kept whole, then escaped ticket `text` cut to fit."""
    return prefix + clip(escape(text), max(limit - len(prefix), len(ELLIPSIS)))


@dataclass(frozen=True)
class TicketView:
    """What a message shows about a ticket, prepared by the notifier from ticket state."""

    key: str
    number: str
    url: str | None
    subject: str
    customer: str | None = None
    # Who owns the ticket: their roster name, else the helpdesk's user id.
    assignee: str | None = None
    priority: str | None = None
    department: str | None = None
    sla: tuple[str, ...] = ()
    status: str = "open"
    acknowledged_by: str | None = None
    # Who acknowledged the on-call page (its chain), not an earlier alert.
    page_acknowledged_by: str | None = None
    # The ticket's page was a false alarm (the reply that met its target came late).
    page_withdrawn: bool = False
    # The ticket's latest on-call chain: its page's buttons name it (PAGE_BLOCK), so a click
    # on a stale copy of a page whose chain is over is told why instead of recorded.
    page_chain: str | None = None
    call_logged_by: str | None = None
    departments: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # How its helpdesk names it to people ("Case 00001042"); None: `#<number>`.
    name: str | None = None
    # The risk signals it was escalated for to the specialist tier; () when it was not.
    escalated: tuple[str, ...] = ()
    # A person chose its department (picked in Slack, or moved in the helpdesk): a pick
    # changes nothing any more, so the question's menu is gone.
    routed_by_hand: bool = False


def _title(action: dict[str, Any], view: TicketView) -> str:
    kind = action["action"]
    if kind == "notify" and action.get("ask") == "pick_department":
        return ":question: Which department should take this?"
    if kind == "notify" and action.get("withdraws"):
        # The SLA rule's correction of a breach alert it sent: nothing for the lead to do.
        return ":white_check_mark: SLA breach withdrawn"
    if kind == "notify" and action.get("target") == "lead":
        return ":eyes: Team lead needed"
    if kind == "route" and view.escalated:
        # Not "new ticket for" them: the specialist tier owns it (_escalated_too).
        return f":package: Order problem for {view.department or 'you'}, escalated"
    return TITLES.get(kind, ":bell: deskbridge").format(department=view.department or "you")


def describe_signals(signals: Iterable[str]) -> str:
    """Risk signals as people read them ("social media, repeat contact"), as the escalation's
    reason names them, not as the rules file's keys ("social_media")."""
    return ", ".join(signal.replace("_", " ") for signal in signals)


def _escalated_too(view: TicketView) -> dict[str, Any]:
    """A department's alert about a ticket the specialist tier owns (escalated with or after
    its routing): what is theirs to do, and that no hand-off deadline chases them. Without
    it, "New ticket for Logistics" read as theirs to own, beside the specialists' alert."""
    signals = describe_signals(view.escalated)
    text = (
        f":rotating_light: *Escalated to the specialist tier* ({signals}): "
        "they own the ticket and the customer; the order problem is still yours to look into, "
        "with no hand-off deadline"
    )
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(text)}]}


def _link(view: TicketView) -> str:
    label = escape(view.name or f"#{view.number}")
    return f"<{view.url}|{label}>" if view.url else label


def _ticket_line(view: TicketView, title: str) -> str:
    """Title, ticket link and subject: the subject is what gets cut, never the link."""
    return clip_escaped(f"{title}\n*{_link(view)}* ", view.subject or "(no subject)", SECTION_TEXT)


def _fields(view: TicketView) -> list[dict[str, str]]:
    fields = [
        ("Customer", view.customer),
        ("Assignee", view.assignee),
        ("Priority", view.priority),
        ("Department", view.department),
        ("SLA", "\n".join(view.sla) or None),
    ]
    return [
        {"type": "mrkdwn", "text": clip_escaped(f"*{name}*\n", value, FIELD_TEXT)}
        for name, value in fields
        if value
    ]


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _actions(action: dict[str, Any], view: TicketView) -> dict[str, Any] | None:
    if view.status in ("solved", "closed"):
        return None
    elements: list[dict[str, Any]] = []
    if action["action"] == "page_oncall":
        # A page asks for one thing: someone owning the ticket now. No snoozing a page.
        if view.page_acknowledged_by is None and not view.page_withdrawn:
            elements.append(_button("Acknowledge", ACK, view.key, "danger"))
        block = _with_open_ticket(elements, view)
        if block is not None and view.page_chain is not None:
            block["block_id"] = PAGE_BLOCK + view.page_chain
        return block
    if action["action"] == "call_customer":
        elements += _call_logged_button(view)
    elements += _pick_menu(action, view)
    if view.acknowledged_by is None:
        elements.append(_button("Acknowledge", ACK, view.key))
    elements += [
        _button("Snooze 30 min", SNOOZE_30, view.key),
        _button("Snooze 2 h", SNOOZE_120, view.key),
    ]
    return _with_open_ticket(elements, view)


def _pick_menu(action: dict[str, Any], view: TicketView) -> list[dict[str, Any]]:
    """The question's department menu, until a person has chosen the department."""
    if action.get("ask") != "pick_department" or not view.departments or view.routed_by_hand:
        return []
    return [
        {
            "type": "static_select",
            "action_id": PICK_DEPARTMENT,
            "placeholder": {"type": "plain_text", "text": "Pick department"},
            "options": [
                {"text": {"type": "plain_text", "text": name}, "value": f"{view.key}|{key}"}
                for key, name in view.departments
            ],
        }
    ]


def _call_logged_button(view: TicketView) -> list[dict[str, Any]]:
    """Call logged, until someone has logged the call."""
    if view.call_logged_by is not None:
        return []
    return [_button("Call logged", CALL_LOGGED, view.key, "primary")]


def _with_open_ticket(elements: list[dict[str, Any]], view: TicketView) -> dict[str, Any] | None:
    if view.url:
        open_button = _button("Open ticket", OPEN_TICKET, view.key)
        open_button["url"] = view.url
        elements.append(open_button)
    if not elements:
        return None
    return {"type": "actions", "block_id": "deskbridge.actions", "elements": elements}


def _status_line(view: TicketView) -> str | None:
    parts = []
    acknowledged = view.page_acknowledged_by or view.acknowledged_by
    if acknowledged:
        parts.append(f":white_check_mark: Acknowledged by {escape(acknowledged)}")
    elif view.page_withdrawn:
        parts.append(":leftwards_arrow_with_hook: Page withdrawn: answered before it")
    if view.call_logged_by:
        parts.append(f":telephone_receiver: Call logged by {escape(view.call_logged_by)}")
    if view.status in ("solved", "closed"):
        parts.append(f":checkered_flag: Ticket {view.status}")
    return clip(" · ".join(parts), SECTION_TEXT) or None


def build_alert(action: dict[str, Any], view: TicketView) -> dict[str, Any]:
    """The first message about a ticket in a channel (the thread root), with buttons.
    `action` is the action's flat record (Action.to_record())."""
    title = _title(action, view)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _ticket_line(view, title)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _why(action)}},
    ]
    if action["action"] == "route" and view.escalated:
        blocks.append(_escalated_too(view))
    fields = _fields(view)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if action["action"] == "call_customer":
        blocks.append(_call_script(view))
    buttons = _actions(action, view)
    if buttons:
        blocks.append(buttons)
    status = _status_line(view)
    if status:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": status}]})
    # The notification text, and the whole message if Slack refuses the blocks: keeps the link.
    # A question's title ends in its own mark ("Which department should take this? #48213").
    heading = title.split(" ", 1)[-1]
    heading += "" if heading.endswith("?") else ":"
    fallback = clip_escaped(f"{heading} {_link(view)} ", view.subject or "", MESSAGE_TEXT)
    return {"text": fallback.rstrip(), "blocks": blocks}


def _why(action: dict[str, Any], before: str = "") -> str:
    # A page names whom it paged (mentions, as the hand-off post's): the on-call channel's
    # readers see who has it at each step, not only "paging the next on the rotation".
    people = action.get("people") if action["action"] == "page_oncall" else None
    paged = "\n*Paged:* " + ", ".join(f"<@{p}>" for p in people) if people else ""
    return clip_escaped(f"{before}*Why:* ", action["reason"], SECTION_TEXT - len(paged)) + paged


def _call_script(view: TicketView) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": CALL_SCRIPT.format(number=view.number)},
    }


def build_thread_reply(action: dict[str, Any], view: TicketView) -> dict[str, Any]:
    """A later message about the same ticket, posted in its thread."""
    title = _title(action, view)
    if action["action"] != "notify" or action.get("target") != "thread":
        text = _why(action, before=f"{title}\n")
    else:
        text = clip(escape(action.get("text") or title), SECTION_TEXT)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    buttons = None
    if action["action"] == "call_customer" and view.status not in ("solved", "closed"):
        # The assignee's DM thread often begins with an SLA warning or a page: the call's
        # script and Call logged button come with the call's own message, wherever it is.
        blocks.append(_call_script(view))
        buttons = _with_open_ticket(_call_logged_button(view), view)
    elif action.get("ask") == "pick_department" and view.status not in ("solved", "closed"):
        # The question asked in a thread begun before (an escalation in the leads' channel, an
        # SLA warning in the assignee's DM) brings its menu: the thread's first message has none.
        buttons = _with_open_ticket(_pick_menu(action, view), view)
    elif action["action"] == "page_oncall" and action.get("step") == 0:
        # A chain's first page in a thread begun before (an earlier chain's page, since
        # acknowledged, or another alert) brings its Acknowledge: the thread's first message
        # has none left for it. Its later steps reply under it.
        buttons = _actions(action, view)
    if buttons:
        blocks.append(buttons)
    return {"text": text, "blocks": blocks}


def build_job_message(record: dict[str, Any]) -> dict[str, Any]:
    """A scheduled job's post: its text, with the people it names mentioned (a hand-off
    pings who is now on call)."""
    text = escape(record.get("text") or record["reason"])
    if record.get("handoff") and record.get("person"):
        text = f":pager: <@{record['person']}> is now on call\n{text}"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_TEXT)}}
    return {"text": clip(text, MESSAGE_TEXT), "blocks": [section]}


def build_help(unknown: str | None = None) -> dict[str, Any]:
    """The commands; with `unknown`, the word typed that is none of them, said first (the help
    alone, after `/deskbridge tema`, did not say the word was not understood)."""
    said = ""
    if unknown is not None:
        word = clip(escape(unknown.replace("`", "'")), 40)
        said = f"`{word}` is not a deskbridge command.\n"
    text = (
        f"{said}*deskbridge*\n"
        "`/deskbridge me` your open tickets, SLA risk and replies today\n"
        "`/deskbridge team` (leads) tickets at risk, open escalations, calls due, replies per "
        "agent\n"
        "`/deskbridge ticket <id>` a ticket's state, clocks and every decision with its reason\n"
        "`/deskbridge ack <id>` acknowledge an on-call page (stops the later steps)\n"
        "`/deskbridge oncall` who is on call now and the next three shifts\n"
        "`/deskbridge oncall override @person <from> <to>` (leads) someone covers, "
        "times like 2026-03-07T18:00\n"
        "`/deskbridge help` this help"
    )
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def build_list(title: str, lines: list[str], empty: str) -> dict[str, Any]:
    body = "\n".join(lines) if lines else empty
    text = clip(f"*{clip(escape(title), HEADER_TEXT)}*\n{body}", SECTION_TEXT)
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def build_home(title: str, lines: list[str], empty: str) -> dict[str, Any]:
    body = "\n".join(lines) if lines else empty
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": clip(title, HEADER_TEXT)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(body, SECTION_TEXT)}},
        ],
    }
