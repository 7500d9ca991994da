"""The ECS simulation, driven through the real boto3 ECS client on moto."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import StringShape
from botocore.retries.standard import ExponentialBackoff
from botocore.validate import ParamValidator
from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.server import ThreadedMotoServer

from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import (
    EcsFaults,
    EcsSimulation,
    RolloutFault,
    RolloutOutcome,
    TaskFault,
    TaskOutcome,
)
from tests.aws_fixtures import SimClock
from tests.localcloud.conftest import MINI_TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeAlias

    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import DeploymentTypeDef, ServiceTypeDef, TaskTypeDef

    Simulate: TypeAlias = Callable[[EcsFaults], EcsSimulation]


REGION = "us-east-1"
CLUSTER = "prod"
DEPLOYMENT_ID = re.compile(r"^ecs-svc/\d{19}$")
ECS_MODEL = botocore.session.get_session().get_service_model("ecs")


# The deployer's default poll interval: a rollout or task without a fault takes two.
POLL = 10.0


@dataclass(frozen=True)
class Env:
    """A cluster with two Fargate services (web: 2 tasks, worker: 1) and a migrate family."""

    ecs: ECSClient
    network: Mapping[str, Any]
    web_v1: str
    web_v2: str
    worker_v1: str
    worker_v2: str
    migrate: str


def _register(ecs: ECSClient, family: str, containers: list[tuple[str, str, bool]]) -> str:
    definition = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": name, "image": image, "essential": essential, "memory": 128}
            for name, image, essential in containers
        ],
    )
    return definition["taskDefinition"]["taskDefinitionArn"]


def _create_env() -> Env:
    ecs = boto3.client("ecs", region_name=REGION)
    ec2: Any = boto3.client("ec2", region_name=REGION)  # no ec2 stubs installed
    network = {
        "awsvpcConfiguration": {
            "subnets": [ec2.describe_subnets()["Subnets"][0]["SubnetId"]],
            "securityGroups": [ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]],
        }
    }
    ecs.create_cluster(clusterName=CLUSTER)
    arns = {
        f"{family}_v{version}": _register(ecs, family, [(family, f"app/{family}:{version}", True)])
        for family in ("web", "worker")
        for version in (1, 2)
    }
    migrate = _register(
        ecs, "migrate", [("migrate", "app/migrate:1", True), ("log-router", "fluent-bit", False)]
    )
    for name, desired in (("web", 2), ("worker", 1)):
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=arns[f"{name}_v1"],
            desiredCount=desired,
            launchType="FARGATE",
            deploymentController={"type": "ECS"},
            networkConfiguration=network,  # type: ignore[arg-type]
        )
    return Env(ecs=ecs, network=network, migrate=migrate, **arns)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retries sleep up to seconds per throttle: not in unit tests."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda _self, _context: 0)


def describe(ecs: ECSClient, service: str) -> ServiceTypeDef:
    """One DescribeServices call."""
    return ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]


def poll(ecs: ECSClient, sim_clock: SimClock, service: str) -> ServiceTypeDef:
    """One DescribeServices call, a poll interval after the last."""
    sim_clock.advance(POLL)
    return describe(ecs, service)


def primary(service: ServiceTypeDef) -> DeploymentTypeDef:
    return next(d for d in service["deployments"] if d["status"] == "PRIMARY")


def deploy(env: Env, service: str, task_definition: str) -> str:
    """UpdateService to `task_definition`; the id of the deployment it started."""
    updated = env.ecs.update_service(
        cluster=CLUSTER, service=service, taskDefinition=task_definition
    )["service"]
    return primary(updated)["id"]


def run(env: Env, task_definition: str, **kwargs: Any) -> TaskTypeDef:
    response = env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition=task_definition,
        launchType="FARGATE",
        networkConfiguration=env.network,  # type: ignore[arg-type]
        startedBy="ecs-deployer",
        **kwargs,
    )
    return response["tasks"][0]


def describe_task(env: Env, task_arn: str) -> TaskTypeDef:
    """One DescribeTasks call."""
    return env.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]


def poll_task(env: Env, sim_clock: SimClock, task_arn: str) -> TaskTypeDef:
    """One DescribeTasks call, a poll interval after the last."""
    sim_clock.advance(POLL)
    return describe_task(env, task_arn)


def assert_output_shape(operation: str, response: Mapping[str, Any]) -> None:
    """The response has only fields of botocore's output shape, each of the right type."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    shape = ECS_MODEL.operation_model(operation).output_shape
    assert shape is not None
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()


def enum(shape_name: str) -> list[str]:
    shape = ECS_MODEL.shape_for(shape_name)
    assert isinstance(shape, StringShape)
    return shape.enum


# -- services -----------------------------------------------------------------------------


def test_update_service_starts_an_in_progress_primary(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults())
    env = _create_env()
    before = primary(describe(env.ecs, "web"))

    updated = env.ecs.update_service(cluster=CLUSTER, service="web", taskDefinition="web:2")

    service = updated["service"]
    new, previous = service["deployments"]
    assert DEPLOYMENT_ID.match(new["id"])
    assert new["id"] != before["id"]
    assert new["status"] == "PRIMARY"
    assert new["taskDefinition"] == env.web_v2
    assert (new["desiredCount"], new["runningCount"], new["failedTasks"]) == (2, 0, 0)
    assert new["rolloutState"] == "IN_PROGRESS"
    assert new["rolloutStateReason"] == f"ECS deployment {new['id']} in progress."
    assert new["launchType"] == "FARGATE"
    assert new["createdAt"] == sim_clock.now
    assert (previous["id"], previous["status"]) == (before["id"], "ACTIVE")
    assert previous["runningCount"] == 2  # still serving while the new one starts
    assert service["taskDefinition"] == env.web_v2  # an ARN, though "web:2" was sent


def test_deployment_completes_after_seconds_to_complete(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(seconds_to_complete=3 * POLL))
    env = _create_env()
    deployment_id = deploy(env, "web", env.web_v2)

    ticks = [poll(env.ecs, sim_clock, "web") for _ in range(3)]

    assert [primary(s)["rolloutState"] for s in ticks] == [
        "IN_PROGRESS",
        "IN_PROGRESS",
        "COMPLETED",
    ]
    assert [primary(s)["runningCount"] for s in ticks] == [0, 1, 2]
    done = ticks[-1]
    assert [d["id"] for d in done["deployments"]] == [deployment_id]
    assert primary(done)["rolloutStateReason"] == f"ECS deployment {deployment_id} completed."
    assert (done["runningCount"], done["pendingCount"]) == (2, 0)
    messages = [event["message"] for event in done["events"]]
    assert messages[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {deployment_id}) deployment completed.",
    ]
    assert re.match(
        r"^\(service web\) has started 2 tasks: \(task \w{32}\) \(task \w{32}\)\.$", messages[-2]
    )
    created = [event["createdAt"] for event in done["events"]]
    assert created == sorted(created, reverse=True)


