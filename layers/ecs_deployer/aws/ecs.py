"""The ECS adapter: every ECS call the deployer makes, batched to the API's limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import (
    TargetClients,
    error_code,
    error_message,
    transient_errors_as_retryable,
)
from ecs_deployer.domain.service_deployments import HookAction, ServiceDeployment
from ecs_deployer.domain.services import ServiceSnapshot
from ecs_deployer.domain.taskdef import RegistrationInput, registration_input
from ecs_deployer.domain.tasks import TaskSnapshot
from ecs_deployer.errors import ResourceNotFound

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from mypy_boto3_ecs import ECSClient

    from ecs_deployer.config.models import TaskConfig
    from ecs_deployer.document import Deployment
    from ecs_deployer.settings import Settings

DESCRIBE_SERVICES_BATCH = 10
DESCRIBE_TASKS_BATCH = 100
DESCRIBE_SERVICE_DEPLOYMENTS_BATCH = 20  # "You can specify a maximum of 20 ARNs."
# What UpdateService answers for a service that is gone or going (DeleteService drains it).
_GONE_ERRORS = frozenset(
    {"ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"}
)

T = TypeVar("T")


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class DescribedTaskDefinition:
    arn: str
    family: str
    registration: RegistrationInput  # the RegisterTaskDefinition input it was made from
    active: bool = True  # False once deregistered: services cannot be moved onto it


@dataclass(frozen=True)
class StartedTasks:
    task_arns: list[str]
    failures: list[str]  # "arn-or-unknown: reason (detail)"


@dataclass(frozen=True)
class StartedDeployment:
    """What UpdateService started: the PRIMARY deployment, and the service deployment
    (`currentServiceDeployment`, None where ECS shows none)."""

    deployment_id: str
    service_deployment_arn: str | None


def _family_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


class EcsGateway:
    def __init__(self, client: ECSClient) -> None:
        self._ecs = client

    def cluster_status(self, cluster: str) -> str | None:
        """ACTIVE, PROVISIONING, INACTIVE, ... or None when ECS does not know the cluster."""
        with transient_errors_as_retryable():
            response = self._ecs.describe_clusters(clusters=[cluster])
        clusters = response.get("clusters", [])
        return clusters[0].get("status") if clusters else None

    def describe_services(
        self, cluster: str, names: Sequence[str]
    ) -> tuple[dict[str, ServiceSnapshot], list[str]]:
        """Snapshots by service name, and the names ECS reported missing. A cluster ECS does
        not know is ResourceNotFound."""
        found: dict[str, ServiceSnapshot] = {}
        missing: list[str] = []
        for batch in batched(names, DESCRIBE_SERVICES_BATCH):
            try:
                with transient_errors_as_retryable():
                    response = self._ecs.describe_services(cluster=cluster, services=list(batch))
            except ClientError as exc:
                if error_code(exc) == "ClusterNotFoundException":
                    raise ResourceNotFound(f"cluster '{cluster}' does not exist") from exc
                raise
            for data in response.get("services", []):
                snapshot = ServiceSnapshot.from_api(data)
                found[snapshot.name] = snapshot
            missing += [
                failure.get("arn", "?").rsplit("/", 1)[-1]
                for failure in response.get("failures", [])
            ]
        return found, missing

    def describe_task_definition(self, reference: str) -> DescribedTaskDefinition:
        """A family (latest ACTIVE revision), ``family:revision`` or ARN, with its tags."""
        try:
            with transient_errors_as_retryable():
                response = self._ecs.describe_task_definition(
                    taskDefinition=reference, include=["TAGS"]
                )
        except ClientError as exc:
            if error_code(exc) in {"ClientException", "InvalidParameterException"}:
                raise ResourceNotFound(
                    f"task definition '{reference}' not found: {error_message(exc)}"
                ) from exc
            raise
        task_definition: dict[str, Any] = dict(response["taskDefinition"])
        tags = response.get("tags", [])
        return DescribedTaskDefinition(
            arn=task_definition["taskDefinitionArn"],
            family=task_definition["family"],
            registration=registration_input(task_definition, tags),
            active=task_definition.get("status", "ACTIVE") == "ACTIVE",
        )

    def register_task_definition(self, registration: RegistrationInput) -> str:
        with transient_errors_as_retryable():
            response = self._ecs.register_task_definition(**registration)
        return response["taskDefinition"]["taskDefinitionArn"]

    def family_revisions(self, family: str) -> list[str]:
        """ACTIVE revision ARNs of exactly ``family`` (ECS matches by prefix), newest first."""
        arns: list[str] = []
        paginator = self._ecs.get_paginator("list_task_definitions")
        with transient_errors_as_retryable():
            for page in paginator.paginate(familyPrefix=family, status="ACTIVE"):
                arns += [arn for arn in page["taskDefinitionArns"] if _family_of(arn) == family]
        return sorted(arns, key=lambda arn: int(arn.rsplit(":", 1)[-1]), reverse=True)

    def deregister_task_definition(self, arn: str) -> None:
        with transient_errors_as_retryable():
            self._ecs.deregister_task_definition(taskDefinition=arn)

    def run_task(
        self,
        cluster: str,
        task_definition: str,
        task: TaskConfig,
        started_by: str,
        idempotency_key: str,
    ) -> StartedTasks:
        """RunTask; the same ``idempotency_key`` never starts the tasks twice (retries)."""
        request: dict[str, Any] = {
            "cluster": cluster,
            "taskDefinition": task_definition,
            "count": task.count,
            "startedBy": started_by[:128],
            "clientToken": hashlib.sha256(idempotency_key.encode()).hexdigest()[:64],
        }
        if task.launch_type is not None:
            request["launchType"] = task.launch_type.upper()
        if task.capacity_provider_strategies is not None:
            request["capacityProviderStrategy"] = [
                {
                    "capacityProvider": strategy.capacity_provider,
                    "base": strategy.base,
                    "weight": strategy.weight,
                }
                for strategy in task.capacity_provider_strategies
            ]
        if task.network_configuration is not None:
            vpc = task.network_configuration.vpc_configuration
            request["networkConfiguration"] = {
                "awsvpcConfiguration": {
                    "subnets": list(vpc.subnets),
                    "securityGroups": list(vpc.security_groups),
                    "assignPublicIp": "ENABLED" if vpc.assign_public_ip else "DISABLED",
                }
            }
        with transient_errors_as_retryable():
            response = self._ecs.run_task(**request)
        return StartedTasks(
            task_arns=[item["taskArn"] for item in response.get("tasks", [])],
            failures=[
                f"{failure.get('arn', 'task')}: {failure.get('reason', 'unknown')}"
                + (f" ({failure['detail']})" if failure.get("detail") else "")
                for failure in response.get("failures", [])
            ],
        )

    def describe_tasks(
        self, cluster: str, task_arns: Sequence[str]
    ) -> tuple[dict[str, TaskSnapshot], list[str]]:
        """Snapshots by task ARN, and the ARNs ECS no longer knows."""
        found: dict[str, TaskSnapshot] = {}
        missing: list[str] = []
        for batch in batched(task_arns, DESCRIBE_TASKS_BATCH):
            with transient_errors_as_retryable():
                response = self._ecs.describe_tasks(cluster=cluster, tasks=list(batch))
            for data in response.get("tasks", []):
                snapshot = TaskSnapshot.from_api(data)
                found[snapshot.arn] = snapshot
            missing += [failure.get("arn", "?") for failure in response.get("failures", [])]
        return found, missing

    def stop_task(self, cluster: str, task_arn: str, reason: str) -> None:
        with transient_errors_as_retryable():
            self._ecs.stop_task(cluster=cluster, task=task_arn, reason=reason[:255])

    def update_service(
        self, cluster: str, service: str, task_definition: str, force: bool
    ) -> StartedDeployment:
        """Start a deployment; returns the PRIMARY deployment and service deployment ECS
        created.

        A service deleted (or being deleted) since it was described is ResourceNotFound.
        """
        try:
            with transient_errors_as_retryable():
                response = self._ecs.update_service(
                    cluster=cluster,
                    service=service,
                    taskDefinition=task_definition,
                    forceNewDeployment=force,
                )
        except ClientError as exc:
            if error_code(exc) in _GONE_ERRORS:
                raise ResourceNotFound(
                    f"service '{service}' of cluster '{cluster}': {error_message(exc)}"
                ) from exc
            raise
        snapshot = ServiceSnapshot.from_api(response["service"])
        primary = snapshot.primary
        if primary is None:
            raise ResourceNotFound(f"service '{service}' reported no PRIMARY deployment")
        return StartedDeployment(primary.id, snapshot.current_service_deployment)

    def describe_service_deployments(self, arns: Sequence[str]) -> dict[str, ServiceDeployment]:
        """The service deployments ECS knows, by ARN (those it does not are left out)."""
        found: dict[str, ServiceDeployment] = {}
        for batch in batched(arns, DESCRIBE_SERVICE_DEPLOYMENTS_BATCH):
            with transient_errors_as_retryable():
                response = self._ecs.describe_service_deployments(serviceDeploymentArns=list(batch))
            for data in response.get("serviceDeployments", []):
                deployment = ServiceDeployment.from_api(data)
                found[deployment.arn] = deployment
        return found

    def stop_service_deployment(self, arn: str) -> bool:
        """StopServiceDeployment(ROLLBACK): ECS rolls the service deployment back. False when
        it is over already (ConflictException), and there is nothing to stop."""
        try:
            with transient_errors_as_retryable():
                self._ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                return False
            raise
        return True

    def continue_service_deployment(self, arn: str, hook_id: str, action: HookAction) -> bool:
        """ContinueServiceDeployment: answer a PAUSE hook, CONTINUE or ROLLBACK. False when
        the hook no longer waits (InvalidParameterException: answered, or timed out)."""
        try:
            with transient_errors_as_retryable():
                self._ecs.continue_service_deployment(
                    serviceDeploymentArn=arn,
                    hookId=hook_id,
                    action=action,
                )
        except ClientError as exc:
            if error_code(exc) == "InvalidParameterException":
                return False
            raise
        return True

    def service_task_definitions(self, cluster: str) -> set[str]:
        """Every task definition any deployment of any service in ``cluster`` runs."""
        arns: list[str] = []
        paginator = self._ecs.get_paginator("list_services")
        with transient_errors_as_retryable():
            for page in paginator.paginate(cluster=cluster):
                arns += page["serviceArns"]
        in_use: set[str] = set()
        snapshots, _ = self.describe_services(cluster, arns)
        for snapshot in snapshots.values():
            in_use.update(deployment.task_definition for deployment in snapshot.deployments)
        return in_use


def ecs_of(deployment: Deployment, settings: Settings) -> EcsGateway:
    """ECS where ``deployment``'s app runs: the deployer's account, or the one its config
    names, through that account's deploy role."""
    return EcsGateway(TargetClients.of(deployment, settings).ecs())
