"""The local cloud's CodeDeploy: ECS blue/green deployments on the simulated clock."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from moto import mock_aws
from moto.moto_api._internal import mock_random

from ecs_deployer_tools.localcloud.codedeploy import (
    LIFECYCLE_EVENTS,
    CodeDeployFaults,
    CodeDeploySimulation,
    GroupFault,
    GroupOutcome,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.aws_fixtures import SimClock

CLUSTER, SERVICE, GROUP = "prod", "web", "web-dg"
EVENT_SECONDS = 30.0
_MODEL = botocore.session.get_session().get_service_model("codedeploy")


def _valid(operation: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer, checked against the pinned botocore model's output shape."""
    answer = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    shape = _MODEL.operation_model(operation).output_shape
    assert shape is not None
    report = ParamValidator().validate(answer, shape)
    assert not report.has_errors(), report.generate_report()
    return answer


def _appspec(task_definition: str) -> str:
    properties = {
        "TaskDefinition": task_definition,
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80},
    }
    resource = {"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}
    return json.dumps({"version": 0.0, "Resources": [resource]})


class World:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.ecs = boto3.client("ecs")
        self.codedeploy = boto3.client("codedeploy")
        self.ecs.create_cluster(clusterName=CLUSTER)
        self.revisions = [
            self.ecs.register_task_definition(
                family="web",
                containerDefinitions=[{"name": "web", "image": f"web:{n}", "memory": 128}],
            )["taskDefinition"]["taskDefinitionArn"]
            for n in (1, 2)
        ]
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=self.revisions[0],
            desiredCount=2,
            launchType="FARGATE",
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[
                {
                    "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                    "targetgroup/web-blue/1",
                    "containerName": "web",
                    "containerPort": 80,
                }
            ],
        )
        self.codedeploy.create_application(applicationName="shop", computePlatform="ECS")

    def group(self, *, rollback: bool = True, termination_wait: int = 0) -> None:
        self.codedeploy.create_deployment_group(
            applicationName="shop",
            deploymentGroupName=GROUP,
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
            ecsServices=[{"serviceName": SERVICE, "clusterName": CLUSTER}],
            deploymentStyle={
                "deploymentType": "BLUE_GREEN",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            autoRollbackConfiguration={"enabled": rollback, "events": ["DEPLOYMENT_FAILURE"]},
            blueGreenDeploymentConfiguration={
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": termination_wait,
                }
            },
        )

    def deploy(self) -> str:
        revision = {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": _appspec(self.revisions[1])},
        }
        answer = self.codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName=GROUP, revision=revision
        )
        return str(_valid("CreateDeployment", answer)["deploymentId"])

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        answer = self.codedeploy.batch_get_deployments(deploymentIds=[deployment_id])
        (info,) = _valid("BatchGetDeployments", answer)["deploymentsInfo"]
        return dict(info)

    def events(self, deployment_id: str) -> dict[str, str]:
        targets = self.codedeploy.list_deployment_targets(deploymentId=deployment_id)
        assert _valid("ListDeploymentTargets", targets)["targetIds"] == [f"{CLUSTER}:{SERVICE}"]
        answer = self.codedeploy.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=targets["targetIds"]
        )
        (target,) = _valid("BatchGetDeploymentTargets", answer)["deploymentTargets"]
        assert target["deploymentTargetType"] == "ECSTarget"
        return {
            e["lifecycleEventName"]: e["status"] for e in target["ecsTarget"]["lifecycleEvents"]
        }

    def task_sets(self) -> list[tuple[str, str]]:
        (service,) = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
        assert service["taskDefinition"] == next(
            ts["taskDefinition"] for ts in service["taskSets"] if ts["status"] == "PRIMARY"
        )
        return sorted((ts["status"], ts["taskDefinition"]) for ts in service["taskSets"])

    def after_events(self, count: float) -> None:
        self.clock.advance(count * EVENT_SECONDS)


@pytest.fixture
def world(aws: None, sim_clock: SimClock) -> World:
    return World(sim_clock)


@pytest.fixture
def codedeploy(aws: None, sim_clock: SimClock) -> Iterator[CodeDeploySimulation]:
    with CodeDeploySimulation(
        CodeDeployFaults(event_seconds=EVENT_SECONDS), clock=sim_clock
    ) as sim:
        yield sim


def test_a_deployment_runs_the_lifecycle_events_in_order_and_moves_the_service(
    codedeploy: CodeDeploySimulation, world: World
) -> None:
    world.group(termination_wait=5)
    deployment_id = world.deploy()
    blue, green = world.revisions
    assert world.deployment(deployment_id)["status"] == "Created"
    assert world.task_sets() == [("PRIMARY", blue)]  # the blue task set ECS made
    seen, task_sets = [], {}
    for _ in range(len(LIFECYCLE_EVENTS)):
        world.after_events(1)
        events = world.events(deployment_id)
        running = next(name for name, status in events.items() if status == "InProgress")
        seen.append(running)
        task_sets[running] = world.task_sets()
        assert world.deployment(deployment_id)["status"] == "InProgress"
    assert seen == list(LIFECYCLE_EVENTS)
    assert task_sets["Install"] == [("PRIMARY", blue)]
    assert task_sets["AllowTraffic"] == [("ACTIVE", green), ("PRIMARY", blue)]  # no traffic yet
    assert task_sets["AfterAllowTraffic"] == [("ACTIVE", blue), ("PRIMARY", green)]
    world.after_events(1)  # AfterAllowTraffic done: the termination wait keeps blue
    assert world.task_sets() == [("ACTIVE", blue), ("PRIMARY", green)]
    assert world.deployment(deployment_id)["status"] == "InProgress"
    world.clock.advance(5 * 60)
    info = world.deployment(deployment_id)
    assert info["status"] == "Succeeded"
    assert "errorInformation" not in info
    assert "rollbackInfo" not in info
    assert set(world.events(deployment_id).values()) == {"Succeeded"}
    assert world.task_sets() == [("PRIMARY", green)]