def test_rollouts_move_on_with_time_not_with_describes(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulation = simulate(EcsFaults())
    env = _create_env()
    deploy(env, "web", env.web_v2)
    deploy(env, "worker", env.worker_v2)

    def describe_all() -> list[str]:
        services = env.ecs.describe_services(cluster=CLUSTER, services=["web", "web", "worker"])
        return [primary(s)["rolloutState"] for s in services["services"]]

    assert [describe_all() for _ in range(5)] == [["IN_PROGRESS"] * 3] * 5
    sim_clock.advance(19.0)
    assert simulation.deployments("web", CLUSTER)[0].rollout_state == "IN_PROGRESS"
    sim_clock.advance(1.0)  # 20 s after UpdateService, whether anyone looked or not
    assert simulation.deployments("worker", CLUSTER)[0].rollout_state == "COMPLETED"
    assert describe_all() == ["COMPLETED"] * 3


def test_fail_leaves_a_failed_primary(simulate: Simulate, sim_clock: SimClock) -> None:
    fault = RolloutFault(RolloutOutcome.FAIL, seconds=2 * POLL)
    simulation = simulate(EcsFaults(services={"web": fault}))
    env = _create_env()
    deployment_id = deploy(env, "web", env.web_v2)

    assert primary(poll(env.ecs, sim_clock, "web"))["rolloutState"] == "IN_PROGRESS"
    service = poll(env.ecs, sim_clock, "web")

    failed, previous = service["deployments"]
    assert (failed["id"], failed["status"], failed["rolloutState"]) == (
        deployment_id,
        "PRIMARY",
        "FAILED",
    )
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert failed["failedTasks"] >= 3  # the breaker's smallest threshold
    assert failed["runningCount"] == 0
    assert (previous["status"], previous["runningCount"]) == ("ACTIVE", 2)
    assert service["taskDefinition"] == env.web_v2
    assert simulation.service_events("web", CLUSTER)[0] == (
        f"(service web) (deployment {deployment_id}) deployment failed: tasks failed to start."
    )
    sim_clock.advance(3600)
    later = describe(env.ecs, "web")  # a failed rollout does not move any more
    assert later["deployments"] == service["deployments"]


def test_auto_rollback_returns_to_the_last_completed_deployment(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulation = simulate(
        EcsFaults(services={"web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=POLL)})
    )
    env = _create_env()
    original_id = primary(describe(env.ecs, "web"))["id"]
    deployment_id = deploy(env, "web", env.web_v2)

    rolling_back = poll(env.ecs, sim_clock, "web")

    rollback, ours, _original = rolling_back["deployments"]
    assert (ours["id"], ours["status"], ours["rolloutState"]) == (deployment_id, "ACTIVE", "FAILED")
    assert rollback["status"] == "PRIMARY"
    assert rollback["id"] not in {deployment_id, original_id}
    assert (rollback["taskDefinition"], rollback["rolloutState"]) == (env.web_v1, "IN_PROGRESS")
    assert rollback["rolloutStateReason"] == (
        f"ECS deployment circuit breaker: rolling back to deploymentId {original_id}."
    )
    assert rolling_back["taskDefinition"] == env.web_v1
    assert simulation.service_events("web", CLUSTER)[0] == (
        f"(service web) rolling back to deployment {original_id}."
    )

    done = [poll(env.ecs, sim_clock, "web") for _ in range(2)][-1]

    assert [(d["id"], d["rolloutState"]) for d in done["deployments"]] == [
        (rollback["id"], "COMPLETED")
    ]
    assert simulation.primary_task_definition("web", CLUSTER) == env.web_v1


def test_never_stable_stays_in_progress(simulate: Simulate, sim_clock: SimClock) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(RolloutOutcome.NEVER_STABLE)}))
    env = _create_env()
    deploy(env, "web", env.web_v2)

    ticks = [primary(poll(env.ecs, sim_clock, "web")) for _ in range(10)]

    assert {d["rolloutState"] for d in ticks} == {"IN_PROGRESS"}
    assert all(d["runningCount"] < d["desiredCount"] for d in ticks)
    failed = [d["failedTasks"] for d in ticks]
    assert failed == sorted(set(failed))  # strictly growing


def test_fault_spares_a_rollback_to_the_original_task_definition(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    fault = RolloutFault(RolloutOutcome.FAIL, seconds=POLL)
    simulation = simulate(EcsFaults(services={"web": fault}))
    env = _create_env()
    deploy(env, "web", env.web_v2)
    assert primary(poll(env.ecs, sim_clock, "web"))["rolloutState"] == "FAILED"

    rollback_id = deploy(env, "web", env.web_v1)  # the deployer's own rollback
    done = [poll(env.ecs, sim_clock, "web") for _ in range(2)][-1]

    assert [(d["id"], d["rolloutState"]) for d in done["deployments"]] == [
        (rollback_id, "COMPLETED")
    ]
    assert [d.id for d in simulation.deployments("web", CLUSTER)] == [rollback_id]


def test_rollback_fails_also_fails_the_original_task_definition(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    faults = EcsFaults(
        services={"web": RolloutFault(RolloutOutcome.FAIL, seconds=POLL, rollback_fails=True)}
    )
    simulate(faults)
    env = _create_env()
    deploy(env, "web", env.web_v2)
    poll(env.ecs, sim_clock, "web")

    rollback_id = deploy(env, "web", env.web_v1)
    service = poll(env.ecs, sim_clock, "web")

    assert (primary(service)["id"], primary(service)["rolloutState"]) == (rollback_id, "FAILED")


def test_faults_are_keyed_by_service_name(simulate: Simulate, sim_clock: SimClock) -> None:
    simulate(EcsFaults(services={"worker": RolloutFault(RolloutOutcome.FAIL, seconds=POLL)}))
    env = _create_env()
    deploy(env, "web", env.web_v2)
    deploy(env, "worker", env.worker_v2)

    sim_clock.advance(2 * POLL)
    services = env.ecs.describe_services(cluster=CLUSTER, services=["web", "worker"])

    states = {s["serviceName"]: primary(s)["rolloutState"] for s in services["services"]}
    assert states == {"web": "COMPLETED", "worker": "FAILED"}


def test_new_deployment_only_for_a_new_task_definition_or_force(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    steady_id = primary(describe(env.ecs, "web"))["id"]

    scaled = env.ecs.update_service(
        cluster=CLUSTER, service="web", taskDefinition=env.web_v1, desiredCount=3
    )["service"]
    assert [(d["id"], d["desiredCount"]) for d in scaled["deployments"]] == [(steady_id, 3)]
    assert scaled["runningCount"] == 3

    forced = env.ecs.update_service(cluster=CLUSTER, service="web", forceNewDeployment=True)
    new, previous = forced["service"]["deployments"]
    assert (new["taskDefinition"], new["rolloutState"]) == (env.web_v1, "IN_PROGRESS")
    assert (previous["id"], previous["status"]) == (steady_id, "ACTIVE")


def test_services_created_before_install_are_adopted_as_steady(aws: None) -> None:
    env = _create_env()
    with EcsSimulation() as simulation:
        service = describe(env.ecs, "web")

        assert (primary(service)["rolloutState"], service["runningCount"]) == ("COMPLETED", 2)
        deployment_id = deploy(env, "web", env.web_v2)
        assert simulation.deployments("web", CLUSTER)[0].id == deployment_id


@pytest.mark.usefixtures("aws")
def test_a_service_just_updated_shows_its_previous_deployments_for_a_describe_or_two() -> None:
    sim_clock = SimClock()
    with EcsSimulation(EcsFaults(service_describe_lag=2, seed=3), clock=sim_clock):
        env = _create_env()
        before = describe(env.ecs, "web")
        deployment_ids = [deploy(env, "web", env.web_v2)]
        views = [describe(env.ecs, "web") for _ in range(4)]
        deployment_ids.append(deploy(env, "worker", env.worker_v2))
        sim_clock.now += timedelta(seconds=5)  # describe_lag_seconds: seen by then
        worker = describe(env.ecs, "worker")

    stale = [view for view in views if view["deployments"] == before["deployments"]]
    assert 1 <= len(stale) <= 2
    assert views[: len(stale)] == stale  # the describes right after the update
    assert all(view["taskDefinition"] == env.web_v1 for view in stale)
    assert all((view["runningCount"], view["pendingCount"]) == (2, 0) for view in stale)
    # Then the describes show the new deployment, in progress (no time has passed).
    fresh = views[len(stale) :]
    assert [(primary(v)["id"], primary(v)["rolloutState"]) for v in fresh] == [
        (deployment_ids[0], "IN_PROGRESS")
    ] * len(fresh)
    assert primary(worker)["id"] == deployment_ids[1]


def test_a_service_created_before_2021_has_a_short_arn(simulate: Simulate) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(short_arn=True)}))
    env = _create_env()

    described = env.ecs.describe_services(cluster=CLUSTER, services=["web", "worker"])
    arns = {s["serviceName"]: s["serviceArn"] for s in described["services"]}

    assert arns["web"] == "arn:aws:ecs:us-east-1:123456789012:service/web"
    assert arns["worker"] == f"arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/worker"
    assert sorted(env.ecs.list_services(cluster=CLUSTER)["serviceArns"]) == sorted(arns.values())
    updated = env.ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=env.web_v2)
    assert updated["service"]["serviceArn"] == arns["web"]


