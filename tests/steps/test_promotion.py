"""Promotion at Resolve (domain/promotion.py, domain/admission.py): a push deploys an app's
first environment, a success names the next environment's deployment, and that deployment
is admitted only when the previous one vouches for it."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from msgspec.structs import replace

from ecs_deployer.document import Deployment
from ecs_deployer.domain.admission import Rejected
from ecs_deployer.domain.dispatch import Dispatch, Ignored, child_execution_name
from ecs_deployer.domain.promotion import execution_name, next_start
from ecs_deployer.history import RecordUpdate, ServiceRecord
from ecs_deployer.outcome import Outcome
from ecs_deployer.steps.resolve import resolve
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.operator.configs import push_config
from tests.aws_fixtures import PREFIX, STARTED, context, push
from tests.support import load_event

if TYPE_CHECKING:
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer.domain.promotion import PromotionStart
    from ecs_deployer.outcome import DeploymentStatus

PRODUCTION_CLUSTER = "shop-production"


@pytest.fixture
def chain(seeded: sample_app.SeededApp, deps: AdmissionDeps) -> AdmissionDeps:
    """The sample app as a chain: staging on its cluster, production (gated) on another of
    the deployer's account; the stack may deploy to both clusters."""
    config = sample_app.app_config(
        seeded.subnet,
        seeded.security_group,
        environments=[
            {"name": "staging"},
            {"name": "production", "cluster": PRODUCTION_CLUSTER, "approval": "required"},
        ],
    )
    push_config(boto3.client("ssm"), PREFIX, "shop", config)
    clusters = deps.scope.clusters | {PRODUCTION_CLUSTER}
    return dataclasses.replace(deps, scope=dataclasses.replace(deps.scope, clusters=clusters))


def _push_event(digest: str) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("ecr_push"))
    event["detail"].update({"repository-name": "shop", "image-digest": digest})
    event["detail"]["image-tag"] = "v2.0.0"
    return event


def _staging(chain: AdmissionDeps) -> Deployment:
    """The push's deployment, in staging."""
    digest = push("v2.0.0")
    dispatched = resolve(_push_event(digest), context("from-event"), chain, STARTED)
    assert isinstance(dispatched, Dispatch)
    [target] = dispatched.targets
    deployment = resolve(target.input, context(target.execution_name), chain, STARTED)
    assert isinstance(deployment, Deployment)
    return deployment


def _ended(deployment: Deployment, table: DeploymentsTable, status: DeploymentStatus) -> None:
    """What Finalize leaves: the outcome on the document, the record final (naming the
    revision each service runs, as a rollback to it reads)."""
    deployment.outcome = Outcome(status=status)
    services = [
        ServiceRecord(name=service.name, task_definition_after=f"{service.name}:2")
        for service in deployment.services
    ]
    table.update_record(
        deployment,
        RecordUpdate(updated_at="2026-11-22T10:20:00.000Z", services=services).ended(
            status, STARTED, error=None, cause=None
        ),
    )


def _promote(chain: AdmissionDeps, start: PromotionStart) -> Deployment | Rejected:
    result = resolve(start.input, context(start.execution_name), chain, STARTED)
    assert isinstance(result, Deployment | Rejected)
    return result


def test_a_push_deploys_the_first_environment_as_its_own_place(
    chain: AdmissionDeps, table: DeploymentsTable
) -> None:
    staging = _staging(chain)

    assert staging.deployment_id == child_execution_name("shop", staging.image.digest or "")
    assert (staging.environment, staging.next_environment) == ("staging", "production")
    assert (staging.cluster, staging.config.environments) == (sample_app.CLUSTER, None)
    assert staging.chain_id == staging.deployment_id
    assert staging.approval_required is False
    [record] = table.history("shop")
    assert (record.environment, record.chain_id, record.promoted_from) == (
        "staging",
        staging.deployment_id,
        None,
    )


def test_a_success_names_the_next_environments_deployment_of_the_same_digest(
    chain: AdmissionDeps, table: DeploymentsTable
) -> None:
    staging = _staging(chain)
    assert staging.ref(STARTED).promote is None  # nothing before its outcome
    _ended(staging, table, "SUCCEEDED")

    start = staging.ref(STARTED).promote
    assert start is not None
    assert start.execution_name == execution_name("shop", "production", staging.deployment_id)
    assert len(execution_name("a" * 40, "b" * 20, staging.deployment_id)) <= 80
    production = _promote(chain, start)

    assert isinstance(production, Deployment)
    assert (production.image.uri, production.image.tag) == (staging.image.uri, "v2.0.0")
    assert (production.environment, production.next_environment) == ("production", None)
    assert production.cluster == PRODUCTION_CLUSTER
    assert production.chain_id == staging.deployment_id
    assert production.trigger.kind == "promotion"
    # The environment's approval gate is the deployment's.
    assert production.approval_required is True
    record = table.find_record("shop", production.deployment_id)
    assert record is not None
    assert (record.environment, record.chain_id, record.promoted_from) == (
        "production",
        staging.deployment_id,
        staging.deployment_id,
    )
    # The last environment promotes nowhere.
    _ended(production, table, "SUCCEEDED")
    assert production.ref(STARTED).promote is None


