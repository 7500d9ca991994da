"""Virtual time for the local cloud: one clock, and a scheduler that runs one execution at a
time, so a test (not the OS scheduler) decides how concurrent executions interleave.

Every time the local cloud emulates reads `VirtualClock.now()`: the Lambdas' clock, Wait
states and Retry intervals, execution and history timestamps, EventBridge and ECR times,
the ECS simulation (the moto side is wired up in `patches/`). The clock stands still
while anything runs; it moves only when every execution is parked (waiting in a Wait state
or a Retry interval) or ended, and then jumps to the earliest wake-up.

Each Step Functions execution is a *fiber*: the one thread that runs it (the patches run a
Task's work, Map iterations and Parallel branches inline in that thread). A fiber runs only
when it holds the turn, which the scheduler gives to one fiber at a time. It keeps the turn
until it parks or ends; the fiber that gets the turn next is the one that became ready
first: executions in the order they were started, woken ones by wake-up time, then by the
order they parked. An execution started from inside another (the Dispatch Map's
StartExecution) is ready at once but waits for its turn. A stopped execution never parks
again: its waits return at once.

A *timer* (`call_at`) is a wake-up that is no fiber: what the emulated cloud does at a time
of its own, such as the ECS simulation publishing an event when a rollout completes, while
every execution waits. Due timers run in the driver, between turns, before the fibers due at
the same time; they keep the clock moving only while an execution is running or a driver
`advance`s it: `run_until_idle` ends when the executions end, whatever timers remain.

Driving, by a *driver* (a thread that is no fiber: the test, the demo runner, an HTTP
request), which holds the scheduler's seat while it acts so no execution runs meanwhile:

* `run_until_idle()` runs until no execution is running, jumping time as needed;
* `advance(seconds)` lets that much virtual time pass, running whatever wakes meanwhile;
* `run_until(done)` runs until ``done()`` holds; `step()` runs one turn;
* `follow_wall_clock(scale)` (server mode) starts a thread that moves the clock with the
  wall clock, ``scale`` times faster, and runs what wakes, for clients that poll in real
  time. Drivers may still jump ahead meanwhile.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DEFAULT_MAX_TURNS: Final = 10_000
# Longer than the deploy machine's TimeoutSeconds (a day): its executions always end first.
DEFAULT_MAX_SECONDS: Final = 2 * 86_400.0


class StillRunningError(RuntimeError):
    """A drive reached its bound (turns or virtual time) with executions still running."""


class VirtualClock:
    """The local cloud's time (an `ecs_deployer.clock.Clock`).

    It stands still unless the scheduler moves it, or, once `follow_wall_clock` is on,
    follows the wall clock ``scale`` times faster from wherever it stands.
    """

    def __init__(self, start: datetime | None = None) -> None:
        """It starts at ``start``, by default the wall clock's time in whole seconds: what
        happens within a second of the start then falls in the same second on every run."""
        self._lock = threading.Lock()
        self._origin = start or datetime.now(UTC).replace(microsecond=0)
        self._origin_monotonic = 0.0
        self._scale = 0.0  # 0: stands still

    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        if not self._scale:
            return self._origin
        elapsed = time.monotonic() - self._origin_monotonic
        return self._origin + timedelta(seconds=elapsed * self._scale)

    def move_to(self, when: datetime) -> None:
        """Jump forward to ``when`` (never back)."""
        with self._lock:
            self._rebase(max(when, self._now()))

    def follow_wall_clock(self, scale: float) -> None:
        with self._lock:
            self._rebase(self._now())
            self._scale = scale

    def stand_still(self) -> None:
        with self._lock:
            self._rebase(self._now())
            self._scale = 0.0

    def _rebase(self, origin: datetime) -> None:
        self._origin = origin
        self._origin_monotonic = time.monotonic()


_active_clock: VirtualClock | None = None
_active_scheduler: Scheduler | None = None


def now() -> datetime:
    """The local cloud's time: the active cloud's virtual clock, else the wall clock."""
    clock = _active_clock
    return clock.now() if clock is not None else datetime.now(UTC)


def active_scheduler() -> Scheduler | None:
    """The active local cloud's scheduler (for its timers), if a cloud is active."""
    return _active_scheduler


def iso(when: datetime) -> str:
    """A virtual time as the local cloud writes it: ISO 8601, microseconds, a Z."""
    return f"{when:%Y-%m-%dT%H:%M:%S.%fZ}"


@dataclass(eq=False)
class _Limit:
    """A time limit of a fiber (a state machine's TimeoutSeconds)."""

    at: datetime
    on_expiry: Callable[[], None]
    expired: bool = False


@dataclass(order=True)
class _Timer:
    at: datetime
    order: int  # the order they were set in, for timers due at the same time
    callback: Callable[[], None] = field(compare=False)