def service_tasks(env: Env, service: str, **filters: Any) -> list[TaskTypeDef]:
    """ListTasks(serviceName) then DescribeTasks, as a client watching a service does."""
    arns = env.ecs.list_tasks(cluster=CLUSTER, serviceName=service, **filters)["taskArns"]
    return env.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []


def test_services_run_the_tasks_their_deployments_count(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults())
    env = _create_env()
    steady = primary(describe(env.ecs, "web"))

    before = service_tasks(env, "web")
    new_id = deploy(env, "web", env.web_v2)
    sim_clock.advance(POLL)  # half way: 1 of 2 new tasks running, 1 pending
    rolling = service_tasks(env, "web")
    sim_clock.advance(POLL)  # completed: the old deployment's tasks are stopped
    running = service_tasks(env, "web")
    stopped = service_tasks(env, "web", desiredStatus="STOPPED")

    assert [
        (t["lastStatus"], t["startedBy"], t["group"], t["taskDefinitionArn"]) for t in before
    ] == [("RUNNING", steady["id"], "service:web", env.web_v1)] * 2
    assert all(len(t["containers"]) == 1 and "startedAt" in t for t in before)
    assert sorted((t["startedBy"] == new_id, t["lastStatus"]) for t in rolling) == [
        (False, "RUNNING"),
        (False, "RUNNING"),
        (True, "PENDING"),
        (True, "RUNNING"),
    ]
    assert [(t["startedBy"], t["taskDefinitionArn"]) for t in running] == [(new_id, env.web_v2)] * 2
    assert {t["taskArn"] for t in stopped} == {t["taskArn"] for t in before}
    assert {(t["stopCode"], t["stoppedReason"]) for t in stopped} == {
        ("ServiceSchedulerInitiated", f"Scaling activity initiated by (deployment {new_id})")
    }
    arns = [t["taskArn"] for t in running + stopped]
    assert_output_shape("DescribeTasks", env.ecs.describe_tasks(cluster=CLUSTER, tasks=arns))
    assert len(service_tasks(env, "worker")) == 1
    assert service_tasks(env, "web") == running  # describing a service task moves nothing


def test_list_tasks_of_a_service_lists_only_its_tasks(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    migration = run(env, "migrate")

    # moto listed every task of the cluster for any service.
    listed = service_tasks(env, "web")
    assert listed
    assert {t["group"] for t in listed} == {"service:web"}
    assert migration["taskArn"] not in {t["taskArn"] for t in listed}


def test_a_deleted_service_runs_no_task(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    running = service_tasks(env, "web")

    env.ecs.delete_service(cluster=CLUSTER, service="web", force=True)

    assert service_tasks(env, "web") == []
    stopped = service_tasks(env, "web", desiredStatus="STOPPED")
    assert {t["taskArn"] for t in stopped} == {t["taskArn"] for t in running}


def test_service_responses_match_botocore_output_shapes(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    fault = RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=POLL)
    simulate(EcsFaults(services={"web": fault}))
    env = _create_env()
    updated = env.ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=env.web_v2)
    sim_clock.advance(POLL)
    described = env.ecs.describe_services(cluster=CLUSTER, services=["web"])

    assert_output_shape("UpdateService", updated)
    assert_output_shape("DescribeServices", described)
    rollout_states = enum("DeploymentRolloutState")
    deployments = described["services"][0]["deployments"]
    assert len(deployments) == 3
    assert {d["rolloutState"] for d in deployments} <= set(rollout_states)


# -- service deployments -----------------------------------------------------------------

SERVICE_DEPLOYMENT_ARN = re.compile(
    rf"^arn:aws:ecs:{REGION}:\d{{12}}:service-deployment/{CLUSTER}/web/[\w-]{{21}}$"
)


def service_deployment(ecs: ECSClient, arn: str) -> Mapping[str, Any]:
    """One DescribeServiceDeployments call."""
    return ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def update_to(env: Env, task_definition: str) -> str:
    """UpdateService of web; the ARN of the service deployment it started."""
    updated = env.ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=task_definition)
    return updated["service"]["currentServiceDeployment"]


def statuses(env: Env, sim_clock: SimClock, arn: str, polls: int) -> list[str]:
    """The service deployment's status at each of `polls` polls."""
    seen = []
    for _ in range(polls):
        sim_clock.advance(POLL)
        seen.append(str(service_deployment(env.ecs, arn)["status"]))
    return seen


