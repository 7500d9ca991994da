"""`EcsSimulation`: the simulated ECS installed into moto, one at a time, and throttling.

Installing applies `localcloud/patches/ecs.py`, which routes moto's ECS calls to the
simulation's service rollouts (`rollouts.py`) and task lifecycle (`tasks.py`) under one
lock. ECS moves on with the simulation's clock, whether anyone looks or not: each call,
and each read for assertions, first takes the steps due by then (`catch_up`). A seeded
share of ECS API calls answers `ThrottlingException: Rate exceeded` (HTTP 400), as the
scenario's `throttle_rate` says.

ECS's events (`events.py`) reach the default event bus at the time of their transition,
even while nobody calls ECS: the simulation sets a timer (`Timers`, the local cloud's
virtual-time scheduler by default) for its next transition, and publishes what happened by
then when it fires. Without timers (a test's own clock), no event is published.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any, Protocol

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.ecs_sim import events as ecs_events
from ecs_deployer_tools.localcloud.ecs_sim.consistency import DescribeLag
from ecs_deployer_tools.localcloud.ecs_sim.faults import EcsFaults
from ecs_deployer_tools.localcloud.ecs_sim.ids import SeededIds
from ecs_deployer_tools.localcloud.ecs_sim.rollouts import ServiceRollouts
from ecs_deployer_tools.localcloud.ecs_sim.tasks import TaskLifecycle
from ecs_deployer_tools.localcloud.patches import ecs as ecs_patches
from ecs_deployer_tools.localcloud.patches import events as events_patches
from ecs_deployer_tools.localcloud.patches.patcher import MotoSimulation, Patcher

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ecs_deployer_tools.localcloud.ecs_sim.events import EcsEvent
    from ecs_deployer_tools.localcloud.ecs_sim.rollouts import DeploymentRecord
    from ecs_deployer_tools.localcloud.ecs_sim.tasks import TaskRecord


class Timers(Protocol):
    """Runs a callback once the clock reaches a time (`virtual_time.Scheduler.call_at`)."""

    def call_at(self, when: datetime, callback: Callable[[], None]) -> None: ...


class EcsSimulation(MotoSimulation):
    """Makes moto's ECS progress deployments and tasks, and inject `faults`, while installed.

    Use as a context manager, or call `install()` and `uninstall()`. One simulation can be
    installed at a time (`MotoSimulation`); every patched call runs under one lock, so Step
    Functions worker threads and moto's threaded server may call ECS concurrently.
    """

    def __init__(
        self,
        faults: EcsFaults | None = None,
        clock: Callable[[], datetime] | None = None,
        timers: Timers | None = None,
    ) -> None:
        """`clock` is the simulated ECS's time: the local cloud's virtual clock by default,
        and then the timers are its scheduler's (once installed)."""
        super().__init__()
        self.faults = faults or EcsFaults()
        self._clock = clock
        self._timers = timers
        self._timer_times: set[datetime] = set()  # when a set timer fires
        self._lock = threading.RLock()
        # Simulations are not secrets: seeded, repeatable pseudo-randomness is the point.
        self._throttle_rng = random.Random(self.faults.seed)  # noqa: S311
        self.throttled_calls = 0  # requests answered ThrottlingException so far
        # Off while a scenario sets up its world, so only the calls under test are throttled.
        self.throttling = True
        ids = SeededIds(self.faults.seed)
        # Both read the scenario when they need it: a test may swap `faults` meanwhile.
        now = self._now = clock or virtual_time.now
        lag = DescribeLag(lambda: self.faults, now)
        self.events = ecs_events.EcsEvents(lambda: self.faults)
        self.task_lifecycle = TaskLifecycle(lambda: self.faults, ids, now, lag, self.events)
        self.rollouts = ServiceRollouts(
            lambda: self.faults, ids, now, lag, tasks=self.task_lifecycle, events=self.events
        )
        self.published: list[EcsEvent] = []  # ECS's events put on the bus, oldest first

    # -- installation -------------------------------------------------------------------

    def _patch(self, patcher: Patcher) -> None:
        if self._timers is None and self._clock is None:
            self._timers = virtual_time.active_scheduler()
        ecs_patches.install(patcher, self)

    def locked(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler` run under the simulation's lock, as every patched call is, on an ECS
        brought to the clock's time."""

        def run(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._catch_up()
                try:
                    return handler(*args, **kwargs)
                finally:
                    self._set_timer()  # for the transitions the call started

        return run

    def catch_up(self) -> None:
        """Take every rollout's and task's steps due by the clock's time."""
        with self._lock:
            self._catch_up()

    def _set_timer(self) -> None:
        """A timer for the earliest event to publish or transition to come, unless one is
        set for then."""
        if self._timers is None:
            return
        candidates = (
            self.events.earliest(),
            self.rollouts.next_step_at(),
            self.task_lifecycle.next_step_at(),
        )
        when = min((at for at in candidates if at is not None), default=None)
        if when is None or when in self._timer_times:
            return
        self._timer_times.add(when)
        self._timers.call_at(when, lambda: self._publish(when))

    def _publish(self, when: datetime) -> None:
        """A timer fired: bring ECS to its time, and put what happened on the bus (outside
        the lock: a rule's target may call ECS)."""
        with self._lock:
            self._timer_times.discard(when)
            if not self.installed:
                return
            self._catch_up()
            due = self.events.take(self._now())
            self._set_timer()
        for event in due:
            events_patches.put_event(
                event.account,
                event.region,
                source=ecs_events.SOURCE,
                detail_type=event.detail_type,
                detail=event.detail,
                resources=event.resources,
                time=event.at,
            )
            self.published.append(event)

    def _catch_up(self) -> None:
        # Services first: their steps start and stop their tasks, which have no steps of
        # their own; one-off tasks are independent of them.
        self.rollouts.catch_up()
        self.task_lifecycle.catch_up()

    def throttles(self) -> bool:
        """Whether to answer the ECS call at hand with ThrottlingException (then counted)."""
        with self._lock:
            throttled = self.throttling and self._throttle_rng.random() < self.faults.throttle_rate
            self.throttled_calls += throttled
        return throttled

    # -- read helpers for assertions --------------------------------------------------------

    def primary_task_definition(self, service: str, cluster: str = "default") -> str:
        """Task definition ARN of the service's PRIMARY deployment."""
        with self._lock:
            self._catch_up()
            return self.rollouts.primary_task_definition(service, cluster)

    def deployments(self, service: str, cluster: str = "default") -> tuple[DeploymentRecord, ...]:
        """The service's deployments, PRIMARY first."""
        with self._lock:
            self._catch_up()
            return self.rollouts.deployments(service, cluster)

    def service_events(self, service: str, cluster: str = "default") -> tuple[str, ...]:
        """Messages of the service's events, newest first."""
        with self._lock:
            self._catch_up()
            return self.rollouts.events(service, cluster)

    def tasks(self, family: str | None = None) -> tuple[TaskRecord, ...]:
        """Tasks started (of `family`, or all) while installed, oldest first."""
        with self._lock:
            self._catch_up()
            return self.task_lifecycle.tasks(family)