@dataclass(eq=False)
class _Fiber:
    key: object  # whatever the caller of `spawn` names the execution by
    name: str
    turn: threading.Condition
    thread: threading.Thread | None = None
    state: Literal["ready", "running", "parked", "ended"] = "ready"
    wake_at: datetime | None = None
    park_order: int = 0
    halted: bool = False
    limits: list[_Limit] = field(default_factory=list)

    def wakes_at(self) -> datetime | None:
        times = [limit.at for limit in self.limits if not limit.expired]
        if self.wake_at is not None:
            times.append(self.wake_at)
        return min(times, default=None)

    def describe(self) -> str:
        if self.state == "parked" and self.wake_at is not None:
            return f"{self.name} (parked until {iso(self.wake_at)})"
        return f"{self.name} ({self.state})"


class Scheduler:
    """Runs the local cloud's executions one at a time on a `VirtualClock`."""

    def __init__(self, clock: VirtualClock, *, seed: int = 0) -> None:
        self.clock = clock
        # Retry jitter draws from here: with one execution running at a time, the same
        # draws go to the same retries on every run.
        self.random = random.Random(seed)  # noqa: S311 - jitter, not secrets
        self._lock = threading.Lock()
        self._driver = threading.Condition(self._lock)  # a turn ended, or work arrived
        self._seat = threading.RLock()  # held by the driver that is acting
        self._local = threading.local()
        self._fibers: list[_Fiber] = []  # alive, in start order
        self._ready: deque[_Fiber] = deque()
        self._running: _Fiber | None = None
        self._park_order = itertools.count()
        self._timers: list[_Timer] = []  # a heap, earliest first
        self._timer_order = itertools.count()
        self._ticker: threading.Thread | None = None
        self._scale = 1.0

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Make this scheduler's clock the one `now()` reads, and this scheduler the one
        `active_scheduler()` answers."""
        global _active_clock, _active_scheduler  # one local cloud at a time, like moto's state
        previous = _active_clock, _active_scheduler
        _active_clock, _active_scheduler = self.clock, self
        try:
            yield
        finally:
            _active_clock, _active_scheduler = previous

    def now(self) -> datetime:
        return self.clock.now()

    # -- what executions call -------------------------------------------------------------

    def spawn(self, key: object, name: str, target: Callable[[], None]) -> None:
        """Run ``target`` as a new execution's fiber; it waits for its turn."""
        fiber = _Fiber(key=key, name=name, turn=threading.Condition(self._lock))
        fiber.thread = threading.Thread(
            target=self._fiber_main, args=(fiber, target), name=f"localcloud {name}", daemon=True
        )
        with self._lock:
            self._fibers.append(fiber)
            self._ready.append(fiber)
            self._driver.notify_all()
        fiber.thread.start()

    def sleep(self, seconds: float) -> None:
        """Park the calling execution for ``seconds`` of virtual time.

        Returns early when the execution is halted (stopped) or reaches a time limit.
        """
        fiber = self._this_fiber()
        with self._lock:
            if fiber.halted:
                return
            wake_at = self.clock.now() + timedelta(seconds=seconds)
            if seconds > 0 and not self._expired(fiber):
                fiber.wake_at = wake_at
                fiber.park_order = next(self._park_order)
                fiber.state = "parked"
                self._end_turn(fiber)
                while self._running is not fiber:
                    fiber.turn.wait()
                fiber.wake_at = None
            expired = self._expired(fiber)
            for limit in expired:
                limit.expired = True
            if expired:
                fiber.halted = True
        for limit in expired:
            limit.on_expiry()

    @contextmanager
    def time_limit(self, seconds: float | None, on_expiry: Callable[[], None]) -> Iterator[None]:
        """Within the block, the calling execution's waits end once ``seconds`` of virtual
        time have passed; then ``on_expiry`` runs (in the execution) and it is halted."""
        fiber = getattr(self._local, "fiber", None)
        if seconds is None or fiber is None:
            yield
            return
        limit = _Limit(self.clock.now() + timedelta(seconds=seconds), on_expiry)
        with self._lock:
            fiber.limits.append(limit)
        try:
            yield
        finally:
            with self._lock:
                fiber.limits.remove(limit)

    def halt(self, key: object) -> None:
        """The execution was stopped: it never parks again, and a parked one wakes now.

        Called by a driver, the execution unwinds at once; called by another execution,
        it unwinds at its turn.
        """
        with self._lock:
            fiber = self._fiber(key)
            if fiber is None:
                return
            self._halt(fiber)
        if self.current_key() is None:
            with self._seat, self._lock:
                while fiber.state == "ready":
                    self._grant(fiber)

    def call_at(self, when: datetime, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the driver once the clock reaches ``when`` (at once, between
        turns, when it has already): a timer. Any thread may set one."""
        with self._lock:
            heapq.heappush(self._timers, _Timer(when, next(self._timer_order), callback))
            self._driver.notify_all()

    def wake(self, key: object) -> None:
        """A parked execution is ready at once (its wait returns early); a no-op when it is
        not parked. Any thread may call it: a callback's SendTaskSuccess, a timer."""
        with self._lock:
            fiber = self._fiber(key)
            if fiber is not None and fiber.state == "parked":
                self._wake(fiber)
                self._driver.notify_all()

    def halted(self) -> bool:
        """Whether the execution running in this thread was stopped (then it never waits)."""
        fiber: _Fiber | None = getattr(self._local, "fiber", None)
        return fiber is not None and fiber.halted

    def current_key(self) -> object | None:
        """The key of the execution running in this thread (None in a driver)."""
        fiber: _Fiber | None = getattr(self._local, "fiber", None)
        return None if fiber is None else fiber.key

    # -- what drivers call ----------------------------------------------------------------

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Act as a driver: no execution runs until the block ends."""
        with self._seat:
            yield

    def running(self) -> list[str]:
        """The executions that have not ended, in start order, with what they wait for."""
        with self._lock:
            return [fiber.describe() for fiber in self._fibers]

    def step(self) -> bool:
        """Run one turn, jumping to the next wake-up if nothing is ready; False when no
        execution is running."""
        with self._seat:
            if self._run_due_timers():
                return True
            with self._lock:
                if not self._ready:
                    wake = self._next_wake(timers=True)
                    if wake is None:
                        return False
                    self._wake_until(wake)
                if self._ready:
                    self._grant(self._ready[0])
            return True

    def run_until_idle(
        self,
        *,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_turns: int = DEFAULT_MAX_TURNS,
        after_turn: Callable[[], None] | None = None,
    ) -> None:
        """Run until no execution is running; raise `StillRunningError` rather than run more
        than ``max_turns`` turns or jump more than ``max_seconds`` ahead."""
        limit = self.clock.now() + timedelta(seconds=max_seconds)
        self._drive(lambda: False, None, limit, max_turns, after_turn)

    def run_until(
        self,
        done: Callable[[], bool],
        *,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_turns: int = DEFAULT_MAX_TURNS,
        after_turn: Callable[[], None] | None = None,
    ) -> None:
        """Run until ``done()`` (checked between turns) holds; `StillRunningError` if it cannot."""
        limit = self.clock.now() + timedelta(seconds=max_seconds)
        if not self._drive(done, None, limit, max_turns, after_turn):
            raise StillRunningError("nothing is running any more, and the condition still fails")

    def advance(
        self,
        seconds: float,
        *,
        max_turns: int = DEFAULT_MAX_TURNS,
        after_turn: Callable[[], None] | None = None,
    ) -> None:
        """Let ``seconds`` of virtual time pass, running what is ready or wakes meanwhile."""
        until = self.clock.now() + timedelta(seconds=seconds)
        self._drive(lambda: False, until, None, max_turns, after_turn)

    def follow_wall_clock(self, scale: float) -> None:
        """Move the clock with the wall clock, ``scale`` times faster, and run what wakes,
        in a thread of its own, until `stand_still`."""
        with self._lock:
            if self._ticker is not None:
                return
            self._scale = scale
            self.clock.follow_wall_clock(scale)
            self._ticker = threading.Thread(target=self._tick, name="localcloud time", daemon=True)
        self._ticker.start()

    def stand_still(self) -> None:
        """Stop following the wall clock (the clock keeps the time it has reached)."""
        with self._lock:
            ticker, self._ticker = self._ticker, None
            self._driver.notify_all()
        if ticker is not None:
            ticker.join()
        self.clock.stand_still()

    def close(self, *, grace_seconds: float = 5.0) -> None:
        """Halt every execution, let each unwind to its end, and wait for their threads."""
        self.stand_still()
        with self._seat, self._lock:
            for fiber in self._fibers:
                self._halt(fiber)
            while self._ready:
                self._grant(self._ready[0])
            threads = [fiber.thread for fiber in self._fibers if fiber.thread is not None]
        deadline = time.monotonic() + grace_seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- internals (callers hold self._lock unless said otherwise) --------------------------

    def _this_fiber(self) -> _Fiber:
        fiber: _Fiber | None = getattr(self._local, "fiber", None)
        if fiber is None:
            raise RuntimeError(
                "virtual time: only a scheduled execution can wait (StartSyncExecution and "
                "activities are not scheduled)"
            )
        return fiber

    def _fiber(self, key: object) -> _Fiber | None:
        return next((fiber for fiber in self._fibers if fiber.key is key), None)

    def _expired(self, fiber: _Fiber) -> list[_Limit]:
        current = self.clock.now()
        return [limit for limit in fiber.limits if not limit.expired and limit.at <= current]

    def _fiber_main(self, fiber: _Fiber, target: Callable[[], None]) -> None:
        self._local.fiber = fiber
        with self._lock:
            while self._running is not fiber:
                fiber.turn.wait()
        try:
            target()
        finally:
            with self._lock:
                fiber.state = "ended"
                self._fibers.remove(fiber)
                self._end_turn(fiber)

    def _halt(self, fiber: _Fiber) -> None:
        """``fiber`` never parks again; if parked, it is ready at once."""
        fiber.halted = True
        if fiber.state == "parked":
            self._wake(fiber)
            self._driver.notify_all()

    def _wake(self, fiber: _Fiber) -> None:
        fiber.state = "ready"
        self._ready.append(fiber)

    def _end_turn(self, fiber: _Fiber) -> None:
        if self._running is fiber:
            self._running = None
        self._driver.notify_all()

    def _grant(self, fiber: _Fiber) -> None:
        """Give ``fiber`` the turn and wait until it parks or ends (the caller holds the
        seat)."""
        self._ready.remove(fiber)
        fiber.state = "running"
        self._running = fiber
        fiber.turn.notify()
        while self._running is not None:
            self._driver.wait()

    def _next_wake(self, *, timers: bool) -> datetime | None:
        """The earliest wake-up of a fiber, or of a timer too when ``timers``."""
        wakes = [wake for fiber in self._fibers if (wake := fiber.wakes_at()) is not None]
        if timers and self._timers:
            wakes.append(self._timers[0].at)
        return min(wakes, default=None)

    def _run_due_timers(self) -> bool:
        """Run the timers due by now, earliest first (the caller holds the seat, not the
        lock: a timer may wake executions); whether any ran."""
        ran = False
        while True:
            with self._lock:
                if not self._timers or self._timers[0].at > self.clock.now():
                    return ran
                timer = heapq.heappop(self._timers)
            timer.callback()
            ran = True

    def _wake_until(self, when: datetime) -> None:
        """Move the clock to ``when`` (if it is behind) and wake every fiber due by then:
        earliest wake-up first, then the order in which they parked."""
        self.clock.move_to(when)
        current = self.clock.now()
        due = [
            fiber
            for fiber in self._fibers
            if fiber.state == "parked"
            and (wake := fiber.wakes_at()) is not None
            and wake <= current
        ]
        for fiber in sorted(due, key=lambda f: (f.wakes_at(), f.park_order)):
            self._wake(fiber)

    def _drive(
        self,
        done: Callable[[], bool],
        until: datetime | None,
        limit: datetime | None,
        max_turns: int,
        after_turn: Callable[[], None] | None,
    ) -> bool:
        """Run turns until ``done()`` (True), or until nothing is ready and nothing wakes
        by ``until`` (False; the clock then stands at ``until``)."""
        turns = 0
        with self._seat:
            while not done():
                if self._run_due_timers():
                    continue  # what they did may be what ``done`` waits for
                with self._lock:
                    if not self._ready:
                        # Timers move time on only while executions run, or up to ``until``.
                        timers = bool(self._fibers) or until is not None
                        wake = self._next_wake(timers=timers)
                        if wake is None or (until is not None and wake > until):
                            if until is not None:
                                self.clock.move_to(until)
                            return False
                        if limit is not None and wake > limit:
                            raise self._still_running(f"the next wake-up is after {limit}")
                        self._wake_until(wake)
                        continue  # the timers due then run before the fibers
                    if turns >= max_turns:
                        raise self._still_running(f"{max_turns} turns")
                    self._grant(self._ready[0])
                turns += 1
                if after_turn is not None:
                    after_turn()
        return True

    def _still_running(self, bound: str) -> StillRunningError:
        running = ", ".join(fiber.describe() for fiber in self._fibers)
        return StillRunningError(
            f"executions still running at {iso(self.clock.now())} ({bound}): {running}"
        )

    def _tick(self) -> None:
        """Follow the wall clock: run what is ready or due, sleep until the next wake-up
        (or until work arrives), and again."""
        while True:
            with self._seat:
                self._run_due_timers()
                with self._lock:
                    if self._ticker is not threading.current_thread():
                        return
                    self._wake_until(self.clock.now())
                    while self._ready:
                        self._grant(self._ready[0])
            with self._lock:
                if self._ticker is not threading.current_thread():
                    return
                current = self.clock.now()
                self._wake_until(current)
                if self._ready or (self._timers and self._timers[0].at <= current):
                    continue
                wake = self._next_wake(timers=True)
                timeout = None if wake is None else (wake - current).total_seconds() / self._scale
                self._driver.wait(timeout)
