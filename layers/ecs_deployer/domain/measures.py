"""What a finished deployment adds to the deployer's CloudWatch metrics (namespace
``ECSDeployer``), emitted by Finalize in the embedded metric format (``aws/metrics.py``) and
drawn by the stack's dashboard (template.yaml).

Dimensions have few values (a status, an error name, a phase): CloudWatch bills and lists
each distinct combination as a metric of its own, and app, service and deployment names grow
with the fleet. Those names travel as properties instead: on the same log line, where Logs
Insights finds a service's rollouts, without becoming metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.document import Deployment
    from ecs_deployer.outcome import Outcome

NAMESPACE: Final = "ECSDeployer"
DEPLOYMENTS: Final = "Deployments"  # one per deployment, by Status
FAILURES: Final = "DeploymentFailures"  # one per failed deployment, by Error
DURATION: Final = "DeploymentDuration"  # seconds from the request to the end, by Status
ROLLBACKS: Final = "ServiceRollbacks"  # services the deployer moved back, by Status
# Seconds from UpdateService to the poll that judged the rollout over, by State (its end).
ROLLOUT_DURATION: Final = "ServiceRolloutDuration"
# Seconds from RunTask to the poll that found the family's tasks stopped, by Phase and State.
TASK_DURATION: Final = "TaskDuration"
# Items of the config index a reconcile had to fix (domain/config_index.py): events missed.
INDEX_DRIFT: Final = "ConfigIndexDrift"


@dataclass(frozen=True)
class Measure:
    name: str
    unit: Literal["Count", "Seconds"]
    value: float
    dimensions: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)  # searchable, not dimensions


def _seconds(started_at: datetime | None, ended_at: datetime | None) -> float | None:
    if started_at is None or ended_at is None:
        return None  # never started, or never judged over (a deployment cut short)
    return (ended_at - started_at).total_seconds()


def _durations(deployment: Deployment) -> list[Measure]:
    """One measure per service rollout and per one-off task family that ran to its end."""
    ids = {"app": deployment.app, "deployment_id": deployment.deployment_id}
    timed = [
        (ROLLOUT_DURATION, service, {"State": str(service.state)}, {"ecs_service": service.name})
        for service in deployment.services
    ] + [
        (TASK_DURATION, run, {"Phase": phase, "State": str(run.state)}, {"task_family": run.family})
        for phase, runs in (("pre", deployment.pre_tasks), ("post", deployment.post_tasks))
        for run in runs
    ]
    return [
        Measure(name, "Seconds", seconds, dimensions, ids | properties)
        for name, timing, dimensions, properties in timed
        if (seconds := _seconds(timing.started_at, timing.ended_at)) is not None
    ]


def of_deployment(deployment: Deployment, outcome: Outcome, now: datetime) -> list[Measure]:
    status: dict[str, str] = {"Status": outcome.status}
    measures = [
        Measure(DEPLOYMENTS, "Count", 1, status),
        Measure(DURATION, "Seconds", (now - deployment.requested_at).total_seconds(), status),
    ]
    if deployment.failure is not None:
        measures.append(Measure(FAILURES, "Count", 1, {"Error": outcome.error or "Unknown"}))
    moved_back = [
        service
        for service in deployment.services
        if service.rollback is not None and service.rollback.state != "NOT_NEEDED"
    ]
    if moved_back:
        measures.append(Measure(ROLLBACKS, "Count", len(moved_back), status))
    return measures + _durations(deployment)


def of_reconcile(fixes: int) -> list[Measure]:
    """A reconcile of the config index: how many of its items had drifted (0: none)."""
    return [Measure(INDEX_DRIFT, "Count", fixes)]
