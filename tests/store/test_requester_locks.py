"""The requester locks a decider's batch holds while it writes (repeat contacts across
deciders, store/tickets.py lock_requesters): PostgreSQL only."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from deskbridge.store.session import SqlStore, TransactionGivenUp
from deskbridge.store.tickets import lock_requesters

# Two requesters whose lock keys (hashtext) are equal, and one between them by name.
SAME_KEY = ("requester-118357", "requester-227630")
BETWEEN = "requester-2"


def test_two_batches_never_deadlock_on_requesters_whose_keys_collide(engine):
    """A batch holds requesters 118357 and 2, another 2 and 227630, whose key is 118357's.
    Taken in the order of the names, the second held 2 and waited for 227630's key, which
    the first held while it waited for 2: PostgreSQL aborted one (DeadlockDetected), a batch
    failed as if the store were down. Taken in the order of the keys, one waits for the
    other."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the requester locks are PostgreSQL's (SQLite has one writer)")
    with engine.connect() as connection:
        keys = connection.execute(
            text("SELECT hashtext(:a), hashtext(:b)"), dict(zip("ab", SAME_KEY, strict=True))
        ).one()
    assert keys[0] == keys[1]
    assert SAME_KEY[0] < BETWEEN < SAME_KEY[1]
    errors: list[BaseException] = []
    waiting: list[int] = []

    def hold(requesters: list[str]) -> None:
        try:
            with engine.begin() as connection:
                waiting.append(connection.execute(text("SELECT pg_backend_pid()")).scalar())
                lock_requesters(connection, requesters)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def waits(n: int) -> None:
        """Until `n` of the batches wait for a lock."""
        for _ in range(200):
            with engine.connect() as connection:
                blocked = connection.execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = ANY(:pids)"),
                    {"pids": list(waiting)},
                ).scalar()
            if blocked == n:
                return
            time.sleep(0.02)
        raise AssertionError(f"{n} batches not waiting")

    with engine.begin() as holder:  # a third batch holds 2 until both wait for it
        lock_requesters(holder, [BETWEEN])
        second = threading.Thread(target=hold, args=([BETWEEN, SAME_KEY[1]],))
        second.start()
        waits(1)
        first = threading.Thread(target=hold, args=([SAME_KEY[0], BETWEEN],))
        first.start()
        waits(2)
    for thread in (first, second):
        thread.join(30)
    assert errors == []


def test_a_deadlock_between_two_batches_is_a_conflict_decided_again_not_a_store_down(engine):
    """A batch decided again holds its requesters from its read; at its write it may add one
    a later lookup found, out of the keys' order, while another batch holds that one and
    waits for the first's. PostgreSQL aborts one of them: that is a conflict the decider
    decides again at once (`Store.conflicts`), not an OperationalError logged as the store
    being down and retried only at the next poll."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the requester locks are PostgreSQL's (SQLite has one writer)")
    store = SqlStore(engine)
    both = threading.Barrier(2, timeout=30)
    raised: list[BaseException] = []
    committed: list[str] = []

    def batch(first: str, later: str) -> None:
        try:
            with store.writing() as session:
                session.lock_requesters([first])  # held from the read
                both.wait()
                session.lock_requesters([first, later])  # the write's, one more
            committed.append(first)
        except BaseException as exc:  # reported below
            raised.append(exc)

    threads = [
        threading.Thread(target=batch, args=("requester-a", "requester-b")),
        threading.Thread(target=batch, args=("requester-b", "requester-a")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(committed) == 1
    assert len(raised) == 1
    assert isinstance(raised[0], store.conflicts)
    assert isinstance(raised[0], TransactionGivenUp)
    assert str(raised[0]) == "40P01"  # deadlock_detected