def test_update_service_starts_a_pending_service_deployment_that_succeeds(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(seconds_to_complete=2 * POLL))
    env = _create_env()
    before = describe(env.ecs, "web")["currentServiceDeployment"]

    arn = update_to(env, env.web_v2)

    assert SERVICE_DEPLOYMENT_ARN.match(arn)
    assert arn != before
    assert describe(env.ecs, "web")["currentServiceDeployment"] == arn
    started = service_deployment(env.ecs, arn)
    assert (started["status"], started["createdAt"]) == ("PENDING", sim_clock.now)
    assert statuses(env, sim_clock, arn, 2) == ["IN_PROGRESS", "SUCCESSFUL"]
    done = service_deployment(env.ecs, arn)
    assert done["finishedAt"] == sim_clock.now
    assert done["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
    source = service_deployment(env.ecs, before)
    assert source["status"] == "SUCCESSFUL"  # the service's creation
    assert [r["arn"] for r in done["sourceServiceRevisions"]] == [
        source["targetServiceRevision"]["arn"]
    ]


def test_a_service_deployment_reports_its_target_revisions_tasks(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(seconds_to_complete=2 * POLL))
    env = _create_env()
    arn = update_to(env, env.web_v2)
    counts = ("requestedTaskCount", "runningTaskCount", "pendingTaskCount")

    seen = []
    for _ in range(2):
        sim_clock.advance(POLL)
        target = service_deployment(env.ecs, arn)["targetServiceRevision"]
        ours = primary(describe(env.ecs, "web"))
        assert [target[name] for name in counts] == [
            ours["desiredCount"],
            ours["runningCount"],
            ours["pendingCount"],
        ]
        seen.append(target["runningTaskCount"])
    assert seen[-1] == ours["desiredCount"] > 0


def test_deleting_a_service_stops_its_ongoing_service_deployment(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(RolloutOutcome.NEVER_STABLE)}))
    env = _create_env()
    arn = update_to(env, env.web_v2)
    sim_clock.advance(POLL)

    env.ecs.delete_service(cluster=CLUSTER, service="web", force=True)

    stopped = service_deployment(env.ecs, arn)
    assert (stopped["status"], stopped["statusReason"]) == ("STOPPED", "The service was deleted.")


def test_a_circuit_breaker_rollback_rolls_the_service_deployment_back(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    fault = RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=POLL)
    simulate(EcsFaults(services={"web": fault}))
    env = _create_env()
    source = describe(env.ecs, "web")["currentServiceDeployment"]
    arn = update_to(env, env.web_v2)

    assert statuses(env, sim_clock, arn, 3) == [
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
    ]
    rolled_back = service_deployment(env.ecs, arn)
    assert rolled_back["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert rolled_back["rollback"]["reason"] == (
        "ECS deployment circuit breaker: tasks failed to start."
    )
    original = service_deployment(env.ecs, source)["targetServiceRevision"]["arn"]
    assert rolled_back["rollback"]["serviceRevisionArn"] == original
    # The rollback is the same service deployment: the service has made no other.
    assert describe(env.ecs, "web")["currentServiceDeployment"] == arn


def test_a_circuit_breaker_without_rollback_stops_the_service_deployment(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(RolloutOutcome.FAIL, seconds=POLL)}))
    env = _create_env()
    arn = update_to(env, env.web_v2)

    assert statuses(env, sim_clock, arn, 1) == ["STOPPED"]
    stopped = service_deployment(env.ecs, arn)
    assert stopped["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert stopped["deploymentCircuitBreaker"]["failureCount"] >= 3
    assert "rollback" not in stopped


def test_a_failed_breaker_rollback_ends_rollback_failed(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    fault = RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=POLL, rollback_fails=True)
    simulate(EcsFaults(services={"web": fault}))
    env = _create_env()
    arn = update_to(env, env.web_v2)

    assert statuses(env, sim_clock, arn, 2) == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED"]


def test_stop_service_deployment_rolls_an_ongoing_one_back(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulation = simulate(EcsFaults(services={"web": RolloutFault(RolloutOutcome.NEVER_STABLE)}))
    env = _create_env()
    arn = update_to(env, env.web_v2)
    sim_clock.advance(POLL)

    stopped = env.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")

    assert stopped["serviceDeploymentArn"] == arn
    assert service_deployment(env.ecs, arn)["status"] == "ROLLBACK_REQUESTED"
    again = env.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert again["serviceDeploymentArn"] == arn  # a rollback under way goes on
    assert statuses(env, sim_clock, arn, 2) == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert simulation.primary_task_definition("web", CLUSTER) == env.web_v1
    assert service_deployment(env.ecs, arn)["rollback"]["reason"] == (
        "Service deployment rolled back because of a stop request."
    )


def test_stop_service_deployment_refuses_one_that_is_over(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    arn = describe(env.ecs, "web")["currentServiceDeployment"]

    with pytest.raises(ClientError) as refused:
        env.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")

    assert refused.value.response["Error"]["Code"] == "ConflictException"
    unknown = arn[:-1] + ("x" if arn[-1] != "x" else "y")
    with pytest.raises(ClientError) as missing:
        env.ecs.stop_service_deployment(serviceDeploymentArn=unknown, stopType="ROLLBACK")
    assert missing.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"


def test_a_service_deployment_replaced_by_a_newer_one_is_stopped(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(seconds_to_complete=3 * POLL))
    env = _create_env()
    first = update_to(env, env.web_v2)
    sim_clock.advance(POLL)

    second = update_to(env, env.web_v1)

    replaced = service_deployment(env.ecs, first)
    assert (replaced["status"], replaced["finishedAt"]) == ("STOPPED", sim_clock.now)
    assert service_deployment(env.ecs, second)["status"] == "PENDING"


def test_list_service_deployments_newest_first_filtered(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(seconds_to_complete=3 * POLL))
    env = _create_env()
    created = describe(env.ecs, "web")["currentServiceDeployment"]
    sim_clock.advance(POLL)
    since = sim_clock.now
    arn = update_to(env, env.web_v2)

    listed = env.ecs.list_service_deployments(cluster=CLUSTER, service="web")

    assert [d["serviceDeploymentArn"] for d in listed["serviceDeployments"]] == [arn, created]
    assert_output_shape("ListServiceDeployments", listed)
    recent = env.ecs.list_service_deployments(
        cluster=CLUSTER, service="web", createdAt={"after": since}
    )
    assert [d["serviceDeploymentArn"] for d in recent["serviceDeployments"]] == [arn]
    done = env.ecs.list_service_deployments(cluster=CLUSTER, service="web", status=["SUCCESSFUL"])
    assert [d["serviceDeploymentArn"] for d in done["serviceDeployments"]] == [created]


def test_service_deployment_responses_match_botocore_output_shapes(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=POLL)}))
    env = _create_env()
    arn = update_to(env, env.web_v2)
    sim_clock.advance(POLL)

    described = env.ecs.describe_service_deployments(serviceDeploymentArns=[arn, arn + "x"])

    assert_output_shape("DescribeServiceDeployments", described)
    assert described["failures"] == [{"arn": arn + "x", "reason": "MISSING"}]
    with pytest.raises(ClientError, match="maximum of 20"):
        env.ecs.describe_service_deployments(serviceDeploymentArns=[arn] * 21)
    assert {d["status"] for d in described["serviceDeployments"]} <= set(
        enum("ServiceDeploymentStatus")
    )


# -- tasks --------------------------------------------------------------------------------


