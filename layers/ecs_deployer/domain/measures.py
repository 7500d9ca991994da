"""What a finished deployment adds to the deployer's CloudWatch metrics (namespace
``ECSDeployer``), emitted by Finalize in the embedded metric format (``aws/metrics.py``) and
drawn by the stack's dashboard (template.yaml)."""

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


@dataclass(frozen=True)
class Measure:
    name: str
    unit: Literal["Count", "Seconds"]
    value: float
    dimensions: dict[str, str] = field(default_factory=dict)


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
    return measures
