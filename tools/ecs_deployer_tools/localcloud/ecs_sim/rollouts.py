"""How a service rollout progresses in the simulated ECS: with the simulation's clock.

* UpdateService (new task definition or `forceNewDeployment`) starts a PRIMARY deployment in
  rollout IN_PROGRESS; the previous PRIMARY becomes ACTIVE. The deployment moves on every
  `PROGRESS_SECONDS` (tasks start, or fail to) and reaches its outcome `seconds` after it
  started (`EcsFaults.seconds_to_complete`, or the service's `RolloutFault.seconds`): it
  completes, fails, is rolled back by the circuit breaker, or never stabilises, as the
  scenario's `RolloutFault` for that service name says; or someone deletes the service
  mid-rollout (DRAINING, then INACTIVE; UpdateService then answers
  ServiceNotActiveException, as ECS does). Nobody needs to look: every ECS call, read and
  timer (`EcsSimulation.catch_up`) first brings the services to the clock's time. A fault
  may also make UpdateService refuse the rollback to the original revision. Service events
  are written as ECS writes them.
* A BLUE_GREEN, LINEAR or CANARY service (`deploymentConfiguration.strategy`) deploys
  through its lifecycle stages instead (`strategies.py`): its SCALE_UP is the rollout above,
  the blue deployment stays ACTIVE until CLEAN_UP, its hooks and alarms may roll it back to
  blue in a step, and ContinueServiceDeployment answers its PAUSE hooks.
* Eventual consistency (`consistency.py`): right after an UpdateService that starts a
  deployment, a describe or two still show the service's deployments (its task definition
  and counts) as they were before it; the rollout moves on meanwhile.
* A fault may say a service was created before 2021: its ARN is short (service/NAME).
* Services run tasks (`EcsFaults.service_tasks`): each deployment has as many RUNNING and
  PENDING tasks as its counts say (group `service:NAME`, started by the deployment's id);
  the scheduler stops the tasks of a deployment replaced, of a service scaled in or deleted
  (ServiceSchedulerInitiated).
* Services are taken over ("adopted") as steady when created under the simulation, or on
  the first DescribeServices or UpdateService that names them: running their current task
  definition at their desired count, rollout COMPLETED. That is the state the deployer
  finds on AWS, and it gives the circuit breaker's rollback a completed deployment to
  return to.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from moto.cloudwatch.models import cloudwatch_backends
from moto.ecs.exceptions import ECSException

from ecs_deployer_tools.localcloud.ecs_sim import events as ecs_events
from ecs_deployer_tools.localcloud.ecs_sim import service_deployments as sd
from ecs_deployer_tools.localcloud.ecs_sim import strategies
from ecs_deployer_tools.localcloud.ecs_sim.faults import RolloutOutcome
from ecs_deployer_tools.localcloud.ecs_sim.ids import short_name
from ecs_deployer_tools.localcloud.ecs_sim.strategies import HookFault, HookOutcome

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ecs_deployer_tools.localcloud.ecs_sim.consistency import DescribeLag, Unseen
    from ecs_deployer_tools.localcloud.ecs_sim.events import EcsEvents
    from ecs_deployer_tools.localcloud.ecs_sim.faults import EcsFaults
    from ecs_deployer_tools.localcloud.ecs_sim.ids import SeededIds
    from ecs_deployer_tools.localcloud.ecs_sim.tasks import TaskLifecycle

_PRIMARY: Final = "PRIMARY"
_RUNNING: Final = "RUNNING"
_ACTIVE: Final = "ACTIVE"
_IN_PROGRESS: Final = "IN_PROGRESS"
_COMPLETED: Final = "COMPLETED"
_FAILED: Final = "FAILED"
_DRAINING: Final = "DRAINING"
_INACTIVE: Final = "INACTIVE"
_MAX_SERVICE_EVENTS: Final = 100  # ECS keeps the latest 100 service events
# DescribeServiceDeployments' `serviceDeploymentArns` ("You can specify a maximum of 20").
_DESCRIBE_SERVICE_DEPLOYMENTS_LIMIT: Final = 20
# How often a deployment in progress moves on (starts tasks, or sees them fail), and how
# long a deleted service drains: the deployer's default poll interval, so that a rollout
# shows as much progress to each of its polls as it did when it moved on per describe.
PROGRESS_SECONDS: Final = 10.0
# What a service's deployments make of it (`_set_deployments`, and the service deployment
# that follows them), and UpdateService's count.
_DEPLOYMENT_FIELDS: Final = (
    "current_service_deployment",
    "deployments",
    "task_definition",
    "desired_count",
    "running_count",
    "pending_count",
)
_BREAKER_REASON: Final = "ECS deployment circuit breaker: tasks failed to start."
# Deployment fields a new deployment inherits from the one it replaces.
_INHERITED_FIELDS: Final = (
    "launchType",
    "capacityProviderStrategy",
    "platformVersion",
    "platformFamily",
    "networkConfiguration",
)


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


@dataclass
class _Rollout:
    """A deployment's timeline: a step every `PROGRESS_SECONDS`, and one at `seconds`.

    A staged deployment (BLUE_GREEN, LINEAR, CANARY: `strategies.py`) steps through its
    lifecycle stages instead (`staged`); its SCALE_UP stage is a rollout of its own
    (`scale_up`), and a rollback takes two steps (`rolling_back`): ECS shifts traffic back
    to the blue tasks, which still run."""

    outcome: RolloutOutcome
    started: datetime
    seconds: float
    steps: int = 0  # taken so far
    next_at: datetime = field(init=False)
    staged: strategies.StagedTimeline | None = None
    hook_fault: HookFault = field(default_factory=HookFault)  # its AWS_LAMBDA hooks' answer
    scale_up: _Rollout | None = None
    rolling_back: bool = False
    alarm_at: datetime | None = None  # a fault sets the deployment's alarms to ALARM then

    def __post_init__(self) -> None:
        self.next_at = self._after(self.started)

    def step(self) -> tuple[datetime, bool]:
        """Take the next step: its time, and whether the outcome is due then."""
        at = self.next_at
        self.steps += 1
        self.next_at = self._after(at)
        return at, self.elapsed(at) >= self.seconds

    def elapsed(self, at: datetime) -> float:
        return (at - self.started).total_seconds()

    def _after(self, at: datetime) -> datetime:
        elapsed = self.elapsed(at)
        following = elapsed + PROGRESS_SECONDS
        if elapsed < self.seconds:  # the outcome falls on its time, not on the next step
            following = min(following, self.seconds)
        return self.started + timedelta(seconds=following)


@dataclass(frozen=True)
class _Stale:
    """A service's deployments before an UpdateService, which describes still show."""

    fields: dict[str, Any]  # moto's service attributes that the deployments make
    unseen: Unseen


