"""Service deployments in the simulated ECS, as ListServiceDeployments and
DescribeServiceDeployments show them ("View service history using Amazon ECS service
deployments", ECS Developer Guide).

ECS records a service deployment when a service is created and whenever an update starts
a deployment. It starts PENDING and ends SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL or
ROLLBACK_FAILED. A circuit breaker's rollback is the same service deployment rolling
back (ROLLBACK_IN_PROGRESS, with `rollback`, the breaker TRIGGERED), not a new one;
without rollback the breaker leaves it STOPPED. StopServiceDeployment(ROLLBACK) moves an
ongoing one to ROLLBACK_REQUESTED, then ROLLBACK_IN_PROGRESS ("Stopping Amazon ECS service
deployments"). `rollouts.py` moves each record on with the `deployments[]` entries it
follows; this module only keeps the records and shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from ecs_deployer_tools.localcloud.ecs_sim.strategies import StagedTimeline

PENDING: Final = "PENDING"
IN_PROGRESS: Final = "IN_PROGRESS"
SUCCESSFUL: Final = "SUCCESSFUL"
STOPPED: Final = "STOPPED"
ROLLBACK_REQUESTED: Final = "ROLLBACK_REQUESTED"
ROLLBACK_IN_PROGRESS: Final = "ROLLBACK_IN_PROGRESS"
ROLLBACK_SUCCESSFUL: Final = "ROLLBACK_SUCCESSFUL"
ROLLBACK_FAILED: Final = "ROLLBACK_FAILED"
ONGOING: Final = frozenset({PENDING, IN_PROGRESS, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS})
# Why a deployment replaced by a newer UpdateService ends STOPPED: see docs/fidelity.md.
REPLACED_REASON: Final = "Stopped: a newer service deployment replaced this one."
BREAKER_REASON: Final = "ECS deployment circuit breaker: tasks failed to start."
STOP_ROLLBACK_REASON: Final = "Service deployment rolled back because of a stop request."
# Why ECS rolls a staged deployment back: a lifecycle hook, or a ContinueServiceDeployment.
HOOK_FAILED_REASON: Final = "Lifecycle hook {hook_id} ({target_type}) {status}."
ALARM_REASON: Final = "CloudWatch alarms in ALARM: {names}."
CONTINUE_ROLLBACK_REASON: Final = (
    "Service deployment rolled back by ContinueServiceDeployment (ROLLBACK) at hook {hook_id}."
)
DELETED_REASON: Final = "The service was deleted."


def revision_arn(service_arn: str, cluster: str, service: str, deployment_id: str) -> str:
    """The service revision a `deployments[]` entry runs (one per deployment here):
    arn:aws:ecs:REGION:ACCOUNT:service-revision/CLUSTER/SERVICE/ID."""
    prefix = service_arn.split(":service/", 1)[0]
    return f"{prefix}:service-revision/{cluster}/{service}/{deployment_id.rsplit('/', 1)[-1]}"


@dataclass
class ServiceDeploymentRecord:
    """One service deployment, following the `deployments[]` entry it started (and the
    rollback deployment, once it rolls back)."""

    arn: str
    service_arn: str
    cluster_arn: str
    deployment_id: str
    created_at: datetime
    updated_at: datetime
    source_revision: str | None
    target_revision: str
    failure_threshold: int
    status: str = PENDING
    status_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    rollback: dict[str, Any] | None = None
    rollback_deployment_id: str | None = None
    circuit_breaker: str = "MONITORING"
    failure_count: int = 0
    # A BLUE_GREEN, LINEAR or CANARY deployment's stage and hooks, once it has started.
    staged: StagedTimeline | None = None
    # The CloudWatch alarms it watches (ServiceDeploymentAlarms), when enabled.
    alarm_names: tuple[str, ...] = ()
    triggered_alarms: tuple[str, ...] = ()

    @property
    def ongoing(self) -> bool:
        return self.status in ONGOING

    def follows(self, deployment_id: str) -> bool:
        return deployment_id in (self.deployment_id, self.rollback_deployment_id)

    def progress(self, at: datetime) -> None:
        """A step of the deployment it follows: a requested deployment or rollback starts."""
        if self.status == PENDING:
            self._move(IN_PROGRESS, at)
            self.started_at = at
        elif self.status == ROLLBACK_REQUESTED:
            self._move(ROLLBACK_IN_PROGRESS, at)

    def complete(self, deployment_id: str, at: datetime) -> None:
        """The deployment it follows completed: the target's, or the rollback's."""
        self.started_at = self.started_at or at
        rolled_back = deployment_id == self.rollback_deployment_id
        self._end(ROLLBACK_SUCCESSFUL if rolled_back else SUCCESSFUL, at)
        if not rolled_back and self.circuit_breaker == "MONITORING":
            self.circuit_breaker = "MONITORING_COMPLETE"

    def alarmed(self, names: tuple[str, ...]) -> str:
        """Its alarms `names` went into ALARM: why it rolls back (or stops)."""
        self.triggered_alarms = names
        return ALARM_REASON.format(names=", ".join(names))

    def fail(self, deployment_id: str, failed_tasks: int, at: datetime) -> None:
        """The deployment it follows failed (the circuit breaker tripped, no rollback)."""
        if deployment_id == self.rollback_deployment_id:
            self._end(ROLLBACK_FAILED, at)
            return
        self.failure_count = failed_tasks
        self.circuit_breaker = "TRIGGERED"
        self.status_reason = BREAKER_REASON
        self._end(STOPPED, at)

    def roll_back(
        self,
        rollback_deployment_id: str,
        to_revision: str,
        *,
        failed_tasks: int | None,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        """ECS rolls it back to `to_revision`: its circuit breaker tripped after
        `failed_tasks`, or it rolls back for `reason` (a lifecycle hook...): both
        ROLLBACK_IN_PROGRESS at once; or a stop request (neither) asked for it
        (ROLLBACK_REQUESTED until the rollback's first step)."""
        tripped = failed_tasks is not None
        requested = not tripped and reason is None
        reason = reason or (BREAKER_REASON if tripped else STOP_ROLLBACK_REASON)
        self.rollback_deployment_id = rollback_deployment_id
        self.rollback = {"reason": reason, "startedAt": at, "serviceRevisionArn": to_revision}
        self.status_reason = reason
        if failed_tasks is not None:
            self.failure_count = failed_tasks
            self.circuit_breaker = "TRIGGERED"
        self._move(ROLLBACK_REQUESTED if requested else ROLLBACK_IN_PROGRESS, at)

    def stop(self, reason: str, at: datetime) -> None:
        """Ends STOPPED: replaced by a newer one, or its service deleted."""
        self.status_reason = reason
        self._end(STOPPED, at)

    def _move(self, status: str, at: datetime) -> None:
        self.status = status
        self.updated_at = at

    def _end(self, status: str, at: datetime) -> None:
        self._move(status, at)
        self.finished_at = at
        if status == STOPPED:
            self.stopped_at = at

    def as_api(self, target: Mapping[str, Any] | None) -> dict[str, Any]:
        """As DescribeServiceDeployments answers it; `target` is the `deployments[]` entry
        of its target revision, whose task counts the target's summary carries
        (ServiceRevisionSummary), None once the service no longer shows it."""
        counts = (
            {
                "requestedTaskCount": target["desiredCount"],
                "runningTaskCount": target["runningCount"],
                "pendingTaskCount": target["pendingCount"],
            }
            if target is not None
            else {}
        )
        optional: dict[str, Any] = {
            "statusReason": self.status_reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "stoppedAt": self.stopped_at,
            "rollback": self.rollback,
        }
        if self.alarm_names:
            status = "TRIGGERED" if self.triggered_alarms else "MONITORING"
            if self.status == SUCCESSFUL and not self.triggered_alarms:
                status = "MONITORING_COMPLETE"
            optional["alarms"] = {
                "status": status,
                "alarmNames": list(self.alarm_names),
                "triggeredAlarmNames": list(self.triggered_alarms),
            }
        if self.staged is not None:
            optional["lifecycleStage"] = self.staged.stage.name
            optional["lifecycleHookDetails"] = [hook.as_api() for hook in self.staged.hooks] or None
        return {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "sourceServiceRevisions": (
                [{"arn": self.source_revision}] if self.source_revision else []
            ),
            "targetServiceRevision": {"arn": self.target_revision} | counts,
            "status": self.status,
            "deploymentCircuitBreaker": {
                "status": self.circuit_breaker,
                "failureCount": self.failure_count,
                "threshold": self.failure_threshold,
            },
        } | {name: value for name, value in optional.items() if value is not None}

    def brief(self) -> dict[str, Any]:
        """As ListServiceDeployments answers it."""
        optional = {
            "statusReason": self.status_reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }
        return {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.target_revision,
            "status": self.status,
        } | {name: value for name, value in optional.items() if value is not None}
