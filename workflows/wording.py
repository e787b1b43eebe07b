"""How deskbridge words what it reports in more than one place, so each says it alike."""

from __future__ import annotations


def describe_not_utf8(error: UnicodeDecodeError) -> str:
    """'not UTF-8 text (byte 49)': text that could not be decoded, and where (the byte's offset
    in what was decoded: a webhook body, a replay line, a file), for every reader of text."""
    return f"not UTF-8 text (byte {error.start})"
