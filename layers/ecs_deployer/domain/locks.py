"""One deployment per app at a time, and never an older image after a newer one: the lock,
its wait queue and its high-water mark, as pure decisions.

The lock is one item per app holding the current holder, the waiting deployments in
deployment order, and ``latest``: the newest deployment that has taken the lock. A
deployment older than ``latest`` can never take it again: it ends SUPERSEDED, having touched
nothing. So whichever execution reaches the lock first, the app never ends on an image older
than one whose rollout has already started. A rollback is the exception: an operator asked
for that exact state, so it always runs (in its turn).

Every change is a conditional write on a version number, so concurrent executions never both
win. A holder or waiter whose execution is no longer running (stopped, timed out, crashed) is
dropped, so a dead execution cannot hold an app for ever; an expiry time is the last resort
if even that check cannot be made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

Concurrency = Literal["queue", "supersede"]
AcquireResult = Literal["ACQUIRED", "WAITING", "SUPERSEDED"]


def deployment_order(requested_at: str, pushed_at: str, tiebreak: str) -> str:
    """The key that orders an app's deployments, as one sortable string.

    ``requested_at``: the push's event time (ECR events carry whole seconds), or when a
    manual request's execution started. Within one second: ``pushed_at``, the image's push
    time as ECR records it, then ``tiebreak``, the event's own id (a manual request's
    deployment id). All ISO 8601 UTC with milliseconds, so string order is time order.
    Never the digest, never which execution happened to start first.
    """
    return f"{requested_at}#{pushed_at}#{tiebreak}"


@dataclass(frozen=True)
class LockEntry:
    deployment_id: str
    execution_arn: str
    order: str  # deployment_order(): older < newer
    image: str  # shown to the deployments this one supersedes
    expires_at: int  # epoch seconds
    rollback: bool = False  # an operator's rollback always runs, however old its order

    def newer_than(self, other: LockEntry) -> bool:
        return (self.order, self.deployment_id) > (other.order, other.deployment_id)


@dataclass(frozen=True)
class LockRecord:
    version: int = 0
    holder: LockEntry | None = None
    waiting: tuple[LockEntry, ...] = field(default_factory=tuple)
    latest: LockEntry | None = None  # the newest deployment that ever took the lock


@dataclass(frozen=True)
class Decision:
    record: LockRecord
    result: AcquireResult
    blocked_by: str | None  # WAITING: the deployment we wait behind
    newer: LockEntry | None  # SUPERSEDED: the newer deployment that made us give way
    dropped: tuple[LockEntry, ...]  # entries found dead: their records need closing


def _alive(
    entry: LockEntry, me: LockEntry, is_running: Callable[[str], bool], now: int | None = None
) -> bool:
    """Is ``entry``'s execution still running? With ``now``, also within its expiry.

    Only a holder expires: a waiter may wait as long as the holder works.
    """
    if entry.deployment_id == me.deployment_id:
        return True
    if now is not None and entry.expires_at <= now:
        return False
    return is_running(entry.execution_arn)


def _newer_than(entry: LockEntry | None, me: LockEntry) -> bool:
    return entry is not None and entry.deployment_id != me.deployment_id and entry.newer_than(me)


def _newest(entries: list[LockEntry]) -> LockEntry | None:
    return max(entries, key=lambda entry: (entry.order, entry.deployment_id), default=None)


@dataclass(frozen=True)
class _Live:
    """The lock's holder and waiters whose executions still run, and those found dead."""

    holder: LockEntry | None
    waiting: list[LockEntry]
    dropped: tuple[LockEntry, ...]


def _live(record: LockRecord, me: LockEntry, now: int, is_running: Callable[[str], bool]) -> _Live:
    holder = record.holder
    dropped: list[LockEntry] = []
    if holder is not None and not _alive(holder, me, is_running, now):
        dropped.append(holder)
        holder = None
    waiting = []
    for entry in record.waiting:
        if _alive(entry, me, is_running):
            waiting.append(entry)
        else:
            dropped.append(entry)
    return _Live(holder, waiting, tuple(dropped))


def _decision(
    record: LockRecord,
    me: LockEntry,
    live: _Live,
    outcome: AcquireResult,
    queue: list[LockEntry],
    *,
    newer: LockEntry | None = None,
) -> Decision:
    holder = me if outcome == "ACQUIRED" else live.holder
    latest = record.latest
    if outcome == "ACQUIRED" and (latest is None or me.newer_than(latest)):
        latest = me
    blocked_by = (holder or queue[0]).deployment_id if outcome == "WAITING" else None
    return Decision(
        LockRecord(record.version, holder, tuple(queue), latest),
        outcome,
        blocked_by,
        newer,
        live.dropped,
    )


def decide_acquire(
    record: LockRecord,
    me: LockEntry,
    mode: Concurrency,
    now: int,
    is_running: Callable[[str], bool],
) -> Decision:
    """What acquiring the lock for ``me`` does to ``record``."""
    live = _live(record, me, now, is_running)
    others = [entry for entry in live.waiting if entry.deployment_id != me.deployment_id]
    if live.holder is not None and live.holder.deployment_id == me.deployment_id:
        return _decision(record, me, live, "ACQUIRED", others)  # a retried acquire
    if not me.rollback and _newer_than(record.latest, me):
        # A newer deployment has already taken the lock: this image is stale.
        return _decision(record, me, live, "SUPERSEDED", others, newer=record.latest)
    if mode == "supersede" and not me.rollback:
        newest = _newest(others)
        if _newer_than(newest, me):
            return _decision(record, me, live, "SUPERSEDED", others, newer=newest)
    queue = sorted([*others, me], key=lambda entry: (entry.order, entry.deployment_id))
    # queue: the oldest goes first; supersede: nothing waiting is newer than ``me`` (checked
    # above), so ``me`` goes first and the older waiters find themselves stale.
    first = queue[0] if mode == "queue" else me
    if live.holder is None and first.deployment_id == me.deployment_id:
        return _decision(record, me, live, "ACQUIRED", [e for e in queue if e is not me])
    return _decision(record, me, live, "WAITING", queue)


def superseding(
    record: LockRecord, me: LockEntry, is_running: Callable[[str], bool]
) -> LockEntry | None:
    """At the safe point of a ``supersede`` app: the newest live deployment waiting that is
    newer than ``me``, if any."""
    return _newest(
        [
            entry
            for entry in record.waiting
            if entry.newer_than(me) and _alive(entry, me, is_running)
        ]
    )


def holds(record: LockRecord, me: LockEntry) -> bool:
    return record.holder is not None and record.holder.deployment_id == me.deployment_id


def released(record: LockRecord, me: LockEntry) -> LockRecord:
    """``record`` without ``me`` as holder or waiter (``latest`` stays: it is history)."""
    holder = None if holds(record, me) else record.holder
    waiting = tuple(entry for entry in record.waiting if entry.deployment_id != me.deployment_id)
    return LockRecord(record.version, holder, waiting, record.latest)
