"""How an ECS blue/green deployment progresses in the simulated CodeDeploy, on virtual time.

A deployment is Created, then runs the ECS lifecycle events in order (`LIFECYCLE_EVENTS`),
each taking `CodeDeployFaults.event_seconds`, then waits the deployment group's
termination wait and is Succeeded. What each step does to the ECS service is what
CodeDeploy does to it through ECS's task set API (the AWSCodeDeployRoleForECS policy grants
CodeDeploy ecs:CreateTaskSet, ecs:UpdateServicePrimaryTaskSet and ecs:DeleteTaskSet):

* Install creates the replacement (green) task set, on the AppSpec's task definition;
* AllowTraffic makes it the PRIMARY task set: the service now runs that task definition;
* success deletes the original (blue) task set once the termination wait is over.

A `GroupFault` fails a lifecycle hook (the deployment is Failed, HOOK_EXECUTION_FAILURE) or
keeps one event InProgress for ever. A failed deployment, or one StopDeployment stops with
`autoRollbackEnabled`, is rolled back by a new deployment (creator codeDeployRollback) when
its group's (or its own) auto rollback covers DEPLOYMENT_FAILURE, or when StopDeployment
asks for it: that deployment reroutes traffic to the original task set and deletes the
replacement. Rollback deployments are never hit by the group's fault.

Progress is worked out when a CodeDeploy call reads a deployment: every deployment is
brought up to the virtual clock's now before any CodeDeploy call answers, so the ECS
service's task sets reflect a deployment once CodeDeploy has been asked about it.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import yaml
from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import DeploymentInfo
from moto.ecs.models import ecs_backends
from moto.moto_api._internal import mock_random

from ecs_deployer_tools.localcloud.codedeploy.faults import LIFECYCLE_EVENTS, GroupOutcome

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ecs_deployer_tools.localcloud.codedeploy.faults import CodeDeployFaults, GroupFault

# Statuses of a deployment that is not over (DeploymentStatus in the CodeDeploy API).
_RUNNING: Final = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
_ROLLBACK_EVENTS: Final = ("AllowTraffic",)  # a rollback reroutes traffic back, nothing more


class DeploymentAlreadyCompletedException(CodeDeployException):
    code = 400

    def __init__(self, deployment_id: str) -> None:
        super().__init__(
            "DeploymentAlreadyCompletedException",
            f"Deployment {deployment_id} has already completed.",
        )


class InvalidRevisionException(CodeDeployException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRevisionException", message)


@dataclass
class _Progress:
    """What the simulation knows of one deployment beyond moto's `DeploymentInfo`."""

    cluster: str
    service: str
    task_definition: str  # what it rolls out
    events: tuple[str, ...]
    started: datetime  # when its first lifecycle event starts
    fault: GroupFault | None
    termination_wait: timedelta
    original_task_set: str  # the task set serving production traffic when it was created
    replacement_task_set: str | None = None
    rolls_back: _Progress | None = None  # for a rollback deployment: the one it reverses
    done: int = 0  # lifecycle events succeeded (their effect on ECS applied)
    failed_event: str | None = None
    error_information: dict[str, str] = field(default_factory=dict)
    rollback_info: dict[str, str] = field(default_factory=dict)

    @property
    def target_id(self) -> str:
        """Its ECS target's id, as ListDeploymentTargets names it."""
        return f"{self.cluster}:{self.service}"