def test_run_task_starts_a_pending_task_with_every_container(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()

    task = run(env, "migrate")

    assert (task["lastStatus"], task["desiredStatus"]) == ("PENDING", "RUNNING")
    assert [(c["name"], c["image"], c["lastStatus"]) for c in task["containers"]] == [
        ("migrate", "app/migrate:1", "PENDING"),
        ("log-router", "fluent-bit", "PENDING"),
    ]
    assert all(c["taskArn"] == task["taskArn"] for c in task["containers"])
    assert task["startedBy"] == "ecs-deployer"
    assert task["group"] == "family:migrate"
    assert task["taskDefinitionArn"] == env.migrate
    assert task["clusterArn"].endswith(f":cluster/{CLUSTER}")
    assert task["launchType"] == "FARGATE"
    assert "createdAt" in task
    assert "startedAt" not in task
    assert "stopCode" not in task


def test_run_task_with_a_capacity_provider_reports_it(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()

    task = env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="migrate",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        networkConfiguration=env.network,  # type: ignore[arg-type]
    )["tasks"][0]

    assert task["capacityProviderName"] == "FARGATE_SPOT"
    assert "launchType" not in task  # not requested: moto's "" is not shown
    assert "startedBy" not in task


def test_run_task_needs_no_security_groups(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    subnets = env.network["awsvpcConfiguration"]["subnets"]

    task = env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="migrate",
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
    )["tasks"][0]

    assert task["lastStatus"] == "PENDING"


def test_run_task_of_a_definition_sized_only_at_task_level(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    env.ecs.register_task_definition(
        family="sized-by-task",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "app:1", "essential": True}],
    )

    response = env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="sized-by-task",
        launchType="FARGATE",
        networkConfiguration=env.network,  # type: ignore[arg-type]
    )

    assert [task["lastStatus"] for task in response["tasks"]] == ["PENDING"]


def test_describe_tasks_reports_unknown_tasks_as_missing(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]
    unknown = f"{task_arn.rsplit('/', 1)[0]}/{'0' * 32}"

    response = env.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn, unknown])

    assert [task["taskArn"] for task in response["tasks"]] == [task_arn]
    assert response["failures"] == [{"arn": unknown, "reason": "MISSING"}]


def test_successful_task_runs_then_exits_zero(simulate: Simulate, sim_clock: SimClock) -> None:
    fault = TaskFault(pending_seconds=2 * POLL, running_seconds=2 * POLL)
    simulate(EcsFaults(tasks={"migrate": fault}))
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    ticks = [poll_task(env, sim_clock, task_arn) for _ in range(4)]

    assert [t["lastStatus"] for t in ticks] == ["PENDING", "RUNNING", "RUNNING", "STOPPED"]
    assert ticks[1]["startedAt"] == ticks[0]["createdAt"] + timedelta(seconds=2 * POLL)
    assert ticks[3]["stoppedAt"] == ticks[1]["startedAt"] + timedelta(seconds=2 * POLL)
    assert "startedAt" in ticks[1]
    stopped = ticks[-1]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["stoppingAt"] <= stopped["stoppedAt"]
    # The essential container exits 0; ECS then stops the log router (SIGTERM: 143).
    assert [(c["lastStatus"], c["exitCode"]) for c in stopped["containers"]] == [
        ("STOPPED", 0),
        ("STOPPED", 143),
    ]
    sim_clock.advance(600)
    assert describe_task(env, task_arn) == stopped  # STOPPED is final


def test_exit_code_of_the_failing_container(simulate: Simulate, sim_clock: SimClock) -> None:
    simulation = simulate(EcsFaults(tasks={"migrate": TaskFault(TaskOutcome.EXIT, exit_code=3)}))
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    stopped = [poll_task(env, sim_clock, task_arn) for _ in range(2)][-1]

    assert stopped["stopCode"] == "EssentialContainerExited"
    assert {c["name"]: c["exitCode"] for c in stopped["containers"]} == {
        "migrate": 3,
        "log-router": 143,
    }
    (record,) = simulation.tasks("migrate")
    assert (record.task_arn, record.exit_codes) == (task_arn, {"migrate": 3, "log-router": 143})
    assert simulation.tasks("web") == ()


@pytest.mark.parametrize("code", [0, 137])
def test_the_containers_ecs_stops_when_the_essential_one_exits(
    simulate: Simulate, sim_clock: SimClock, code: int
) -> None:
    simulate(EcsFaults(tasks={"migrate": TaskFault(killed_exit_code=code)}))
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    stopped = [poll_task(env, sim_clock, task_arn) for _ in range(2)][-1]

    assert {c["name"]: c["exitCode"] for c in stopped["containers"]} == {
        "migrate": 0,
        "log-router": code,
    }


@pytest.mark.parametrize(
    ("stop_code", "reason"),
    [
        ("SpotInterruption", "Your Spot Task was interrupted."),
        ("TerminationNotice", "Stopped by ECS (TerminationNotice)"),
    ],
)
def test_ecs_stops_a_running_task(
    simulate: Simulate, sim_clock: SimClock, stop_code: str, reason: str
) -> None:
    fault = TaskFault(TaskOutcome.STOPPED_BY_ECS, stop_code=stop_code, exit_code=0)
    simulate(EcsFaults(tasks={"migrate": fault}))
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    running, stopped = [poll_task(env, sim_clock, task_arn) for _ in range(2)]

    assert running["lastStatus"] == "RUNNING"
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", stop_code)
    assert stopped["stoppedReason"] == reason
    assert [c["exitCode"] for c in stopped["containers"]] == [0, 0]  # both handled SIGTERM


@pytest.mark.usefixtures("aws")
def test_a_stopped_task_is_described_for_an_hour_then_missing() -> None:
    sim_clock = SimClock()
    with EcsSimulation(EcsFaults(describe_lag=0), clock=sim_clock):
        env = _create_env()
        task_arn = run(env, "migrate")["taskArn"]
        sim_clock.advance(2 * POLL)
        stopped = describe_task(env, task_arn)
        assert stopped["stoppedAt"] == sim_clock.now

        def seen() -> tuple[list[str], list[str]]:
            described = env.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])
            listed = env.ecs.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
            return [t["taskArn"] for t in described["tasks"]], listed

        sim_clock.now += timedelta(minutes=59, seconds=59)
        assert seen() == ([task_arn], [task_arn])
        sim_clock.now += timedelta(seconds=1)
        assert seen() == ([], [])
        response = env.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])
        assert response["failures"] == [{"arn": task_arn, "reason": "MISSING"}]


def _misses(env: Env, task_arn: str) -> int:
    """DescribeTasks calls answering MISSING before one shows the task."""
    misses = 0
    while not env.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"]:
        misses += 1
    return misses


@pytest.mark.usefixtures("aws")
def test_a_task_run_task_just_started_is_missing_from_a_describe_or_three() -> None:
    sim_clock = SimClock()
    with EcsSimulation(EcsFaults(describe_lag=3), clock=sim_clock):
        env = _create_env()
        arns = [run(env, "migrate")["taskArn"] for _ in range(8)]
        first = env.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)
        misses = [1 + _misses(env, arn) for arn in arns]
        late = run(env, "migrate")["taskArn"]
        sim_clock.now += timedelta(seconds=5)  # describe_lag_seconds: visible by then
        on_time = env.ecs.describe_tasks(cluster=CLUSTER, tasks=[late])["tasks"]

    assert first["tasks"] == []
    assert first["failures"] == [{"arn": arn, "reason": "MISSING"} for arn in arns]
    assert set(misses) <= {1, 2, 3}
    assert len(set(misses)) > 1  # seeded draws
    assert [task["lastStatus"] for task in on_time] == ["PENDING"]


