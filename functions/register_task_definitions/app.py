"""Register task definitions: clone the running ones with the new image in the named containers."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import dynamodb_client
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.ecs import ecs_of
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.payloads import StepEvent
from ecs_deployer.settings import Settings
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer.steps.stored import on_stored_document
from ecs_deployer.structs import decode
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
settings = Settings.from_env()
table = DeploymentsTable(dynamodb_client(), settings.deployments_table)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = decode(payload, StepEvent)
    now = clock.now()
    return on_stored_document(
        table,
        event.deployment,
        now,
        lambda d: register_task_definitions(d, ecs_of(d, settings), table, settings.scope, now),
    )


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
