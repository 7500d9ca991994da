from __future__ import annotations

import copy
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ecs_deployer.document import Deployment
from ecs_deployer.errors import ServiceChanged
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer.steps.resolve import resolve
from ecs_deployer.steps.services import (
    check_rollback,
    check_services,
    start_rollback,
    update_services,
)
from ecs_deployer.structs import decode, encode
from ecs_deployer_tools.localcloud.ecs_sim import RolloutFault, RolloutOutcome
from tests.aws_fixtures import STARTED, SimClock, context, drive, registered

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

LATER = STARTED + timedelta(minutes=1)
# ECS is eventually consistent: right after UpdateService, a describe or two may still show
# a service's previous deployments.
STALE = {"service_describe_lag": 2}


def _roll_out(
    deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable, sim_clock: SimClock
) -> Deployment:
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    return drive(lambda d: check_services(d, ecs, LATER), deployment, sim_clock)


def _roll_back(
    deployment: Deployment, ecs: EcsGateway, table: DeploymentsTable, sim_clock: SimClock
) -> Deployment:
    deployment = start_rollback(deployment, ecs, table, LATER)
    return drive(lambda d: check_rollback(d, ecs, LATER), deployment, sim_clock)


def _counted(ecs: EcsGateway, monkeypatch: pytest.MonkeyPatch, *names: str) -> list[str]:
    """The names of the gateway's `names` methods, in the order they are called from now."""
    calls: list[str] = []

    def counted(name: str) -> Callable[..., Any]:
        method = getattr(ecs, name)

        def call(*args: Any) -> Any:
            calls.append(name)
            return method(*args)

        return call

    for name in names:
        monkeypatch.setattr(ecs, name, counted(name))
    return calls