def test_without_a_lag_a_new_task_is_described_at_once(simulate: Simulate) -> None:
    simulate(EcsFaults())  # the fixture's describe_lag=0
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    assert _misses(env, task_arn) == 0


def test_the_tasks_of_one_run_task_may_run_for_their_own_time(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(tasks={"migrate": TaskFault(running_seconds=(POLL, 3 * POLL))}))
    env = _create_env()
    started = env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="migrate",
        count=2,
        launchType="FARGATE",
        networkConfiguration=env.network,  # type: ignore[arg-type]
    )
    arns = [task["taskArn"] for task in started["tasks"]]

    def statuses() -> list[str]:
        sim_clock.advance(POLL)
        described = env.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
        by_arn = {task["taskArn"]: task["lastStatus"] for task in described}
        return [by_arn[arn] for arn in arns]

    ticks = [statuses() for _ in range(4)]

    assert ticks == [
        ["RUNNING", "RUNNING"],
        ["STOPPED", "RUNNING"],
        ["STOPPED", "RUNNING"],
        ["STOPPED", "STOPPED"],
    ]


def test_task_that_fails_to_start(simulate: Simulate, sim_clock: SimClock) -> None:
    simulate(EcsFaults(tasks={"migrate": TaskFault(TaskOutcome.FAIL_TO_START)}))
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    stopped = poll_task(env, sim_clock, task_arn)

    assert (stopped["lastStatus"], stopped["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
    )
    assert "app/migrate:1" in stopped["stoppedReason"]
    assert all("exitCode" not in c for c in stopped["containers"])
    assert stopped["containers"][0]["reason"] == stopped["stoppedReason"]
    assert "startedAt" not in stopped


def test_stop_task_stops_a_never_stopping_task(simulate: Simulate, sim_clock: SimClock) -> None:
    simulation = simulate(EcsFaults(tasks={"migrate": TaskFault(TaskOutcome.NEVER_STOP)}))
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]
    running = [poll_task(env, sim_clock, task_arn) for _ in range(20)]
    assert {t["lastStatus"] for t in running} == {"RUNNING"}

    response = env.ecs.stop_task(cluster=CLUSTER, task=task_arn, reason="deploy timed out")

    assert_output_shape("StopTask", response)
    stopping = response["task"]

    assert (stopping["lastStatus"], stopping["desiredStatus"]) == ("RUNNING", "STOPPED")
    assert stopping["stopCode"] == "UserInitiated"
    assert stopping["stoppedReason"] == "deploy timed out"
    sim_clock.advance(29.0)  # ECS kills the containers after the stop timeout, 30 s
    assert describe_task(env, task_arn)["lastStatus"] == "RUNNING"
    sim_clock.advance(1.0)
    stopped = describe_task(env, task_arn)
    assert stopped["lastStatus"] == "STOPPED"
    assert [c["exitCode"] for c in stopped["containers"]] == [137, 137]
    assert (stopped["stopCode"], stopped["stoppedReason"]) == ("UserInitiated", "deploy timed out")
    assert simulation.tasks("migrate")[0].exit_codes == {"migrate": 137, "log-router": 137}


def test_stop_task_before_the_containers_run_has_no_exit_code(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults())
    env = _create_env()
    task_arn = run(env, "migrate")["taskArn"]

    env.ecs.stop_task(cluster=CLUSTER, task=task_arn)
    sim_clock.advance(30.0)
    stopped = describe_task(env, task_arn)

    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "UserInitiated")
    assert stopped["stoppedReason"] == "Task stopped by user"
    assert all("exitCode" not in c for c in stopped["containers"])


def test_client_token_makes_run_task_idempotent(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    first = run(env, "migrate", clientToken="deploy-1-pre")

    again = run(env, "migrate", clientToken="deploy-1-pre")
    other = run(env, "migrate", clientToken="deploy-1-post")

    assert again["taskArn"] == first["taskArn"]
    assert other["taskArn"] != first["taskArn"]
    listed = env.ecs.list_tasks(cluster=CLUSTER, startedBy="ecs-deployer")["taskArns"]
    assert sorted(listed) == sorted([first["taskArn"], other["taskArn"]])
    with pytest.raises(ClientError) as conflict:
        run(env, "migrate", clientToken="deploy-1-pre", count=2)
    assert conflict.value.response["Error"]["Code"] == "ConflictException"


def test_client_tokens_are_scoped_to_a_cluster(simulate: Simulate) -> None:
    simulate(EcsFaults())
    env = _create_env()
    env.ecs.create_cluster(clusterName="staging")
    first = run(env, "migrate", clientToken="same")

    elsewhere = env.ecs.run_task(
        cluster="staging",
        taskDefinition="migrate",
        launchType="FARGATE",
        networkConfiguration=env.network,  # type: ignore[arg-type]
        startedBy="ecs-deployer",
        clientToken="same",
    )["tasks"][0]

    assert elsewhere["taskArn"] != first["taskArn"]


def test_list_tasks_filters_started_by_and_defaults_to_running(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(tasks={"migrate": TaskFault(TaskOutcome.FAIL_TO_START)}))
    env = _create_env()
    stopped_arn = run(env, "migrate")["taskArn"]
    sim_clock.advance(POLL)
    running_arn = run(env, env.web_v1)["taskArn"]
    env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition=env.web_v1,
        launchType="FARGATE",
        networkConfiguration=env.network,  # type: ignore[arg-type]
        startedBy="someone-else",
    )

    def listed(**filters: Any) -> list[str]:
        return env.ecs.list_tasks(cluster=CLUSTER, startedBy="ecs-deployer", **filters)["taskArns"]

    assert listed() == [running_arn]
    assert listed(desiredStatus="RUNNING") == [running_arn]
    assert listed(desiredStatus="STOPPED") == [stopped_arn]


def test_task_responses_match_botocore_output_shapes(
    simulate: Simulate, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(tasks={"migrate": TaskFault(TaskOutcome.EXIT)}))
    env = _create_env()
    started = env.ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="migrate",
        launchType="FARGATE",
        networkConfiguration=env.network,  # type: ignore[arg-type]
    )
    task_arn = started["tasks"][0]["taskArn"]
    described = []
    for _ in range(2):
        sim_clock.advance(POLL)
        described.append(env.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn]))

    assert_output_shape("RunTask", started)
    for response in described:
        assert_output_shape("DescribeTasks", response)
    stop_codes = enum("TaskStopCode")
    assert described[-1]["tasks"][0]["stopCode"] in stop_codes


# -- throttling ---------------------------------------------------------------------------


def _expected_retries(seed: int, rate: float, calls: int) -> list[int]:
    """Retries per call when every attempt draws once from the simulation's RNG."""
    rng = random.Random(seed)
    retries = []
    for _ in range(calls):
        throttled = 0
        while rng.random() < rate:
            throttled += 1
        retries.append(throttled)
    return retries


