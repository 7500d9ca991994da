"""How a task runs in the simulated ECS: PENDING -> RUNNING -> STOPPED, with the
simulation's clock.

* RunTask starts tasks PENDING, with one container per container definition. A task is
  RUNNING `pending_seconds` later and STOPPED `running_seconds` after that, with the exit
  codes, stop code and reason of the scenario's `TaskFault` for the task's family: its
  essential container exits (EssentialContainerExited) and ECS stops the others, or ECS
  stops the task itself (a Spot interruption...). StopTask stops a task as ECS does: at
  once it is desired STOPPED (UserInitiated), and STOPPED `STOP_TIMEOUT_SECONDS` later,
  its containers killed (exit code 137). Every ECS call, read and timer
  (`EcsSimulation.catch_up`) first brings the tasks to the clock's time.
* DescribeTasks misses a task RunTask just started for a describe or two (eventual
  consistency, `consistency.py`), and forgets a stopped task an hour after it stopped: both
  are MISSING failures, as an unknown task is.
* Where moto's answers differ from ECS's: RunTask places a task definition sized only at
  task level and takes an `awsvpcConfiguration` without security groups; RunTask honours
  `clientToken` (per cluster); ListTasks defaults to `desiredStatus=RUNNING`; DescribeTasks
  reports unknown tasks as `MISSING` failures.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.models import Task

from ecs_deployer.domain.task_logs import LogStream, awslogs_stream
from ecs_deployer_tools.localcloud.ecs_sim.faults import TaskFault, TaskOutcome
from ecs_deployer_tools.localcloud.ecs_sim.ids import short_name
from ecs_deployer_tools.localcloud.ecs_sim.task_logs import write

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from ecs_deployer_tools.localcloud.ecs_sim.consistency import DescribeLag, Unseen
    from ecs_deployer_tools.localcloud.ecs_sim.events import EcsEvents
    from ecs_deployer_tools.localcloud.ecs_sim.faults import EcsFaults
    from ecs_deployer_tools.localcloud.ecs_sim.ids import SeededIds

_PENDING: Final = "PENDING"
_RUNNING: Final = "RUNNING"
_STOPPED: Final = "STOPPED"
# ECS sends SIGKILL this long after SIGTERM: the container's stopTimeout, 30 s by default
# (ContainerDefinition.stopTimeout, ECS API reference).
STOP_TIMEOUT_SECONDS: Final = 30.0
_SIGKILL_EXIT_CODE: Final = 137
_SIGTERM_EXIT_CODE: Final = 143
_ESSENTIAL_EXITED: Final = "Essential container in task exited"
_USER_STOPPED: Final = "Task stopped by user"
# stoppedReason of a task ECS stopped, as ECS words it, where known.
_STOP_REASONS: Final = {
    "SpotInterruption": "Your Spot Task was interrupted.",
    "UserInitiated": _USER_STOPPED,
}
_PULL_ERROR: Final = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
    "failed to resolve ref {image}: not found"
)


@dataclass(frozen=True)
class TaskRecord:
    """One task started while the simulation was installed, as DescribeTasks shows it."""

    task_arn: str
    family: str
    task_definition_arn: str
    started_by: str | None
    last_status: str
    desired_status: str
    stop_code: str | None
    stopped_reason: str | None
    exit_codes: Mapping[str, int | None]  # by container name; None: never exited


@dataclass
class _TaskState:
    backend: Any
    family: str
    fault: TaskFault
    essential: tuple[str, ...]  # container names, in definition order
    order: int
    running_seconds: float  # this task's: the fault's may differ by a RunTask's task
    unseen: Unseen  # DescribeTasks calls that miss it, right after RunTask
    log_streams: Mapping[str, LogStream]  # by container name: where awslogs delivers
    next_at: datetime | None  # when the task moves on next; None: it never does by itself


@dataclass(frozen=True)
class _TokenRecord:
    request: dict[str, Any]
    tasks: tuple[Any, ...]


class TaskLifecycle:
    """The tasks started while the simulation is installed.

    The methods up to `sized_at_task_level` stand in for moto's ECS methods (see
    `localcloud/patches/ecs.py`), which they get as `original`; the simulation's lock is
    held around each, and around every read.
    """

    def __init__(
        self,
        faults: Callable[[], EcsFaults],
        ids: SeededIds,
        now: Callable[[], datetime],
        lag: DescribeLag,
        events: EcsEvents,
    ) -> None:
        """`faults()` is the simulation's scenario at the time of the call, `now()` its time;
        `events` gets each change of a task's status."""
        self._faults = faults
        self._events = events
        self._ids = ids
        self._now = now
        self._lag = lag
        self._order = itertools.count()
        # Keyed by moto's model objects: a moto reset makes new objects, so no state leaks.
        self._tasks: weakref.WeakKeyDictionary[Any, _TaskState] = weakref.WeakKeyDictionary()
        self._client_tokens: weakref.WeakKeyDictionary[Any, dict[str, _TokenRecord]] = (
            weakref.WeakKeyDictionary()
        )
        self._service_tasks: weakref.WeakSet[Any] = weakref.WeakSet()

    # -- moto's ECS backend and tasks, as the simulation patches them ---------------------

    def run_task(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        call = inspect.signature(original).bind(backend, *args, **kwargs)
        network = call.arguments.get("networking_configuration") or {}
        if "awsvpcConfiguration" in network:
            # Optional in ECS (the VPC's default group), but moto raises KeyError without it.
            network["awsvpcConfiguration"].setdefault("securityGroups", [])
        tasks = original(*call.args, **call.kwargs)
        for index, task in enumerate(tasks):
            self._track(backend, task, index)
        return tasks

    def describe_tasks(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        found = dict.fromkeys(original(backend, *args, **kwargs))  # named twice: lags once
        # What ECS forgot, or does not show yet, is left out: DescribeTasks says MISSING.
        return [task for task in found if not self._forgotten(task) and not self._unseen(task)]

    def stop_task(
        self,
        original: Callable[..., Any],
        backend: Any,
        cluster_str: str,
        task_str: str,
        reason: str | None,
    ) -> Any:
        task = _find_task(backend, cluster_str, task_str)
        state = self._tasks.get(task) if task is not None else None
        if state is None:
            return original(backend, cluster_str, task_str, reason)
        if task.desired_status != _STOPPED:
            # ECS answers at once; the task is STOPPED once its containers are killed.
            now = self._now()
            task.desired_status = _STOPPED
            task.stop_code = "UserInitiated"
            task.stopped_reason = reason or _USER_STOPPED
            task.stopping_at = now
            task.version += 1
            state.next_at = now + timedelta(seconds=STOP_TIMEOUT_SECONDS)
            self._events.task(task, now)
        return task

    def list_tasks(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        # ECS filters on desiredStatus RUNNING unless told otherwise; moto lists every task,
        # and ignores serviceName.
        call = inspect.signature(original).bind(backend, *args, **kwargs)
        call.arguments["desiredStatus"] = call.arguments.get("desiredStatus") or _RUNNING
        service = call.arguments.get("service_name")
        group = f"service:{short_name(service)}" if service else None
        return [
            task
            for task in original(*call.args, **call.kwargs)
            if not self._forgotten(task) and (group is None or task.group == group)
        ]

    def advance(self, original: Callable[..., Any], task: Any) -> None:
        """moto's `Task.advance`: its own state machine would move our tasks on (RUNNING ->
        DEACTIVATING ...), so it only moves the others."""
        if task not in self._tasks and task not in self._service_tasks:
            original(task)

    # -- moto's ECS responses -----------------------------------------------------------------

    def run_task_idempotently(self, original: Callable[..., Any], response: Any) -> Any:
        """RunTask answers a repeated `clientToken` with the first call's tasks, per cluster."""
        token = response._get_param("clientToken")
        cluster = response.ecs_backend.clusters.get(
            short_name(response._get_param("cluster") or "default")
        )
        if not token or cluster is None:
            return original(response)  # moto raises for an unknown cluster
        request = {k: v for k, v in dict(response.params).items() if k != "clientToken"}
        tokens = self._client_tokens.setdefault(cluster, {})
        previous = tokens.get(token)
        if previous is None:
            result = original(response)
            tokens[token] = _TokenRecord(request, tuple(result.result["tasks"]))
            return result
        if previous.request != request:
            raise ECSException(
                "ConflictException",
                "The client token has already been used with different request parameters.",
            )
        return ActionResult({"tasks": list(previous.tasks), "failures": []})

    @staticmethod
    def report_missing(original: Callable[..., Any], response: Any) -> Any:
        """DescribeTasks lists the tasks it does not know as failures, as ECS does."""
        result = original(response)
        tasks = list(result.result["tasks"])
        known = {task.task_arn for task in tasks} | {short_name(task.task_arn) for task in tasks}
        requested = response._get_param("tasks") or []
        failures = [{"arn": arn, "reason": "MISSING"} for arn in requested if arn not in known]
        return ActionResult({"tasks": tasks, "failures": failures})

    @staticmethod
    def sized_at_task_level(original: Callable[[Any], dict[str, Any]]) -> object:
        """RunTask of a task definition sized only at task level (usual on Fargate).

        moto adds up the containers' memory to place a task and fails when a container names
        none; ECS accepts it. A container without a memory setting counts as 0.
        """
        sizes = ("memory", "memoryReservation", "Memory", "MemoryReservation")

        def requirements(task_definition: Any) -> dict[str, Any]:
            sized = copy.copy(task_definition)
            sized.container_definitions = [
                container if any(key in container for key in sizes) else {**container, "memory": 0}
                for container in task_definition.container_definitions
            ]
            return original(sized)

        return staticmethod(requirements)

    # -- the tasks of services, started and stopped by the service scheduler ----------------

    def start_service_task(
        self, backend: Any, service: Any, deployment: dict[str, Any], now: datetime
    ) -> Any:
        """A task the service scheduler starts `now` for `deployment` of `service`: PENDING,
        in the task group `service:NAME`, started by the deployment's id."""
        cluster = backend.clusters[service.cluster_name]
        definition = backend.describe_task_definition(deployment["taskDefinition"])
        task = Task(
            cluster,
            definition,
            None,
            None,
            backend,
            group=f"service:{service.name}",
            launch_type=deployment.get("launchType") or service.launch_type or "",
            started_by=deployment["id"],
            networking_configuration=(
                deployment.get("networkConfiguration") or service.network_configuration or None
            ),
            platform_version=deployment.get("platformVersion"),
        )
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        self._take_over(task, definition, now)
        self._service_tasks.add(task)
        self._events.task(task, now)
        return task

    def run_service_task(self, task: Any, now: datetime) -> None:
        """The service task is RUNNING `now`."""
        _start(task, now)
        self._events.task(task, now)

    def stop_service_task(self, task: Any, deployment_id: str, now: datetime) -> None:
        """The service scheduler stops the task `now` (scaled in, or its deployment
        replaced), for the activity of deployment `deployment_id`."""
        task.stop_code = "ServiceSchedulerInitiated"
        task.stopped_reason = f"Scaling activity initiated by (deployment {deployment_id})"
        task.stopping_at = now
        _stop(task, _SIGTERM_EXIT_CODE, now)
        self._events.task(task, now)

    # -- reading, for assertions ------------------------------------------------------------

    def tasks(self, family: str | None = None) -> tuple[TaskRecord, ...]:
        """Tasks started (of `family`, or all) while installed, oldest first."""
        started = sorted(
            ((task, state) for task, state in self._tasks.items() if _is_live(task, state)),
            key=lambda item: item[1].order,
        )
        return tuple(
            TaskRecord(
                task_arn=task.task_arn,
                family=state.family,
                task_definition_arn=task.task_definition_arn,
                started_by=task.started_by,
                last_status=task.last_status,
                desired_status=task.desired_status,
                stop_code=task.stop_code,
                stopped_reason=task.stopped_reason,
                exit_codes={c["name"]: c.get("exitCode") for c in task.containers},
            )
            for task, state in started
            if family is None or state.family == family
        )

    # -- time passing ----------------------------------------------------------------------

    def catch_up(self) -> None:
        """Take every step of every task that is due by now, in turn."""
        now = self._now()
        for task, state in sorted(self._tasks.items(), key=lambda item: item[1].order):
            while (at := state.next_at) is not None and at <= now:
                _step(task, state)
                self._events.task(task, at)

    def next_step_at(self) -> datetime | None:
        """When the earliest task step still to come is due (None: none is)."""
        return min((s.next_at for s in self._tasks.values() if s.next_at is not None), default=None)

    # -- a task's life: taken over at RunTask, then a step at each of its times -------------

    def _unseen(self, task: Any) -> bool:
        """Whether this DescribeTasks does not show the task RunTask just started yet."""
        state = self._tasks.get(task)
        return state is not None and state.unseen.hides(self._now())

    def _forgotten(self, task: Any) -> bool:
        """ECS describes (and lists) a stopped task for a while only: `EcsFaults`'s
        `stopped_task_retention_seconds`, an hour by default."""
        if (task not in self._tasks and task not in self._service_tasks) or not task.stopped_at:
            return False
        retention = timedelta(seconds=self._faults().stopped_task_retention_seconds)
        return bool(self._now() - task.stopped_at >= retention)

    def _take_over(self, task: Any, definition: Any, now: datetime) -> None:
        """A task moto just made, as ECS starts one: PENDING, with all of its containers."""
        container_arn = task.task_arn.replace(":task/", ":container/", 1)
        task.containers = [
            {
                "containerArn": f"{container_arn}/{self._ids.uuid4()}",
                "taskArn": task.task_arn,
                "name": spec["name"],
                "image": spec.get("image"),
                "lastStatus": _PENDING,
                "networkInterfaces": [],
                "healthStatus": "UNKNOWN",
                "cpu": str(spec.get("cpu", 0)),
            }
            for spec in definition.container_definitions
        ]
        task.last_status = _PENDING
        task.desired_status = _RUNNING
        task.created_at = now
        task.version = 1
        task.cpu, task.memory = definition.cpu, definition.memory
        # moto stores "" where ECS omits the field.
        task.launch_type = task.launch_type or None
        task.started_by = task.started_by or None
        task.stopped_reason = task.stop_code = None
        task.pull_started_at = task.pull_stopped_at = task.started_at = None
        task.stopping_at = task.execution_stopped_at = task.stopped_at = None

    def _track(self, backend: Any, task: Any, index: int) -> None:
        """Take over a task moto just started (the `index`th of its RunTask)."""
        definition = backend.describe_task_definition(task.task_definition_arn)
        now = self._now()
        self._take_over(task, definition, now)
        fault = self._faults().tasks.get(definition.family, TaskFault())
        running_seconds = fault.running_seconds
        self._tasks[task] = _TaskState(
            backend=backend,
            family=definition.family,
            fault=fault,
            running_seconds=(
                running_seconds[index % len(running_seconds)]
                if isinstance(running_seconds, tuple)
                else running_seconds
            ),
            essential=tuple(
                spec["name"]
                for spec in definition.container_definitions
                if spec.get("essential", True)
            ),
            order=next(self._order),
            unseen=self._lag.change(self._faults().describe_lag),
            log_streams={
                spec["name"]: stream
                for spec in definition.container_definitions
                if (stream := awslogs_stream(spec, task.task_arn)) is not None
            },
            next_at=now + timedelta(seconds=fault.pending_seconds),
        )
        self._events.task(task, now)


def _step(task: Any, state: _TaskState) -> None:
    """The task's next step, at its time; then when the one after is due."""
    at = state.next_at
    assert at is not None  # only due tasks take a step
    state.next_at = None
    outcome = state.fault.outcome
    if task.desired_status == _STOPPED:  # StopTask: its containers are killed now
        _stop(task, _SIGKILL_EXIT_CODE, at)
    elif task.last_status == _PENDING and outcome is TaskOutcome.FAIL_TO_START:
        _fail_to_start(task, state, at)
    elif task.last_status == _PENDING:
        _start(task, at)
        if outcome is not TaskOutcome.NEVER_STOP:
            state.next_at = at + timedelta(seconds=state.running_seconds)
    elif outcome is TaskOutcome.STOPPED_BY_ECS:
        _stopped_by_ecs(task, state.fault, at)
    else:
        _exit(task, state, at)
    if task.last_status == _STOPPED:
        _print_fault_lines(task, state, at)


def _print_fault_lines(task: Any, state: _TaskState, now: datetime) -> None:
    """What the fault's container printed before it stopped, in its awslogs stream."""
    stream = state.log_streams.get(_culprit(task, state))
    if stream is not None:
        backend = state.backend
        write(stream, backend.account_id, backend.region_name, state.fault.log_lines, now)


def _start(task: Any, now: datetime) -> None:
    task.containers = [c | {"lastStatus": _RUNNING} for c in task.containers]
    task.last_status = _RUNNING
    task.pull_started_at = task.pull_stopped_at = task.started_at = now
    task.version += 1


def _fail_to_start(task: Any, state: _TaskState, now: datetime) -> None:
    culprit = _culprit(task, state)
    image = next((c["image"] for c in task.containers if c["name"] == culprit), None)
    reason = state.fault.start_error or _PULL_ERROR.format(image=image)
    task.containers = [
        c | {"lastStatus": _STOPPED} | ({"reason": reason} if c["name"] == culprit else {})
        for c in task.containers
    ]
    task.stop_code = "TaskFailedToStart"
    task.stopped_reason = reason
    _stop(task, None, now)


def _exit(task: Any, state: _TaskState, now: datetime) -> None:
    """The essential container exits; ECS stops the others (SIGTERM, SIGKILL later)."""
    fault = state.fault
    first = _culprit(task, state)
    code = fault.exit_code if fault.outcome is TaskOutcome.EXIT else 0
    task.containers = [
        c | {"exitCode": code, "lastStatus": _STOPPED} if c["name"] == first else c
        for c in task.containers
    ]
    task.stop_code = "EssentialContainerExited"
    task.stopped_reason = _ESSENTIAL_EXITED
    _stop(task, fault.killed_exit_code, now)


def _stopped_by_ecs(task: Any, fault: TaskFault, now: datetime) -> None:
    """ECS stops the running task for a reason of its own: every container gets SIGTERM."""
    task.stop_code = fault.stop_code
    task.stopped_reason = _STOP_REASONS.get(fault.stop_code, f"Stopped by ECS ({fault.stop_code})")
    task.stopping_at = now
    _stop(task, fault.exit_code, now)


def _stop(task: Any, exit_code: int | None, now: datetime) -> None:
    """STOPPED `now`; containers still RUNNING exit with `exit_code` (when given)."""
    killed = {} if exit_code is None else {"exitCode": exit_code}
    task.containers = [
        c | (killed if c["lastStatus"] == _RUNNING else {}) | {"lastStatus": _STOPPED}
        for c in task.containers
    ]
    task.last_status = _STOPPED
    task.desired_status = _STOPPED
    task.stopping_at = task.stopping_at or now
    task.execution_stopped_at = task.stopped_at = now
    task.version += 1


def _culprit(task: Any, state: _TaskState) -> str:
    """The container a fault is about: the named one, else the first essential one."""
    if state.fault.container is not None:
        return state.fault.container
    return state.essential[0] if state.essential else str(task.containers[0]["name"])


def _find_task(backend: Any, cluster_str: str, task_str: str) -> Any:
    cluster = backend.clusters.get(short_name(cluster_str))
    tasks = backend.tasks.get(cluster.name, {}) if cluster is not None else {}
    return next((t for arn, t in tasks.items() if short_name(arn) == short_name(task_str)), None)


def _is_live(task: Any, state: _TaskState) -> bool:
    """Whether moto still knows the task (a reset of moto forgets every task)."""
    return state.backend.tasks.get(task.cluster_name, {}).get(task.task_arn) is task
