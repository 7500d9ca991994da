from __future__ import annotations

from ecs_deployer.locking import (
    LockEntry,
    LockRecord,
    decide_acquire,
    holds,
    released,
    superseded_while_holding,
)

NOW = 1_800_000_000


def _entry(name: str, minute: int, expires_in: int = 3600) -> LockEntry:
    at = f"2026-11-22T10:{minute:02d}:00.000Z"
    return LockEntry(name, f"arn:exec:{name}", at, at, NOW + expires_in)


def _running(*alive: str) -> set[str]:
    return {f"arn:exec:{name}" for name in alive}


def test_free_lock_is_acquired() -> None:
    a = _entry("a", 1)
    decision = decide_acquire(LockRecord(), a, "queue", NOW, lambda arn: True)
    assert decision.result == "ACQUIRED"
    assert decision.record.holder == a
    assert decision.record.waiting == ()


def test_queue_waits_behind_holder_in_request_order() -> None:
    a, b, c = _entry("a", 1), _entry("b", 2), _entry("c", 3)
    alive = _running("a", "b", "c")
    record = LockRecord(version=3, holder=a)
    # c asks first, then b: the queue is ordered by request time, not arrival.
    after_c = decide_acquire(record, c, "queue", NOW, alive.__contains__)
    assert (after_c.result, after_c.blocked_by) == ("WAITING", "a")
    after_b = decide_acquire(after_c.record, b, "queue", NOW, alive.__contains__)
    assert after_b.result == "WAITING"
    assert after_b.record.waiting == (b, c)
    # a finishes: c may not jump ahead of b.
    freed = released(after_b.record, a)
    assert decide_acquire(freed, c, "queue", NOW, alive.__contains__).result == "WAITING"
    took = decide_acquire(freed, b, "queue", NOW, alive.__contains__)
    assert took.result == "ACQUIRED"
    assert took.record.holder == b
    assert took.record.waiting == (c,)


def test_supersede_gives_way_to_newer_and_flags_the_holder() -> None:
    a, b, c = _entry("a", 1), _entry("b", 2), _entry("c", 3)
    alive = _running("a", "b", "c")
    record = decide_acquire(LockRecord(holder=a), b, "supersede", NOW, alive.__contains__).record
    assert superseded_while_holding(record, a, alive.__contains__)
    record = decide_acquire(record, c, "supersede", NOW, alive.__contains__).record
    # b is older than c: it gives way and leaves the queue.
    decision = decide_acquire(record, b, "supersede", NOW, alive.__contains__)
    assert decision.result == "SUPERSEDED"
    assert all(entry.deployment_id != "b" for entry in decision.record.waiting)
    # Once a releases, c takes it.
    assert (
        decide_acquire(released(decision.record, a), c, "supersede", NOW, alive.__contains__).result
        == "ACQUIRED"
    )


def test_queue_holder_is_never_superseded() -> None:
    a, b = _entry("a", 1), _entry("b", 2)
    record = LockRecord(holder=a, waiting=(b,))
    assert holds(record, a)
    assert not superseded_while_holding(record, b, lambda arn: True)


def test_dead_holder_is_dropped_and_reported() -> None:
    a, b = _entry("a", 1), _entry("b", 2)
    decision = decide_acquire(LockRecord(holder=a), b, "queue", NOW, _running("b").__contains__)
    assert decision.result == "ACQUIRED"
    assert decision.dropped == (a,)


def test_expired_holder_is_dropped_even_if_it_looks_alive() -> None:
    a, b = _entry("a", 1, expires_in=-1), _entry("b", 2)
    decision = decide_acquire(LockRecord(holder=a), b, "queue", NOW, lambda arn: True)
    assert decision.result == "ACQUIRED"
    assert decision.dropped == (a,)


def test_waiters_do_not_expire_only_die() -> None:
    a, b, c = _entry("a", 1), _entry("b", 2, expires_in=-100), _entry("c", 3)
    record = LockRecord(holder=None, waiting=(b,))
    decision = decide_acquire(record, c, "queue", NOW, _running("b", "c").__contains__)
    assert decision.result == "WAITING"
    assert decision.blocked_by == "b"
    dead = decide_acquire(record, c, "queue", NOW, _running("c").__contains__)
    assert dead.result == "ACQUIRED"
    assert dead.dropped == (b,)
    del a


def test_retried_acquire_keeps_the_lock() -> None:
    a = _entry("a", 1)
    record = LockRecord(version=1, holder=a)
    decision = decide_acquire(record, a, "queue", NOW, lambda arn: False)
    assert decision.result == "ACQUIRED"
    assert decision.record == record


def test_release_removes_holder_or_waiter_only_for_me() -> None:
    a, b = _entry("a", 1), _entry("b", 2)
    record = LockRecord(version=4, holder=a, waiting=(b,))
    assert released(record, b) == LockRecord(version=4, holder=a)
    assert released(record, a) == LockRecord(version=4, holder=None, waiting=(b,))
    assert released(LockRecord(), a) == LockRecord()


def test_pushes_of_the_same_second_queue_in_arrival_order() -> None:
    same_second = "2026-11-22T10:01:00Z"
    first = LockEntry("zz-first", "arn:exec:zz", same_second, "2026-11-22T10:01:00.100Z", NOW + 60)
    second = LockEntry(
        "aa-second", "arn:exec:aa", same_second, "2026-11-22T10:01:00.900Z", NOW + 60
    )
    assert second.newer_than(first)
    decision = decide_acquire(LockRecord(waiting=(second,)), first, "queue", NOW, lambda arn: True)
    assert decision.result == "ACQUIRED"
