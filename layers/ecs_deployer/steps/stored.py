"""Run a step on the stored deployment document: what every step handler after Resolve does.

The state machine passes a ``DeploymentRef``; the document it names is loaded from the
deployments table, given the failures only the state knows (Catch results), handed to the
step, saved, and answered with a fresh ref. A step that raises saves nothing, so the ASL's
Catch sees the document as it was before the step, as it would with the document in state.
A step that changed nothing (a poll that learnt nothing new) stores nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecs_deployer.errors import ResourceNotFound
from ecs_deployer.structs import encode_json
from ecs_deployer.tracing import annotate

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.document import Deployment, DeploymentRef


def on_stored_document(
    table: DeploymentsTable,
    ref: DeploymentRef,
    now: datetime,
    step: Callable[[Deployment], Deployment],
) -> dict[str, Any]:
    annotate(ref.deployment_id, ref.app)
    deployment = table.load_document(ref.app, ref.deployment_id)
    if deployment is None:
        raise ResourceNotFound(
            f"the document of deployment {ref.deployment_id} of app '{ref.app}' is missing"
        )
    stored = encode_json(deployment)
    deployment.absorb(ref)
    return save(table, step(deployment), now, stored=stored)


def save(
    table: DeploymentsTable, deployment: Deployment, now: datetime, stored: bytes | None = None
) -> dict[str, Any]:
    """Store the document, unless it still is what was ``stored`` (a poll that learnt nothing
    new costs no write); its ref is the step's result."""
    deployment.track_wait(now)
    if encode_json(deployment) != stored:
        table.save_document(deployment, now)
    return deployment.ref(now).to_payload()