@dataclass
class _ServiceState:
    backend: Any
    original_task_definition: str
    last_completed: tuple[str, str] | None  # (deployment id, task definition ARN)
    rollouts: dict[str, _Rollout] = field(default_factory=dict)
    stale: _Stale | None = None
    short_arn: bool = False  # created before 2021 (a fault says so)
    tasks: dict[str, list[Any]] = field(default_factory=dict)  # by deployment id: not STOPPED
    # Oldest first; the newest is the service's `currentServiceDeployment`.
    service_deployments: list[sd.ServiceDeploymentRecord] = field(default_factory=list)

    def service_deployment(self, deployment_id: str) -> sd.ServiceDeploymentRecord | None:
        """The newest service deployment that follows the `deployments[]` entry
        `deployment_id`."""
        for record in reversed(self.service_deployments):
            if record.follows(deployment_id):
                return record
        return None


class ServiceRollouts:
    """The simulated services and their deployments.

    The first three methods stand in for moto's ECS backend methods of the same name (see
    `localcloud/patches/ecs.py`), which they get as `original`; the simulation's lock is
    held around each, and around every read.
    """

    def __init__(
        self,
        faults: Callable[[], EcsFaults],
        ids: SeededIds,
        now: Callable[[], datetime],
        lag: DescribeLag,
        *,
        tasks: TaskLifecycle,
        events: EcsEvents,
    ) -> None:
        """`faults()` is the simulation's scenario at the time of the call, `now()` its time;
        `tasks` starts and stops the services' tasks; `events` gets each deployment's."""
        self._faults = faults
        self._events = events
        self._ids = ids
        self._now = now
        self._lag = lag
        self._task_lifecycle = tasks
        # Keyed by moto's model objects: a moto reset makes new objects, so no state leaks.
        self._services: weakref.WeakKeyDictionary[Any, _ServiceState] = weakref.WeakKeyDictionary()

    # -- moto's ECS backend, as the simulation patches it -----------------------------------

    def create_service(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        service = original(backend, *args, **kwargs)
        if service.deployments:
            # moto's ids are shorter than ECS's 19 digits; fix them before anyone sees one.
            service.deployments = [service.deployments[0] | {"id": self._ids.deployment_id()}]
        self._adopt(backend, service)
        return service

    def update_service(
        self, original: Callable[..., Any], backend: Any, service_properties: dict[str, Any]
    ) -> Any:
        cluster = short_name(service_properties.get("cluster") or "default")
        key = f"{cluster}:{short_name(service_properties.get('service', ''))}"
        service = backend.services.get(key)
        state = self._adopt(backend, service) if service is not None else None
        if state is None:
            return original(backend, service_properties)
        if service.status != _ACTIVE:
            raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
        request = dict(service_properties)
        strategies.validate(request.get("deployment_configuration"))
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
        # Deployments are replaced, never changed in place: these stay as they are.
        before = {name: getattr(service, name) for name in _DEPLOYMENT_FIELDS}
        updated = original(backend, request)  # validates, applies desiredCount and the rest
        deployments = [dict(d) for d in service.deployments]
        primary = _primary(deployments)
        assert primary is not None
        now = self._now()
        if force or target != primary["taskDefinition"]:
            deployments = self._with_new_deployment(service, state, deployments, target, now=now)
            for replaced in state.service_deployments:
                if replaced.ongoing:
                    replaced.stop(sd.REPLACED_REASON, now)
            self._record_service_deployment(service, state, deployments, now)
            state.stale = _Stale(before, self._lag.change(self._faults().service_describe_lag))
        else:
            _resize(primary, service.desired_count, now)
        _set_deployments(service, deployments)
        self._sync_tasks(service, state, now)
        return updated

    def delete_service(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        service = original(backend, *args, **kwargs)
        state = self._services.get(service)
        if state is not None:  # the scheduler stops every task of a deleted service
            now = self._now()
            for deployment_id, tasks in state.tasks.items():
                for task in tasks:
                    self._task_lifecycle.stop_service_task(task, deployment_id, now)
            state.tasks.clear()
            # As when the DELETED fault deletes it: its ongoing service deployment stops.
            for record in state.service_deployments:
                if record.ongoing:
                    record.stop(sd.DELETED_REASON, now)
        return service

    def describe_services(
        self, original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        services, failures = original(backend, *args, **kwargs)
        shown = {service: self._describe(backend, service) for service in dict.fromkeys(services)}
        return [shown[service] for service in services], failures  # named twice: lags once

    def _describe(self, backend: Any, service: Any) -> Any:
        """One DescribeServices of `service`, shown with its deployments from before an
        UpdateService this describe does not see yet."""
        state = self._adopt(backend, service)
        if state is None:
            return service
        if state.stale is None or not state.stale.unseen.hides(self._now()):
            return service
        view = copy.copy(service)
        for name, value in state.stale.fields.items():
            setattr(view, name, value)
        return view

    # -- service deployments (ListServiceDeployments and the rest, `patches/ecs.py`) -----------

    def list_service_deployments(
        self,
        backend: Any,
        cluster: str,
        service_name: str,
        *,
        statuses: list[str],
        created_after: datetime | None,
        created_before: datetime | None,
    ) -> list[dict[str, Any]]:
        """The service's service deployments, newest first, as ListServiceDeployments
        filters them (by status, and by creation time, bounds included)."""
        service = backend.services.get(f"{short_name(cluster)}:{short_name(service_name)}")
        state = self._adopt(backend, service) if service is not None else None
        if state is None:
            raise ECSException("ServiceNotFoundException", "Service not found.")
        return [
            record.brief()
            for record in reversed(state.service_deployments)
            if (not statuses or record.status in statuses)
            and (created_after is None or record.created_at >= created_after)
            and (created_before is None or record.created_at <= created_before)
        ]

    def describe_service_deployments(
        self, backend: Any, arns: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """The service deployments `arns` name, and a MISSING failure for each unknown."""
        if len(arns) > _DESCRIBE_SERVICE_DEPLOYMENTS_LIMIT:
            raise ECSException(
                "InvalidParameterException",
                f"You can specify a maximum of {_DESCRIBE_SERVICE_DEPLOYMENTS_LIMIT} ARNs.",
            )
        found, failures = [], []
        for arn in arns:
            located = self._locate(backend, arn)
            if located is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                service, _, record = located
                target = next(
                    (d for d in service.deployments if d["id"] == record.deployment_id), None
                )
                found.append(record.as_api(target))
        return found, failures

    def stop_service_deployment(self, backend: Any, arn: str, stop_type: str) -> str:
        """StopServiceDeployment: an ongoing one rolls back to the last completed deployment
        (ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS at the rollback's first step); one already
        rolling back goes on doing so. ABORT is not modelled."""
        if stop_type != "ROLLBACK":
            raise ECSException("InvalidParameterException", "Only stopType ROLLBACK is supported.")
        located = self._locate(backend, arn)
        if located is None:
            raise ECSException(
                "ServiceDeploymentNotFoundException", "The service deployment does not exist."
            )
        service, state, record = located
        if not record.ongoing:
            raise ECSException(
                "ConflictException", f"The service deployment is {record.status}: not ongoing."
            )
        if record.rollback_deployment_id is not None:
            return arn  # already rolling back: it continues
        assert state.last_completed is not None  # adopted services have completed once
        target_id, target_task_definition = state.last_completed
        now = self._now()
        rollout = state.rollouts.get(record.deployment_id)
        if rollout is not None and rollout.staged is not None:
            self._roll_back_staged(service, state, rollout, record, at=now)
            return arn
        deployments = self._with_new_deployment(
            service,
            state,
            [dict(d) for d in service.deployments],
            target_task_definition,
            now=now,
            rollback_to=target_id,
        )
        record.roll_back(
            deployments[0]["id"], self._revision(service, target_id), failed_tasks=None, at=now
        )
        _set_deployments(service, deployments)
        self._sync_tasks(service, state, now)
        message = f"{_label(service)} rolling back to deployment {target_id}."
        self._add_events(service, [message], now)
        return arn

    def _locate(
        self, backend: Any, arn: str
    ) -> tuple[Any, _ServiceState, sd.ServiceDeploymentRecord] | None:
        """The service, its state and the service deployment `arn` names (None: unknown)."""
        for service, state in self._services.items():
            if state.backend is not backend:
                continue
            for record in state.service_deployments:
                if record.arn == arn:
                    return service, state, record
        return None

    def _record_service_deployment(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        now: datetime,
    ) -> sd.ServiceDeploymentRecord:
        """The service deployment of the new PRIMARY `deployments[0]`: the service's current
        one from now on. Its source is the deployment it replaces."""
        new, *replaced = deployments
        cluster_arn = state.backend.clusters[service.cluster_name].arn
        prefix = cluster_arn.split(":cluster/", 1)[0]
        record = sd.ServiceDeploymentRecord(
            arn=(
                f"{prefix}:service-deployment/{service.cluster_name}/{service.name}/"
                f"{self._ids.service_deployment_id()}"
            ),
            service_arn=service.arn,
            cluster_arn=cluster_arn,
            deployment_id=new["id"],
            created_at=now,
            updated_at=now,
            source_revision=self._revision(service, replaced[0]["id"]) if replaced else None,
            target_revision=self._revision(service, new["id"]),
            failure_threshold=_breaker_threshold(int(new["desiredCount"])),
        )
        alarms = (getattr(service, "deployment_configuration", None) or {}).get("alarms") or {}
        if alarms.get("enable") and alarms.get("rollback"):
            record.alarm_names = tuple(alarms.get("alarmNames") or ())
        state.service_deployments.append(record)
        service.current_service_deployment = record.arn
        return record

    @staticmethod
    def _revision(service: Any, deployment_id: str) -> str:
        return sd.revision_arn(service.arn, service.cluster_name, service.name, deployment_id)

    def arn(self, long_arn: Callable[[Any], str], service: Any) -> str:
        """moto's `Service.arn`: ECS gave services created before 2021 a short ARN, without
        the cluster's name (moto would change it with the account setting)."""
        arn = long_arn(service)
        state = self._services.get(service)
        if state is None or not state.short_arn:
            return arn
        return arn.replace(f":service/{service.cluster_name}/", ":service/", 1)

    # -- time passing ----------------------------------------------------------------------

    def catch_up(self) -> None:
        """Take every step of every rollout that is due by now, in turn."""
        now = self._now()
        for service, state in list(self._services.items()):
            self._catch_up(service, state, now)

    def next_step_at(self) -> datetime | None:
        """When the earliest rollout step still to come is due (None: none is), but for
        the steps of rollouts that never end: they change no status that ECS reports."""
        return min(
            (
                rollout.next_at
                for service, state in self._services.items()
                if (rollout := self._rollout_in_progress(service, state)) is not None
                and rollout.outcome is not RolloutOutcome.NEVER_STABLE
            ),
            default=None,
        )

    def _catch_up(self, service: Any, state: _ServiceState, now: datetime) -> None:
        while (rollout := self._rollout_in_progress(service, state)) and rollout.next_at <= now:
            self._step(service, state, rollout)

    @staticmethod
    def _rollout_in_progress(service: Any, state: _ServiceState) -> _Rollout | None:
        """The rollout of the service's PRIMARY deployment, while it has steps to take."""
        primary = _primary(list(service.deployments))
        if primary is None or primary["rolloutState"] != _IN_PROGRESS:
            return None
        if service.status == _INACTIVE:
            return None
        return state.rollouts.get(primary["id"])

    # -- reading, for assertions ------------------------------------------------------------

    def deployments(self, name: str, cluster: str) -> tuple[DeploymentRecord, ...]:
        """The service's deployments, PRIMARY first."""
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
            for d in self._service(name, cluster).deployments
        )

    def primary_task_definition(self, name: str, cluster: str) -> str:
        """Task definition ARN of the service's PRIMARY deployment."""
        deployments = self.deployments(name, cluster)
        return next(d for d in deployments if d.status == _PRIMARY).task_definition

    def events(self, name: str, cluster: str) -> tuple[str, ...]:
        """Messages of the service's events, newest first."""
        return tuple(e["message"] for e in self._service(name, cluster).events)

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

    # -- adoption, and deployments UpdateService starts ---------------------------------------

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
        _set_deployments(service, [steady])
        now = self._now()
        self._add_events(service, [f"{_label(service)} has reached a steady state."], now)
        fault = self._faults().services.get(service.name)
        state = _ServiceState(
            backend,
            task_definition,
            (steady["id"], task_definition),
            short_arn=fault is not None and fault.short_arn,
        )
        self._services[service] = state
        record = self._record_service_deployment(service, state, [steady], now)
        record.complete(steady["id"], now)
        self._sync_tasks(service, state, now)
        return state

    def _refuse_rollback(self, service: Any, state: _ServiceState, target: str) -> None:
        """A `rollback_error` fault: UpdateService back to the original revision fails."""
        fault = self._faults().services.get(service.name)
        error = fault.rollback_error if fault is not None else None
        returning = target == state.original_task_definition != service.task_definition
        if error is not None and returning:
            raise ECSException("InvalidParameterException", error)

    def _with_new_deployment(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        task_definition: str,
        *,
        now: datetime,
        rollback_to: str | None = None,
    ) -> list[dict[str, Any]]:
        """`deployments` with a new PRIMARY first, started `now`; the previous PRIMARY turns
        ACTIVE."""
        previous = _primary(deployments) or {}
        for deployment in deployments:
            if deployment["status"] == _PRIMARY:
                deployment.update(status=_ACTIVE, updatedAt=now)
        deployment_id = self._ids.deployment_id()
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
        state.rollouts[deployment_id] = self._plan(
            service, state, task_definition, now, rollback_to
        )
        self._events.deployment(state.backend, service.arn, new, ecs_events.IN_PROGRESS)
        return [new, *deployments]

    def _plan(
        self,
        service: Any,
        state: _ServiceState,
        task_definition: str,
        now: datetime,
        rollback_to: str | None,
    ) -> _Rollout:
        """How the new deployment will end, as the service's fault says; through the
        lifecycle stages of the service's strategy when it is staged."""
        faults = self._faults()
        fault = faults.services.get(service.name)
        spared = fault is None or (
            task_definition == state.original_task_definition and not fault.rollback_fails
        )
        if fault is None or spared:
            rollout = _Rollout(RolloutOutcome.COMPLETE, now, faults.seconds_to_complete)
        elif rollback_to and fault.outcome is RolloutOutcome.AUTO_ROLLBACK:
            # The circuit breaker never rolls back its own rollback: that one just fails.
            rollout = _Rollout(RolloutOutcome.FAIL, now, fault.seconds)
        else:
            rollout = _Rollout(fault.outcome, now, fault.seconds, hook_fault=fault.hooks)
            if fault.alarm_after is not None:
                rollout.alarm_at = now + timedelta(seconds=fault.alarm_after)
        configuration = getattr(service, "deployment_configuration", None) or {}
        if rollback_to is None and strategies.strategy(configuration) in strategies.STAGED:
            # ECS reconciles first when the service runs more than one revision.
            stages = strategies.plan(configuration, reconcile=len(service.deployments) > 1)
            rollout.staged = strategies.StagedTimeline(stages, 0, now)
            rollout.next_at = now + timedelta(seconds=PROGRESS_SECONDS)  # PENDING until then
        return rollout

    # -- a rollout's steps, each at its time -------------------------------------------------

    def _step(self, service: Any, state: _ServiceState, rollout: _Rollout) -> None:
        if rollout.staged is not None:
            self._step_staged(service, state, rollout, rollout.staged)
            return
        at, due = rollout.step()
        deployments = [dict(d) for d in service.deployments]
        primary = deployments[0]
        primary["updatedAt"] = at
        record = state.service_deployment(primary["id"])
        if record is not None:
            record.progress(at)
        events: list[str] = []
        if rollout.outcome is RolloutOutcome.COMPLETE:
            deployments = self._step_complete(service, state, deployments, rollout, events, at=at)
        elif rollout.outcome is RolloutOutcome.DELETED:
            _step_deleted(service, deployments, due, events)
            if record is not None and record.ongoing and service.status != _ACTIVE:
                record.stop(sd.DELETED_REASON, at)
        else:
            deployments = self._step_failing(service, state, deployments, rollout, events, at=at)
        _set_deployments(service, deployments)
        self._sync_tasks(service, state, at)
        self._add_events(service, events, at)

    def _step_complete(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        rollout: _Rollout,
        events: list[str],
        *,
        at: datetime,
    ) -> list[dict[str, Any]]:
        primary = deployments[0]
        desired = int(primary["desiredCount"])
        if rollout.steps == 1 and desired:
            events.append(self._started_message(service, desired))
        elapsed = rollout.elapsed(at)
        if elapsed < rollout.seconds:
            running = int(desired * elapsed / rollout.seconds)
            primary.update(runningCount=running, pendingCount=desired - running)
            return deployments
        deployment_id = primary["id"]
        primary.update(
            runningCount=desired,
            pendingCount=0,
            rolloutState=_COMPLETED,
            rolloutStateReason=f"ECS deployment {deployment_id} completed.",
        )
        self._events.deployment(state.backend, service.arn, primary, ecs_events.COMPLETED)
        record = state.service_deployment(deployment_id)
        if record is not None:
            record.complete(deployment_id, at)
        drained = sum(int(d["runningCount"]) for d in deployments[1:])
        if drained:
            events.append(
                f"{_label(service)} has stopped {drained} running tasks: {self._tasks(drained)}."
            )
        events.append(f"{_label(service)} (deployment {deployment_id}) deployment completed.")
        events.append(f"{_label(service)} has reached a steady state.")
        state.last_completed = (deployment_id, primary["taskDefinition"])
        return [primary]  # the drained ACTIVE deployments are gone

    def _step_failing(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        rollout: _Rollout,
        events: list[str],
        *,
        at: datetime,
    ) -> list[dict[str, Any]]:
        primary = deployments[0]
        desired = int(primary["desiredCount"])
        attempts = max(desired, 1)  # every task started this step fails
        events.append(self._started_message(service, attempts))
        primary.update(
            failedTasks=int(primary["failedTasks"]) + attempts,
            pendingCount=desired,
            runningCount=0,
        )
        if rollout.outcome is RolloutOutcome.NEVER_STABLE or rollout.elapsed(at) < rollout.seconds:
            return deployments
        primary.update(
            failedTasks=max(int(primary["failedTasks"]), _breaker_threshold(desired)),
            pendingCount=0,
            rolloutState=_FAILED,
            rolloutStateReason=_BREAKER_REASON,
        )
        self._events.deployment(state.backend, service.arn, primary, ecs_events.FAILED)
        events.append(
            f"{_label(service)} (deployment {primary['id']}) deployment failed: "
            "tasks failed to start."
        )
        record = state.service_deployment(primary["id"])
        rolls_back = rollout.outcome is RolloutOutcome.AUTO_ROLLBACK
        if not rolls_back or state.last_completed is None:
            if record is not None:
                record.fail(primary["id"], int(primary["failedTasks"]), at)
            return deployments  # no rollback: the FAILED deployment stays PRIMARY
        target_id, target_task_definition = state.last_completed
        events.append(f"{_label(service)} rolling back to deployment {target_id}.")
        deployments = self._with_new_deployment(
            service, state, deployments, target_task_definition, now=at, rollback_to=target_id
        )
        if record is not None:
            record.roll_back(
                deployments[0]["id"],
                self._revision(service, target_id),
                failed_tasks=int(primary["failedTasks"]),
                at=at,
            )
        return deployments

    # -- staged deployments: BLUE_GREEN, LINEAR and CANARY (`strategies.py`) ------------------

    def continue_service_deployment(self, backend: Any, arn: str, hook_id: str, action: str) -> str:
        """ContinueServiceDeployment: the PAUSE hook `hook_id`, AWAITING_ACTION, lets the
        deployment go on (CONTINUE) or rolls it back (ROLLBACK) ("Continuing Amazon ECS
        service deployments": the hook AWAITING_ACTION, the deployment IN_PROGRESS)."""
        if action not in {strategies.CONTINUE, strategies.ROLLBACK}:
            raise ECSException("InvalidParameterException", "action must be CONTINUE or ROLLBACK.")
        located = self._locate(backend, arn)
        if located is None:
            raise ECSException(
                "ServiceDeploymentNotFoundException", "The service deployment does not exist."
            )
        service, state, record = located
        if record.status != sd.IN_PROGRESS:
            raise ECSException(
                "InvalidParameterException",
                f"The service deployment is {record.status}: only an IN_PROGRESS one continues.",
            )
        timeline = record.staged
        hooks = timeline.hooks if timeline is not None else []
        hook = next((hook for hook in hooks if hook.hook_id == hook_id), None)
        if timeline is None or hook is None or hook.config.target_type != strategies.PAUSE:
            raise ECSException(
                "InvalidParameterException", f"No PAUSE hook {hook_id} at the current stage."
            )
        if hook.status != strategies.AWAITING_ACTION:
            raise ECSException("InvalidParameterException", f"The hook {hook_id} is {hook.status}.")
        now = self._now()
        hook.settle(strategies.SUCCEEDED, now)  # answered; a ROLLBACK answer is the reason
        # The hook's event tells the answer apart ("... hook state change events").
        answer = strategies.SUCCEEDED if action == strategies.CONTINUE else strategies.FAILED
        self._events.hook(
            state.backend, record, hook, stage=timeline.stage.name, status=answer, at=now
        )
        rollout = state.rollouts[record.deployment_id]
        if action == strategies.ROLLBACK:
            reason = sd.CONTINUE_ROLLBACK_REASON.format(hook_id=hook_id)
            self._roll_back_staged(service, state, rollout, record, at=now, reason=reason)
        else:
            self._reschedule(rollout, record)
        self._catch_up(service, state, now)  # a stage whose time is up ends now
        return arn

    def _step_staged(
        self,
        service: Any,
        state: _ServiceState,
        rollout: _Rollout,
        timeline: strategies.StagedTimeline,
    ) -> None:
        at = rollout.next_at
        deployments = [dict(d) for d in service.deployments]
        primary = deployments[0]
        record = state.service_deployment(primary["id"])
        assert record is not None  # every deployment UpdateService starts has one
        events: list[str] = []
        stage = (timeline.index, record.staged is not None)
        alarmed = self._alarms_fired(state, rollout, record, at)
        if alarmed is not None and not rollout.rolling_back:
            self._roll_back_staged(service, state, rollout, record, at=at, reason=alarmed)
        elif rollout.rolling_back:
            if record.status == sd.ROLLBACK_REQUESTED:
                record.progress(at)
                rollout.next_at = at + timedelta(seconds=PROGRESS_SECONDS)
            else:
                deployments = self._rolled_back_staged(service, state, deployments, events, at)
                record.complete(deployments[0]["id"], at)
        elif record.staged is None:  # PENDING until now: the first stage starts
            record.progress(at)
            record.staged = timeline
            deployments = self._enter_stage(state, record, rollout, 0, deployments, at=at)
        elif timeline.scaling_up:
            deployments = self._step_scale_up(
                service, state, rollout, deployments, record, events=events, at=at
            )
        else:
            deployments = self._step_stage(
                service, state, rollout, deployments, record, events=events, at=at
            )
        if deployments[0]["id"] == primary["id"]:
            deployments[0]["updatedAt"] = at
        if (timeline.index, record.staged is not None) != stage:
            record.updated_at = at  # a new lifecycle stage is a change of the deployment
        _set_deployments(service, deployments)
        self._sync_tasks(service, state, at)
        self._add_events(service, events, at)
        self._reschedule(rollout, record)

    def _enter_stage(
        self,
        state: _ServiceState,
        record: sd.ServiceDeploymentRecord,
        rollout: _Rollout,
        index: int,
        deployments: list[dict[str, Any]],
        *,
        at: datetime,
    ) -> list[dict[str, Any]]:
        """The deployment enters its stage `index`: its hooks start; SCALE_UP starts the
        green tasks, CLEAN_UP stops the blue ones."""
        timeline = rollout.staged
        assert timeline is not None
        timeline.index, timeline.stage_started = index, at
        timeline.hooks = [
            self._start_hook(hook, rollout.hook_fault, at) for hook in timeline.stage.hooks
        ]
        for hook in timeline.hooks:
            self._events.hook(
                state.backend, record, hook, stage=timeline.stage.name, status=hook.status, at=at
            )
        if timeline.scaling_up:
            rollout.scale_up = _Rollout(rollout.outcome, at, rollout.seconds)
        if timeline.stage.name == strategies.CLEAN_UP:
            return deployments[:1]
        return deployments

    def _start_hook(
        self, hook: strategies.HookConfig, fault: HookFault, at: datetime
    ) -> strategies.HookRun:
        answer = None
        if (
            hook.target_type == strategies.AWS_LAMBDA
            and fault.outcome is not HookOutcome.IN_PROGRESS
        ):
            answer = (
                strategies.SUCCEEDED
                if fault.outcome is HookOutcome.SUCCEEDED
                else strategies.FAILED
            )
        return strategies.HookRun(
            hook_id=self._ids.hook_id(hook.target_type),
            config=hook,
            status=strategies.AWAITING_ACTION
            if hook.target_type == strategies.PAUSE
            else strategies.IN_PROGRESS,
            expires_at=at + hook.timeout,
            answers_at=at + timedelta(seconds=fault.seconds) if answer else None,
            answer=answer,
        )

    def _step_scale_up(
        self,
        service: Any,
        state: _ServiceState,
        rollout: _Rollout,
        deployments: list[dict[str, Any]],
        record: sd.ServiceDeploymentRecord,
        *,
        events: list[str],
        at: datetime,
    ) -> list[dict[str, Any]]:
        """A step of the green tasks' start, as a rolling deployment's; once they all run,
        the next stage. Tasks that keep failing trip the circuit breaker."""
        timeline, scale_up = rollout.staged, rollout.scale_up
        assert timeline is not None
        assert scale_up is not None
        _, due = scale_up.step()
        primary = deployments[0]
        desired = int(primary["desiredCount"])
        if scale_up.outcome is RolloutOutcome.COMPLETE:
            if scale_up.steps == 1 and desired:
                events.append(self._started_message(service, desired))
            running = desired if due else int(desired * scale_up.elapsed(at) / scale_up.seconds)
            primary.update(runningCount=running, pendingCount=desired - running)
            if due:
                return self._enter_stage(
                    state, record, rollout, timeline.index + 1, deployments, at=at
                )
            return deployments
        attempts = max(desired, 1)  # every task started this step fails
        events.append(self._started_message(service, attempts))
        failed = int(primary["failedTasks"]) + attempts
        primary.update(failedTasks=failed, pendingCount=desired, runningCount=0)
        if scale_up.outcome is RolloutOutcome.NEVER_STABLE or not due:
            return deployments
        failed = max(failed, _breaker_threshold(desired))
        primary.update(failedTasks=failed, pendingCount=0)
        if scale_up.outcome is RolloutOutcome.AUTO_ROLLBACK:
            self._roll_back_staged(service, state, rollout, record, at=at, failed_tasks=failed)
            return deployments
        primary.update(rolloutState=_FAILED, rolloutStateReason=_BREAKER_REASON, updatedAt=at)
        self._events.deployment(state.backend, service.arn, primary, ecs_events.FAILED)
        record.fail(primary["id"], failed, at)
        return deployments

    def _step_stage(
        self,
        service: Any,
        state: _ServiceState,
        rollout: _Rollout,
        deployments: list[dict[str, Any]],
        record: sd.ServiceDeploymentRecord,
        *,
        events: list[str],
        at: datetime,
    ) -> list[dict[str, Any]]:
        """The stage's hooks answer or time out; a failure rolls back; once every hook let
        it through and its time is up, the next stage (after CLEAN_UP: success)."""
        timeline = rollout.staged
        assert timeline is not None
        for hook in timeline.hooks:
            pending = hook.pending
            hook.decide(at)
            if pending and hook.decided_at is not None:
                self._events.hook(
                    state.backend,
                    record,
                    hook,
                    stage=timeline.stage.name,
                    status=hook.status,
                    at=hook.decided_at,
                )
        failed = next((hook for hook in timeline.hooks if hook.rolls_back), None)
        if failed is not None:
            reason = sd.HOOK_FAILED_REASON.format(
                hook_id=failed.hook_id,
                target_type=failed.config.target_type,
                status=failed.status.lower().replace("_", " "),
            )
            self._roll_back_staged(service, state, rollout, record, at=at, reason=reason)
            return deployments
        ends = timeline.stage_ends_at()
        if ends is None or ends > at:
            return deployments
        if timeline.stage.name != strategies.CLEAN_UP:
            return self._enter_stage(state, record, rollout, timeline.index + 1, deployments, at=at)
        primary = deployments[0]
        deployment_id = primary["id"]
        primary.update(
            rolloutState=_COMPLETED,
            rolloutStateReason=f"ECS deployment {deployment_id} completed.",
            updatedAt=at,
        )
        self._events.deployment(state.backend, service.arn, primary, ecs_events.COMPLETED)
        record.complete(deployment_id, at)
        events.append(f"{_label(service)} (deployment {deployment_id}) deployment completed.")
        events.append(f"{_label(service)} has reached a steady state.")
        state.last_completed = (deployment_id, primary["taskDefinition"])
        return deployments[:1]

    def _roll_back_staged(
        self,
        service: Any,
        state: _ServiceState,
        rollout: _Rollout,
        record: sd.ServiceDeploymentRecord,
        *,
        at: datetime,
        reason: str | None = None,
        failed_tasks: int | None = None,
    ) -> None:
        """ECS shifts traffic back to the blue revision, whose tasks still run: the
        rollback takes a step or two, not a new rollout (`_rolled_back_staged`)."""
        assert state.last_completed is not None  # adopted services have completed once
        target_id, _ = state.last_completed
        record.roll_back(
            target_id,
            self._revision(service, target_id),
            failed_tasks=failed_tasks,
            at=at,
            reason=reason,
        )
        rollout.rolling_back = True
        rollout.next_at = at + timedelta(seconds=PROGRESS_SECONDS)
        primary = dict(service.deployments[0])
        primary.update(updatedAt=at, rolloutStateReason=record.status_reason)
        self._events.deployment(state.backend, service.arn, primary, ecs_events.FAILED)
        self._add_events(
            service, [f"{_label(service)} rolling back to deployment {target_id}."], at
        )

    def _rolled_back_staged(
        self,
        service: Any,
        state: _ServiceState,
        deployments: list[dict[str, Any]],
        events: list[str],
        at: datetime,
    ) -> list[dict[str, Any]]:
        """The blue deployment serves again, the PRIMARY; the green one is gone."""
        assert state.last_completed is not None
        target_id, target_task_definition = state.last_completed
        blue = next((d for d in deployments if d["id"] == target_id), None)
        blue = dict(blue or deployments[0]) | {
            "id": target_id,
            "taskDefinition": target_task_definition,
        }
        desired = service.desired_count
        blue.update(
            status=_PRIMARY,
            desiredCount=desired,
            runningCount=desired,
            pendingCount=0,
            failedTasks=0,
            rolloutState=_COMPLETED,
            rolloutStateReason=f"ECS deployment {target_id} completed.",
            updatedAt=at,
        )
        self._events.deployment(state.backend, service.arn, blue, ecs_events.COMPLETED)
        events.append(f"{_label(service)} (deployment {target_id}) deployment completed.")
        events.append(f"{_label(service)} has reached a steady state.")
        return [blue]

    @staticmethod
    def _alarms_fired(
        state: _ServiceState,
        rollout: _Rollout,
        record: sd.ServiceDeploymentRecord,
        at: datetime,
    ) -> str | None:
        """Why the deployment rolls back when a CloudWatch alarm it watches is in ALARM
        (read from moto's CloudWatch), None otherwise; a fault's alarm time sets them."""
        watching = record.ongoing and not record.triggered_alarms and not rollout.rolling_back
        if not record.alarm_names or not watching:
            return None
        alarms = cloudwatch_backends[state.backend.account_id][state.backend.region_name].alarms
        if rollout.alarm_at is not None and rollout.alarm_at <= at:
            rollout.alarm_at = None
            for name in record.alarm_names:
                if name in alarms:
                    alarms[name].update_state(
                        "Threshold Crossed (a scenario's fault)", "{}", "ALARM"
                    )
        firing = tuple(
            n for n in record.alarm_names if n in alarms and alarms[n].state_value == "ALARM"
        )
        return record.alarmed(firing) if firing else None

    @staticmethod
    def _reschedule(rollout: _Rollout, record: sd.ServiceDeploymentRecord) -> None:
        """When a staged deployment next moves on, as its stage says (or its alarm fault)."""
        timeline = rollout.staged
        if timeline is None or rollout.rolling_back or record.staged is None:
            return
        if timeline.scaling_up:
            assert rollout.scale_up is not None
            rollout.next_at = rollout.scale_up.next_at
        else:
            rollout.next_at = timeline.next_at()
        if rollout.alarm_at is not None:
            rollout.next_at = min(rollout.next_at, rollout.alarm_at)

    # -- the service's tasks: what its deployments' counts say --------------------------------

    def _sync_tasks(self, service: Any, state: _ServiceState, now: datetime) -> None:
        """Start, run and stop the service's tasks so that each deployment has as many
        RUNNING and PENDING tasks as its counts say (as of `now`); a deployment gone has
        none."""
        if not self._faults().service_tasks:
            return
        lifecycle = self._task_lifecycle
        wanted = {d["id"]: d for d in service.deployments}
        primary = _primary(list(service.deployments))
        scaling = primary["id"] if primary else ""  # the deployment whose activity it is
        for deployment_id in [d for d in state.tasks if d not in wanted]:
            for task in state.tasks.pop(deployment_id):
                lifecycle.stop_service_task(task, scaling, now)
        for deployment_id, deployment in wanted.items():
            want_running, want_pending = deployment["runningCount"], deployment["pendingCount"]
            tasks = state.tasks.get(deployment_id, [])
            running = [task for task in tasks if task.last_status == _RUNNING]
            pending = [task for task in tasks if task.last_status != _RUNNING]
            while len(running) < want_running:
                task = (
                    pending.pop(0) if pending else self._start_task(state, service, deployment, now)
                )
                lifecycle.run_service_task(task, now)
                running.append(task)
            while len(pending) < want_pending:
                pending.append(self._start_task(state, service, deployment, now))
            for task in running[want_running:] + pending[want_pending:]:
                lifecycle.stop_service_task(task, scaling, now)
            state.tasks[deployment_id] = running[:want_running] + pending[:want_pending]

    def _start_task(
        self, state: _ServiceState, service: Any, deployment: dict[str, Any], now: datetime
    ) -> Any:
        return self._task_lifecycle.start_service_task(state.backend, service, deployment, now)

    # -- service events -------------------------------------------------------------------------

    def _add_events(self, service: Any, messages: list[str], now: datetime) -> None:
        """Record `messages` (oldest first) as service events of `now`; ECS lists the newest
        first."""
        new = [
            {"id": str(self._ids.uuid4()), "createdAt": now, "message": message}
            for message in reversed(messages)
        ]
        # Copy-on-write: a response being serialized in another thread keeps its own list.
        service.events = [*new, *service.events][:_MAX_SERVICE_EVENTS]

    def _started_message(self, service: Any, count: int) -> str:
        return f"{_label(service)} has started {count} tasks: {self._tasks(count)}."

    def _tasks(self, count: int) -> str:
        """`count` task ids as a service event lists them."""
        return " ".join(f"(task {self._ids.task_id()})" for _ in range(count))


def _step_deleted(
    service: Any, deployments: list[dict[str, Any]], due: bool, events: list[str]
) -> None:
    if not due:
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


def _resize(primary: dict[str, Any], desired: int, now: datetime) -> None:
    primary["desiredCount"] = desired
    if primary["rolloutState"] == _COMPLETED:
        primary.update(runningCount=desired, pendingCount=0, updatedAt=now)


def _set_deployments(service: Any, deployments: list[dict[str, Any]]) -> None:
    """The service's deployments, PRIMARY first; its task definition and counts follow."""
    service.deployments = deployments
    service.task_definition = deployments[0]["taskDefinition"]
    service.running_count = sum(int(d["runningCount"]) for d in deployments)
    service.pending_count = sum(int(d["pendingCount"]) for d in deployments)


def _primary(deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((d for d in deployments if d["status"] == _PRIMARY), None)


def _label(service: Any) -> str:
    return f"(service {service.name})"


def _breaker_threshold(desired_count: int) -> int:
    # ECS trips the circuit breaker after half the desired count failed, within [3, 200].
    return min(200, max(3, (desired_count + 1) // 2))