def test_a_failing_hook_fails_the_deployment_and_a_rollback_deployment_restores_the_service(
    codedeploy: CodeDeploySimulation, world: World
) -> None:
    codedeploy.faults = CodeDeployFaults(
        groups={GROUP: GroupFault(GroupOutcome.HOOK_FAILS, "AfterAllowTraffic")},
        event_seconds=EVENT_SECONDS,
    )
    world.group()
    deployment_id = world.deploy()
    blue, green = world.revisions
    world.after_events(1 + len(LIFECYCLE_EVENTS))
    info = world.deployment(deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert world.events(deployment_id)["AfterAllowTraffic"] == "Failed"
    rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
    rollback = world.deployment(rollback_id)
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    assert rollback["status"] == "InProgress"
    assert world.task_sets() == [("ACTIVE", blue), ("PRIMARY", green)]
    world.after_events(1)  # the rollback reroutes traffic to blue
    assert world.deployment(rollback_id)["status"] == "Succeeded"
    assert world.task_sets() == [("PRIMARY", blue)]
    assert green not in dict(world.task_sets()).values()


def test_without_auto_rollback_a_failed_deployment_leaves_the_service_as_it_failed(
    codedeploy: CodeDeploySimulation, world: World
) -> None:
    codedeploy.faults = CodeDeployFaults(
        groups={GROUP: GroupFault(GroupOutcome.HOOK_FAILS, "AfterAllowTraffic")},
        event_seconds=EVENT_SECONDS,
    )
    world.group(rollback=False)
    deployment_id = world.deploy()
    world.after_events(1 + len(LIFECYCLE_EVENTS))
    info = world.deployment(deployment_id)
    assert info["status"] == "Failed"
    assert "rollbackInfo" not in info
    assert world.task_sets() == [("ACTIVE", world.revisions[0]), ("PRIMARY", world.revisions[1])]


def test_a_deployment_that_never_ends_is_stopped_and_rolled_back_on_request(
    codedeploy: CodeDeploySimulation, world: World
) -> None:
    codedeploy.faults = CodeDeployFaults(
        groups={GROUP: GroupFault(GroupOutcome.NEVER_ENDS, "AfterAllowTestTraffic")},
        event_seconds=EVENT_SECONDS,
    )
    world.group(rollback=False)
    deployment_id = world.deploy()
    world.clock.advance(24 * 3600)
    assert world.deployment(deployment_id)["status"] == "InProgress"
    assert world.events(deployment_id)["AfterAllowTestTraffic"] == "InProgress"
    answer = world.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    assert _valid("StopDeployment", answer)["status"] == "Pending"
    info = world.deployment(deployment_id)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    assert world.events(deployment_id)["BeforeAllowTraffic"] == "Skipped"
    world.after_events(1)
    assert world.deployment(info["rollbackInfo"]["rollbackDeploymentId"])["status"] == "Succeeded"
    assert world.task_sets() == [("PRIMARY", world.revisions[0])]
    with pytest.raises(ClientError, match="DeploymentAlreadyCompletedException"):
        world.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)


def test_a_hook_before_install_fails_with_nothing_to_roll_back(
    codedeploy: CodeDeploySimulation, world: World
) -> None:
    codedeploy.faults = CodeDeployFaults(
        groups={GROUP: GroupFault(GroupOutcome.HOOK_FAILS, "BeforeInstall")},
        event_seconds=EVENT_SECONDS,
    )
    world.group()
    deployment_id = world.deploy()
    world.after_events(2)
    info = world.deployment(deployment_id)
    assert info["status"] == "Failed"
    assert "rollbackInfo" not in info
    assert world.task_sets() == [("PRIMARY", world.revisions[0])]


def test_deployment_groups_are_read_in_batches_naming_the_missing(
    codedeploy: CodeDeploySimulation, world: World
) -> None:
    world.group()
    answer = world.codedeploy.batch_get_deployment_groups(
        applicationName="shop", deploymentGroupNames=[GROUP, "gone"]
    )
    answer = _valid("BatchGetDeploymentGroups", answer)
    (group,) = answer["deploymentGroupsInfo"]
    assert group["ecsServices"] == [{"serviceName": SERVICE, "clusterName": CLUSTER}]
    assert "gone" in answer["errorMessage"]


def test_a_fault_names_a_real_lifecycle_event_with_a_hook() -> None:
    with pytest.raises(ValueError, match="not an ECS lifecycle event"):
        GroupFault(GroupOutcome.HOOK_FAILS, "Deploy")
    with pytest.raises(ValueError, match="runs no hook"):
        GroupFault(GroupOutcome.HOOK_FAILS, "Install")


def test_deployment_ids_are_the_same_on_every_run(sim_clock: SimClock) -> None:
    ids = []
    for _ in range(2):
        with (
            mock_aws(),
            CodeDeploySimulation(CodeDeployFaults(event_seconds=EVENT_SECONDS), clock=sim_clock),
        ):
            mock_random.seed(7)
            world = World(sim_clock)
            world.group()
            ids.append(world.deploy())
    assert ids[0] == ids[1]
