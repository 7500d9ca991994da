"""Register waiter: a wait's task token, stored under the ECS resources its deployment awaits,
or under the app's approval gate (announced to operators)."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import dynamodb_client
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.notifications import news_for_operators
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.errors import ResourceNotFound
from ecs_deployer.payloads import WaiterEvent
from ecs_deployer.settings import Settings
from ecs_deployer.steps.waiters import register_waiter, request_approval
from ecs_deployer.structs import decode
from ecs_deployer.tracing import annotate, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
settings = Settings.from_env()
table = DeploymentsTable(dynamodb_client(), settings.deployments_table)
events = news_for_operators(settings)  # its clients are made at the first approval


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> None:
    event = decode(payload, WaiterEvent)
    ref = event.deployment
    annotate(ref.deployment_id, ref.app)
    deployment = table.load_document(ref.app, ref.deployment_id)
    if deployment is None:
        raise ResourceNotFound(
            f"the document of deployment {ref.deployment_id} of app '{ref.app}' is missing"
        )
    if event.approval:
        deadline = request_approval(table, deployment, event.token, clock.now(), events)
        logger.info("waiting for approval", extra={"deadline": deadline.isoformat()})
        return
    keys = register_waiter(table, deployment, event.token, clock.now())
    logger.info("waiting on ECS events", extra={"awaited": len(keys)})


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
