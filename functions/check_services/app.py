"""Check services: is the rollout (or rollback) we started really complete?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from ecs_deployer.aws.clients import ecs_client
from ecs_deployer.aws.ecs import EcsGateway
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.payloads import ModeEvent
from ecs_deployer.steps.services import check_rollback, check_services

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
ecs = EcsGateway(ecs_client())


@logger.inject_lambda_context
@event_parser(model=ModeEvent)
def lambda_handler(event: ModeEvent, context: LambdaContext) -> dict[str, Any]:
    step = check_services if event.mode == "deploy" else check_rollback
    return step(event.deployment, ecs, clock.now()).to_payload()
