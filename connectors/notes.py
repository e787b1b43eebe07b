"""An internal note as deskbridge writes it to a helpdesk: the action's body and a reference to
the action's idempotency key, so that a retried note is recognised as this action's own and
not as another action's with the same text (a warning given again on a later occasion)."""

from __future__ import annotations

import hashlib

from deskbridge.workflows.actions import Action

# A note's last line. Neither helpdesk keeps a field of ours on a comment (Zendesk keeps an
# update's metadata only on its audits; a CaseComment takes no custom fields), so the key
# travels in the text; a digest of it, short and the same length for every key.
REFERENCE = "deskbridge ref "


def note_reference(action: Action) -> str:
    """The line that says which action wrote a note: 64 bits of the key's SHA-256."""
    return REFERENCE + hashlib.sha256(action.key.encode()).hexdigest()[:16]


def written_note(action: Action) -> str:
    """The note's text as written to the helpdesk: the action's body, then its reference."""
    return f"{action.params['body']}\n\n{note_reference(action)}"


def is_note_of(action: Action, text: str) -> bool:
    """Whether a comment read back from a helpdesk is the note `action` writes: it carries
    the action's reference, wherever the helpdesk's rewrapping puts it (its text alone may
    be another action's too)."""
    # Runs of whitespace as one: a helpdesk may store line endings as \r\n or rewrap.
    return note_reference(action) in " ".join(text.split())
