"""CodeDeploy: moto's CodeDeploy, with deployments that progress (`codedeploy/`).

A `CodeDeploySimulation` installs these patches while it is installed, not `moto_patches`:
a scenario may go without it. Every replaced call runs under the simulation's lock.

moto stores applications, deployment groups and deployments, but a deployment stays
Created for ever and several calls the deployer makes are missing:

1. CreateDeployment plans the deployment (`codedeploy/deployments.py`): its ECS service
   (the group's `ecsServices`), the AppSpec's task definition, the group's fault; and
   gives it an id from moto's seeded random, not `uuid.uuid4`, so runs repeat.
2. Every CodeDeploy call first brings every deployment up to the virtual clock's now.
3. GetDeployment and BatchGetDeployments show `errorInformation` and `rollbackInfo` as
   CodeDeploy does (moto answers them empty), and omit them while there is none.
4. StopDeployment, ListDeploymentTargets, BatchGetDeploymentTargets (an ECS target with
   its lifecycle events and task sets) and BatchGetDeploymentGroups, which moto lacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.session
from botocore import xform_name
from moto.codedeploy import responses as moto_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import ActionResult
from moto.ecs.models import ecs_backends

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer_tools.localcloud.codedeploy.simulation import CodeDeploySimulation
    from ecs_deployer_tools.localcloud.patches.patcher import Patcher


def install(patcher: Patcher, simulation: CodeDeploySimulation) -> None:
    """Apply this module's patches, routed to `simulation`."""
    actions = _Actions(simulation)
    patcher.around(CodeDeployBackend, "create_deployment", simulation.locked(actions.create))
    patcher.around(moto_responses, "_deployment_info", actions.deployment_info)
    added = {
        "stop_deployment": actions.stop_deployment,
        "list_deployment_targets": actions.list_deployment_targets,
        "batch_get_deployment_targets": actions.batch_get_deployment_targets,
        "batch_get_deployment_groups": _batch_get_deployment_groups,
    }
    for name, action in added.items():
        patcher.replace(CodeDeployResponse, name, action, create=True)
    # Progress first, whatever the call: every action answers on the deployments as of now.
    for name in _codedeploy_actions():
        patcher.around(CodeDeployResponse, name, actions.advanced_first)


class _Actions:
    """The patched and added calls, routed to one simulation."""

    def __init__(self, simulation: CodeDeploySimulation) -> None:
        self._simulation = simulation
        self._deployments = simulation.deployments

    def advanced_first(self, original: Callable[[Any], Any], response: Any) -> Any:
        with self._simulation.lock:
            self._deployments.advance_all(response.codedeploy_backend)
            return original(response)

    def create(self, original: Callable[..., str], backend: Any, **kwargs: Any) -> str:
        return self._deployments.start(backend, original(backend, **kwargs))

    def deployment_info(
        self, original: Callable[[Any], dict[str, Any]], info: Any
    ) -> dict[str, Any]:
        shown = original(info)
        progress = self._deployments.progress(info)
        shown.pop("errorInformation", None)
        shown.pop("rollbackInfo", None)
        if progress is not None and progress.error_information:
            shown["errorInformation"] = dict(progress.error_information)
        if progress is not None and progress.rollback_info:
            shown["rollbackInfo"] = dict(progress.rollback_info)
        return shown

    def stop_deployment(self, response: CodeDeployResponse) -> ActionResult:
        status = self._deployments.stop(
            response.codedeploy_backend,
            response._get_param("deploymentId"),
            bool(response._get_param("autoRollbackEnabled")),
        )
        return ActionResult({"status": status, "statusMessage": f"Stopping {status}"})

    def list_deployment_targets(self, response: CodeDeployResponse) -> ActionResult:
        info = response.codedeploy_backend.get_deployment(response._get_param("deploymentId"))
        progress = self._deployments.progress(info)
        return ActionResult({"targetIds": [progress.target_id] if progress else []})

    def batch_get_deployment_targets(self, response: CodeDeployResponse) -> ActionResult:
        backend = response.codedeploy_backend
        info = backend.get_deployment(response._get_param("deploymentId"))
        progress = self._deployments.progress(info)
        wanted = response._get_param("targetIds") or []
        if progress is None or progress.target_id not in wanted:
            return ActionResult({"deploymentTargets": []})
        ecs = ecs_backends[backend.account_id][backend.region_name]
        services, _ = ecs.describe_services(progress.cluster, [progress.service])
        target = {
            "deploymentId": info.deployment_id,
            "targetId": progress.target_id,
            "targetArn": services[0].arn if services else "",
            "lastUpdatedAt": self._simulation.now(),
            "lifecycleEvents": self._deployments.lifecycle_events(info),
            "status": _target_status(info.status),
        }
        return ActionResult(
            {"deploymentTargets": [{"deploymentTargetType": "ECSTarget", "ecsTarget": target}]}
        )


def _batch_get_deployment_groups(response: CodeDeployResponse) -> ActionResult:
    groups = response.codedeploy_backend.deployment_groups.get(
        response._get_param("applicationName"), {}
    )
    names = response._get_param("deploymentGroupNames") or []
    found = [
        moto_responses._deployment_group_info(groups[name]) for name in names if name in groups
    ]
    result: dict[str, Any] = {"deploymentGroupsInfo": found}
    if missing := [name for name in names if name not in groups]:
        result["errorMessage"] = f"Deployment groups not found: {', '.join(missing)}"
    return ActionResult(result)


# An ECS target's status (TargetStatus) for its deployment's status (DeploymentStatus).
_TARGET_STATUS = {
    "Created": "Pending",
    "Queued": "Pending",
    "Baking": "InProgress",
    "Stopped": "Failed",
}


def _target_status(deployment_status: str) -> str:
    return _TARGET_STATUS.get(deployment_status, deployment_status)


def _codedeploy_actions() -> list[str]:
    """The CodeDeploy operations answered here, as methods of moto's response class."""
    operations = botocore.session.get_session().get_service_model("codedeploy").operation_names
    names = (xform_name(operation) for operation in operations)
    return [name for name in names if hasattr(CodeDeployResponse, name)]
