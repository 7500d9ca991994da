"""ECS simulation for the local cloud: deployments and tasks that progress like on AWS.

moto's ECS never progresses a deployment nor stops a task. `EcsSimulation` patches moto's ECS
classes while installed, so code calling the real boto3 ECS API, in-process under
`moto.mock_aws()` or through moto's server in the same process, sees ECS behave as on AWS:

* UpdateService (new task definition or `forceNewDeployment`) starts a PRIMARY deployment in
  rollout IN_PROGRESS; the previous PRIMARY becomes ACTIVE. Each DescribeServices call that
  names a service is one "tick" of its PRIMARY deployment, which then completes, fails, is
  rolled back by the circuit breaker, or never stabilises, as the scenario's `RolloutFault`
  for that service name says; or someone deletes the service mid-rollout (DRAINING, then
  INACTIVE; UpdateService then answers ServiceNotActiveException, as ECS does). A fault
  may also make UpdateService refuse the rollback to the original revision. Service events
  are written as ECS writes them.
* RunTask starts tasks PENDING, with one container per container definition. Each
  DescribeTasks call that names a task is one tick: PENDING -> RUNNING -> STOPPED, with the
  exit codes, stop code and reason of the scenario's `TaskFault` for the task's family.
  StopTask stops a task as ECS does (UserInitiated, exit code 137). RunTask honours
  `clientToken` (per cluster); ListTasks defaults to `desiredStatus=RUNNING`; DescribeTasks
  reports unknown tasks as `MISSING` failures.
* A seeded share of ECS API calls answers `ThrottlingException: Rate exceeded` (HTTP 400).

Services are taken over ("adopted") as steady when created under the simulation, or on the
first DescribeServices or UpdateService that names them: running their current task
definition at their desired count, rollout COMPLETED. That is the state the deployer finds
on AWS, and it gives the circuit breaker's rollback a completed deployment to return to.

Usage::

    faults = EcsFaults(
        services={"web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK)},
        tasks={"migrate": TaskFault(TaskOutcome.EXIT, exit_code=1)},
        throttle_rate=0.1,
    )
    with mock_aws(), EcsSimulation(faults) as sim:
        ...  # drive the deployer
        assert sim.primary_task_definition("web", cluster="prod").endswith(":1")
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import json
import random
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Self

import botocore.session
from botocore import xform_name
from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.ecs.responses import EC2ContainerServiceResponse

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.patches.patcher import Patcher

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime
    from types import TracebackType

__all__ = [
    "DeploymentRecord",
    "EcsFaults",
    "EcsSimulation",
    "RolloutFault",
    "RolloutOutcome",
    "TaskFault",
    "TaskOutcome",
    "TaskRecord",
]

_PRIMARY: Final = "PRIMARY"
_ACTIVE: Final = "ACTIVE"
_IN_PROGRESS: Final = "IN_PROGRESS"
_COMPLETED: Final = "COMPLETED"
_FAILED: Final = "FAILED"
_PENDING: Final = "PENDING"
_RUNNING: Final = "RUNNING"
_STOPPED: Final = "STOPPED"
_DRAINING: Final = "DRAINING"
_INACTIVE: Final = "INACTIVE"
_MAX_SERVICE_EVENTS: Final = 100  # ECS keeps the latest 100 service events
_SIGKILL_EXIT_CODE: Final = 137
_BREAKER_REASON: Final = "ECS deployment circuit breaker: tasks failed to start."
_ESSENTIAL_EXITED: Final = "Essential container in task exited"
_USER_STOPPED: Final = "Task stopped by user"
_PULL_ERROR: Final = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
    "failed to resolve ref {image}: not found"
)
_THROTTLED: Final = (
    json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}),
    {
        "status": 400,
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amzn-Errortype": "ThrottlingException",
    },
)
# Deployment fields a new deployment inherits from the one it replaces.
_INHERITED_FIELDS: Final = (
    "launchType",
    "capacityProviderStrategy",
    "platformVersion",
    "platformFamily",
    "networkConfiguration",
)


class RolloutOutcome(StrEnum):
    """How a service deployment hit by a `RolloutFault` ends."""

    COMPLETE = "complete"  # reaches COMPLETED (a slow rollout when `ticks` is large)
    FAIL = "fail"  # circuit breaker without rollback: FAILED, stays PRIMARY
    AUTO_ROLLBACK = "auto_rollback"  # circuit breaker with rollback to the last completed one
    NEVER_STABLE = "never_stable"  # IN_PROGRESS for ever, failedTasks growing
    # Someone runs DeleteService --force mid-rollout: DRAINING after `ticks`, INACTIVE the
    # tick after, as ECS drains a deleted service before making it INACTIVE.
    DELETED = "deleted"


class TaskOutcome(StrEnum):
    """How a task hit by a `TaskFault` ends."""

    SUCCEED = "succeed"  # every container exits 0
    EXIT = "exit"  # one container exits with `exit_code`, the others with 0
    FAIL_TO_START = "fail_to_start"  # STOPPED with TaskFailedToStart, no exit codes
    NEVER_STOP = "never_stop"  # RUNNING until StopTask


@dataclass(frozen=True)
class RolloutFault:
    """The fate of a service's deployments (keyed by service name in `EcsFaults.services`)."""

    outcome: RolloutOutcome = RolloutOutcome.COMPLETE  # how the deployment ends
    ticks: int = 2  # DescribeServices calls until that outcome
    rollback_fails: bool = False  # also hit deployments back to the original task definition
    # UpdateService back to the original task definition answers InvalidParameterException
    # with this message (e.g. that revision was deregistered meanwhile).
    rollback_error: str | None = None

    def __post_init__(self) -> None:
        if self.ticks < 1:
            raise ValueError("RolloutFault.ticks must be at least 1")


