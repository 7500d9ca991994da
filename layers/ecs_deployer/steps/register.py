"""Register task definitions: carry out the plan (see ecs_deployer.domain.register).

Everything is described and validated before anything is registered, so a bad config (an
unknown service, family or container) changes nothing. Registration is skipped when the
clone equals its source, and reuses the family's latest revision when that already is the
clone (a retried step, a redeploy), so revisions do not pile up. A rollback target that
housekeeping has since deregistered is registered again, unchanged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ecs_deployer.domain.register import Registration, newest_revision, plan_deployment
from ecs_deployer.domain.taskdef import container_images
from ecs_deployer.history import RecordUpdate

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.scope import StackScope

logger = Logger(child=True)


def _register_or_reuse(ecs: EcsGateway, plan: Registration, registered: dict[str, str]) -> str:
    if not plan.needs_registering:
        return plan.source.arn
    key = json.dumps(plan.wanted, sort_keys=True)
    if key in registered:
        return registered[key]
    latest = plan.latest or newest_revision(ecs.describe_task_definition, plan.source.family)
    if latest is not None and latest.registration == plan.wanted:
        registered[key] = latest.arn
        return latest.arn
    arn = ecs.register_task_definition(plan.wanted)
    logger.info("registered task definition", extra={"task_definition": arn})
    registered[key] = arn
    return arn


def register_task_definitions(
    deployment: Deployment,
    ecs: EcsGateway,
    table: DeploymentsTable,
    scope: StackScope,
    now: datetime,
) -> Deployment:
    """The step: plan, then register (or reuse) each revision and record it on the document:
    what each service runs now and gets, and what each task runs and is judged by."""
    plan = plan_deployment(deployment, ecs, scope)
    registered: dict[str, str] = {}
    for planned in plan.services:
        service, registration = planned.service, planned.registration
        service.task_definition_before = planned.current.arn
        service.images_before = container_images(planned.current.registration)
        service.task_definition_after = _register_or_reuse(ecs, registration, registered)
        service.images_after = container_images(registration.wanted)
    for task in plan.tasks:
        task.run.watch_containers = task.watch_containers
        task.run.task_definition = _register_or_reuse(ecs, task.registration, registered)
    table.update_record(deployment, RecordUpdate.progress(deployment, now))
    return deployment
