"""Memo: results of pure steps by their inputs (workflows/memo.py)."""

from __future__ import annotations

from deskbridge.workflows.memo import Memo


class Config:  # like a rules section: not hashable by value
    __hash__ = None  # type: ignore[assignment]


def test_a_result_is_kept_for_its_owner_and_key_only():
    memo = Memo(8)
    first, second = Config(), Config()
    assert memo.put(first, ("subject", "text"), "kept") == "kept"
    assert memo.get(first, ("subject", "text")) == "kept"
    assert memo.get(first, ("subject", "other text")) is None
    assert memo.get(second, ("subject", "text")) is None  # another config: not its result


def test_the_oldest_results_go_first_once_full():
    memo = Memo(2)
    owner = Config()
    memo.put(owner, "a", 1)
    memo.put(owner, "b", 2)
    memo.put(owner, "c", 3)
    assert len(memo) == 2
    assert [memo.get(owner, k) for k in "abc"] == [None, 2, 3]
