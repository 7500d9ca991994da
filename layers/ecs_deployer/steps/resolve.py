"""Resolve: an execution's input → ignored, dispatched to per-app executions, or a deployment.

A push is dispatched (``domain.dispatch``); a manual request is admitted
(``domain.admission``) and its record created, before anything changes in ECS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ecs_deployer.document import Deployment
from ecs_deployer.domain import lifecycle
from ecs_deployer.domain.accounts import account_of
from ecs_deployer.domain.admission import Rejected, failed_record, prepare, vouched_for
from ecs_deployer.domain.dispatch import Dispatch, Ignored, dispatch
from ecs_deployer.errors import ConfigError, DeployerError, InputError
from ecs_deployer.history import new_record
from ecs_deployer.inputs import EcrImageActionEvent, parse_execution_input
from ecs_deployer.tracing import annotate

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer.domain.lifecycle import LifecyclePublisher
    from ecs_deployer.payloads import ExecutionContext

logger = Logger(child=True)

ResolveResult = Ignored | Dispatch | Rejected | Deployment


def resolve(
    raw_input: Any,
    context: ExecutionContext,
    deps: AdmissionDeps,
    now: datetime,
    events: LifecyclePublisher | None = None,
) -> ResolveResult:
    """The step: what the state machine does with this execution's input; ``events`` hears
    of each deployment it accepts."""
    annotate(context.Name)
    try:
        request = parse_execution_input(raw_input)
    except InputError as exc:
        return Rejected.of(exc)
    if isinstance(request, EcrImageActionEvent):
        try:
            result = dispatch(request, deps.configs, deps.table, account_of(context.Id), deps.index)
        except DeployerError as exc:  # the configs may not be read: no app to record it for
            return Rejected.of(exc)
        if isinstance(result, Ignored):
            return result
        for broken in result.broken:  # the push this app's config lost, on its record
            deps.table.create_record(
                failed_record(
                    broken.request,
                    context,
                    now,
                    error=ConfigError.__name__,
                    message=broken.message,
                )
            )
        return result.output
    request = vouched_for(request, context, deps.executions)
    annotate(context.Name, request.app)
    try:
        deployment = prepare(request, context, deps)
    except DeployerError as exc:
        deps.table.create_record(
            failed_record(request, context, now, error=exc.error_name, message=str(exc))
        )
        return Rejected.of(exc)
    deps.table.create_record(new_record(deployment, now))
    if events is not None:
        events.publish(lifecycle.started(deployment))
    logger.info("deployment accepted", extra={"app": deployment.app, "image": deployment.image.uri})
    return deployment
