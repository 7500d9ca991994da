"""One deployment per app at a time: the lock and its wait queue, as pure decisions.

The lock is one item per app holding the current holder and the waiting deployments in
request order. Every change is a conditional write on a version number, so concurrent
executions never both win. A holder or waiter whose execution is no longer running (it was
stopped, timed out or crashed) is dropped, so a dead execution cannot hold an app for ever;
an expiry time is the last resort if even that check cannot be made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

Concurrency = Literal["queue", "supersede"]
AcquireResult = Literal["ACQUIRED", "WAITING", "SUPERSEDED"]


@dataclass(frozen=True)
class LockEntry:
    deployment_id: str
    execution_arn: str
    requested_at: str  # ISO 8601, UTC, when pushed: orders the queue
    accepted_at: str  # ISO 8601, UTC, when its execution started: orders pushes of one second
    expires_at: int  # epoch seconds

    @property
    def order(self) -> tuple[str, str, str]:
        return (self.requested_at, self.accepted_at, self.deployment_id)

    def newer_than(self, other: LockEntry) -> bool:
        return self.order > other.order


@dataclass(frozen=True)
class LockRecord:
    version: int = 0
    holder: LockEntry | None = None
    waiting: tuple[LockEntry, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Decision:
    record: LockRecord
    result: AcquireResult
    blocked_by: str | None  # the deployment we wait behind
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


def decide_acquire(
    record: LockRecord,
    me: LockEntry,
    mode: Concurrency,
    now: int,
    is_running: Callable[[str], bool],
) -> Decision:
    """What acquiring the lock for ``me`` does to ``record``."""
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
    if holder is not None and holder.deployment_id == me.deployment_id:
        # A retried acquire: we already hold it.
        return Decision(
            replace(record, holder=holder, waiting=tuple(waiting)), "ACQUIRED", None, tuple(dropped)
        )
    if all(entry.deployment_id != me.deployment_id for entry in waiting):
        waiting.append(me)
    waiting.sort(key=lambda entry: entry.order)
    others = [entry for entry in waiting if entry.deployment_id != me.deployment_id]

    def result(
        new_holder: LockEntry | None, queue: list[LockEntry], outcome: AcquireResult
    ) -> Decision:
        blocked_by = None
        if outcome == "WAITING":
            blocked_by = (new_holder or queue[0]).deployment_id
        return Decision(
            LockRecord(record.version, new_holder, tuple(queue)),
            outcome,
            blocked_by,
            tuple(dropped),
        )

    if mode == "supersede" and any(entry.newer_than(me) for entry in others):
        return result(holder, others, "SUPERSEDED")
    if holder is None and waiting[0].deployment_id == me.deployment_id:
        return result(me, others, "ACQUIRED")
    return result(holder, waiting, "WAITING")


def superseded_while_holding(
    record: LockRecord, me: LockEntry, is_running: Callable[[str], bool]
) -> bool:
    """At a safe point of a ``supersede`` app: has a newer deployment asked for the lock?"""
    return any(entry.newer_than(me) and _alive(entry, me, is_running) for entry in record.waiting)


def holds(record: LockRecord, me: LockEntry) -> bool:
    return record.holder is not None and record.holder.deployment_id == me.deployment_id


def released(record: LockRecord, me: LockEntry) -> LockRecord:
    """``record`` without ``me`` as holder or waiter."""
    holder = None if holds(record, me) else record.holder
    waiting = tuple(entry for entry in record.waiting if entry.deployment_id != me.deployment_id)
    return LockRecord(record.version, holder, waiting)
