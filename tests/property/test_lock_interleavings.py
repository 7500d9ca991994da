"""Property: whatever order pushes arrive in, reach the lock in, crash and retry in, the app
ends on the newest image, rollouts never overlap and never go backwards, and the lock ends
free.

Each push's execution is modelled as the state machine drives it: acquire (again after each
wait), the checkpoint before the services (where ``supersede`` may stop it), the rollout, the
checkpoint after it (never superseding), release. A crash applies a step's write but loses
its answer, so the execution runs the same step again, as Step Functions' Retry does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_deployer.domain.locks import (
    LockEntry,
    LockRecord,
    decide_acquire,
    deployment_order,
    holds,
    released,
    superseding,
)

if TYPE_CHECKING:
    from ecs_deployer.domain.locks import Concurrency

NOW = 1_800_000_000
Step = Literal["acquire", "checkpoint", "rollout", "release", "done"]


@dataclass
class Execution:
    entry: LockEntry
    step: Step = "acquire"
    outcome: str | None = None


@dataclass
class World:
    mode: Concurrency
    lock: LockRecord = field(default_factory=LockRecord)
    rolled_out: list[LockEntry] = field(default_factory=list)

    def advance(self, execution: Execution, *, crash: bool) -> None:
        """One step of ``execution``; with ``crash``, its write lands but its answer is lost."""
        step = getattr(self, f"_{execution.step}")
        step(execution, execution.entry, crash)

    def _acquire(self, execution: Execution, me: LockEntry, crash: bool) -> None:
        decision = decide_acquire(self.lock, me, self.mode, NOW, lambda arn: True)
        self.lock = decision.record
        if crash:
            return
        if decision.result == "ACQUIRED":
            execution.step = "checkpoint"
        elif decision.result == "SUPERSEDED":
            execution.step, execution.outcome = "done", "SUPERSEDED"

    def _checkpoint(self, execution: Execution, me: LockEntry, crash: bool) -> None:
        assert holds(self.lock, me)
        if self.mode == "supersede" and superseding(self.lock, me, lambda arn: True):
            execution.step, execution.outcome = "release", "SUPERSEDED"
        elif not crash:
            execution.step = "rollout"

    def _rollout(self, execution: Execution, me: LockEntry, crash: bool) -> None:
        assert holds(self.lock, me), "a rollout without the lock"
        if not self.rolled_out or self.rolled_out[-1] != me:  # a retry rolls out once
            self.rolled_out.append(me)
        if not crash:
            execution.step = "release"

    def _release(self, execution: Execution, me: LockEntry, crash: bool) -> None:
        self.lock = released(self.lock, me)
        if not crash:
            execution.step = "done"
            execution.outcome = execution.outcome or "SUCCEEDED"


def _pushes(count: int, same_second: list[bool]) -> list[LockEntry]:
    """``count`` pushes, oldest first; ``same_second[i]``: push i+1 shares push i's event time
    (ECR events carry whole seconds), so ECR's push time breaks the tie."""
    second, entries = 0, []
    for index in range(count):
        if index and not same_second[index - 1]:
            second += 1
        event_time = f"2026-11-22T10:00:{second:02d}.000Z"
        pushed_at = f"2026-11-22T10:00:{second:02d}.{index * 150:03d}Z"
        # Event ids are random: give the older push the larger one, so they cannot decide.
        order = deployment_order(event_time, pushed_at, f"event-{9 - index}")
        name = f"shop-{index}"
        entries.append(LockEntry(name, f"arn:exec:{name}", order, f"img:{index}", NOW + 3600))
    return entries


@settings(max_examples=400, deadline=None)
@given(
    count=st.integers(min_value=2, max_value=3),
    same_second=st.lists(st.booleans(), min_size=2, max_size=2),
    mode=st.sampled_from(["queue", "supersede"]),
    schedule=st.lists(st.tuples(st.integers(min_value=0, max_value=2), st.booleans()), max_size=40),
)
def test_the_newest_push_wins_in_every_interleaving(
    count: int, same_second: list[bool], mode: Concurrency, schedule: list[tuple[int, bool]]
) -> None:
    pushes = _pushes(count, same_second)
    world = World(mode)
    executions: list[Execution] = []
    # An execution starts when it is first scheduled: the schedule is the arrival order.
    steps = [(index % count, crash) for index, crash in schedule]
    for index, crash in [*steps, *((index, False) for index in range(count))]:
        if all(e.entry != pushes[index] for e in executions):
            executions.append(Execution(pushes[index]))
        execution = next(e for e in executions if e.entry == pushes[index])
        if execution.step != "done":
            world.advance(execution, crash=crash)
    for _ in range(20 * count):  # then every execution runs to its end, round robin
        for execution in executions:
            if execution.step != "done":
                world.advance(execution, crash=False)

    assert all(execution.step == "done" for execution in executions), executions
    assert (world.lock.holder, world.lock.waiting) == (None, ())
    newest = pushes[-1]
    assert world.rolled_out[-1] == newest, "the app must end on the newest image"
    orders = [entry.order for entry in world.rolled_out]
    assert orders == sorted(set(orders)), "a rollout went back to an older image"
    outcomes = {execution.entry.deployment_id: execution.outcome for execution in executions}
    assert outcomes[newest.deployment_id] == "SUCCEEDED"
    for execution in executions:
        rolled = execution.entry in world.rolled_out
        assert rolled == (execution.outcome == "SUCCEEDED"), "SUPERSEDED touches nothing"
    if mode == "queue":
        # In push order, skipping only pushes that arrived after a newer one had started.
        assert world.rolled_out == sorted(world.rolled_out, key=lambda entry: entry.order)
