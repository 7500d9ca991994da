"""Services CodeDeploy deploys (the CODE_DEPLOY controller): rolled out, judged and rolled
back through CodeDeploy, against the local cloud's CodeDeploy on the simulated clock."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ecs_deployer.aws.clients import codedeploy_client
from ecs_deployer.aws.codedeploy import CodeDeployGateway
from ecs_deployer.steps.services import (
    check_rollback,
    check_services,
    start_rollback,
    update_services,
)
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.localcloud.codedeploy import (
    CodeDeployFaults,
    CodeDeploySimulation,
    GroupFault,
    GroupOutcome,
)
from tests.aws_fixtures import PREFIX, clients, registered

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from tests.aws_fixtures import SimClock

WEB = sample_app.WEB
POLL_SECONDS = 30


@pytest.fixture
def seeded(aws: None) -> sample_app.SeededApp:
    """The sample app, its web service deployed by CodeDeploy."""
    return sample_app.seed(clients(), PREFIX, blue_green=True)


@pytest.fixture
def codedeploy_sim(aws: None, sim_clock: SimClock) -> Iterator[CodeDeploySimulation]:
    with CodeDeploySimulation(clock=sim_clock) as simulation:
        yield simulation


@pytest.fixture
def codedeploy(
    codedeploy_sim: CodeDeploySimulation, simulate: Callable[..., EcsSimulation]
) -> CodeDeployGateway:
    simulate()
    return CodeDeployGateway(codedeploy_client)


def _fault(simulation: CodeDeploySimulation, outcome: GroupOutcome, event: str) -> None:
    simulation.faults = CodeDeployFaults(
        groups={sample_app.CODEDEPLOY_GROUP: GroupFault(outcome, event)}
    )


def _until_over(
    step: Callable[[Deployment], Deployment], deployment: Deployment, clock: SimClock
) -> Deployment:
    """Poll ``step`` every POLL_SECONDS of simulated time until it stops saying WAIT."""
    for _ in range(100):
        deployment = step(deployment)
        if deployment.progress != "WAIT":
            return deployment
        clock.advance(POLL_SECONDS)
    raise AssertionError("still waiting after 100 polls")


def _web(deployment: Deployment) -> Any:
    return next(service for service in deployment.services if service.name == WEB)


def _running(service: str = WEB) -> str:
    (described,) = boto3.client("ecs").describe_services(
        cluster=sample_app.CLUSTER, services=[service]
    )["services"]
    return str(described["taskDefinition"])


def _roll_out(
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    clock: SimClock,
) -> Deployment:
    deployment = update_services(
        registered(deps, ecs, table), ecs, table, clock(), codedeploy=codedeploy
    )
    return _until_over(
        lambda d: check_services(d, ecs, clock(), codedeploy=codedeploy), deployment, clock
    )


def _roll_back(
    deployment: Deployment,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    clock: SimClock,
) -> Deployment:
    deployment = start_rollback(deployment, ecs, table, clock(), codedeploy=codedeploy)
    return _until_over(
        lambda d: check_rollback(d, ecs, clock(), codedeploy=codedeploy), deployment, clock
    )


def test_a_codedeploy_service_is_deployed_with_an_appspec_and_followed_to_the_end(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    sim_clock: SimClock,
) -> None:
    deployment = update_services(
        registered(deps, ecs, table), ecs, table, sim_clock(), codedeploy=codedeploy
    )
    web = _web(deployment)
    info = boto3.client("codedeploy").get_deployment(deploymentId=web.ecs_deployment_id)
    appspec = json.loads(info["deploymentInfo"]["revision"]["appSpecContent"]["content"])
    properties = appspec["Resources"][0]["TargetService"]["Properties"]
    assert properties == {
        "TaskDefinition": web.task_definition_after,
        "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": sample_app.WEB_PORT},
    }
    sim_clock.advance(3 * POLL_SECONDS)
    deployment = check_services(deployment, ecs, sim_clock(), codedeploy=codedeploy)
    assert _web(deployment).state == "IN_PROGRESS"
    assert "lifecycle events" in (_web(deployment).progress or "")
    deployment = _until_over(
        lambda d: check_services(d, ecs, sim_clock(), codedeploy=codedeploy), deployment, sim_clock
    )
    assert deployment.progress == "DONE"
    assert [service.state for service in deployment.services] == ["COMPLETED", "COMPLETED"]
    assert _web(deployment).progress == "AfterAllowTraffic (8/8 lifecycle events)"
    assert _running() == web.task_definition_after


def test_a_failing_hook_is_a_rollback_by_codedeploy_never_a_success(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    codedeploy_sim: CodeDeploySimulation,
    sim_clock: SimClock,
) -> None:
    _fault(codedeploy_sim, GroupOutcome.HOOK_FAILS, "AfterAllowTraffic")
    deployment = _roll_out(deps, ecs, table, codedeploy, sim_clock)
    web = _web(deployment)
    assert deployment.progress == "FAILED"
    assert web.state == "ROLLED_BACK_BY_ECS"
    assert "HOOK_EXECUTION_FAILURE" in (web.reason or "")
    deployment = _roll_back(deployment, ecs, table, codedeploy, sim_clock)
    web = _web(deployment)
    assert web.rollback is not None
    assert web.rollback.state == "COMPLETED"
    assert web.rollback.reason is not None
    assert "rolled back by CodeDeploy" in web.rollback.reason
    assert _running() == web.task_definition_before
    rollbacks = [
        boto3.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        for deployment_id in boto3.client("codedeploy").list_deployments(
            applicationName=sample_app.CODEDEPLOY_APPLICATION,
            deploymentGroupName=sample_app.CODEDEPLOY_GROUP,
        )["deployments"]
    ]
    # CodeDeploy's own rollback is followed, never fought with a deployment of ours.
    assert sorted(info["creator"] for info in rollbacks) == ["codeDeployRollback", "user"]


def test_a_deployment_that_never_ends_times_out_and_is_stopped_with_a_rollback(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    codedeploy_sim: CodeDeploySimulation,
    sim_clock: SimClock,
) -> None:
    _fault(codedeploy_sim, GroupOutcome.NEVER_ENDS, "AfterAllowTestTraffic")
    deployment = _roll_out(deps, ecs, table, codedeploy, sim_clock)
    web = _web(deployment)
    assert web.state == "TIMED_OUT"
    assert "AfterAllowTestTraffic InProgress" in (web.reason or "")
    deployment = _roll_back(deployment, ecs, table, codedeploy, sim_clock)
    web = _web(deployment)
    assert web.rollback is not None
    assert web.rollback.state == "COMPLETED"
    info = boto3.client("codedeploy").get_deployment(deploymentId=web.ecs_deployment_id)
    assert info["deploymentInfo"]["status"] == "Stopped"
    assert _running() == web.task_definition_before


def test_a_succeeded_deployment_is_rolled_back_by_a_deployment_of_the_previous_revision(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    sim_clock: SimClock,
) -> None:
    deployment = _roll_out(deps, ecs, table, codedeploy, sim_clock)
    assert deployment.progress == "DONE"
    deployment.fail("TasksFailed", "the smoke test failed")  # post tasks failed since
    deployment = _roll_back(deployment, ecs, table, codedeploy, sim_clock)
    web = _web(deployment)
    assert web.rollback is not None
    assert web.rollback.state == "COMPLETED"
    assert web.rollback.ecs_deployment_id not in (None, web.ecs_deployment_id)
    assert _running() == web.task_definition_before


def test_a_retried_step_recognises_the_deployment_it_already_started(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    codedeploy: CodeDeployGateway,
    sim_clock: SimClock,
) -> None:
    planned = registered(deps, ecs, table)
    # The step's first attempt started the deployment, then crashed before it was saved.
    first = update_services(copy.deepcopy(planned), ecs, table, sim_clock(), codedeploy=codedeploy)
    sim_clock.advance(POLL_SECONDS)
    retried = update_services(planned, ecs, table, sim_clock(), codedeploy=codedeploy)
    assert _web(retried).ecs_deployment_id == _web(first).ecs_deployment_id
    listed = boto3.client("codedeploy").list_deployments(
        applicationName=sample_app.CODEDEPLOY_APPLICATION,
        deploymentGroupName=sample_app.CODEDEPLOY_GROUP,
    )["deployments"]
    assert listed == [_web(first).ecs_deployment_id]
