"""The AWS CLI sequence CI pipelines and the official GitHub Action run (describe, register,
update-service, `wait services-stable`), against the local cloud: its verdicts, which the
README and the benchmark compare with the deployer's."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_deployer_tools.demo import fleet, sample_app
from ecs_deployer_tools.demo.peers import WAITER_ATTEMPTS, WAITER_DELAY, PeerRun, aws_cli_deploy
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, RolloutFault, RolloutOutcome

pytestmark = pytest.mark.e2e

SERVICE = fleet.service_name(0)
CONSISTENT = EcsFaults(describe_lag=0, service_describe_lag=0)


def _deploy(faults: EcsFaults) -> tuple[PeerRun, list[dict[str, Any]]]:
    """One run on a fleet of one, and the service's deployments after it."""
    with fleet.fleet_cloud(1, faults) as deployed:
        ecs = deployed.cloud.client("ecs")
        image = f"{deployed.registry}/{sample_app.REPOSITORY}:{fleet.NEW_TAG}"
        run = aws_cli_deploy(
            deployed.cloud,
            sample_app.CLUSTER,
            SERVICE,
            family=SERVICE,
            container="app",
            image=image,
        )
        deployed.cloud.advance(60.0)  # past any stale describe: what ECS really has
        service = ecs.describe_services(cluster=sample_app.CLUSTER, services=[SERVICE])
        return run, service["services"][0]["deployments"]


def test_it_deploys_with_one_call_of_each_kind_and_waits_for_the_rollout() -> None:
    run, deployments = _deploy(CONSISTENT)

    assert run.succeeded
    assert [d["rolloutState"] for d in deployments] == ["COMPLETED"]
    assert run.calls == {
        "DescribeTaskDefinition": 1,
        "RegisterTaskDefinition": 1,
        "UpdateService": 1,
        # The rollout takes 20 s: rolling out (two deployments) at 0 s and 15 s; at 30 s,
        # one deployment: stable.
        "DescribeServices": 3,
    }


def test_it_reports_success_after_ecs_rolled_the_service_back() -> None:
    faults = EcsFaults(
        describe_lag=0,
        service_describe_lag=0,
        services={SERVICE: RolloutFault(RolloutOutcome.AUTO_ROLLBACK)},
    )
    run, deployments = _deploy(faults)

    assert run.succeeded  # one deployment, all tasks running: the waiter's success
    [rolled_back] = deployments  # ECS's rollback, completed
    assert rolled_back["taskDefinition"].endswith(f"{SERVICE}:1")  # not the new image's :2


def test_a_rollout_that_never_stabilises_fails_it_after_its_polls_and_stays() -> None:
    faults = EcsFaults(
        describe_lag=0,
        service_describe_lag=0,
        services={SERVICE: RolloutFault(RolloutOutcome.NEVER_STABLE)},
    )
    run, deployments = _deploy(faults)

    assert not run.succeeded
    assert run.calls["DescribeServices"] == WAITER_ATTEMPTS
    assert run.seconds == (WAITER_ATTEMPTS - 1) * WAITER_DELAY  # virtual: no wall-clock wait
    assert [d["rolloutState"] for d in deployments] == ["IN_PROGRESS", "COMPLETED"]


def test_with_a_stale_first_describe_it_reports_success_before_the_rollout_started() -> None:
    faults = EcsFaults(services={SERVICE: RolloutFault(RolloutOutcome.NEVER_STABLE)})
    run, deployments = _deploy(faults)

    assert run.succeeded  # the old deployment alone, all its tasks running (aws/aws-cli#9275)
    assert run.calls["DescribeServices"] == 1
    assert deployments[0]["rolloutState"] == "IN_PROGRESS"