@dataclass(frozen=True)
class TaskFault:
    """The fate of a family's tasks (keyed by task definition family in `EcsFaults.tasks`)."""

    outcome: TaskOutcome = TaskOutcome.SUCCEED  # how the task ends
    exit_code: int = 1  # exit code of `container` when the outcome is EXIT
    container: str | None = None  # container that exits or fails to pull; default: 1st essential
    start_error: str | None = None  # stoppedReason for FAIL_TO_START; default: pull error
    pending_ticks: int = 1  # DescribeTasks calls from PENDING to RUNNING (or STOPPED)
    running_ticks: int = 1  # DescribeTasks calls from RUNNING to STOPPED

    def __post_init__(self) -> None:
        if self.pending_ticks < 1 or self.running_ticks < 1:
            raise ValueError("TaskFault ticks must be at least 1")


@dataclass(frozen=True)
class EcsFaults:
    """A scenario: what goes wrong in ECS. The default is an ECS where everything works."""

    tasks: Mapping[str, TaskFault] = field(default_factory=dict)  # by task definition family
    services: Mapping[str, RolloutFault] = field(default_factory=dict)  # by service name
    throttle_rate: float = 0.0  # share of ECS API calls answered ThrottlingException
    seed: int = 0  # seeds throttling and generated ids, so runs repeat
    ticks_to_complete: int = 2  # DescribeServices calls a fault-free deployment takes

    def __post_init__(self) -> None:
        if not 0.0 <= self.throttle_rate <= 1.0:
            raise ValueError("EcsFaults.throttle_rate must be within [0, 1]")
        if self.ticks_to_complete < 1:
            raise ValueError("EcsFaults.ticks_to_complete must be at least 1")
        # Read-only copies: a running simulation must not see the scenario change under it.
        object.__setattr__(self, "tasks", MappingProxyType(dict(self.tasks)))
        object.__setattr__(self, "services", MappingProxyType(dict(self.services)))


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment of a service, as DescribeServices shows it."""

    id: str
    status: str
    task_definition: str
    rollout_state: str
    rollout_state_reason: str
    desired_count: int
    running_count: int
    pending_count: int
    failed_tasks: int


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
class _Rollout:
    outcome: RolloutOutcome
    ticks_needed: int
    ticks: int = 0


@dataclass
class _ServiceState:
    backend: Any
    original_task_definition: str
    last_completed: tuple[str, str] | None  # (deployment id, task definition ARN)
    rollouts: dict[str, _Rollout] = field(default_factory=dict)


@dataclass
class _TaskState:
    backend: Any
    family: str
    fault: TaskFault
    essential: tuple[str, ...]  # container names, in definition order
    order: int
    ticks: int = 0


@dataclass(frozen=True)
class _TokenRecord:
    request: dict[str, Any]
    tasks: tuple[Any, ...]


def _task_level_sizing(original: Callable[[Any], dict[str, Any]]) -> object:
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


class _Installed:
    """The one simulation that may patch moto at a time."""

    lock: Final = threading.Lock()
    simulation: EcsSimulation | None = None


def _now() -> datetime:
    return virtual_time.now()  # the local cloud's clock when one is active


def _name(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", maxsplit=1)[-1]


def _primary(deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((d for d in deployments if d["status"] == _PRIMARY), None)


def _label(service: Any) -> str:
    return f"(service {service.name})"


def _breaker_threshold(desired_count: int) -> int:
    # ECS trips the circuit breaker after half the desired count failed, within [3, 200].
    return min(200, max(3, (desired_count + 1) // 2))


def _sync_counts(service: Any) -> None:
    service.running_count = sum(int(d["runningCount"]) for d in service.deployments)
    service.pending_count = sum(int(d["pendingCount"]) for d in service.deployments)


def _ecs_actions() -> list[str]:
    """Names of the ECS operations moto implements, as methods of its response class."""
    operations = botocore.session.get_session().get_service_model("ecs").operation_names
    names = (xform_name(operation) for operation in operations)
    return [name for name in names if name in EC2ContainerServiceResponse.__dict__]


class EcsSimulation:
    """Makes moto's ECS progress deployments and tasks, and inject `faults`, while installed.

    Use as a context manager, or call `install()` and `uninstall()`. One simulation can be
    installed at a time; every patched call runs under one lock, so Step Functions worker
    threads and moto's threaded server may call ECS concurrently.
    """

    def __init__(self, faults: EcsFaults | None = None) -> None:
        self.faults = faults or EcsFaults()
        self._lock = threading.RLock()
        # Simulations are not secrets: seeded, repeatable pseudo-randomness is the point.
        self._throttle_rng = random.Random(self.faults.seed)  # noqa: S311
        self.throttled_calls = 0  # requests answered ThrottlingException so far
        # Off while a scenario sets up its world, so only the calls under test are throttled.
        self.throttling = True
        self._id_rng = random.Random(f"ecs-sim-ids:{self.faults.seed}")  # noqa: S311
        self._order = itertools.count()
        # Keyed by moto's model objects: a moto reset makes new objects, so no state leaks.
        self._services: weakref.WeakKeyDictionary[Any, _ServiceState] = weakref.WeakKeyDictionary()
        self._tasks: weakref.WeakKeyDictionary[Any, _TaskState] = weakref.WeakKeyDictionary()
        self._client_tokens: weakref.WeakKeyDictionary[Any, dict[str, _TokenRecord]] = (
            weakref.WeakKeyDictionary()
        )
        self._patcher = Patcher()

    # -- installation -------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.uninstall()

    @property
    def installed(self) -> bool:
        """Whether this simulation currently patches moto."""
        return _Installed.simulation is self

    def install(self) -> None:
        """Patch moto's ECS classes; raises RuntimeError if a simulation is installed."""
        with _Installed.lock:
            if _Installed.simulation is not None:
                raise RuntimeError("an EcsSimulation is already installed")
            try:
                self._patch()
            except BaseException:
                self._patcher.restore()  # never leave moto half patched
                raise
            _Installed.simulation = self

    def uninstall(self) -> None:
        """Restore moto's ECS classes; a no-op when this simulation is not installed."""
        with _Installed.lock:
            if _Installed.simulation is not self:
                return
            self._patcher.restore()
            _Installed.simulation = None

    def _patch(self) -> None:
        backend, patcher = EC2ContainerServiceBackend, self._patcher
        patcher.wrap(backend, "create_service", self._locked(self._create_service))
        patcher.wrap(backend, "update_service", self._locked(self._update_service))
        patcher.wrap(backend, "describe_services", self._locked(self._describe_services))
        patcher.wrap(backend, "run_task", self._locked(self._run_task))
        patcher.wrap(backend, "describe_tasks", self._locked(self._describe_tasks))
        patcher.wrap(backend, "stop_task", self._locked(self._stop_task))
        patcher.wrap(backend, "list_tasks", self._locked(self._list_tasks))
        patcher.wrap(Task, "advance", self._locked(self._advance))
        patcher.wrap(backend, "_calculate_task_resource_requirements", _task_level_sizing)
        response = EC2ContainerServiceResponse
        patcher.wrap(response, "run_task", self._locked(self._run_task_idempotent))
        patcher.wrap(response, "describe_tasks", self._locked(self._report_missing))
        # Throttling wraps every action last, so it answers before anything else runs.
        for action in _ecs_actions():
            patcher.wrap(response, action, self._throttled)

    def _locked(
        self, handler: Callable[..., Any]
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def patched(target: Any, *args: Any, **kwargs: Any) -> Any:
                with self._lock:
                    return handler(original, target, *args, **kwargs)

            return patched

        return make

    def _throttled(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def action(response: Any) -> Any:
            with self._lock:
                throttled = (
                    self.throttling and self._throttle_rng.random() < self.faults.throttle_rate
                )
                self.throttled_calls += throttled
            # The wire answer of ECS itself. Not an exception: ECS's model lacks the shape, and
            # moto warns on every unmodelled error code it serializes.
            if throttled:
                body, headers = _THROTTLED
                return body, dict(headers)
            return original(response)

        return action

    # -- read helpers for assertions --------------------------------------------------------

    def primary_task_definition(self, service: str, cluster: str = "default") -> str:
        """Task definition ARN of the service's PRIMARY deployment."""
        primary = next(d for d in self.deployments(service, cluster) if d.status == _PRIMARY)
        return primary.task_definition

    def deployments(self, service: str, cluster: str = "default") -> tuple[DeploymentRecord, ...]:
        """The service's deployments, PRIMARY first, without advancing them."""
        with self._lock:
            deployments = list(self._service(service, cluster).deployments)
        return tuple(
            DeploymentRecord(
                id=d["id"],
                status=d["status"],
                task_definition=d["taskDefinition"],
                rollout_state=d["rolloutState"],
                rollout_state_reason=d["rolloutStateReason"],
                desired_count=d["desiredCount"],
                running_count=d["runningCount"],
                pending_count=d["pendingCount"],
                failed_tasks=d["failedTasks"],
            )
            for d in deployments
        )

    def service_events(self, service: str, cluster: str = "default") -> tuple[str, ...]:
        """Messages of the service's events, newest first."""
        with self._lock:
            return tuple(e["message"] for e in self._service(service, cluster).events)

    def tasks(self, family: str | None = None) -> tuple[TaskRecord, ...]:
        """Tasks started (of `family`, or all) while installed, oldest first."""
        with self._lock:
            started = sorted(
                ((task, state) for task, state in self._tasks.items() if self._is_live(task)),
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

    def _service(self, name: str, cluster: str) -> Any:
        matches = [
            service
            for service, state in self._services.items()
            if service.name == name
            and service.cluster_name == cluster
            and state.backend.services.get(f"{cluster}:{name}") is service
        ]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} simulated services {name!r} in cluster {cluster!r}")
        return matches[0]

    def _is_live(self, task: Any) -> bool:
        backend = self._tasks[task].backend
        return backend.tasks.get(task.cluster_name, {}).get(task.task_arn) is task

    # -- ids and events -----------------------------------------------------------------

    def _deployment_id(self) -> str:
        return f"ecs-svc/{self._id_rng.randrange(10**18, 10**19)}"

    def _task_id(self) -> str:
        return self._uuid().hex

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._id_rng.getrandbits(128), version=4)

    def _add_events(self, service: Any, messages: list[str]) -> None:
        """Record `messages` (oldest first) as service events; ECS lists the newest first."""
        now = _now()
        new = [
            {"id": str(self._uuid()), "createdAt": now, "message": message}
            for message in reversed(messages)
        ]
        # Copy-on-write: a response being serialized in another thread keeps its own list.
        service.events = [*new, *service.events][:_MAX_SERVICE_EVENTS]

    def _started_message(self, service: Any, count: int) -> str:
        tasks = " ".join(f"(task {self._task_id()})" for _ in range(count))
        return f"{_label(service)} has started {count} tasks: {tasks}."

    # -- services -------------------------------------------------------------------------

    def _create_service(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        service = original(backend, *args, **kwargs)
        if service.deployments:
            # moto's ids are shorter than ECS's 19 digits; fix them before anyone sees one.
            service.deployments = [service.deployments[0] | {"id": self._deployment_id()}]
        self._adopt(backend, service)
        return service

    def _adopt(self, backend: Any, service: Any) -> _ServiceState | None:
        """The service's simulation state; taken over as steady on first sight."""
        state = self._services.get(service)
        primary = _primary(list(service.deployments))
        if state is not None or primary is None or not service.task_definition:
            # Services without deployments (CODE_DEPLOY, EXTERNAL controllers) stay moto's.
            return state
        task_definition = backend.describe_task_definition(service.task_definition).arn
        desired = service.desired_count
        steady = primary | {
            "taskDefinition": task_definition,
            "desiredCount": desired,
            "runningCount": desired,
            "pendingCount": 0,
            "failedTasks": 0,
            "rolloutState": _COMPLETED,
            "rolloutStateReason": f"ECS deployment {primary['id']} completed.",
        }
        service.deployments = [steady]
        service.task_definition = task_definition
        _sync_counts(service)
        self._add_events(service, [f"{_label(service)} has reached a steady state."])
        state = _ServiceState(backend, task_definition, (steady["id"], task_definition))
        self._services[service] = state
        return state

    def _update_service(
        self, original: Callable[..., Any], backend: Any, service_properties: dict[str, Any]
    ) -> Any:
        cluster = _name(service_properties.get("cluster") or "default")
        key = f"{cluster}:{_name(service_properties.get('service', ''))}"
        service = backend.services.get(key)
        state = self._adopt(backend, service) if service is not None else None
        if state is None:
            return original(backend, service_properties)
        if service.status != _ACTIVE:
            raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
        request = dict(service_properties)
        # Popped so that moto does not rename the PRIMARY deployment in place.
        force = bool(request.pop("force_new_deployment", False))
        requested = request.get("task_definition")
        primary = _primary(list(service.deployments))
        assert primary is not None  # adopted services always have one
        target = (
            backend.describe_task_definition(requested).arn
            if requested
            else primary["taskDefinition"]
        )
        self._refuse_rollback(service, state, target)
        updated = original(backend, request)  # validates, applies desiredCount and the rest
        deployments = [dict(d) for d in service.deployments]
        primary = _primary(deployments)
        assert primary is not None
        if force or target != primary["taskDefinition"]:
            deployments = self._with_new_deployment(service, state, deployments, target)
        else:
            self._resize(primary, service.desired_count)
        service.deployments = deployments
        service.task_definition = deployments[0]["taskDefinition"]
        _sync_counts(service)
        return updated

    def _refuse_rollback(self, service: Any, state: _ServiceState, target: str) -> None:
        """A `rollback_error` fault: UpdateService back to the original revision fails."""
        fault = self.faults.services.get(service.name)
        error = fault.rollback_error if fault is not None else None
        returning = target == state.original_task_definition != service.task_definition
        if error is not None and returning:
            raise ECSException("InvalidParameterException", error)

    @staticmethod
    def _resize(primary: dict[str, Any], desired: int) -> None:
        primary["desiredCount"] = desired
        if primary["rolloutState"] == _COMPLETED:
            primary.update(runningCount=desired, pendingCount=0, updatedAt=_now())

    def _with_new_deployment(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        task_definition: str,
        rollback_to: str | None = None,
    ) -> list[dict[str, Any]]:
        """`deployments` with a new PRIMARY first; the previous PRIMARY turns ACTIVE."""
        now = _now()
        previous = _primary(deployments) or {}
        for deployment in deployments:
            if deployment["status"] == _PRIMARY:
                deployment.update(status=_ACTIVE, updatedAt=now)
        deployment_id = self._deployment_id()
        reason = (
            f"ECS deployment circuit breaker: rolling back to deploymentId {rollback_to}."
            if rollback_to
            else f"ECS deployment {deployment_id} in progress."
        )
        new = {k: previous[k] for k in _INHERITED_FIELDS if previous.get(k) is not None} | {
            "id": deployment_id,
            "status": _PRIMARY,
            "taskDefinition": task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "rolloutState": _IN_PROGRESS,
            "rolloutStateReason": reason,
        }
        state.rollouts[deployment_id] = self._plan(service, state, task_definition, rollback_to)
        return [new, *deployments]

    def _plan(
        self, service: Any, state: _ServiceState, task_definition: str, rollback_to: str | None
    ) -> _Rollout:
        fault = self.faults.services.get(service.name)
        spared = fault is None or (
            task_definition == state.original_task_definition and not fault.rollback_fails
        )
        if fault is None or spared:
            return _Rollout(RolloutOutcome.COMPLETE, self.faults.ticks_to_complete)
        if rollback_to and fault.outcome is RolloutOutcome.AUTO_ROLLBACK:
            # The circuit breaker never rolls back its own rollback: that one just fails.
            return _Rollout(RolloutOutcome.FAIL, fault.ticks)
        return _Rollout(fault.outcome, fault.ticks)

    def _describe_services(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        services, failures = original(backend, *args, **kwargs)
        for service in dict.fromkeys(services):  # a service named twice ticks once
            state = self._adopt(backend, service)
            if state is not None:
                self._tick_service(service, state)
        return services, failures

    def _tick_service(self, service: Any, state: _ServiceState) -> None:
        deployments = [dict(d) for d in service.deployments]
        primary = _primary(deployments)
        rollout = state.rollouts.get(primary["id"]) if primary else None
        if primary is None or rollout is None or primary["rolloutState"] != _IN_PROGRESS:
            return
        rollout.ticks += 1
        primary["updatedAt"] = _now()
        events: list[str] = []
        if rollout.outcome is RolloutOutcome.COMPLETE:
            deployments = self._step_complete(service, state, deployments, rollout, events)
        elif rollout.outcome is RolloutOutcome.DELETED:
            self._step_deleted(service, deployments, rollout, events)
        else:
            deployments = self._step_failing(service, state, deployments, rollout, events)
        service.deployments = deployments
        service.task_definition = deployments[0]["taskDefinition"]
        _sync_counts(service)
        self._add_events(service, events)

    def _step_complete(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        rollout: _Rollout,
        events: list[str],
    ) -> list[dict[str, Any]]:
        primary = deployments[0]
        desired = int(primary["desiredCount"])
        if rollout.ticks == 1 and desired:
            events.append(self._started_message(service, desired))
        if rollout.ticks < rollout.ticks_needed:
            running = desired * rollout.ticks // rollout.ticks_needed
            primary.update(runningCount=running, pendingCount=desired - running)
            return deployments
        deployment_id = primary["id"]
        primary.update(
            runningCount=desired,
            pendingCount=0,
            rolloutState=_COMPLETED,
            rolloutStateReason=f"ECS deployment {deployment_id} completed.",
        )
        drained = sum(int(d["runningCount"]) for d in deployments[1:])
        if drained:
            tasks = " ".join(f"(task {self._task_id()})" for _ in range(drained))
            events.append(f"{_label(service)} has stopped {drained} running tasks: {tasks}.")
        events.append(f"{_label(service)} (deployment {deployment_id}) deployment completed.")
        events.append(f"{_label(service)} has reached a steady state.")
        state.last_completed = (deployment_id, primary["taskDefinition"])
        return [primary]  # the drained ACTIVE deployments are gone

    @staticmethod
    def _step_deleted(
        service: Any, deployments: list[dict[str, Any]], rollout: _Rollout, events: list[str]
    ) -> None:
        if rollout.ticks < rollout.ticks_needed:
            return  # still rolling out: nobody has deleted it yet
        if service.status == _ACTIVE:
            service.status = _DRAINING
            service.desired_count = 0
            events.append(f"{_label(service)} has begun draining connections on 0 tasks.")
            for deployment in deployments:
                deployment.update(desiredCount=0, pendingCount=0)
            return
        service.status = _INACTIVE
        for deployment in deployments:
            deployment.update(runningCount=0, pendingCount=0)

    def _step_failing(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        rollout: _Rollout,
        events: list[str],
    ) -> list[dict[str, Any]]:
        primary = deployments[0]
        desired = int(primary["desiredCount"])
        attempts = max(desired, 1)  # every task started this tick fails
        events.append(self._started_message(service, attempts))
        primary.update(
            failedTasks=int(primary["failedTasks"]) + attempts,
            pendingCount=desired,
            runningCount=0,
        )
        if rollout.outcome is RolloutOutcome.NEVER_STABLE or rollout.ticks < rollout.ticks_needed:
            return deployments
        primary.update(
            failedTasks=max(int(primary["failedTasks"]), _breaker_threshold(desired)),
            pendingCount=0,
            rolloutState=_FAILED,
            rolloutStateReason=_BREAKER_REASON,
        )
        events.append(
            f"{_label(service)} (deployment {primary['id']}) deployment failed: "
            "tasks failed to start."
        )
        if rollout.outcome is not RolloutOutcome.AUTO_ROLLBACK or state.last_completed is None:
            return deployments  # no rollback: the FAILED deployment stays PRIMARY
        target_id, target_task_definition = state.last_completed
        events.append(f"{_label(service)} rolling back to deployment {target_id}.")
        return self._with_new_deployment(
            service, state, deployments, target_task_definition, rollback_to=target_id
        )

    # -- tasks ------------------------------------------------------------------------------

    def _run_task(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        call = inspect.signature(original).bind(backend, *args, **kwargs)
        network = call.arguments.get("networking_configuration") or {}
        if "awsvpcConfiguration" in network:
            # Optional in ECS (the VPC's default group), but moto raises KeyError without it.
            network["awsvpcConfiguration"].setdefault("securityGroups", [])
        tasks = original(*call.args, **call.kwargs)
        for task in tasks:
            self._track(backend, task)
        return tasks

    def _track(self, backend: Any, task: Any) -> None:
        definition = backend.describe_task_definition(task.task_definition_arn)
        container_arn = task.task_arn.replace(":task/", ":container/", 1)
        task.containers = [
            {
                "containerArn": f"{container_arn}/{self._uuid()}",
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
        task.created_at = _now()
        task.version = 1
        task.cpu, task.memory = definition.cpu, definition.memory
        # moto stores "" where ECS omits the field.
        task.launch_type = task.launch_type or None
        task.started_by = task.started_by or None
        task.stopped_reason = task.stop_code = None
        task.pull_started_at = task.pull_stopped_at = task.started_at = None
        task.stopping_at = task.execution_stopped_at = task.stopped_at = None
        self._tasks[task] = _TaskState(
            backend=backend,
            family=definition.family,
            fault=self.faults.tasks.get(definition.family, TaskFault()),
            essential=tuple(
                spec["name"]
                for spec in definition.container_definitions
                if spec.get("essential", True)
            ),
            order=next(self._order),
        )

    def _run_task_idempotent(self, original: Callable[..., Any], response: Any) -> Any:
        """RunTask answers a repeated `clientToken` with the first call's tasks, per cluster."""
        token = response._get_param("clientToken")
        cluster = response.ecs_backend.clusters.get(
            _name(response._get_param("cluster") or "default")
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
    def _report_missing(original: Callable[..., Any], response: Any) -> Any:
        """DescribeTasks lists the tasks it does not know as failures, as ECS does."""
        result = original(response)
        tasks = list(result.result["tasks"])
        known = {task.task_arn for task in tasks} | {_name(task.task_arn) for task in tasks}
        requested = response._get_param("tasks") or []
        failures = [{"arn": arn, "reason": "MISSING"} for arn in requested if arn not in known]
        return ActionResult({"tasks": tasks, "failures": failures})

    def _advance(self, original: Callable[..., Any], task: Any) -> None:
        # moto's own state machine would move our tasks on (RUNNING -> DEACTIVATING ...).
        if task not in self._tasks:
            original(task)

    def _describe_tasks(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        tasks = original(backend, *args, **kwargs)
        for task in dict.fromkeys(tasks):  # a task named twice ticks once
            state = self._tasks.get(task)
            if state is not None:
                self._tick_task(task, state)
        return tasks

    def _tick_task(self, task: Any, state: _TaskState) -> None:
        if task.last_status == _STOPPED:
            return
        if task.desired_status == _STOPPED:  # StopTask asked for it last time
            self._stop(task, exit_code=_SIGKILL_EXIT_CODE)
            return
        state.ticks += 1
        outcome = state.fault.outcome
        if task.last_status == _PENDING and state.ticks >= state.fault.pending_ticks:
            state.ticks = 0
            if outcome is TaskOutcome.FAIL_TO_START:
                self._fail_to_start(task, state)
            else:
                self._start(task)
        elif (
            task.last_status == _RUNNING
            and outcome is not TaskOutcome.NEVER_STOP
            and state.ticks >= state.fault.running_ticks
        ):
            self._exit(task, state)

    @staticmethod
    def _culprit(task: Any, state: _TaskState) -> str:
        """The container a fault is about: the named one, else the first essential one."""
        if state.fault.container is not None:
            return state.fault.container
        return state.essential[0] if state.essential else str(task.containers[0]["name"])

    @staticmethod
    def _start(task: Any) -> None:
        now = _now()
        task.containers = [c | {"lastStatus": _RUNNING} for c in task.containers]
        task.last_status = _RUNNING
        task.pull_started_at = task.pull_stopped_at = task.started_at = now
        task.version += 1

    def _fail_to_start(self, task: Any, state: _TaskState) -> None:
        culprit = self._culprit(task, state)
        image = next((c["image"] for c in task.containers if c["name"] == culprit), None)
        reason = state.fault.start_error or _PULL_ERROR.format(image=image)
        task.containers = [
            c | {"lastStatus": _STOPPED} | ({"reason": reason} if c["name"] == culprit else {})
            for c in task.containers
        ]
        task.stop_code = "TaskFailedToStart"
        task.stopped_reason = reason
        self._stop(task, exit_code=None)

    def _exit(self, task: Any, state: _TaskState) -> None:
        fault = state.fault
        failing = self._culprit(task, state) if fault.outcome is TaskOutcome.EXIT else None
        task.containers = [
            c | {"exitCode": fault.exit_code if c["name"] == failing else 0}
            for c in task.containers
        ]
        task.stop_code = "EssentialContainerExited"
        task.stopped_reason = _ESSENTIAL_EXITED
        self._stop(task, exit_code=None)

    @staticmethod
    def _stop(task: Any, exit_code: int | None) -> None:
        """STOPPED now; containers still RUNNING exit with `exit_code` (when given)."""
        now = _now()
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

    def _stop_task(
        self,
        original: Callable[..., Any],
        backend: Any,
        cluster_str: str,
        task_str: str,
        reason: str | None,
    ) -> Any:
        task = self._find_task(backend, cluster_str, task_str)
        if task is None or task not in self._tasks:
            return original(backend, cluster_str, task_str, reason)
        if task.desired_status != _STOPPED:
            # ECS answers at once; the task reaches STOPPED on a later DescribeTasks.
            task.desired_status = _STOPPED
            task.stop_code = "UserInitiated"
            task.stopped_reason = reason or _USER_STOPPED
            task.stopping_at = _now()
            task.version += 1
        return task

    @staticmethod
    def _find_task(backend: Any, cluster_str: str, task_str: str) -> Any:
        cluster = backend.clusters.get(_name(cluster_str))
        tasks = backend.tasks.get(cluster.name, {}) if cluster is not None else {}
        return next((t for arn, t in tasks.items() if _name(arn) == _name(task_str)), None)

    def _list_tasks(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        # ECS filters on desiredStatus RUNNING unless told otherwise; moto lists every task.
        call = inspect.signature(original).bind(backend, *args, **kwargs)
        call.arguments["desiredStatus"] = call.arguments.get("desiredStatus") or _RUNNING
        return original(*call.args, **call.kwargs)
