"""The events the simulated ECS puts on the default event bus, shaped as ECS's own.

* "ECS Deployment State Change" when a deployment starts (SERVICE_DEPLOYMENT_IN_PROGRESS,
  a circuit breaker's rollback too), completes (SERVICE_DEPLOYMENT_COMPLETED) or fails
  (SERVICE_DEPLOYMENT_FAILED, an ERROR), with the deployment's id and reason; its resource
  is the service's ARN ("Amazon ECS service deployment state change events", Amazon ECS
  Developer Guide).
* "ECS Task State Change" when a task's last or desired status changes: the task as
  DescribeTasks shows it then (containers with their exit codes, stop code, stopped reason,
  group, startedBy...) and `updatedAt`; its resource is the task's ARN ("Amazon ECS task
  state change events").
* "ECS Hook State Change" when a lifecycle hook of a staged service deployment starts
  (HOOK_AWAITING_ACTION for a PAUSE hook, HOOK_IN_PROGRESS) or ends (HOOK_SUCCEEDED,
  HOOK_FAILED, HOOK_TIMED_OUT; a PAUSE hook answered ROLLBACK is HOOK_FAILED), with the
  hook, its stage, cluster, service and service deployment; its resource is the service
  deployment's ARN ("Amazon ECS service deployment hook state change events", "Pause hooks
  for Amazon ECS service deployments").

Each event is stamped with the time of its transition; `EcsSimulation` publishes it when
the clock reaches that time. ECS delivers its events on a best-effort basis ("Amazon ECS
events"): a scenario may drop a seeded share of them (`EcsFaults.event_drop_rate`), or
every event of some kinds (`EcsFaults.dropped_events`: an event name such as
SERVICE_DEPLOYMENT_COMPLETED, or TASK_ and a last status, such as TASK_STOPPED).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import botocore.session
from botocore import xform_name
from botocore.model import StructureShape

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ecs_deployer_tools.localcloud.ecs_sim.faults import EcsFaults
    from ecs_deployer_tools.localcloud.ecs_sim.service_deployments import (
        ServiceDeploymentRecord,
    )
    from ecs_deployer_tools.localcloud.ecs_sim.strategies import HookRun

SOURCE: Final = "aws.ecs"
DEPLOYMENT_STATE_CHANGE: Final = "ECS Deployment State Change"
TASK_STATE_CHANGE: Final = "ECS Task State Change"
HOOK_STATE_CHANGE: Final = "ECS Hook State Change"
IN_PROGRESS: Final = "SERVICE_DEPLOYMENT_IN_PROGRESS"
COMPLETED: Final = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED: Final = "SERVICE_DEPLOYMENT_FAILED"


def _task_fields() -> tuple[str, ...]:
    """A task's fields, as DescribeTasks answers them (its tags only when asked for)."""
    shape = botocore.session.get_session().get_service_model("ecs").shape_for("Task")
    assert isinstance(shape, StructureShape)
    return tuple(name for name in shape.members if name != "tags")


_TASK_FIELDS: Final = _task_fields()


@dataclass(frozen=True)
class EcsEvent:
    """One event ECS puts on the account's default bus in the region."""

    at: datetime  # of the transition
    name: str  # how a fault names it: the deployment event's name, or TASK_<lastStatus>
    account: str
    region: str
    detail_type: str
    detail: Mapping[str, Any]
    resources: tuple[str, ...]


class EcsEvents:
    """The events of transitions the simulation took, until it publishes them."""

    def __init__(self, faults: Callable[[], EcsFaults]) -> None:
        """`faults()` is the simulation's scenario at the time of the transition."""
        self._faults = faults
        # Simulations are not secrets: seeded, repeatable pseudo-randomness is the point.
        self._rng = random.Random(f"ecs-sim-events:{faults().seed}")  # noqa: S311
        self._pending: list[EcsEvent] = []
        self.dropped: list[EcsEvent] = []  # what best effort lost, oldest first

    def deployment(
        self, backend: Any, service_arn: str, deployment: Mapping[str, Any], name: str
    ) -> None:
        """`deployment` (as DescribeServices shows it) reached the state `name` says."""
        at = deployment["updatedAt"]
        detail = {
            "eventType": "ERROR" if name == FAILED else "INFO",
            "eventName": name,
            "deploymentId": deployment["id"],
            "updatedAt": _iso(at),
            "reason": deployment["rolloutStateReason"],
        }
        self._add(
            EcsEvent(
                at,
                name,
                backend.account_id,
                backend.region_name,
                DEPLOYMENT_STATE_CHANGE,
                detail,
                (service_arn,),
            )
        )

    def task(self, task: Any, at: datetime) -> None:
        """`task` (moto's) changed its last or desired status `at`."""
        detail: dict[str, Any] = {}
        for name in _TASK_FIELDS:
            value = getattr(task, xform_name(name), None)
            if value not in (None, "", [], {}):
                detail[name] = _iso(value) if isinstance(value, datetime) else value
        detail["updatedAt"] = _iso(at)
        event = EcsEvent(
            at,
            f"TASK_{task.last_status}",
            task._account_id,  # where moto keeps the task's account
            task.region_name,
            TASK_STATE_CHANGE,
            detail,
            (task.task_arn,),
        )
        self._add(event)

    def hook(
        self,
        backend: Any,
        record: ServiceDeploymentRecord,
        hook: HookRun,
        *,
        stage: str,
        status: str,
        at: datetime,
    ) -> None:
        """`hook`, at the lifecycle stage `stage` of the service deployment `record`,
        reached `status` (a DeploymentLifecycleHookStatus) `at`."""
        name = f"HOOK_{status}"
        detail = {
            "eventType": "INFO",
            "eventName": name,
            "hookId": hook.hook_id,
            "hookType": hook.config.target_type,
            "expiresAt": f"{hook.expires_at:%Y-%m-%dT%H:%M:%SZ}",
            "lifecycleStage": stage,
            "clusterArn": record.cluster_arn,
            "serviceArn": record.service_arn,
            "serviceDeploymentArn": record.arn,
            "updatedAt": _iso(at),
        }
        self._add(
            EcsEvent(
                at,
                name,
                backend.account_id,
                backend.region_name,
                HOOK_STATE_CHANGE,
                detail,
                (record.arn,),
            )
        )

    def earliest(self) -> datetime | None:
        """When the earliest event still to publish happened (None: there is none)."""
        return min((event.at for event in self._pending), default=None)

    def take(self, now: datetime) -> list[EcsEvent]:
        """The events that happened by `now`, in the order they happened; forgotten here."""
        due = sorted((e for e in self._pending if e.at <= now), key=lambda e: e.at)
        self._pending = [event for event in self._pending if event.at > now]
        return due

    def _add(self, event: EcsEvent) -> None:
        faults = self._faults()
        lost = self._rng.random() < faults.event_drop_rate
        if lost or event.name in faults.dropped_events:
            self.dropped.append(event)
        else:
            self._pending.append(event)


def _iso(when: datetime) -> str:
    """A time as ECS's events write it: UTC, milliseconds, a Z."""
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"
