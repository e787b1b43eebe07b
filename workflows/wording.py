"""How deskbridge words what it reports in more than one place, so each says it alike."""

from __future__ import annotations

import codecs


def count_noun(count: int, noun: str) -> str:
    """'1 ticket', '2 tickets': every noun counted in these summaries takes a plain -s plural."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_problems(where: str, problems: list[str]) -> str:
    """'rules.yaml: 2 problems' and each problem on an indented line below: how a rules file
    or a labelled set that cannot be used is reported."""
    return "\n".join(
        [f"{where}: {count_noun(len(problems), 'problem')}"] + [f"  {p}" for p in problems]
    )


def describe_not_utf8(error: UnicodeDecodeError) -> str:
    """'not UTF-8 text (byte 49)': text that could not be decoded, and where (the byte's offset
    in what was decoded: a webhook body, a replay line, a file), for every reader of text."""
    return f"not UTF-8 text (byte {error.start})"


_UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_file_text(raw: bytes) -> str:
    """A file a person saved (a rules file, labelled tickets): UTF-8, its byte order mark
    dropped, or UTF-16 with its mark, as Windows PowerShell's `>` and Notepad's "Unicode" save
    text (was refused as "not UTF-8 text (byte 0)"). UnicodeDecodeError for anything else."""
    if raw.startswith(_UTF16_MARKS):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")
