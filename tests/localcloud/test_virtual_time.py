"""The local cloud's virtual time: the scheduler alone.

The test decides how executions interleave; nothing here depends on the machine's speed.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ecs_deployer_tools.localcloud.virtual_time import Scheduler, StillRunningError, VirtualClock

START = datetime(2030, 1, 1, tzinfo=UTC)


class World:
    """A scheduler on a clock at START, and a log of what its executions did, in order."""

    def __init__(self) -> None:
        self.scheduler = Scheduler(VirtualClock(START))
        self.log: list[tuple[str, float]] = []

    def note(self, what: str) -> None:
        self.log.append((what, (self.scheduler.now() - START).total_seconds()))

    def spawn(self, name: str, *sleeps: float) -> None:
        """An execution that notes its name after each of its waits."""

        def run() -> None:
            self.note(f"{name} starts")
            for seconds in sleeps:
                self.scheduler.sleep(seconds)
                self.note(name)

        self.scheduler.spawn(name, name, run)


# -- the scheduler on its own ---------------------------------------------------------------


def _interleaving() -> list[tuple[str, float]]:
    world = World()
    world.spawn("a", 2, 2)
    world.spawn("b", 1, 3)
    world.spawn("c", 4)
    world.scheduler.run_until_idle()
    return world.log


def test_executions_interleave_by_wake_up_then_start_order_every_run() -> None:
    expected = [
        ("a starts", 0.0),
        ("b starts", 0.0),
        ("c starts", 0.0),
        ("b", 1.0),
        ("a", 2.0),
        # All three wake at 4: b parked before a (at 1, a at 2), c first of all (at 0).
        ("c", 4.0),
        ("b", 4.0),
        ("a", 4.0),
    ]
    assert all(_interleaving() == expected for _ in range(20))


def test_ties_go_to_the_execution_that_parked_first() -> None:
    world = World()
    world.spawn("a", 1, 1)
    world.spawn("b", 1, 1)
    world.scheduler.run_until_idle()
    assert [what for what, _ in world.log] == ["a starts", "b starts", "a", "b", "a", "b"]


def test_an_execution_started_by_another_waits_for_its_turn() -> None:
    world = World()

    def parent() -> None:
        world.spawn("child")
        world.note("parent after starting the child")

    world.scheduler.spawn("parent", "parent", parent)
    assert world.scheduler.step()  # the parent's whole turn
    assert world.log == [("parent after starting the child", 0.0)]
    world.scheduler.run_until_idle()
    assert world.log[-1] == ("child starts", 0.0)


def test_an_hour_long_wait_takes_no_time() -> None:
    world = World()
    world.spawn("a", 3600)
    world.scheduler.run_until_idle()
    assert world.log == [("a starts", 0.0), ("a", 3600.0)]
    assert world.scheduler.now() == START + timedelta(hours=1)


def test_advance_runs_only_what_wakes_meanwhile() -> None:
    world = World()
    world.spawn("a", 10)
    world.scheduler.advance(5)
    assert world.log == [("a starts", 0.0)]
    assert world.scheduler.now() == START + timedelta(seconds=5)
    world.scheduler.advance(5)
    assert world.log[-1] == ("a", 10.0)
    assert world.scheduler.running() == []


def test_a_halted_execution_unparks_at_once_and_never_parks_again() -> None:
    world = World()
    world.spawn("a", 3600, 3600)
    world.scheduler.advance(1)

    world.scheduler.halt("a")  # a driver's halt: it unwinds before halt returns

    assert world.log == [("a starts", 0.0), ("a", 1.0), ("a", 1.0)]
    assert world.scheduler.running() == []
    assert world.scheduler.now() == START + timedelta(seconds=1)


def test_a_time_limit_ends_the_wait_and_calls_back_in_the_execution() -> None:
    world = World()

    def run() -> None:
        with world.scheduler.time_limit(60, lambda: world.note("timed out")):
            world.scheduler.sleep(3600)
            world.note("woken")
            world.scheduler.sleep(3600)  # halted: returns at once
            world.note("done")

    world.scheduler.spawn("a", "a", run)
    world.scheduler.run_until_idle()
    assert world.log == [("timed out", 60.0), ("woken", 60.0), ("done", 60.0)]


def test_run_until_idle_raises_rather_than_run_for_ever() -> None:
    world = World()
    looping = [True]

    def forever() -> None:
        while looping[0]:
            world.scheduler.sleep(1)

    world.scheduler.spawn("loop", "loop", forever)
    with pytest.raises(StillRunningError, match=r"100 turns.*loop \(ready\)"):
        world.scheduler.run_until_idle(max_turns=100)
    assert world.scheduler.now() == START + timedelta(seconds=100)

    world.spawn("late", 10 * 86_400)
    with pytest.raises(StillRunningError, match=r"late \(parked until 2030-01-11"):
        world.scheduler.run_until_idle(max_seconds=3600)

    looping[0] = False
    world.scheduler.close()  # halts both: their waits return at once, and they end
    assert world.scheduler.running() == []


def test_run_until_raises_when_nothing_runs_and_the_condition_fails() -> None:
    world = World()
    world.spawn("a", 1)
    with pytest.raises(StillRunningError, match="condition still fails"):
        world.scheduler.run_until(lambda: False)


def test_only_an_execution_can_wait() -> None:
    with pytest.raises(RuntimeError, match="only a scheduled execution can wait"):
        World().scheduler.sleep(1)


def test_following_the_wall_clock_runs_what_wakes() -> None:
    world = World()
    woken = threading.Event()

    def run() -> None:
        world.scheduler.sleep(3600)  # 3.6 ms at this scale
        woken.set()

    world.scheduler.follow_wall_clock(1_000_000)
    try:
        world.scheduler.spawn("a", "a", run)
        assert woken.wait(60)  # a bound against hanging, not a timing
    finally:
        world.scheduler.stand_still()
    assert world.scheduler.now() >= START + timedelta(hours=1)