def test_rollout_completes_on_the_new_revision(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate(**STALE)
    deployment = _roll_out(deps, ecs, table, sim_clock)
    assert deployment.progress == "DONE"
    for service in deployment.services:
        assert service.state == "COMPLETED"
        assert (service.started_at, service.ended_at) == (STARTED, LATER)  # its duration
        assert (
            simulation.primary_task_definition(service.name, cluster="shop-demo")
            == service.task_definition_after
        )
        assert (
            service.ecs_deployment_id
            == simulation.deployments(service.name, cluster="shop-demo")[0].id
        )
    [record] = table.history("shop")
    assert record.status == "IN_PROGRESS"


def test_checks_of_a_rollout_under_way_read_only_its_service_deployments(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulate(**STALE)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    calls = _counted(ecs, monkeypatch, "describe_services", "describe_service_deployments")
    progress: list[str] = []

    def check(current: Deployment) -> Deployment:
        checked = check_services(current, ecs, LATER)
        progress.append(checked.services[0].progress or "")
        return checked

    deployment = drive(check, deployment, sim_clock)

    assert deployment.progress == "DONE"
    # One DescribeServiceDeployments a round, for both services; no DescribeServices: the
    # service deployments carry the verdicts and their target revisions' tasks.
    assert calls == ["describe_service_deployments"] * len(progress)
    assert len(progress) > 1
    assert progress[-1] == "2/2 running"


def test_unchanged_revision_is_forced_to_fresh_tasks(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate(**STALE)
    ecs.describe_services("shop-demo", seeded.services)  # the simulation adopts them as they are
    before = {name: simulation.deployments(name, cluster="shop-demo") for name in seeded.services}
    deployment = resolve({"app": "shop", "image_tag": "v1.0.0"}, context(), deps, STARTED)
    assert isinstance(deployment, Deployment)
    deployment = update_services(
        register_task_definitions(deployment, ecs, table, deps.scope, STARTED), ecs, table, STARTED
    )
    deployment = drive(lambda d: check_services(d, ecs, LATER), deployment, sim_clock)
    assert deployment.progress == "DONE"
    for service in deployment.services:
        assert not service.changed
        assert service.ecs_deployment_id not in {record.id for record in before[service.name]}


@pytest.mark.parametrize(
    ("outcome", "state", "fragment"),
    [
        (RolloutOutcome.FAIL, "FAILED", "circuit breaker"),
        (RolloutOutcome.AUTO_ROLLBACK, "ROLLED_BACK_BY_ECS", "ECS rolled the deployment back"),
    ],
)
def test_failed_or_ecs_rolled_back_rollouts_are_failures(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    outcome: RolloutOutcome,
    state: str,
    fragment: str,
    sim_clock: SimClock,
) -> None:
    simulate(services={"shop-web": RolloutFault(outcome, seconds=20)}, **STALE)
    deployment = _roll_out(deps, ecs, table, sim_clock)
    assert deployment.progress == "FAILED"
    web = deployment.services[0]
    assert web.state == state
    assert deployment.failure is not None
    assert deployment.failure.error == "RolloutFailed"
    assert "service 'shop-web': " in deployment.failure.cause
    assert fragment in deployment.failure.cause


def test_a_rollout_that_never_stabilises_times_out(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate(services={"shop-web": RolloutFault(RolloutOutcome.NEVER_STABLE)}, **STALE)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    for _ in range(3):
        deployment = check_services(deployment, ecs, LATER)
    assert deployment.progress == "WAIT"
    # A minute short of shop-web's max_wait (15, ECS Toolkit's default), then at it.
    assert check_services(deployment, ecs, STARTED + timedelta(minutes=14)).progress == "WAIT"
    deployment = check_services(deployment, ecs, STARTED + timedelta(minutes=15))
    assert deployment.failure is not None
    assert deployment.failure.error == "DeployTimeout"
    assert "service 'shop-web': not steady after 15 min" in deployment.failure.cause


def _baking_an_hour(ecs: EcsGateway) -> None:
    """shop-web deploys BLUE_GREEN with an hour's bake: its wait budget is 15 + 60 min."""
    boto3.client("ecs").update_service(
        cluster="shop-demo",
        service="shop-web",
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60},
    )


def test_a_blue_green_bake_time_lengthens_the_wait_budget(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulate(services={"shop-web": RolloutFault(RolloutOutcome.NEVER_STABLE)})
    _baking_an_hour(ecs)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    sim_clock.advance(30)  # shop-worker's rollout completes
    deployment = check_services(deployment, ecs, LATER)
    calls = _counted(ecs, monkeypatch, "describe_services", "describe_service_deployments")

    # Past shop-web's max_wait (15 min), inside it plus the hour's bake: still waiting.
    deployment = check_services(deployment, ecs, STARTED + timedelta(minutes=74))
    assert deployment.progress == "WAIT"
    deployment = check_services(deployment, ecs, STARTED + timedelta(minutes=75))
    assert deployment.failure is not None
    assert deployment.failure.error == "DeployTimeout"
    assert "service 'shop-web': not steady after 75 min" in deployment.failure.cause
    # The budget was kept when UpdateServices read the service: no round describes it.
    assert calls == ["describe_service_deployments"] * 2


def test_a_document_stored_without_the_wait_budget_reads_the_strategy_once(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulate(services={"shop-web": RolloutFault(RolloutOutcome.NEVER_STABLE)})
    _baking_an_hour(ecs)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    stored = encode(deployment)
    for service in stored["services"]:
        del service["wait_budget"]  # as UpdateServices stored it before it kept the budget
    deployment = decode(stored, Deployment)
    calls = _counted(ecs, monkeypatch, "describe_services")

    # Within max_wait, the service deployment alone judges; past it, the service is read
    # once for its strategy's time.
    for minutes in (14, 16, 74):
        deployment = check_services(deployment, ecs, STARTED + timedelta(minutes=minutes))
        assert deployment.services[0].state == "IN_PROGRESS"
    deployment = check_services(deployment, ecs, STARTED + timedelta(minutes=75))
    assert deployment.services[0].state == "TIMED_OUT"
    assert calls == ["describe_services"]


@pytest.mark.parametrize(
    ("wait_until", "state"), [("COMPLETED", "IN_PROGRESS"), ("BAKE_TIME", "COMPLETED")]
)
def test_a_service_waits_until_its_configured_stage(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    wait_until: Any,
    state: str,
) -> None:
    simulate()
    client = boto3.client("ecs")
    for name in seeded.services:
        client.update_service(
            cluster="shop-demo",
            service=name,
            deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60},
        )
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    for service in deployment.services:
        service.wait_until = wait_until
    arns = [service.service_deployment_arn or "" for service in deployment.services]

    def stages() -> set[str]:
        described = client.describe_service_deployments(serviceDeploymentArns=arns)
        return {d.get("lifecycleStage", "") for d in described["serviceDeployments"]}

    # The simulated ECS takes both through their stages: production traffic has shifted,
    # and the hour's bake begins.
    while stages() != {"BAKE_TIME"}:
        assert sim_clock() < STARTED + timedelta(minutes=10), stages()
        sim_clock.advance(10)

    deployment = check_services(deployment, ecs, sim_clock())

    assert [service.state for service in deployment.services] == [state, state]
    assert all("BAKE_TIME" in (service.progress or "") for service in deployment.services)


def test_an_ecs_rollback_already_over_is_judged_when_the_rollback_starts(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    # No event will end a wait for it: it came before the rollback started.
    simulate(services={"shop-web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=20)})
    deployment = _roll_out(deps, ecs, table, sim_clock)
    sim_clock.advance(60)  # ECS's rollback, a step after the failure, is over

    deployment = start_rollback(deployment, ecs, table, sim_clock())

    web, worker = deployment.services
    assert web.rollback is not None
    assert (web.rollback.state, web.rollback.reason) == ("COMPLETED", "rolled back by ECS")
    assert worker.rollback is not None
    assert worker.rollback.state == "IN_PROGRESS"  # ours, UpdateService back: awaited


def test_rollback_returns_changed_services_and_follows_an_ecs_rollback(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate(
        services={"shop-web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=20)}, **STALE
    )
    deployment = _roll_out(deps, ecs, table, sim_clock)
    updates_before = len(simulation.deployments("shop-web", cluster="shop-demo"))
    deployment = _roll_back(deployment, ecs, table, sim_clock)
    assert deployment.progress == "DONE"
    web, worker = deployment.services
    assert web.rollback is not None
    assert worker.rollback is not None
    # ECS already returned shop-web: followed, not fought (no UpdateService of ours).
    assert (web.rollback.state, web.rollback.reason) == ("COMPLETED", "rolled back by ECS")
    assert len(simulation.deployments("shop-web", cluster="shop-demo")) <= updates_before
    assert worker.rollback.state == "COMPLETED"
    for service in deployment.services:
        assert (
            simulation.primary_task_definition(service.name, cluster="shop-demo")
            == service.task_definition_before
        )


def test_a_rollout_is_judged_by_the_service_deployment_update_service_started(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate(**STALE)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    client = boto3.client("ecs")
    names = [service.name for service in deployment.services]
    for _ in range(STALE["service_describe_lag"]):  # describes show the update after a few
        client.describe_services(cluster="shop-demo", services=names)
    services = client.describe_services(cluster="shop-demo", services=names)["services"]
    assert {s["serviceName"]: s["currentServiceDeployment"] for s in services} == {
        s.name: s.service_deployment_arn for s in deployment.services
    }

    deployment = check_services(deployment, ecs, LATER)

    assert [service.state for service in deployment.services] == ["IN_PROGRESS"] * 2
    described = boto3.client("ecs").describe_service_deployments(
        serviceDeploymentArns=[s.service_deployment_arn or "" for s in deployment.services]
    )
    assert {d["status"] for d in described["serviceDeployments"]} == {"PENDING"}


def test_rollback_of_an_ongoing_rollout_asks_ecs_to_roll_it_back(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate(services={"shop-web": RolloutFault(RolloutOutcome.NEVER_STABLE)})
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    deployment = check_services(deployment, ecs, STARTED + timedelta(minutes=15))
    web = deployment.services[0]
    assert web.state == "TIMED_OUT"
    deployments_before = simulation.deployments("shop-web", cluster="shop-demo")

    deployment = _roll_back(deployment, ecs, table, sim_clock)

    web = deployment.services[0]
    assert web.rollback is not None
    assert web.rollback.service_deployment_arn == web.service_deployment_arn
    assert (web.rollback.state, web.rollback.reason) == (
        "COMPLETED",
        "rolled back by ECS (StopServiceDeployment)",
    )
    status = boto3.client("ecs").describe_service_deployments(
        serviceDeploymentArns=[web.service_deployment_arn or ""]
    )["serviceDeployments"][0]["status"]
    assert status == "ROLLBACK_SUCCESSFUL"
    # ECS made the rollback itself: no UpdateService of the deployer's, which would have
    # started a service deployment of its own (besides the service's creation and ours).
    listed = boto3.client("ecs").list_service_deployments(cluster="shop-demo", service="shop-web")
    assert len(listed["serviceDeployments"]) == 2
    rollback_deployment = simulation.deployments("shop-web", cluster="shop-demo")[0]
    assert rollback_deployment.id not in {d.id for d in deployments_before}
    assert (
        simulation.primary_task_definition("shop-web", cluster="shop-demo")
        == web.task_definition_before
    )


def test_without_a_service_deployment_the_rollout_is_judged_by_its_deployments(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate(services={"shop-web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=20)})
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    for service in deployment.services:
        service.service_deployment_arn = None  # as where ECS shows none

    deployment = drive(lambda d: check_services(d, ecs, LATER), deployment, sim_clock)

    web = deployment.services[0]
    assert web.state == "ROLLED_BACK_BY_ECS"
    assert "ECS rolled deployment" in (web.reason or "")  # `deployments[]`'s judgement
    assert web.progress is not None
    assert "running" in web.progress


def test_rollback_that_fails_is_reported(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate(
        services={"shop-worker": RolloutFault(RolloutOutcome.FAIL, rollback_fails=True)}, **STALE
    )
    deployment = _roll_out(deps, ecs, table, sim_clock)
    deployment = _roll_back(deployment, ecs, table, sim_clock)
    worker = deployment.services[1]
    assert worker.rollback is not None
    assert worker.rollback.state == "FAILED"


def test_someone_elses_deployment_is_left_alone(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate(**STALE)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    boto3.client("ecs").update_service(
        cluster="shop-demo",
        service="shop-worker",
        taskDefinition=seeded.task_definitions["shop-migrate"],
    )
    sim_clock.advance(20)  # someone's rollout completed, and drained ours
    deployment = check_services(deployment, ecs, LATER)
    # Before any describe of the service shows ours, our service deployment says that ECS
    # stopped it for a newer one: no grace for eventual consistency is needed.
    worker = deployment.services[1]
    assert worker.state == "REPLACED"
    assert "replaced by service deployment" in (worker.reason or "")
    deployment = _roll_back(deployment, ecs, table, sim_clock)
    assert worker.task_definition_before != seeded.task_definitions["shop-migrate"]
    assert deployment.services[1].rollback is not None
    assert deployment.services[1].rollback.state == "FAILED"
    assert "deployed by someone else: left alone" in (deployment.services[1].rollback.reason or "")
    assert (
        simulation.primary_task_definition("shop-worker", cluster="shop-demo")
        == seeded.task_definitions["shop-migrate"]
    )


def test_update_refuses_services_moved_since_planning(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulation = simulate(**STALE)
    deployment = registered(deps, ecs, table)
    client = boto3.client("ecs")
    client.update_service(
        cluster="shop-demo",
        service="shop-web",
        taskDefinition=seeded.task_definitions["shop-worker"],
    )
    for _ in range(2):  # describes show that update after a describe or two
        client.describe_services(cluster="shop-demo", services=["shop-web"])
    with pytest.raises(ServiceChanged, match="'shop-web' now runs"):
        update_services(deployment, ecs, table, STARTED)
    assert (
        simulation.primary_task_definition("shop-worker", cluster="shop-demo")
        == seeded.task_definitions["shop-worker"]
    )


def test_a_retried_update_does_not_start_a_second_rollout(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulation = simulate(**STALE)
    planned = registered(deps, ecs, table)
    first = update_services(copy.deepcopy(planned), ecs, table, STARTED)  # its result was lost
    retried = update_services(planned, ecs, table, STARTED)
    for before, after in zip(first.services, retried.services, strict=True):
        assert before.ecs_deployment_id == after.ecs_deployment_id
        assert (
            len(
                [
                    d
                    for d in simulation.deployments(after.name, cluster="shop-demo")
                    if d.status == "PRIMARY"
                ]
            )
            == 1
        )


def test_a_rollback_right_after_the_update_moves_back_what_a_stale_describe_hides(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    # The rollback's describe comes right after our UpdateServices: ECS may still show each
    # service as it was (eventual consistency), on its old revision. That is not ECS's
    # circuit breaker returning it: the service really rolls out our revision.
    simulation = simulate(**STALE)
    deployment = _roll_back(
        update_services(registered(deps, ecs, table), ecs, table, STARTED), ecs, table, sim_clock
    )
    assert deployment.progress == "DONE"
    for service in deployment.services:
        assert service.rollback is not None
        assert service.rollback.state == "COMPLETED"
        assert service.rollback.reason != "rolled back by ECS"
        assert (
            simulation.primary_task_definition(service.name, cluster="shop-demo")
            == service.task_definition_before
        )
