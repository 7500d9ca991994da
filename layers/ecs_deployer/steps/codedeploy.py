"""Services deployed through CodeDeploy (the CODE_DEPLOY deployment controller): start,
judge and roll back their rollouts. `steps/services.py` calls these for every service whose
config names a CodeDeploy application and deployment group; the others take UpdateService.

The rollout's id (``ecs_deployment_id``) is then CodeDeploy's deployment id. A rollback:

* of a deployment still running (failed elsewhere, or timed out): StopDeployment with
  ``autoRollbackEnabled``, then the rollback deployment CodeDeploy starts is followed;
* of a deployment CodeDeploy already rolls back: that rollback deployment is followed;
* of a deployment that succeeded (post tasks failed since, or another service failed) or
  failed without a rollback while the service runs ours: a new deployment of the previous
  task definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_deployer.document import ServiceRollback
from ecs_deployer.domain.codedeploy import (
    appspec,
    judge_codedeploy,
    lifecycle_progress,
    load_balancer_target,
)
from ecs_deployer.domain.services import RolloutJudgement, revision
from ecs_deployer.errors import DeployerError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from ecs_deployer.aws.codedeploy import CodeDeployGateway
    from ecs_deployer.document import Deployment, ServiceRollout
    from ecs_deployer.domain.services import ServiceSnapshot


def required(codedeploy: CodeDeployGateway | None) -> CodeDeployGateway:
    if codedeploy is None:
        raise DeployerError("a service is deployed through CodeDeploy, but no gateway was given")
    return codedeploy


def start_deployment(
    deployment: Deployment,
    service: ServiceRollout,
    snapshot: ServiceSnapshot,
    task_definition: str,
    codedeploy: CodeDeployGateway,
) -> str:
    """CreateDeployment of ``task_definition`` to the service's deployment group. A retried
    step finds the one it already started: running, with the very same AppSpec."""
    assert service.codedeploy is not None
    application, group = service.codedeploy.application, service.codedeploy.deployment_group
    content = appspec(task_definition, load_balancer_target(snapshot))
    for running in codedeploy.running_deployments(application, group):
        if running.appspec == content:
            return running.id
    description = f"ecs-deployer {deployment.app} {revision(task_definition)}"
    return codedeploy.create_deployment(application, group, content, description)


def judgements(
    codedeploy: CodeDeployGateway,
    deployment_ids: dict[str, str],
    target: Callable[[str], str],
) -> dict[str, RolloutJudgement]:
    """CodeDeploy's verdict on each service's deployment (``deployment_ids``: by service
    name), in one BatchGetDeployments; ``target(name)`` is what it should run."""
    found = codedeploy.deployments(list(deployment_ids.values()))
    judged: dict[str, RolloutJudgement] = {}
    for name, deployment_id in deployment_ids.items():
        info = found.get(deployment_id)
        if info is None:
            judged[name] = RolloutJudgement(
                "FAILED", f"CodeDeploy no longer knows deployment {deployment_id}", ""
            )
            continue
        progress = lifecycle_progress(codedeploy.lifecycle_events(deployment_id))
        judged[name] = judge_codedeploy(info, target(name), progress)
    return judged


def start_rollback(
    deployment: Deployment,
    service: ServiceRollout,
    snapshot: ServiceSnapshot,
    codedeploy: CodeDeployGateway,
    now: datetime,
) -> ServiceRollback:
    """The rollback of a service this deployment changed, deployed through CodeDeploy."""
    ours = service.ecs_deployment_id
    if ours is not None:
        following = _codedeploy_rollback(ours, codedeploy)
        if following is not None:
            return ServiceRollback(
                ecs_deployment_id=following,
                started_at=now,
                state="IN_PROGRESS",
                reason=f"rolled back by CodeDeploy (deployment {following})",
            )
    before, after = service.task_definition_before or "", service.task_definition_after or ""
    running = snapshot.task_definition
    if running == before:
        if ours is None:
            return ServiceRollback(
                state="NOT_NEEDED",
                reason=f"service '{service.name}' still runs {revision(before)}; never updated "
                "by this deployment",
            )
        return ServiceRollback(state="COMPLETED", reason=f"runs {revision(before)} again")
    if running != after:
        now_running = revision(running) if running else "nothing"
        return ServiceRollback(
            state="FAILED" if ours is not None else "NOT_NEEDED",
            reason=f"service '{service.name}' now runs {now_running}, deployed by someone "
            "else: left alone",
        )
    try:
        deployment_id = start_deployment(deployment, service, snapshot, before, codedeploy)
    except (ClientError, DeployerError) as exc:
        return ServiceRollback(
            state="FAILED",
            reason=f"service '{service.name}': CodeDeploy deployment back to "
            f"{revision(before)} failed: {exc}",
        )
    return ServiceRollback(ecs_deployment_id=deployment_id, started_at=now, state="IN_PROGRESS")


def _codedeploy_rollback(deployment_id: str, codedeploy: CodeDeployGateway) -> str | None:
    """The rollback deployment CodeDeploy runs for ours, stopping ours first (asking for a
    rollback) if it is still running; None when CodeDeploy rolls nothing back."""
    info = codedeploy.deployments([deployment_id]).get(deployment_id)
    if info is not None and info.running:
        codedeploy.stop_deployment(deployment_id)
        info = codedeploy.deployments([deployment_id]).get(deployment_id)
    return info.rollback_deployment_id if info is not None else None


def rolling_ids(services: Sequence[ServiceRollout]) -> dict[str, str]:
    """The CodeDeploy deployments of ``services`` deployed through CodeDeploy, by name."""
    return {
        service.name: service.ecs_deployment_id
        for service in services
        if service.codedeploy is not None and service.ecs_deployment_id is not None
    }
