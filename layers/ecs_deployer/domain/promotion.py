"""Promotion: one push, several environments.

An app whose config lists ``environments`` deploys a push to the first one. When the
deployment in one environment ends SUCCEEDED, Finalize's result names the deployment of the
next environment (``next_start``): the same digest, the same repository and tag, carrying
the chain's id (its first deployment's) and the previous deployment's id. The state machine
starts it (``StartPromotion`` in the ASL).

Why the state machine starts it, not a rule on the "Deployment Succeeded" event: the
execution's name derives from the previous deployment, so Step Functions starts it once
however often the state is retried (an EventBridge target starts an execution per delivery,
and EventBridge delivers at least once); events are best effort, and one left unpublished
would stop a chain without a word; and the state machine's role may already start its own
executions (Dispatch), so no function gets a new grant and no circular reference appears.

Any other ending (FAILED, ROLLED_BACK, ROLLBACK_FAILED, ABORTED, SUPERSEDED, a rejection at
Resolve) starts nothing: the chain stops there, and ``ecs-deployer history`` says where.
A rollback (``rollback_to``, ``undo``) returns one environment to an earlier state and
promotes nothing.

Each environment has its own lock and its own records, so two environments of one app
deploy at the same time (staging takes the next push while production waits for its
approval). That is safe because environments never share a cluster (the config refuses
two on one account, region and cluster), so their deployments touch different services.

The next deployment's Resolve vouches for the promotion (``vouch``): the previous
deployment's record says it SUCCEEDED with this digest, one environment before this one, in
this chain, and its execution started this one. A promotion that is not so is refused.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ecs_deployer.errors import FieldError, InputError
from ecs_deployer.inputs import ManualRequest, Promotion, Trigger
from ecs_deployer.structs import Frozen, encode

if TYPE_CHECKING:
    from ecs_deployer.config.models import AppConfig
    from ecs_deployer.document import Deployment
    from ecs_deployer.history import HistoryRecord

# The hash of the previous deployment's id that names the next one: with an app name (40)
# and an environment name (20), within Step Functions' 80 characters.
_NAME_HASH_LENGTH = 16


class PromotionStart(Frozen, kw_only=True, frozen=True):
    """The execution the state machine starts for the next environment."""

    environment: str
    execution_name: str
    input: dict[str, Any]


def execution_name(app: str, environment: str, previous_deployment_id: str) -> str:
    """One name per previous deployment: Step Functions refuses a second execution of it."""
    digest = hashlib.sha256(previous_deployment_id.encode()).hexdigest()[:_NAME_HASH_LENGTH]
    return f"{app}-{environment}-{digest}"


def next_start(deployment: Deployment) -> PromotionStart | None:
    """The next environment's deployment, once this one ended SUCCEEDED; None otherwise."""
    outcome = deployment.outcome
    following = deployment.next_environment
    if following is None or outcome is None or outcome.status != "SUCCEEDED":
        return None
    image = deployment.image
    request = ManualRequest(
        app=deployment.app,
        environment=following,
        repository=image.repository,
        image_digest=image.digest,
        image_tag=image.tag,
        promotion=Promotion(
            chain_id=deployment.chain_id or deployment.deployment_id,
            previous_deployment_id=deployment.deployment_id,
        ),
        trigger=Trigger(kind="promotion"),
        # Step Functions' own key (its encoded name): the console links the two executions.
        started_by=deployment.execution_arn,
    )
    return PromotionStart(
        environment=following,
        execution_name=execution_name(deployment.app, following, deployment.deployment_id),
        input=encode(request),
    )


def environment_of(request: ManualRequest, config: AppConfig) -> str | None:
    """The environment a request deploys in: one the app lists, named by the request (every
    request names it, so that the lock and records it uses are never a guess)."""
    if config.environments is None:
        if request.environment is not None:
            problem = f"app '{request.app}' lists no environments"
            raise InputError("invalid manual input", [FieldError("environment", problem)])
        return None
    names = [environment.name for environment in config.environments]
    if request.environment not in names:
        given = f"'{request.environment}' is not one" if request.environment else "required"
        problem = f"{given}: app '{request.app}' lists {', '.join(names)}"
        raise InputError("invalid manual input", [FieldError("environment", problem)])
    return request.environment


def vouch(request: ManualRequest, config: AppConfig, previous: HistoryRecord | None) -> None:
    """Refuse a promotion its previous deployment (``previous``, its record) does not
    vouch for."""
    promotion = request.promotion
    if promotion is None:
        return
    wanted = f"deployment '{promotion.previous_deployment_id}'"
    if previous is None:
        problem = f"app '{request.app}' has no {wanted}"
    elif previous.status != "SUCCEEDED" or previous.digest != request.image_digest:
        problem = f"{wanted} did not deploy {request.image_digest} with success ({previous.status})"
    elif (previous.chain_id, previous.execution_arn) != (promotion.chain_id, request.started_by):
        problem = f"{wanted} is not of chain '{promotion.chain_id}', or did not start this one"
    elif _after(config, previous.environment) != request.environment:
        problem = (
            f"{wanted} in '{previous.environment}' does not promote to '{request.environment}'"
        )
    else:
        return
    raise InputError("invalid manual input", [FieldError("promotion", problem)])


def _after(config: AppConfig, environment: str | None) -> str | None:
    names = [listed.name for listed in config.environments or []]
    if environment not in names:
        return None
    following = config.next_environment(environment)
    return following.name if following is not None else None
