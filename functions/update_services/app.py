"""Update services: start the rollout to the new revisions, or the rollback to the old ones."""

from __future__ import annotations

import gc

gc.disable()  # until the init's end: all it makes lives on (docs/benchmarks.md)

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.aws.clients import TargetClients, dynamodb_client
from ecs_deployer.aws.codedeploy import CodeDeployGateway
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.ecs import EcsGateway
from ecs_deployer.clock import Clock, SystemClock
from ecs_deployer.payloads import ModeEvent
from ecs_deployer.settings import Settings
from ecs_deployer.steps.services import start_rollback, update_services
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


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = decode(payload, ModeEvent)
    step = update_services if event.mode == "deploy" else start_rollback
    now = clock.now()

    def update(deployment: Deployment) -> Deployment:
        # ECS and CodeDeploy of the app's account, CodeDeploy's client made only if used.
        clients = TargetClients.of(deployment, settings)
        codedeploy = CodeDeployGateway(clients.codedeploy)
        return step(deployment, EcsGateway(clients.ecs()), table, now, codedeploy=codedeploy)

    return on_stored_document(table, event.deployment, now, update)


# The init is over: what it made stays out of every later collection's scan.
gc.freeze()
gc.enable()
