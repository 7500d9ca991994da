"""Failure paths of the service steps and Finalize: every one ends in the right status.

A rollback is per service (one that is gone or refuses the update fails alone); a service
deleted under a rollout is a failure naming it; a deployment that changed nothing ends
FAILED, whatever the rollback path found.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import TYPE_CHECKING

import boto3
import pytest

from ecs_deployer.document import Failure
from ecs_deployer.errors import ResourceNotFound, ServiceChanged
from ecs_deployer.steps import locks
from ecs_deployer.steps.finalize import finalize
from ecs_deployer.steps.services import (
    check_rollback,
    check_services,
    start_rollback,
    update_services,
)
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.localcloud.ecs_sim import RolloutFault, RolloutOutcome
from tests.aws_fixtures import POLL_SECONDS, STARTED, AlwaysRunning, SimClock, drive, registered

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

LATER = STARTED + timedelta(minutes=1)
CLUSTER = sample_app.CLUSTER
WEB, WORKER = sample_app.WEB, sample_app.WORKER


def _locked(deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable) -> Deployment:
    """A registered deployment holding the app's lock, as after RegisterTaskDefinitions."""
    deployment = registered(deps, ecs, table)
    return locks.acquire(deployment, table, AlwaysRunning(), STARTED)


def _caught(deployment: Deployment, exc: Exception) -> Deployment:
    """What a Catch hands the next state: the document as it was, plus the error."""
    deployment.failure = Failure(error=type(exc).__name__, cause=str(exc))
    return deployment


def _rolled_out_then_failed(
    deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable, sim_clock: SimClock
) -> Deployment:
    """Both services rolled out to the new revision; the deployment then failed."""
    deployment = update_services(_locked(deps, ecs, table), ecs, table, STARTED)
    deployment = drive(lambda d: check_services(d, ecs, LATER), deployment, sim_clock)
    assert deployment.progress == "DONE"
    deployment.fail("TaskFailed", "the smoke test exited 1")
    return deployment


def _delete(service: str) -> None:
    boto3.client("ecs").delete_service(cluster=CLUSTER, service=service, force=True)


def _status_and_error(
    deployment: Deployment, table: DeploymentsTable, ecs: EcsGateway
) -> tuple[str, str | None]:
    deployment = finalize(deployment, table, ecs, frozenset({CLUSTER}), LATER)
    assert deployment.outcome is not None
    [record] = table.history(sample_app.APP)
    assert record.status == deployment.outcome.status
    assert table.read_lock(sample_app.APP, None).holder is None
    return deployment.outcome.status, deployment.outcome.error


