from __future__ import annotations

from ecs_deployer.domain.locks import (
    LockEntry,
    LockRecord,
    decide_acquire,
    deployment_order,
    holds,
    released,
    superseding,
)

NOW = 1_800_000_000


def _entry(name: str, minute: int, expires_in: int = 3600, *, rollback: bool = False) -> LockEntry:
    at = f"2026-11-22T10:{minute:02d}:00.000Z"
    order = deployment_order(at, at, f"event-{name}")
    return LockEntry(name, f"arn:exec:{name}", order, f"img:{name}", NOW + expires_in, rollback)


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
    assert superseding(record, a, alive.__contains__) == b
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
    assert superseding(record, b, lambda arn: True) is None


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
    record = LockRecord(version=1, holder=a, latest=a)
    decision = decide_acquire(record, a, "queue", NOW, lambda arn: False)
    assert decision.result == "ACQUIRED"
    assert decision.record == record


def test_release_removes_holder_or_waiter_only_for_me() -> None:
    a, b = _entry("a", 1), _entry("b", 2)
    record = LockRecord(version=4, holder=a, waiting=(b,))
    assert released(record, b) == LockRecord(version=4, holder=a)
    assert released(record, a) == LockRecord(version=4, holder=None, waiting=(b,))
    assert released(LockRecord(), a) == LockRecord()


def test_pushes_of_the_same_second_are_ordered_by_push_time_then_event_id() -> None:
    second = "2026-11-22T10:01:00.000Z"
    first = LockEntry(
        "zz-first",
        "arn:exec:zz",
        deployment_order(second, "2026-11-22T10:01:00.100Z", "event-9"),
        "img:first",
        NOW + 60,
    )
    later = LockEntry(
        "aa-later",
        "arn:exec:aa",
        deployment_order(second, "2026-11-22T10:01:00.900Z", "event-1"),
        "img:later",
        NOW + 60,
    )
    assert later.newer_than(first)  # not by deployment id (the digest), not by event id
    decision = decide_acquire(LockRecord(waiting=(later,)), first, "queue", NOW, lambda arn: True)
    assert decision.result == "ACQUIRED"
    tie = LockEntry("x", "arn:exec:x", deployment_order(second, second, "event-2"), "i", NOW)
    tied = LockEntry("y", "arn:exec:y", deployment_order(second, second, "event-1"), "i", NOW)
    assert tie.newer_than(tied)  # same push time: the event id decides, deterministically


def test_an_older_push_reaching_a_free_lock_after_a_newer_one_is_stale() -> None:
    older, newer = _entry("older", 1), _entry("newer", 2)
    took = decide_acquire(LockRecord(), newer, "queue", NOW, lambda arn: True)
    assert (took.result, took.record.latest) == ("ACQUIRED", newer)
    done = released(took.record, newer)
    assert done.latest == newer  # the high-water mark outlives the holder
    for mode in ("queue", "supersede"):
        late = decide_acquire(done, older, mode, NOW, lambda arn: True)
        assert (late.result, late.newer) == ("SUPERSEDED", newer)
        assert late.record.holder is None
        assert late.record.waiting == ()
        assert late.record.latest == newer


def test_an_older_push_queued_behind_a_newer_holder_is_stale() -> None:
    older, newer = _entry("older", 1), _entry("newer", 2)
    record = decide_acquire(LockRecord(), newer, "queue", NOW, lambda arn: True).record
    decision = decide_acquire(record, older, "queue", NOW, lambda arn: True)
    assert (decision.result, decision.newer) == ("SUPERSEDED", newer)
    assert decision.record.holder == newer


def test_a_rollback_always_runs_in_its_turn() -> None:
    newer = _entry("newer", 5)
    back = _entry("back", 1, rollback=True)  # ordered before the newest deployment
    record = released(decide_acquire(LockRecord(), newer, "supersede", NOW, bool).record, newer)
    decision = decide_acquire(record, back, "supersede", NOW, lambda arn: True)
    assert decision.result == "ACQUIRED"
    assert decision.record.latest == newer  # a rollback does not move the mark back
    # Holding, a rollback is not superseded by a newer push waiting.
    waiting = decide_acquire(decision.record, _entry("push", 6), "supersede", NOW, bool).record
    assert superseding(waiting, back, lambda arn: True) is not None  # the lock step skips it


def test_supersede_lets_the_newest_take_a_free_lock_at_once() -> None:
    a, b = _entry("a", 1), _entry("b", 2)
    record = LockRecord(waiting=(a,))  # a waits (its next poll would find the lock free)
    decision = decide_acquire(record, b, "supersede", NOW, lambda arn: True)
    assert decision.result == "ACQUIRED"
    again = decide_acquire(decision.record, a, "supersede", NOW, lambda arn: True)
    assert (again.result, again.newer) == ("SUPERSEDED", b)
