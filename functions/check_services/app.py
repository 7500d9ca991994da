"""Check services: is the rollout (or rollback) we started really complete?"""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import TargetClients, dynamodb_client
from ecs_deployer.aws.codedeploy import CodeDeployGateway
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.ecs import EcsGateway
from ecs_deployer.aws.notifications import news_for_operators
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.payloads import ModeEvent
from ecs_deployer.settings import Settings
from ecs_deployer.steps.services import check_rollback, check_services
from ecs_deployer.steps.stored import on_stored_document
from ecs_deployer.steps.waiters import announce_pauses, awaited_answer
from ecs_deployer.structs import decode
from ecs_deployer.tracing import tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ecs_deployer.document import Deployment

logger = Logger()
clock: Clock = SystemClock()  # the local cloud swaps in a faster one
settings = Settings.from_env()
table = DeploymentsTable(dynamodb_client(), settings.deployments_table)
events = news_for_operators(settings)  # its clients are made at the first PAUSE hook


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = decode(payload, ModeEvent)
    now = clock.now()

    def check(deployment: Deployment) -> Deployment:
        # ECS and CodeDeploy of the app's account, CodeDeploy's client made only if used.
        clients = TargetClients.of(deployment, settings)
        codedeploy, ecs = CodeDeployGateway(clients.codedeploy), EcsGateway(clients.ecs())
        if event.mode == "deploy":
            answer = awaited_answer(table, deployment)
            checked = check_services(deployment, ecs, now, codedeploy=codedeploy, answer=answer)
        else:
            checked = check_rollback(deployment, ecs, now, codedeploy=codedeploy)
        return announce_pauses(table, checked, now, events)

    return on_stored_document(table, event.deployment, now, check)


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
