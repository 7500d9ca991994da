"""The CodeDeploy adapter: every CodeDeploy call the deployer makes, batched to the API's
limits."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, error_message, transient_errors_as_retryable
from ecs_deployer.aws.ecs import batched
from ecs_deployer.domain.codedeploy import RUNNING_STATUSES, CodeDeployDeployment, LifecycleEvent
from ecs_deployer.errors import ResourceNotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# BatchGetDeployments takes at most 25 ids (CodeDeploy API Reference).
BATCH_GET_DEPLOYMENTS: Final = 25
# What CreateDeployment answers for a group, application or service that is not there.
_MISSING_ERRORS: Final = frozenset(
    {
        "ApplicationDoesNotExistException",
        "DeploymentGroupDoesNotExistException",
        "DeploymentConfigDoesNotExistException",
        "InvalidECSServiceException",
    }
)


class CodeDeployGateway:
    def __init__(self, client: Callable[[], Any]) -> None:
        """``client`` makes the botocore CodeDeploy client (the dev lock has no stubs for it)
        at the first call: most deployments have no service CodeDeploy deploys."""
        self._client = client

    @cached_property
    def _codedeploy(self) -> Any:
        return self._client()

    def create_deployment(
        self, application: str, deployment_group: str, appspec: str, description: str
    ) -> str:
        """Start a deployment of ``appspec`` (AppSpec content); returns its id."""
        try:
            with transient_errors_as_retryable():
                response = self._codedeploy.create_deployment(
                    applicationName=application,
                    deploymentGroupName=deployment_group,
                    revision={
                        "revisionType": "AppSpecContent",
                        "appSpecContent": {"content": appspec},
                    },
                    description=description[:100],
                )
        except ClientError as exc:
            if error_code(exc) in _MISSING_ERRORS:
                raise ResourceNotFound(
                    f"CodeDeploy {application}/{deployment_group}: {error_message(exc)}"
                ) from exc
            raise
        return str(response["deploymentId"])

    def running_deployments(
        self, application: str, deployment_group: str
    ) -> list[CodeDeployDeployment]:
        """The group's deployments that are not over."""
        ids: list[str] = []
        paginator = self._codedeploy.get_paginator("list_deployments")
        with transient_errors_as_retryable():
            for page in paginator.paginate(
                applicationName=application,
                deploymentGroupName=deployment_group,
                includeOnlyStatuses=sorted(RUNNING_STATUSES),
            ):
                ids += page.get("deployments", [])
        return list(self.deployments(ids).values())

    def deployments(self, deployment_ids: Sequence[str]) -> dict[str, CodeDeployDeployment]:
        """The deployments by id; one CodeDeploy no longer knows is left out."""
        found: dict[str, CodeDeployDeployment] = {}
        for batch in batched(list(dict.fromkeys(deployment_ids)), BATCH_GET_DEPLOYMENTS):
            with transient_errors_as_retryable():
                response = self._codedeploy.batch_get_deployments(deploymentIds=list(batch))
            for data in response.get("deploymentsInfo", []):
                deployment = CodeDeployDeployment.from_api(data)
                found[deployment.id] = deployment
        return found

    def lifecycle_events(self, deployment_id: str) -> list[LifecycleEvent]:
        """The lifecycle events of the deployment's ECS target (one service per group)."""
        with transient_errors_as_retryable():
            targets = self._codedeploy.list_deployment_targets(deploymentId=deployment_id)
            target_ids = list(targets.get("targetIds", []))[:1]
            if not target_ids:
                return []
            response = self._codedeploy.batch_get_deployment_targets(
                deploymentId=deployment_id, targetIds=target_ids
            )
        events: list[LifecycleEvent] = []
        for target in response.get("deploymentTargets", []):
            for event in target.get("ecsTarget", {}).get("lifecycleEvents", []):
                events.append(LifecycleEvent(event["lifecycleEventName"], event["status"]))
        return events

    def stop_deployment(self, deployment_id: str) -> None:
        """Stop it, asking CodeDeploy to roll back what it changed; one already over stays."""
        try:
            with transient_errors_as_retryable():
                self._codedeploy.stop_deployment(
                    deploymentId=deployment_id, autoRollbackEnabled=True
                )
        except ClientError as exc:
            if error_code(exc) != "DeploymentAlreadyCompletedException":
                raise