@pytest.mark.usefixtures("aws", "no_backoff")
def test_throttling_is_retried_by_standard_retry_mode() -> None:
    _create_env()  # before throttling starts
    client = boto3.client(
        "ecs", region_name=REGION, config=Config(retries={"mode": "standard", "max_attempts": 20})
    )

    with EcsSimulation(EcsFaults(throttle_rate=0.4, seed=7)):
        responses = [client.list_services(cluster=CLUSTER) for _ in range(20)]

    retries = [response["ResponseMetadata"]["RetryAttempts"] for response in responses]
    assert retries == _expected_retries(seed=7, rate=0.4, calls=20)  # seeded: repeatable
    assert sum(retries) > 0
    assert all(len(response["serviceArns"]) == 2 for response in responses)


@pytest.mark.usefixtures("aws")
def test_throttling_surfaces_when_retries_are_disabled() -> None:
    client = boto3.client(
        "ecs", region_name=REGION, config=Config(retries={"total_max_attempts": 1})
    )

    with EcsSimulation(EcsFaults(throttle_rate=1.0)), pytest.raises(ClientError) as throttled:
        client.describe_services(cluster=CLUSTER, services=["web"])

    error = throttled.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- installation -------------------------------------------------------------------------


def _patched_classes() -> dict[str, dict[str, object]]:
    return {
        cls.__name__: dict(vars(cls))
        for cls in (EC2ContainerServiceBackend, EC2ContainerServiceResponse, Task)
    }


@pytest.mark.usefixtures("aws")
def test_uninstall_restores_moto() -> None:
    before = _patched_classes()
    simulation = EcsSimulation(EcsFaults(throttle_rate=1.0))
    simulation.install()
    patched = _patched_classes()

    simulation.uninstall()

    assert patched != before
    assert not simulation.installed
    assert _patched_classes() == before
    env = _create_env()  # no throttling any more
    forced = env.ecs.update_service(cluster=CLUSTER, service="web", forceNewDeployment=True)
    assert len(forced["service"]["deployments"]) == 1  # moto renames its only deployment
    task = run(env, "migrate")
    assert task["lastStatus"] == "RUNNING"  # moto's tasks start RUNNING
    assert len(task["containers"]) == 1  # and carry only the first container


def test_one_simulation_at_a_time() -> None:
    with EcsSimulation() as first:
        second = EcsSimulation()
        with pytest.raises(RuntimeError, match="already installed"):
            second.install()
        second.uninstall()  # not installed: a no-op that leaves the first in place
        assert first.installed
    with EcsSimulation() as third:
        assert third.installed


