"""Register task definitions: clone what runs now, with the new image in the named containers.

Everything is described and validated before anything is registered, so a bad config (an
unknown service, family or container) changes nothing. Registration is skipped when the
clone equals its source, and reuses the family's latest revision when that already is the
clone (a retried step, a redeploy), so revisions do not pile up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ecs_deployer.errors import ConfigError, FieldError, ResourceNotFound
from ecs_deployer.history import progress_fields, record_key
from ecs_deployer.taskdef import (
    RegistrationInput,
    container_images,
    essential_containers,
    missing_containers,
    with_image,
)

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import DescribedTaskDefinition, EcsGateway
    from ecs_deployer.rollout import ServiceSnapshot
    from ecs_deployer.state import Deployment, TaskRun

logger = Logger(child=True)


def _current_revisions(deployment: Deployment, ecs: EcsGateway) -> dict[str, ServiceSnapshot]:
    """The services as they run now; every problem with them, reported at once."""
    cluster = deployment.cluster
    snapshots, missing = ecs.describe_services(cluster, [s.name for s in deployment.services])
    problems = [f"service '{name}' not found in cluster '{cluster}'" for name in missing]
    unsupported = []
    for index, service in enumerate(deployment.services):
        snapshot = snapshots.get(service.name)
        if snapshot is None:
            continue
        if snapshot.status != "ACTIVE":
            problems.append(f"service '{service.name}' is {snapshot.status}")
        elif snapshot.deployment_controller != "ECS":
            unsupported.append(
                FieldError(
                    f"services[{index}]",
                    f"'{service.name}' uses the {snapshot.deployment_controller} deployment "
                    "controller; only ECS rolling deployments are supported",
                )
            )
        elif snapshot.task_definition is None:
            problems.append(f"service '{service.name}' has no PRIMARY deployment")
    if unsupported:
        raise ConfigError(f"config of app '{deployment.app}' is invalid", unsupported)
    if problems:
        raise ResourceNotFound("; ".join(problems))
    return snapshots


@dataclass(frozen=True)
class Plan:
    source: DescribedTaskDefinition
    wanted: RegistrationInput
    source_is_latest: bool


def _register_or_reuse(ecs: EcsGateway, plan: Plan, registered: dict[str, str]) -> str:
    source, wanted = plan.source, plan.wanted
    if wanted == source.registration:
        return source.arn
    key = json.dumps(wanted, sort_keys=True)
    if key in registered:
        return registered[key]
    if not plan.source_is_latest:
        latest = ecs.describe_task_definition(source.family)
        if latest.registration == wanted:
            registered[key] = latest.arn
            return latest.arn
    arn = ecs.register_task_definition(wanted)
    logger.info("registered task definition", extra={"task_definition": arn})
    registered[key] = arn
    return arn


class _Describer:
    """DescribeTaskDefinition, once per reference: services often share a revision."""

    def __init__(self, ecs: EcsGateway) -> None:
        self.ecs = ecs
        self._seen: dict[str, DescribedTaskDefinition] = {}

    def __call__(self, reference: str) -> DescribedTaskDefinition:
        if reference not in self._seen:
            self._seen[reference] = self.ecs.describe_task_definition(reference)
        return self._seen[reference]


def _plan_services(deployment: Deployment, describe: _Describer, problems: list[str]) -> list[Plan]:
    snapshots = _current_revisions(deployment, describe.ecs)
    plans = []
    for service in deployment.services:
        source = describe(snapshots[service.name].task_definition or "")
        service.task_definition_before = source.arn
        owner = f"service '{service.name}'"
        try:
            wanted = with_image(
                source.registration, service.containers, deployment.image.uri, owner
            )
        except ResourceNotFound as exc:
            problems.append(str(exc))
            continue
        plans.append(Plan(source, wanted, source_is_latest=False))
    return plans


def _plan_task(
    deployment: Deployment, run: TaskRun, describe: _Describer, problems: list[str]
) -> Plan | None:
    try:
        source = describe(run.family)
    except ResourceNotFound as exc:
        problems.append(str(exc))
        return None
    owner = f"task family '{run.family}'"
    run.watch_containers = list(
        run.config.watch_containers or essential_containers(source.registration)
    )
    missing = missing_containers(source.registration, run.watch_containers)
    if missing:
        problems.append(f"{owner}: watched container(s) {', '.join(missing)} not in it")
    try:
        wanted = with_image(source.registration, run.config.containers, deployment.image.uri, owner)
    except ResourceNotFound as exc:
        problems.append(str(exc))
        return None
    # A bare family name described its latest revision: no need to look that up again.
    return Plan(source, wanted, source_is_latest=":" not in run.family)


def register_task_definitions(
    deployment: Deployment, ecs: EcsGateway, table: DeploymentsTable, now: datetime
) -> Deployment:
    describe = _Describer(ecs)
    problems: list[str] = []
    service_plans = _plan_services(deployment, describe, problems)
    runs = [*deployment.pre_tasks, *deployment.post_tasks]
    run_plans = [_plan_task(deployment, run, describe, problems) for run in runs]
    if problems:
        raise ResourceNotFound("; ".join(problems))

    registered: dict[str, str] = {}
    for service, plan in zip(deployment.services, service_plans, strict=True):
        service.task_definition_after = _register_or_reuse(ecs, plan, registered)
        service.images_before = container_images(plan.source.registration)
        service.images_after = container_images(plan.wanted)
    for run, maybe_plan in zip(runs, run_plans, strict=True):
        assert maybe_plan is not None
        run.task_definition = _register_or_reuse(ecs, maybe_plan, registered)
    table.update_record(
        deployment.app,
        record_key(deployment.requested_at, deployment.deployment_id),
        progress_fields(deployment, now),
    )
    return deployment
