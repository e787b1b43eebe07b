"""Results of pure functions kept by the inputs they came from (pure, no infrastructure).

The decider runs every rule on every event, and most events change none of what a costly
step reads (a ticket's texts for the classifier and the risk phrases, a clock's start for its
deadlines): the step's result for the same inputs is looked up instead of worked out again.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextlib import suppress
from typing import Any


class Memo:
    """Results by (owner, key), for the latest `size` distinct inputs (first in, first out).

    `owner` is the configuration the result also depends on (a rules file's section): it is
    matched by identity, as configs are not hashable, and an entry keeps its owner alive so
    the owner's id is not reused by another object while the entry exists. `key` holds every
    other input, by value. Safe to share between threads (entries are plain dict items; racing
    threads may keep a few more than `size`)."""

    def __init__(self, size: int):
        self._size = size
        self._entries: dict[tuple[int, Hashable], tuple[object, Any]] = {}

    def get(self, owner: object, key: Hashable) -> Any | None:
        """The result kept for these inputs, or None."""
        entry = self._entries.get((id(owner), key))
        if entry is None or entry[0] is not owner:
            return None
        return entry[1]

    def put(self, owner: object, key: Hashable, value: Any) -> Any:
        """Keep `value` (never None) for these inputs and return it."""
        entries = self._entries
        if len(entries) >= self._size:
            # Another thread may change the entries meanwhile: then nothing needs removing.
            with suppress(KeyError, RuntimeError, StopIteration):
                del entries[next(iter(entries))]  # the oldest
        entries[(id(owner), key)] = (owner, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
