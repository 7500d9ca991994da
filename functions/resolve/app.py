"""Resolve: execution input → ignored, dispatched per app, rejected, or a deployment."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import (
    dynamodb_client,
    ecr_client,
    events_client,
    sfn_client,
)
from ecs_deployer.aws.dynamodb import ConfigIndexTable, DeploymentsTable
from ecs_deployer.aws.ecr import EcrGateway
from ecs_deployer.aws.eventbus import LifecycleEvents
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.aws.stepfunctions import Executions
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.document import Deployment
from ecs_deployer.domain.admission import AdmissionDeps
from ecs_deployer.payloads import ResolveEvent
from ecs_deployer.settings import Settings
from ecs_deployer.steps.resolve import resolve
from ecs_deployer.steps.stored import save
from ecs_deployer.structs import decode, encode
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
settings = Settings.from_env()
events = LifecycleEvents(events_client, settings.event_bus_name)
dynamodb = dynamodb_client()
deps = AdmissionDeps(
    configs=ConfigStore(settings.config_prefix),
    ecr=EcrGateway(ecr_client()),
    table=DeploymentsTable(dynamodb, settings.deployments_table),
    scope=settings.scope,
    executions=Executions(sfn_client),
    index=ConfigIndexTable(dynamodb, settings.deployments_table),
)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = decode(payload, ResolveEvent)
    now = clock.now()
    result = resolve(event.input, event.execution, deps, now, events)
    if isinstance(result, Deployment):
        return save(deps.table, result, now)
    dispatched: dict[str, Any] = encode(result)
    return dispatched


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
