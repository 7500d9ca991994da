"""Lock: acquire the app's lock (or wait, or give way), check it at safe points, release it."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import dynamodb_client, sfn_client
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.stepfunctions import Executions
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.payloads import LockEvent
from ecs_deployer.settings import Settings
from ecs_deployer.steps import locks
from ecs_deployer.steps.stored import on_stored_document
from ecs_deployer.structs import decode
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ecs_deployer.document import Deployment

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
settings = Settings.from_env()
table = DeploymentsTable(dynamodb_client(), settings.deployments_table)
executions = Executions(sfn_client)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = decode(payload, LockEvent)
    now = clock.now()

    def step(deployment: Deployment) -> Deployment:
        if event.action == "acquire":
            return locks.acquire(deployment, table, executions, now)
        if event.action == "checkpoint":
            return locks.checkpoint(
                deployment, table, executions, now, may_supersede=event.supersede
            )
        return locks.release(deployment, table, now)

    return on_stored_document(table, event.deployment, now, step)


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
