"""fabfuel's ecs-deploy run in this process on the local cloud's virtual clock, as the
benchmark runs it (`demo/peers.py ecs_deploy_cli`): its sleeps and its timeout are virtual
time, so a five-minute timeout takes no wall-clock time. `test_ecs_deploy_peer.py` runs the
same client as a subprocess against `local up`."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_deployer_tools.demo import fleet, sample_app
from ecs_deployer_tools.demo.peers import ECS_DEPLOY_TIMEOUT, PeerRun, ecs_deploy_cli
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, RolloutFault, RolloutOutcome

pytestmark = pytest.mark.e2e

SERVICE = fleet.service_name(0)


def _deploy(faults: EcsFaults) -> tuple[PeerRun, dict[str, Any]]:
    """One run on a fleet of one, and the service after it."""
    with fleet.fleet_cloud(1, faults) as deployed:
        image = f"{deployed.registry}/{sample_app.REPOSITORY}:{fleet.NEW_TAG}"
        run = ecs_deploy_cli(
            deployed.cloud, sample_app.CLUSTER, SERVICE, container="app", image=image
        )
        ecs = deployed.cloud.client("ecs")
        service = ecs.describe_services(cluster=sample_app.CLUSTER, services=[SERVICE])
        return run, service["services"][0]


def test_it_deploys_and_waits_for_the_rollout_on_virtual_time() -> None:
    rollout = RolloutFault(RolloutOutcome.COMPLETE, seconds=30)
    run, service = _deploy(
        EcsFaults(describe_lag=0, service_describe_lag=0, services={SERVICE: rollout})
    )

    assert run.succeeded
    assert service["taskDefinition"].endswith(f"{SERVICE}:2")
    assert run.calls == {
        # Once before UpdateService, twice at once after it, then one a second until the
        # rollout ends, 30 s after the update.
        "DescribeServices": 33,
        "DescribeTaskDefinition": 1,
        "RegisterTaskDefinition": 1,
        "UpdateService": 1,
        "ListTasks": 1,  # one deployment left: are all its tasks running?
        "DescribeTasks": 1,
        "DeregisterTaskDefinition": 1,  # the revision it replaced
    }
    assert run.seconds == 30.0  # the rollout's 30 s, on virtual time


def test_a_rollout_that_never_stabilises_fails_it_at_its_timeout() -> None:
    rollout = RolloutFault(RolloutOutcome.NEVER_STABLE)
    run, service = _deploy(
        EcsFaults(describe_lag=0, service_describe_lag=0, services={SERVICE: rollout})
    )

    assert not run.succeeded
    assert run.seconds == ECS_DEPLOY_TIMEOUT
    assert run.calls["DescribeServices"] == ECS_DEPLOY_TIMEOUT + 2
    assert service["deployments"][0]["rolloutState"] == "IN_PROGRESS"  # left rolling out