@pytest.mark.parametrize("status", ["FAILED", "ROLLED_BACK", "ROLLBACK_FAILED", "SUPERSEDED"])
def test_any_other_ending_promotes_nothing(
    chain: AdmissionDeps, table: DeploymentsTable, status: DeploymentStatus
) -> None:
    staging = _staging(chain)
    _ended(staging, table, status)

    assert next_start(staging) is None


def test_a_promotion_its_previous_deployment_does_not_vouch_for_is_refused_and_recorded(
    chain: AdmissionDeps, table: DeploymentsTable
) -> None:
    staging = _staging(chain)
    staging.outcome = Outcome(status="SUCCEEDED")  # claimed: its record is still QUEUED
    start = next_start(staging)
    assert start is not None

    refused = _promote(chain, start)

    assert isinstance(refused, Rejected)
    assert refused.outcome.error == "InputError"
    assert f"promotion: deployment '{staging.deployment_id}' did not deploy" in (
        refused.outcome.cause or ""
    )
    record = table.find_record("shop", start.execution_name)
    assert record is not None
    assert (record.status, record.environment, record.chain_id) == (
        "FAILED",
        "production",
        staging.deployment_id,
    )


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:aws:states:x"}, "did not start"),
        ({"environment": "staging"}, "does not promote to 'staging'"),
        ({"image_digest": "sha256:" + "0" * 64}, "did not deploy sha256:0000"),
    ],
)
def test_a_promotion_that_claims_more_than_its_record_says_is_refused(
    chain: AdmissionDeps, table: DeploymentsTable, change: dict[str, Any], fragment: str
) -> None:
    staging = _staging(chain)
    _ended(staging, table, "SUCCEEDED")
    start = next_start(staging)
    assert start is not None
    forged = replace(start, input={**start.input, **change})

    refused = _promote(chain, forged)

    assert isinstance(refused, Rejected)
    assert fragment in (refused.outcome.cause or ""), refused.outcome.cause


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        ({}, "environment: required: app 'shop' lists staging, production"),
        ({"environment": "qa"}, "environment: 'qa' is not one: app 'shop' lists staging"),
    ],
)
def test_a_request_names_one_of_the_apps_environments(
    chain: AdmissionDeps, request_: dict[str, Any], fragment: str
) -> None:
    push("v2.0.0")

    refused = resolve({"app": "shop", "image_tag": "v2.0.0", **request_}, context(), chain, STARTED)

    assert isinstance(refused, Rejected)
    assert fragment in (refused.outcome.cause or ""), refused.outcome.cause


def test_an_app_without_environments_refuses_one(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    push("v2.0.0")
    request = {"app": "shop", "image_tag": "v2.0.0", "environment": "staging"}

    refused = resolve(request, context(), deps, STARTED)

    assert isinstance(refused, Rejected)
    assert "environment: app 'shop' lists no environments" in (refused.outcome.cause or "")


def test_a_manual_deployment_to_staging_promotes_and_a_rollback_never_does(
    chain: AdmissionDeps, table: DeploymentsTable
) -> None:
    push("v2.0.0")
    manual = resolve(
        {"app": "shop", "image_tag": "v2.0.0", "environment": "staging"},
        context("manual-staging"),
        chain,
        STARTED,
    )
    assert isinstance(manual, Deployment)
    assert manual.next_environment == "production"
    _ended(manual, table, "SUCCEEDED")

    # Another environment's deployment is no state of this one to return to.
    across = resolve(
        {"app": "shop", "rollback_to": "manual-staging", "environment": "production"},
        context("rollback-production"),
        chain,
        STARTED,
    )
    assert isinstance(across, Rejected)
    assert "ran in environment 'staging', not 'production'" in (across.outcome.cause or "")
    rollback = resolve(
        {"app": "shop", "rollback_to": "manual-staging", "environment": "staging"},
        context("rollback-staging"),
        chain,
        STARTED,
    )
    assert isinstance(rollback, Deployment)
    assert rollback.next_environment is None


def test_a_repush_is_judged_by_the_first_environments_deployments_only(
    chain: AdmissionDeps, table: DeploymentsTable
) -> None:
    """Production's failure is no failed push: the digest reached staging, which is what a
    push deploys, so pushing it again deploys nothing."""
    staging = _staging(chain)
    _ended(staging, table, "SUCCEEDED")
    start = next_start(staging)
    assert start is not None
    production = _promote(chain, start)
    assert isinstance(production, Deployment)
    _ended(production, table, "FAILED")

    again = resolve(
        _push_event(staging.image.digest or ""), context("again"), chain, STARTED + timedelta(1)
    )

    assert isinstance(again, Ignored)
    assert f"duplicate of deployment {staging.deployment_id} (SUCCEEDED)" in again.reason
