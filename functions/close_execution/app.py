"""Close execution: an execution ended without finalising (it failed, timed out or was
stopped); close the records it left open and release its lock."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import dynamodb_client, sfn_client
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.ecs import ecs_of
from ecs_deployer.aws.notifications import news_for_operators
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.aws.stepfunctions import Executions
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.settings import Settings
from ecs_deployer.steps.close import CloseDeps, ExecutionStatusChange, close_execution
from ecs_deployer.structs import decode
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in its own
settings = Settings.from_env()
deps = CloseDeps(
    configs=ConfigStore(settings.config_prefix),
    table=DeploymentsTable(dynamodb_client(), settings.deployments_table),
    ecs=lambda deployment: ecs_of(deployment, settings),
    executions=Executions(sfn_client),
    events=news_for_operators(settings),
)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = decode(payload, ExecutionStatusChange)
    closed = close_execution(event.detail, deps, clock.now())
    logger.info("execution closed", extra={"execution": event.detail.name, "closed": closed})
    return {"execution": event.detail.execution_arn, "closed": closed}


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
