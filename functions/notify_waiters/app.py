"""Notify waiters: an ECS event ends the waits of the deployments awaiting its resource."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import dynamodb_client, sfn_client
from ecs_deployer.aws.stepfunctions import TaskTokens
from ecs_deployer.aws.waiter_items import WaiterItems
from ecs_deployer.settings import Settings
from ecs_deployer.steps.notify_waiters import notify_waiters
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
settings = Settings.from_env()
waiters = WaiterItems(dynamodb_client(), settings.deployments_table)
tokens = TaskTokens(sfn_client)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    woken = notify_waiters(waiters, tokens, event, settings.allowed_clusters)
    logger.info("ECS event", extra={"detail_type": event.get("detail-type"), "woken": woken})


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