def test_a_service_gone_before_the_rollback_fails_alone_and_the_others_roll_back(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate()
    deployment = _rolled_out_then_failed(deps, ecs, table, sim_clock)
    _delete(WORKER)
    deployment = start_rollback(deployment, ecs, table, LATER)
    deployment = drive(lambda d: check_rollback(d, ecs, LATER), deployment, sim_clock)
    web, worker = deployment.services
    assert web.rollback is not None
    assert worker.rollback is not None
    assert web.rollback.state == "COMPLETED"
    assert simulation.primary_task_definition(WEB, cluster=CLUSTER) == web.task_definition_before
    assert worker.rollback.state == "FAILED"
    assert f"service '{WORKER}' is INACTIVE" in (worker.rollback.reason or "")
    status, error = _status_and_error(deployment, table, ecs)
    assert (status, error) == ("ROLLBACK_FAILED", "RollbackFailed")


def test_an_update_service_refused_for_one_service_still_rolls_back_the_others(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    refused = "TaskDefinition is inactive"
    simulation = simulate(services={WEB: RolloutFault(rollback_error=refused)})
    deployment = _rolled_out_then_failed(deps, ecs, table, sim_clock)
    deployment = start_rollback(deployment, ecs, table, LATER)
    deployment = drive(lambda d: check_rollback(d, ecs, LATER), deployment, sim_clock)
    web, worker = deployment.services
    assert web.rollback is not None
    assert worker.rollback is not None
    assert web.rollback.state == "FAILED"
    assert f"service '{WEB}': UpdateService back to {WEB}:1 failed" in (web.rollback.reason or "")
    assert refused in (web.rollback.reason or "")
    assert simulation.primary_task_definition(WEB, cluster=CLUSTER) == web.task_definition_after
    assert worker.rollback.state == "COMPLETED"
    assert (
        simulation.primary_task_definition(WORKER, cluster=CLUSTER) == worker.task_definition_before
    )
    cause = finalize(deployment, table, ecs, deps.scope.clusters, LATER).outcome
    assert cause is not None
    assert cause.status == "ROLLBACK_FAILED"
    services = {s["name"]: s for s in json.loads(cause.cause or "")["services"]}
    assert (services[WEB]["rollback"], services[WORKER]["rollback"]) == ("FAILED", "COMPLETED")
    assert refused in services[WEB]["reason"]
    [record] = table.history(sample_app.APP)
    assert {s.name: s.state for s in record.services} == {WEB: "FAILED", WORKER: "COMPLETED"}


@pytest.mark.parametrize("state", ["DRAINING", "INACTIVE"])
def test_a_service_deleted_mid_rollout_is_a_failure_naming_it(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    state: str,
    sim_clock: SimClock,
) -> None:
    # The simulation's fault drains web after one check; DeleteService on moto makes it
    # INACTIVE at once. Either way: never a success, never a crash.
    fault = RolloutFault(RolloutOutcome.DELETED, seconds=10)
    simulate(services={WEB: fault} if state == "DRAINING" else {})
    deployment = update_services(_locked(deps, ecs, table), ecs, table, STARTED)
    if state == "INACTIVE":
        _delete(WEB)
    sim_clock.advance(POLL_SECONDS)
    deployment = check_services(deployment, ecs, LATER)
    assert deployment.progress == "FAILED"
    assert deployment.failure is not None
    assert deployment.failure.error == "RolloutFailed"
    assert f"service '{WEB}': is {state} in cluster '{CLUSTER}'" in deployment.failure.cause
    deployment = start_rollback(deployment, ecs, table, LATER)
    deployment = drive(lambda d: check_rollback(d, ecs, LATER), deployment, sim_clock)
    web, worker = deployment.services
    assert web.rollback is not None
    assert worker.rollback is not None
    assert (web.rollback.state, worker.rollback.state) == ("FAILED", "COMPLETED")
    assert _status_and_error(deployment, table, ecs) == ("ROLLBACK_FAILED", "RollbackFailed")


def test_a_service_deleted_before_the_rollout_changes_nothing(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulation = simulate()
    deployment = _locked(deps, ecs, table)
    _delete(WEB)
    with pytest.raises(ResourceNotFound, match=f"service '{WEB}' is INACTIVE") as raised:
        update_services(copy.deepcopy(deployment), ecs, table, STARTED)
    deployment = start_rollback(_caught(deployment, raised.value), ecs, table, LATER)
    assert deployment.progress == "DONE"  # nothing to wait for
    assert {s.rollback.state for s in deployment.services if s.rollback} == {"NOT_NEEDED"}
    assert simulation.primary_task_definition(WORKER, cluster=CLUSTER).endswith(f"{WORKER}:1")
    assert _status_and_error(deployment, table, ecs) == ("FAILED", "ResourceNotFound")


def test_service_changed_before_the_rollout_ends_failed_not_rollback_failed(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate()
    deployment = _locked(deps, ecs, table)
    moved_to = seeded.task_definitions[sample_app.MIGRATE]
    boto3.client("ecs").update_service(cluster=CLUSTER, service=WEB, taskDefinition=moved_to)
    sim_clock.advance(60)  # ECS's describes show it a minute later
    with pytest.raises(ServiceChanged) as raised:
        update_services(copy.deepcopy(deployment), ecs, table, STARTED)
    deployment = start_rollback(_caught(deployment, raised.value), ecs, table, LATER)
    web, worker = deployment.services
    assert web.rollback is not None
    assert worker.rollback is not None
    assert (web.rollback.state, worker.rollback.state) == ("NOT_NEEDED", "NOT_NEEDED")
    assert "deployed by someone else; never updated by this deployment" in (
        web.rollback.reason or ""
    )
    # Someone else's deployment is left alone; nothing of ours ran anywhere.
    assert simulation.primary_task_definition(WEB, cluster=CLUSTER) == moved_to
    assert simulation.primary_task_definition(WORKER, cluster=CLUSTER).endswith(f"{WORKER}:1")
    assert _status_and_error(deployment, table, ecs) == ("FAILED", "ServiceChanged")


def test_services_updated_before_a_service_changed_are_still_rolled_back(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate()
    deployment = _locked(deps, ecs, table)
    # A first attempt updated both services and crashed before answering...
    update_services(copy.deepcopy(deployment), ecs, table, STARTED)
    moved_to = seeded.task_definitions[sample_app.MIGRATE]
    boto3.client("ecs").update_service(cluster=CLUSTER, service=WEB, taskDefinition=moved_to)
    sim_clock.advance(60)  # ECS's describes show it a minute later
    # ...and by the retry someone else had moved web: ServiceChanged, caught.
    with pytest.raises(ServiceChanged) as raised:
        update_services(copy.deepcopy(deployment), ecs, table, STARTED)
    deployment = start_rollback(_caught(deployment, raised.value), ecs, table, LATER)
    deployment = drive(lambda d: check_rollback(d, ecs, LATER), deployment, sim_clock)
    web, worker = deployment.services
    assert web.rollback is not None
    assert worker.rollback is not None
    assert (web.rollback.state, worker.rollback.state) == ("NOT_NEEDED", "COMPLETED")
    assert (
        simulation.primary_task_definition(WORKER, cluster=CLUSTER) == worker.task_definition_before
    )
    assert simulation.primary_task_definition(WEB, cluster=CLUSTER) == moved_to
    assert _status_and_error(deployment, table, ecs) == ("ROLLED_BACK", "ServiceChanged")


def test_a_rollback_step_that_kept_failing_is_judged_from_what_ecs_runs(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate()
    # UpdateServices and RollbackServices both crashed on every attempt: nothing changed.
    untouched = _locked(deps, ecs, table)
    untouched.failure = Failure(error="Runtime.ExitError", cause="crashed")
    untouched.rollback_error = Failure(error="Runtime.ExitError", cause="crashed")
    assert _status_and_error(copy.deepcopy(untouched), table, ecs) == (
        "FAILED",
        "DeploymentError",
    )


def test_a_rollback_that_never_finished_is_rollback_failed(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate()
    # The rollout ran; the rollback started, then CheckRollback crashed on every attempt.
    deployment = _rolled_out_then_failed(deps, ecs, table, sim_clock)
    deployment = start_rollback(deployment, ecs, table, LATER)
    deployment.rollback_error = Failure(error="Sandbox.Timedout", cause="Task timed out")
    deployment = finalize(deployment, table, ecs, deps.scope.clusters, LATER)
    assert deployment.outcome is not None
    assert deployment.outcome.status == "ROLLBACK_FAILED"
    for service in json.loads(deployment.outcome.cause or "")["services"]:
        assert service["rollback"] == "FAILED"
        assert "the rollback did not finish: Sandbox.Timedout" in service["reason"]