def test_concurrent_describes_through_moto_server() -> None:
    """Through the threaded server, concurrent DescribeServices see one rollout, which
    moves on with the clock alone."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        ecs = boto3.client("ecs", region_name=REGION, endpoint_url=f"http://{host}:{port}")
        sim_clock = SimClock()
        with EcsSimulation(EcsFaults(service_describe_lag=0), clock=sim_clock) as simulation:
            ecs.create_cluster(clusterName="threads")
            for image in ("app:1", "app:2"):
                ecs.register_task_definition(
                    family="api",
                    containerDefinitions=[{"name": "api", "image": image, "memory": 128}],
                )
            ecs.create_service(
                cluster="threads", serviceName="api", taskDefinition="api:1", desiredCount=16
            )
            ecs.update_service(cluster="threads", service="api", taskDefinition="api:2")

            with ThreadPoolExecutor(max_workers=8) as pool:
                described = list(
                    pool.map(
                        lambda _: ecs.describe_services(cluster="threads", services=["api"]),
                        range(15),
                    )
                )
            states = {s["services"][0]["deployments"][0]["rolloutState"] for s in described}
            assert states == {"IN_PROGRESS"}
            sim_clock.advance(20.0)

            (deployment,) = simulation.deployments("api", "threads")
            assert (deployment.rollout_state, deployment.running_count) == ("COMPLETED", 16)
            assert simulation.primary_task_definition("api", "threads").endswith("/api:2")
    finally:
        server.stop()


def test_faults_validate_their_options() -> None:
    with pytest.raises(ValueError, match="throttle_rate"):
        EcsFaults(throttle_rate=1.5)
    with pytest.raises(ValueError, match="seconds"):
        RolloutFault(seconds=0)
    with pytest.raises(ValueError, match="seconds"):
        TaskFault(running_seconds=0)
    with pytest.raises(ValueError, match="seconds"):
        TaskFault(running_seconds=(1, 0))
    with pytest.raises(ValueError, match="seconds"):
        EcsFaults(seconds_to_complete=0)
    with pytest.raises(ValueError, match="retention"):
        EcsFaults(stopped_task_retention_seconds=0)
    with pytest.raises(ValueError, match="describe lags"):
        EcsFaults(service_describe_lag=-1)
    with pytest.raises(ValueError, match="stop_code"):
        TaskFault(TaskOutcome.STOPPED_BY_ECS, stop_code="EssentialContainerExited")
    faults = EcsFaults(services={"web": RolloutFault()})
    with pytest.raises(TypeError):
        faults.services["worker"] = RolloutFault()  # type: ignore[index]


# -- events -------------------------------------------------------------------------------


class _Timers:
    """The scheduler's timers, on a test's clock: `advance` fires them in time order."""

    def __init__(self, sim_clock: SimClock) -> None:
        self.clock = sim_clock
        self._set: list[tuple[datetime, int, Callable[[], None]]] = []

    def call_at(self, when: datetime, callback: Callable[[], None]) -> None:
        self._set.append((when, len(self._set), callback))

    def advance(self, seconds: float) -> None:
        end = self.clock.now + timedelta(seconds=seconds)
        while due := sorted((t for t in self._set if t[0] <= end), key=lambda t: t[:2]):
            timer = due[0]
            self._set.remove(timer)
            self.clock.now = max(self.clock.now, timer[0])
            timer[2]()
        self.clock.now = end


@dataclass(frozen=True)
class Bus:
    """What reaches an SQS queue from a rule on every ECS event."""

    queue_url: str

    def events(self) -> list[dict[str, Any]]:
        return _drain(boto3.client("sqs", region_name=REGION), self.queue_url)


@pytest.fixture
def bus(aws: None) -> Bus:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="ecs-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="ecs", EventPattern=json.dumps({"source": ["aws.ecs"]}))
    events.put_targets(Rule="ecs", Targets=[{"Id": "queue", "Arn": arn["QueueArn"]}])
    return Bus(url)


def _with_events(sim_clock: SimClock, faults: EcsFaults) -> tuple[EcsSimulation, _Timers]:
    timers = _Timers(sim_clock)
    consistent = dataclasses.replace(faults, describe_lag=0, service_describe_lag=0)
    return EcsSimulation(consistent, clock=sim_clock, timers=timers), timers


def test_a_rollout_puts_its_deployment_events_at_their_times(bus: Bus, sim_clock: SimClock) -> None:
    simulation, timers = _with_events(sim_clock, EcsFaults(service_tasks=False))
    with simulation:
        env = _create_env()
        started = sim_clock.now
        deployment_id = deploy(env, "web", env.web_v2)
        timers.advance(60)  # nobody describes the service meanwhile
        service_arn = describe(env.ecs, "web")["serviceArn"]

    events = [e for e in bus.events() if e["detail-type"] == "ECS Deployment State Change"]
    assert [(e["detail"]["eventName"], e["time"]) for e in events] == [
        ("SERVICE_DEPLOYMENT_IN_PROGRESS", f"{started:%Y-%m-%dT%H:%M:%SZ}"),
        ("SERVICE_DEPLOYMENT_COMPLETED", f"{started + timedelta(seconds=20):%Y-%m-%dT%H:%M:%SZ}"),
    ]
    completed = events[-1]
    assert completed["source"] == "aws.ecs"
    assert completed["resources"] == [service_arn]
    assert completed["detail"] == {
        "eventType": "INFO",
        "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
        "deploymentId": deployment_id,
        "updatedAt": f"{started + timedelta(seconds=20):%Y-%m-%dT%H:%M:%S}.000Z",
        "reason": f"ECS deployment {deployment_id} completed.",
    }


def test_a_circuit_breaker_fails_then_rolls_back_in_events(bus: Bus, sim_clock: SimClock) -> None:
    fault = RolloutFault(RolloutOutcome.AUTO_ROLLBACK, seconds=POLL)
    simulation, timers = _with_events(sim_clock, EcsFaults(services={"web": fault}))
    with simulation:
        env = _create_env()
        deployment_id = deploy(env, "web", env.web_v2)
        timers.advance(60)

    events = [e["detail"] for e in bus.events() if e["detail-type"].startswith("ECS Deployment")]
    assert [(e["eventType"], e["eventName"]) for e in events] == [
        ("INFO", "SERVICE_DEPLOYMENT_IN_PROGRESS"),
        ("ERROR", "SERVICE_DEPLOYMENT_FAILED"),
        ("INFO", "SERVICE_DEPLOYMENT_IN_PROGRESS"),  # the rollback
        ("INFO", "SERVICE_DEPLOYMENT_COMPLETED"),
    ]
    assert events[1]["deploymentId"] == deployment_id
    assert events[1]["reason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert events[2]["reason"].startswith("ECS deployment circuit breaker: rolling back to")


def test_a_task_puts_each_status_change_as_describe_tasks_shows_it(
    bus: Bus, sim_clock: SimClock
) -> None:
    fault = TaskFault(TaskOutcome.EXIT, exit_code=3)
    simulation, timers = _with_events(
        sim_clock, EcsFaults(tasks={"migrate": fault}, service_tasks=False)
    )
    with simulation:
        env = _create_env()
        task_arn = run(env, "migrate")["taskArn"]
        timers.advance(60)
        described = describe_task(env, task_arn)

    events = [e for e in bus.events() if e["detail-type"] == "ECS Task State Change"]
    assert [(e["detail"]["lastStatus"], e["detail"]["desiredStatus"]) for e in events] == [
        ("PENDING", "RUNNING"),
        ("RUNNING", "RUNNING"),
        ("STOPPED", "STOPPED"),
    ]
    stopped = events[-1]
    assert stopped["resources"] == [task_arn]
    detail = stopped["detail"]
    assert (detail["taskArn"], detail["group"], detail["startedBy"]) == (
        task_arn,
        "family:migrate",
        "ecs-deployer",
    )
    assert (detail["stopCode"], detail["stoppedReason"]) == (
        described["stopCode"],
        described["stoppedReason"],
    )
    assert [(c["name"], c.get("exitCode")) for c in detail["containers"]] == [
        ("migrate", 3),
        ("log-router", 143),
    ]


@pytest.mark.parametrize(
    ("drop", "lost"),
    [
        ({"dropped_events": ("SERVICE_DEPLOYMENT_COMPLETED",)}, ["SERVICE_DEPLOYMENT_COMPLETED"]),
        (
            {"event_drop_rate": 1.0},
            ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"],
        ),
    ],
)
def test_events_are_best_effort(
    bus: Bus, sim_clock: SimClock, drop: dict[str, Any], lost: list[str]
) -> None:
    simulation, timers = _with_events(sim_clock, EcsFaults(service_tasks=False, **drop))
    with simulation:
        env = _create_env()
        deploy(env, "web", env.web_v2)
        timers.advance(60)
        rollout_state = simulation.deployments("web", CLUSTER)[0].rollout_state

    received = [e["detail"]["eventName"] for e in bus.events()]
    assert rollout_state == "COMPLETED"  # ECS went on: only its events were lost
    assert [e.name for e in simulation.events.dropped] == lost
    assert not set(received) & set(lost)


def test_without_timers_no_event_is_put(bus: Bus, simulate: Simulate, sim_clock: SimClock) -> None:
    simulate(EcsFaults())
    env = _create_env()
    deploy(env, "web", env.web_v2)
    sim_clock.advance(60)
    describe(env.ecs, "web")

    assert bus.events() == []


def test_in_the_local_cloud_events_come_at_their_time_while_executions_wait() -> None:
    """The virtual clock jumps from one wake-up to the next: ECS's transitions are wake-ups
    too (timers), so their events come on time while the only execution waits a minute."""
    with LocalCloud(MINI_TEMPLATE, stack_name="mini", extensions=[EcsSimulation()]) as cloud:
        cloud.deploy_stack({"Greeting": "bonjour"})
        sqs, events = cloud.client("sqs"), cloud.client("events")
        url = sqs.create_queue(QueueName="ecs-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        events.put_rule(Name="ecs", EventPattern=json.dumps({"source": ["aws.ecs"]}))
        events.put_targets(Rule="ecs", Targets=[{"Id": "queue", "Arn": arn["QueueArn"]}])
        ecs = cloud.client("ecs")
        ecs.create_cluster(clusterName=CLUSTER)
        for image in ("app:1", "app:2"):
            ecs.register_task_definition(
                family="api",
                containerDefinitions=[{"name": "api", "image": image, "memory": 128}],
            )
        ecs.create_service(
            cluster=CLUSTER, serviceName="api", taskDefinition="api:1", desiredCount=1
        )
        sfn = cloud.client("stepfunctions")
        waiting = sfn.create_state_machine(
            name="waits",
            definition=json.dumps(
                {
                    "StartAt": "Wait",
                    "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}},
                }
            ),
            roleArn="arn:aws:iam::123456789012:role/waits",
        )["stateMachineArn"]
        started = cloud.clock.now()
        ecs.update_service(cluster=CLUSTER, service="api", taskDefinition="api:2")
        cloud.start_execution({}, state_machine_arn=waiting)
        cloud.run_until_idle()
        ended = cloud.clock.now()
        received = _drain(sqs, url)

    deployments = [
        (e["detail"]["eventName"], e["time"])
        for e in received
        if e["detail-type"] == "ECS Deployment State Change"
    ]
    assert deployments == [
        ("SERVICE_DEPLOYMENT_IN_PROGRESS", f"{started:%Y-%m-%dT%H:%M:%SZ}"),
        ("SERVICE_DEPLOYMENT_COMPLETED", f"{started + timedelta(seconds=20):%Y-%m-%dT%H:%M:%SZ}"),
    ]
    assert ended == started + timedelta(seconds=60)  # the execution's end, not ECS's


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    received = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received