def _task_definition_of(revision: dict[str, Any]) -> str:
    """The task definition an ECS AppSpec (JSON or YAML) names."""
    if revision.get("revisionType") != "AppSpecContent":
        raise InvalidRevisionException("an ECS deployment needs an AppSpecContent revision")
    content = revision.get("appSpecContent", {}).get("content", "")
    try:
        appspec = yaml.safe_load(content)
        properties = appspec["Resources"][0]["TargetService"]["Properties"]
        return str(properties["TaskDefinition"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
        raise InvalidRevisionException(f"the AppSpec names no TaskDefinition: {exc}") from exc


def _auto_rollback_on_failure(configuration: dict[str, Any] | None) -> bool:
    configuration = configuration or {}
    return bool(configuration.get("enabled")) and "DEPLOYMENT_FAILURE" in configuration.get(
        "events", []
    )


class CodeDeployDeployments:
    """The simulated deployments; the patched moto calls (`patches/codedeploy.py`) call
    these under the simulation's lock."""

    def __init__(self, faults: Callable[[], CodeDeployFaults], now: Callable[[], datetime]) -> None:
        self._faults = faults
        self._now = now
        # Keyed by moto's model objects: a moto reset makes new objects, so no state leaks.
        self._progress: weakref.WeakKeyDictionary[Any, _Progress] = weakref.WeakKeyDictionary()

    # -- CreateDeployment, StopDeployment ---------------------------------------------------

    def start(self, backend: Any, deployment_id: str) -> str:
        """Plan the deployment moto just created (its ECS service, task definition, fault);
        returns its id, seeded (`_seeded_id`)."""
        info = _seeded_id(backend, backend.deployments[deployment_id])
        group = info.deployment_group
        if not group.ecs_services:
            raise InvalidRevisionException("the deployment group names no ECS service")
        target = group.ecs_services[0]
        cluster, service = target["clusterName"], target["serviceName"]
        ecs = ecs_backends[backend.account_id][backend.region_name]
        task_definition = ecs.describe_task_definition(_task_definition_of(info.revision)).arn
        faults = self._faults()
        created = self._now()
        info.create_time = created
        self._progress[info] = _Progress(
            cluster=cluster,
            service=service,
            task_definition=task_definition,
            events=LIFECYCLE_EVENTS,
            started=created + timedelta(seconds=faults.event_seconds),
            fault=faults.groups.get(group.deployment_group_name),
            termination_wait=_termination_wait(group.blue_green_deployment_configuration),
            original_task_set=_primary_task_set(ecs, cluster, service),
        )
        return str(info.deployment_id)

    def stop(self, backend: Any, deployment_id: str, auto_rollback: bool) -> str:
        """StopDeployment; its answer's status (Pending while a rollback is to run)."""
        self.advance_all(backend)
        info = backend.get_deployment(deployment_id)
        progress = self._progress.get(info)
        if progress is None or info.status not in _RUNNING:
            raise DeploymentAlreadyCompletedException(deployment_id)
        now = self._now()
        info.status, info.complete_time = "Stopped", now
        progress.error_information = {
            "code": "MANUAL_STOP",
            "message": "The deployment was stopped by a StopDeployment request.",
        }
        shifted = progress.replacement_task_set is not None
        if auto_rollback and shifted and progress.rolls_back is None:
            self._roll_back(backend, info, progress, now, "stopped")
            return "Pending"
        return "Succeeded"

    # -- reading ------------------------------------------------------------------------------

    def advance_all(self, backend: Any) -> None:
        """Bring every deployment up to now, oldest first (a rollback after what it reverses)."""
        for info in sorted(backend.deployments.values(), key=lambda item: item.create_time):
            progress = self._progress.get(info)
            if progress is not None and info.status in _RUNNING:
                self._advance(backend, info, progress)

    def progress(self, info: Any) -> _Progress | None:
        return self._progress.get(info)

    def lifecycle_events(self, info: Any) -> list[dict[str, Any]]:
        """The ECS target's lifecycle events, as BatchGetDeploymentTargets shows them."""
        progress = self._progress[info]
        seconds = timedelta(seconds=self._faults().event_seconds)
        now = self._now()
        over = info.status not in _RUNNING
        events = []
        for index, name in enumerate(progress.events):
            start = progress.started + index * seconds
            event: dict[str, Any] = {"lifecycleEventName": name}
            if index < progress.done:
                event |= {"status": "Succeeded", "startTime": start, "endTime": start + seconds}
            elif name == progress.failed_event:
                event |= {
                    "status": "Failed",
                    "startTime": start,
                    "endTime": start + seconds,
                    "diagnostics": {
                        "errorCode": "ScriptFailed",
                        "message": f"The {name} hook reported Failed.",
                    },
                }
            elif over:
                event["status"] = "Skipped"
            elif start <= now:
                event |= {"status": "InProgress", "startTime": start}
            else:
                event["status"] = "Pending"
            events.append(event)
        return events

    # -- progress -----------------------------------------------------------------------------

    def _advance(self, backend: Any, info: Any, progress: _Progress) -> None:
        now = self._now()
        seconds = timedelta(seconds=self._faults().event_seconds)
        fault = progress.fault if progress.rolls_back is None else None
        for index in range(progress.done, len(progress.events)):
            name = progress.events[index]
            start = progress.started + index * seconds
            if now < start:
                return
            info.status, info.start_time = "InProgress", progress.started
            faulty = fault is not None and fault.lifecycle_event == name
            hangs = faulty and fault is not None and fault.outcome is GroupOutcome.NEVER_ENDS
            if now < start + seconds or hangs:
                return
            if faulty:
                self._fail(backend, info, progress, name, start + seconds)
                return
            self._apply(backend, progress, name)
            progress.done = index + 1
        end = progress.started + len(progress.events) * seconds + progress.termination_wait
        if now >= end:
            self._succeed(backend, progress)
            info.status, info.complete_time = "Succeeded", end

    def _apply(self, backend: Any, progress: _Progress, event: str) -> None:
        """What CodeDeploy's own steps do to the ECS service."""
        ecs = ecs_backends[backend.account_id][backend.region_name]
        reversed_ = progress.rolls_back
        if reversed_ is not None:
            if event == "AllowTraffic":
                ecs.update_service_primary_task_set(
                    reversed_.cluster, reversed_.service, reversed_.original_task_set
                )
            return
        if event == "Install":
            service = _service(ecs, progress.cluster, progress.service)
            task_set = ecs.create_task_set(
                progress.service,
                progress.cluster,
                progress.task_definition,
                launch_type=service.launch_type or "FARGATE",
                load_balancers=service.load_balancers,
            )
            progress.replacement_task_set = task_set.task_set_arn
        elif event == "AllowTraffic" and progress.replacement_task_set is not None:
            ecs.update_service_primary_task_set(
                progress.cluster, progress.service, progress.replacement_task_set
            )

    def _succeed(self, backend: Any, progress: _Progress) -> None:
        """The task set that no longer serves traffic is deleted."""
        ecs = ecs_backends[backend.account_id][backend.region_name]
        reversed_ = progress.rolls_back
        if reversed_ is not None:
            gone, cluster, service = (
                reversed_.replacement_task_set,
                reversed_.cluster,
                reversed_.service,
            )
        else:
            gone, cluster, service = progress.original_task_set, progress.cluster, progress.service
        if gone is not None:
            ecs.delete_task_set(cluster, service, gone)

    def _fail(
        self, backend: Any, info: Any, progress: _Progress, event: str, when: datetime
    ) -> None:
        info.status, info.complete_time = "Failed", when
        progress.failed_event = event
        progress.error_information = {
            "code": "HOOK_EXECUTION_FAILURE",
            "message": f"The deployment failed because the {event} lifecycle event hook "
            "reported Failed.",
        }
        configuration = (
            info.auto_rollback_configuration or info.deployment_group.auto_rollback_configuration
        )
        if _auto_rollback_on_failure(configuration) and progress.replacement_task_set is not None:
            self._roll_back(backend, info, progress, when, "failed")

    def _roll_back(
        self, backend: Any, info: Any, progress: _Progress, when: datetime, why: str
    ) -> None:
        """A rollback deployment of the original task definition, created at `when`."""
        ecs = ecs_backends[backend.account_id][backend.region_name]
        original = ecs.describe_task_sets(
            progress.cluster, progress.service, [progress.original_task_set]
        )[0].task_definition
        group = info.deployment_group
        revision = {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": _appspec(original)},
        }
        rollback = DeploymentInfo(
            info.application,
            group,
            revision,
            info.deployment_config_name,
            None,  # description
            None,  # ignore_application_stop_failures
            None,  # target instances
            None,  # auto rollback configuration
            None,  # update_outdated_instances_only
            None,  # file_exists_behavior
            None,  # override_alarm_configuration
            "codeDeployRollback",
        )
        backend.deployments[rollback.deployment_id] = rollback
        rollback_id = _seeded_id(backend, rollback).deployment_id
        rollback.create_time = when
        self._progress[rollback] = _Progress(
            cluster=progress.cluster,
            service=progress.service,
            task_definition=original,
            events=_ROLLBACK_EVENTS,
            started=when,
            fault=None,
            termination_wait=timedelta(0),
            original_task_set=progress.original_task_set,
            rolls_back=progress,
            rollback_info={
                "rollbackTriggeringDeploymentId": info.deployment_id,
                "rollbackMessage": f"Rollback of deployment {info.deployment_id}, which {why}.",
            },
        )
        progress.rollback_info = {
            "rollbackDeploymentId": rollback_id,
            "rollbackMessage": f"The deployment {why}; deployment {rollback_id} rolls it back.",
        }
        self._advance(backend, rollback, self._progress[rollback])


def _seeded_id(backend: Any, info: Any) -> Any:
    """``info`` under an id from moto's seeded random (moto draws CodeDeploy's ids from
    ``uuid.uuid4``): a scenario's deployment ids are the same on every run."""
    backend.deployments.pop(info.deployment_id)
    info.deployment_id = str(mock_random.uuid4())
    backend.deployments[info.deployment_id] = info
    return info


def _appspec(task_definition: str) -> str:
    resource = {
        "TargetService": {
            "Type": "AWS::ECS::Service",
            "Properties": {"TaskDefinition": task_definition},
        }
    }
    return json.dumps({"version": 0.0, "Resources": [resource]})


def _termination_wait(configuration: dict[str, Any]) -> timedelta:
    """How long the original task set keeps running after traffic moved (the group's
    terminateBlueInstancesOnDeploymentSuccess), before the deployment succeeds."""
    termination = configuration.get("terminateBlueInstancesOnDeploymentSuccess", {})
    if termination.get("action", "TERMINATE") != "TERMINATE":
        return timedelta(0)
    return timedelta(minutes=int(termination.get("terminationWaitTimeInMinutes", 0)))


def _service(ecs: Any, cluster: str, service: str) -> Any:
    services, _ = ecs.describe_services(cluster, [service])
    if not services:
        raise CodeDeployException(
            "InvalidECSServiceException", f"ECS service {cluster}/{service} does not exist"
        )
    return services[0]


def _primary_task_set(ecs: Any, cluster: str, service: str) -> str:
    """The ARN of the service's PRIMARY task set. A CODE_DEPLOY service gets its first
    (blue) task set from ECS at CreateService ("Service creation results in the creation of
    a (blue) task set"), which moto omits: it is made here, the first time it is needed."""
    found = _service(ecs, cluster, service)
    primary = next((ts for ts in found.task_sets if ts.status == "PRIMARY"), None)
    if primary is not None:
        return str(primary.task_set_arn)
    task_set = ecs.create_task_set(
        service,
        cluster,
        found.task_definition,
        launch_type=found.launch_type or "FARGATE",
        load_balancers=found.load_balancers,
    )
    ecs.update_service_primary_task_set(cluster, service, task_set.task_set_arn)
    return str(task_set.task_set_arn)
