"""CodeDeploy blue/green rollouts: the AppSpec the deployer sends, and the judgement of the
deployment it started.

A service whose deployment controller is CODE_DEPLOY is not updated with UpdateService:
CodeDeploy deploys it, from a CreateDeployment whose AppSpec names the new task definition
and the container and port the load balancer sends traffic to (CodeDeploy User Guide,
"AppSpec 'resources' section for Amazon ECS deployments"). The rollout is over when
CodeDeploy says so: Succeeded is a success; a deployment CodeDeploy rolled back (its
``rollbackInfo`` names the rollback deployment) is a rollback, never a success; one that
failed or was stopped without a rollback is a failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ecs_deployer.domain.services import RolloutJudgement, revision
from ecs_deployer.errors import ResourceNotFound

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ecs_deployer.domain.services import ServiceSnapshot

# DeploymentStatus values of a deployment that is not over.
RUNNING_STATUSES: Final = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})


@dataclass(frozen=True)
class LoadBalancerTarget:
    """The container and port of the service's load balancer: where CodeDeploy shifts
    traffic, which the AppSpec must name."""

    container_name: str
    container_port: int


def load_balancer_target(snapshot: ServiceSnapshot) -> LoadBalancerTarget:
    """The service's load-balanced container; a CODE_DEPLOY service has one (ECS requires a
    load balancer for the CODE_DEPLOY controller)."""
    for balancer in snapshot.load_balancers:
        name, port = balancer.get("containerName"), balancer.get("containerPort")
        if name and port:
            return LoadBalancerTarget(str(name), int(port))
    raise ResourceNotFound(
        f"service '{snapshot.name}' has no load balancer naming a container and port, which "
        "a CodeDeploy AppSpec needs"
    )


def appspec(task_definition: str, target: LoadBalancerTarget) -> str:
    """The AppSpec of an ECS deployment to ``task_definition`` (JSON is valid AppSpec)."""
    properties = {
        "TaskDefinition": task_definition,
        "LoadBalancerInfo": {
            "ContainerName": target.container_name,
            "ContainerPort": target.container_port,
        },
    }
    resource = {"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}
    return json.dumps({"version": 0.0, "Resources": [resource]}, sort_keys=True)


@dataclass(frozen=True)
class LifecycleEvent:
    name: str
    status: str  # Pending | InProgress | Succeeded | Failed | Skipped | Unknown


@dataclass(frozen=True)
class CodeDeployDeployment:
    """A deployment as BatchGetDeployments shows it."""

    id: str
    status: str
    error_code: str | None = None
    error_message: str | None = None
    rollback_deployment_id: str | None = None  # the deployment rolling this one back
    appspec: str | None = None  # its revision's AppSpec content

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CodeDeployDeployment:
        error = data.get("errorInformation") or {}
        rollback = data.get("rollbackInfo") or {}
        return cls(
            id=data["deploymentId"],
            status=data["status"],
            error_code=error.get("code"),
            error_message=error.get("message"),
            rollback_deployment_id=rollback.get("rollbackDeploymentId"),
            appspec=(data.get("revision") or {}).get("appSpecContent", {}).get("content"),
        )

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def error(self) -> str:
        detail = ": ".join(part for part in (self.error_code, self.error_message) if part)
        return detail or self.status


def lifecycle_progress(events: Sequence[LifecycleEvent]) -> str:
    """The live view's text: the event under way (or the last one reached) and how far."""
    done = sum(event.status == "Succeeded" for event in events)
    current = next(
        (event for event in events if event.status in ("InProgress", "Failed")),
        None,
    )
    if not events:
        return "no lifecycle event yet"
    where = f"{current.name} {current.status}" if current else events[done - 1].name if done else ""
    return f"{where} ({done}/{len(events)} lifecycle events)".strip()


def judge_codedeploy(
    deployment: CodeDeployDeployment, task_definition: str, progress: str
) -> RolloutJudgement:
    """CodeDeploy's verdict on the deployment we started to ``task_definition``."""
    if deployment.running:
        return RolloutJudgement("IN_PROGRESS", f"CodeDeploy {deployment.status}", progress)
    if deployment.status == "Succeeded":
        reason = f"CodeDeploy deployment {deployment.id} succeeded: {revision(task_definition)}"
        return RolloutJudgement("COMPLETED", reason, progress)
    if deployment.rollback_deployment_id is not None:
        reason = (
            f"CodeDeploy deployment {deployment.id} {deployment.status.lower()} and is rolled "
            f"back by deployment {deployment.rollback_deployment_id} ({deployment.error})"
        )
        return RolloutJudgement("ROLLED_BACK_BY_ECS", reason, progress)
    reason = (
        f"CodeDeploy deployment {deployment.id} {deployment.status.lower()}: {deployment.error}"
    )
    return RolloutJudgement("FAILED", reason, progress)
