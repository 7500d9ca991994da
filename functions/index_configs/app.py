"""Index configs: keep the repository → apps index current (a changed config, the schedule)."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import dynamodb_client
from ecs_deployer.aws.dynamodb import ConfigIndexTable
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.settings import Settings
from ecs_deployer.steps.config_index import handle
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
settings = Settings.from_env()
# Never cached: the index must hold what the configs say now, not a minute ago.
configs = ConfigStore(settings.config_prefix, max_age=0)
index = ConfigIndexTable(dynamodb_client(), settings.deployments_table)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> None:
    handle(payload, configs, index, clock.now())


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
