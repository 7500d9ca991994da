"""Run tasks: start the one-off tasks of a phase (pre or post)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from ecs_deployer.aws.clients import ecs_client
from ecs_deployer.aws.ecs import EcsGateway
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.payloads import PhaseEvent
from ecs_deployer.steps.tasks import run_tasks

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
ecs = EcsGateway(ecs_client())


@logger.inject_lambda_context
@event_parser(model=PhaseEvent)
def lambda_handler(event: PhaseEvent, context: LambdaContext) -> dict[str, Any]:
    return run_tasks(event.deployment, event.phase, ecs, clock.now()).to_payload()
