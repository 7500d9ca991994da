from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from msgspec.structs import replace

from ecs_deployer.document import Deployment, Failure, ServiceRollback
from ecs_deployer.domain.taskdef import REGISTERED_BY_US
from ecs_deployer.steps import locks
from ecs_deployer.steps.finalize import finalize, prune_revisions
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer_tools.demo import sample_app
from tests.aws_fixtures import STARTED, AlwaysRunning, accepted

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.aws.stepfunctions import Executions
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation


def _deployment(
    deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable, tag: str = "v2.0.0"
) -> Deployment:
    """A registered deployment holding the app's lock."""
    deployment = accepted(deps, tag, name=f"run-{tag.replace('.', '-')}")
    locks.acquire(deployment, table, AlwaysRunning(), STARTED)
    return register_task_definitions(deployment, ecs, table, deps.scope, STARTED)


def test_success_is_recorded_and_releases_the_lock(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = finalize(_deployment(deps, ecs, table), table, ecs, deps.scope.clusters, STARTED)
    assert deployment.outcome is not None
    assert deployment.outcome.status == "SUCCEEDED"
    assert deployment.outcome.error is None
    summary = deployment.outcome.summary
    assert summary is not None
    assert [s.name for s in summary.services] == ["shop-web", "shop-worker"]
    # Reported from ECS: nothing rolled the services out in this test, so they run what
    # they ran before, with the images they had; the clone is named as registered.
    web = summary.services[0]
    assert web.task_definition_after == web.task_definition_before
    assert web.task_definition_before == seeded.task_definitions["shop-web"]
    assert web.images_after["app"] == seeded.initial_image
    assert (web.task_definition_registered or "").endswith("shop-web:2")
    [record] = table.history("shop")
    assert (record.status, record.finished_at is not None) == ("SUCCEEDED", True)
    assert table.read_lock("shop", None).holder is None


def test_failure_keeps_the_original_cause_without_traces(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = _deployment(deps, ecs, table)
    lambda_error = {
        "errorMessage": "task definition 'x' not found",
        "errorType": "ResourceNotFound",
        "stackTrace": ["  File secret.py"],
    }
    deployment.failure = Failure(error="ResourceNotFound", cause=json.dumps(lambda_error))
    deployment = finalize(deployment, table, ecs, deps.scope.clusters, STARTED)
    assert deployment.outcome is not None
    assert (deployment.outcome.status, deployment.outcome.error) == ("FAILED", "ResourceNotFound")
    cause = json.loads(deployment.outcome.cause or "")
    assert cause["message"] == "task definition 'x' not found"
    assert "stackTrace" not in (deployment.outcome.cause or "")
    [record] = table.history("shop")
    assert (record.status, record.error, record.cause) == (
        "FAILED",
        "ResourceNotFound",
        "task definition 'x' not found",
    )


@pytest.mark.parametrize("error", ["ApprovalRejected", "ApprovalTimedOut"])
def test_a_gate_not_approved_ends_rejected_changing_nothing_and_releases_the_lock(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    error: str,
) -> None:
    deployment = _deployment(deps, ecs, table)
    deployment.failure = Failure(error=error, cause="rejected by alice: not on a Friday")
    deployment = finalize(deployment, table, ecs, deps.scope.clusters, STARTED)
    assert deployment.outcome is not None
    assert (deployment.outcome.status, deployment.outcome.error) == ("REJECTED", error)
    summary = deployment.outcome.summary
    assert summary is not None
    assert all(s.task_definition_after == s.task_definition_before for s in summary.services)
    assert json.loads(deployment.outcome.cause or "")["status"] == "REJECTED"
    [record] = table.history("shop")
    assert (record.status, record.error) == ("REJECTED", error)
    assert table.read_lock("shop", None).holder is None


def test_unexpected_errors_end_as_deployment_error_with_the_original_name_kept(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = _deployment(deps, ecs, table)
    deployment.failure = Failure(error="Lambda.Unknown", cause="The Lambda crashed")
    deployment = finalize(deployment, table, ecs, deps.scope.clusters, STARTED)
    assert deployment.outcome is not None
    assert deployment.outcome.error == "DeploymentError"
    assert json.loads(deployment.outcome.cause or "")["error"] == "Lambda.Unknown"


def test_rolled_back_and_rollback_failed(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = _deployment(deps, ecs, table)
    deployment.failure = Failure(
        error="RolloutFailed", cause="service 'shop-web': tasks failed to start"
    )
    deployment.services[0].rollback = ServiceRollback(state="COMPLETED")
    deployment.services[1].rollback = ServiceRollback(state="NOT_NEEDED")
    rolled_back = finalize(copy.deepcopy(deployment), table, ecs, deps.scope.clusters, STARTED)
    assert rolled_back.outcome is not None
    assert (rolled_back.outcome.status, rolled_back.outcome.error) == (
        "ROLLED_BACK",
        "RolloutFailed",
    )
    cause = json.loads(rolled_back.outcome.cause or "")
    assert cause["status"] == "ROLLED_BACK"
    assert cause["message"] == "service 'shop-web': tasks failed to start"
    assert [s["rollback"] for s in cause["services"]] == ["COMPLETED", "NOT_NEEDED"]

    deployment.services[1].rollback = ServiceRollback(state="TIMED_OUT", reason="not steady")
    failed = finalize(deployment, table, ecs, deps.scope.clusters, STARTED)
    assert failed.outcome is not None
    assert (failed.outcome.status, failed.outcome.error) == ("ROLLBACK_FAILED", "RollbackFailed")
    assert json.loads(failed.outcome.cause or "")["error"] == "RolloutFailed"


def test_superseded(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = _deployment(deps, ecs, table)
    deployment.lock.status = "SUPERSEDED"
    deployment = finalize(deployment, table, ecs, deps.scope.clusters, STARTED)
    assert deployment.outcome is not None
    assert deployment.outcome.status == "SUPERSEDED"
    assert table.history("shop")[0].status == "SUPERSEDED"


def _register_worker_revisions(revisions: range, *, by_us: bool = True) -> list[str]:
    """More revisions of shop-worker, each with its own command: registered by the deployer
    (marked as such), or by someone else."""
    client = boto3.client("ecs")
    described = client.describe_task_definition(taskDefinition="shop-worker")["taskDefinition"]
    tags = {"tags": [REGISTERED_BY_US]} if by_us else {}
    return [
        client.register_task_definition(
            family="shop-worker",
            containerDefinitions=[
                {**described["containerDefinitions"][0], "command": [f"v{revision}"]}
            ],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            **tags,  # type: ignore[arg-type]
        )["taskDefinition"]["taskDefinitionArn"]
        for revision in revisions
    ]


def test_prune_keeps_recent_in_use_and_rollback_targets(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate()
    client = boto3.client("ecs")
    _register_worker_revisions(range(2, 8))  # shop-worker:2 .. :7, none in use
    deployment = _deployment(deps, ecs, table, "v3.0.0")  # registers shop-worker:8
    deployment.config = replace(deployment.config, keep_revisions=2)
    deregistered = prune_revisions(deployment, ecs, deps.scope.clusters)
    remaining = client.list_task_definitions(familyPrefix="shop-worker", status="ACTIVE")[
        "taskDefinitionArns"
    ]
    revisions = sorted(int(arn.rsplit(":", 1)[-1]) for arn in remaining)
    # :1 runs (and is the rollback target), :8 is the new one, :7 is among the 2 newest.
    assert revisions == [1, 7, 8]
    assert sorted(int(arn.rsplit(":", 1)[-1]) for arn in deregistered if "shop-worker" in arn) == [
        2,
        3,
        4,
        5,
        6,
    ]
    # Other families of the app are pruned by the same rule, never below what runs.
    assert all("shop-web:1" not in arn for arn in deregistered)


def test_prune_deregisters_only_our_revisions_and_none_any_allowed_cluster_runs(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate()
    client = boto3.client("ecs")
    theirs = _register_worker_revisions(range(2, 4), by_us=False)  # another team's tooling
    ours = _register_worker_revisions(range(4, 7))  # :4 .. :6
    # :5 runs in another cluster this stack may deploy to.
    client.create_cluster(clusterName="shop-staging")
    client.create_service(
        cluster="shop-staging",
        serviceName="worker",
        taskDefinition=ours[1],
        desiredCount=1,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [seeded.subnet],
                "securityGroups": [seeded.security_group],
            }
        },
    )
    deployment = _deployment(deps, ecs, table, "v3.0.0")  # registers shop-worker:7
    deployment.config = replace(deployment.config, keep_revisions=1)
    clusters = deps.scope.clusters | {"shop-staging"}

    deregistered = prune_revisions(deployment, ecs, clusters)

    assert sorted(arn for arn in deregistered if "shop-worker" in arn) == [ours[0], ours[2]]
    for arn in [*theirs, ours[1]]:
        described = client.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        assert described["status"] == "ACTIVE"


class _CountingEcs:
    """The ECS gateway, counting the families whose revisions are listed."""

    def __init__(self, ecs: EcsGateway) -> None:
        self._ecs = ecs
        self.listed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ecs, name)

    def family_revisions(self, family: str) -> list[str]:
        self.listed.append(family)
        return self._ecs.family_revisions(family)


def test_prune_lists_only_families_that_may_hold_more_than_keep_revisions(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = _deployment(deps, ecs, table)  # every family's newest revision is :2
    counting = _CountingEcs(ecs)
    assert prune_revisions(deployment, counting, deps.scope.clusters) == []  # type: ignore[arg-type]
    assert counting.listed == []
    deployment.config = replace(deployment.config, keep_revisions=1)
    prune_revisions(deployment, counting, deps.scope.clusters)  # type: ignore[arg-type]
    assert sorted(counting.listed) == sorted(
        {sample_app.WEB, sample_app.WORKER, sample_app.MIGRATE, sample_app.SMOKE_TEST}
    )


def test_release_after_a_finalize_failure(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    executions: Executions,
) -> None:
    deployment = _deployment(deps, ecs, table)
    assert table.read_lock("shop", None).holder is not None
    locks.release(deployment, table, STARTED)
    assert table.read_lock("shop", None).holder is None


class _RecordingEcs:
    """The ECS gateway, noting the deployment's record status at each deregistration."""

    def __init__(self, ecs: EcsGateway, table: DeploymentsTable) -> None:
        self._ecs, self._table = ecs, table
        self.statuses_seen: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ecs, name)

    def deregister_task_definition(self, arn: str) -> None:
        self.statuses_seen.append(self._table.history("shop")[0].status)
        self._ecs.deregister_task_definition(arn)


def test_pruning_comes_after_the_outcome_and_spreads_over_deployments(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate()
    _register_worker_revisions(range(2, 47))  # shop-worker:2 .. :46, none in use
    deployment = _deployment(deps, ecs, table, "v3.0.0")  # registers shop-worker:47
    deployment.config = replace(deployment.config, keep_revisions=2)
    recording = _RecordingEcs(ecs, table)
    finalized = finalize(deployment, table, recording, deps.scope.clusters, STARTED)  # type: ignore[arg-type]
    assert finalized.outcome is not None
    assert finalized.outcome.summary is not None
    deregistered = finalized.outcome.summary.deregistered or []
    worker = [int(arn.rsplit(":", 1)[-1]) for arn in deregistered if "shop-worker" in arn]
    # Oldest first, a bounded number per Finalize; the rest waits for the next deployment.
    assert worker == list(range(2, 22))
    assert len(deregistered) == 20
    # The record was final and the lock free before the first deregistration.
    assert set(recording.statuses_seen) == {"SUCCEEDED"}
    assert table.read_lock("shop", None).holder is None
    again = prune_revisions(deployment, ecs, deps.scope.clusters)
    assert [int(arn.rsplit(":", 1)[-1]) for arn in again] == list(range(22, 42))
