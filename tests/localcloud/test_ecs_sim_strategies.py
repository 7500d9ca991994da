"""The ECS simulation's BLUE_GREEN, LINEAR and CANARY service deployments: lifecycle stages
on the simulated clock, bake time, lifecycle hooks and ContinueServiceDeployment, driven
through the real boto3 ECS client on moto."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import boto3
import pytest
from botocore.exceptions import ClientError

from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, RolloutFault
from ecs_deployer_tools.localcloud.ecs_sim.strategies import HookFault, HookOutcome

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from mypy_boto3_ecs import ECSClient

    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from ecs_deployer_tools.localcloud.ecs_sim.events import EcsEvent
    from tests.aws_fixtures import SimClock

REGION, CLUSTER = "us-east-1", "prod"
STEP = 10.0  # the simulation's pace: a stage without hooks or bake, a rollout step
LAMBDA_HOOK = {
    "targetType": "AWS_LAMBDA",
    "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:check",
    "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks",
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
}
PAUSE_HOOK = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}


class World:
    """One service, web (2 tasks), with `configuration`, under a simulation on `sim_clock`."""

    def __init__(self, sim_clock: SimClock, configuration: Mapping[str, Any]) -> None:
        self.clock = sim_clock
        self.ecs: ECSClient = boto3.client("ecs", region_name=REGION)
        self.ecs.create_cluster(clusterName=CLUSTER)
        self.v1, self.v2 = (
            self.ecs.register_task_definition(
                family="web",
                containerDefinitions=[{"name": "web", "image": f"web:{n}", "memory": 128}],
            )["taskDefinition"]["taskDefinitionArn"]
            for n in (1, 2)
        )
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName="web",
            taskDefinition=self.v1,
            desiredCount=2,
            deploymentConfiguration=configuration,  # type: ignore[arg-type]
        )

    def deploy(self) -> str:
        updated = self.ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=self.v2)
        return updated["service"]["currentServiceDeployment"]

    def described(self, arn: str) -> Mapping[str, Any]:
        found = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
        return found["serviceDeployments"][0]

    def stages(self, arn: str, seconds: float, every: float = STEP) -> list[tuple[str, str]]:
        """(status, lifecycleStage) after each `every` seconds for `seconds`, repeats once."""
        seen: list[tuple[str, str]] = []
        for _ in range(round(seconds / every)):
            self.clock.advance(every)
            found = self.described(arn)
            now = (str(found["status"]), str(found.get("lifecycleStage", "-")))
            if not seen or seen[-1] != now:
                seen.append(now)
        return seen

    def running(self) -> list[tuple[str, str, int]]:
        service = self.ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]
        return [
            (d["status"], d["taskDefinition"].rsplit(":", 1)[-1], d["runningCount"])
            for d in service["deployments"]
        ]


def _blue_green(bake_minutes: int = 1, hooks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "strategy": "BLUE_GREEN",
        "bakeTimeInMinutes": bake_minutes,
        "lifecycleHooks": hooks or [],
    }


def test_blue_green_goes_through_the_lifecycle_stages_and_bakes(
    simulate: Any, sim_clock: SimClock
) -> None:
    simulate()
    world = World(sim_clock, _blue_green(bake_minutes=5))
    arn = world.deploy()

    assert world.described(arn)["status"] == "PENDING"
    seen = world.stages(arn, seconds=20 * 60)

    assert seen == [
        ("IN_PROGRESS", "PRE_SCALE_UP"),
        ("IN_PROGRESS", "SCALE_UP"),
        ("IN_PROGRESS", "POST_SCALE_UP"),
        ("IN_PROGRESS", "TEST_TRAFFIC_SHIFT"),
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"),
        ("IN_PROGRESS", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
        ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"),
        ("IN_PROGRESS", "POST_PRODUCTION_TRAFFIC_SHIFT"),
        ("IN_PROGRESS", "BAKE_TIME"),
        ("IN_PROGRESS", "CLEAN_UP"),
        ("SUCCESSFUL", "CLEAN_UP"),
    ]
    assert world.running() == [("PRIMARY", "2", 2)]


def test_the_blue_revision_runs_through_the_bake(simulate: Any, sim_clock: SimClock) -> None:
    simulate()
    world = World(sim_clock, _blue_green(bake_minutes=30))
    arn = world.deploy()
    world.stages(arn, seconds=5 * 60)

    assert world.described(arn)["lifecycleStage"] == "BAKE_TIME"
    assert world.running() == [("PRIMARY", "2", 2), ("ACTIVE", "1", 2)]
    world.stages(arn, seconds=24 * 60)
    assert world.described(arn)["lifecycleStage"] == "BAKE_TIME"  # 30 minutes of bake
    world.stages(arn, seconds=5 * 60)
    assert world.described(arn)["status"] == "SUCCESSFUL"


def test_a_rollback_during_bake_returns_to_blue_at_once(simulate: Any, sim_clock: SimClock) -> None:
    simulation = simulate()
    world = World(sim_clock, _blue_green(bake_minutes=30))
    arn = world.deploy()
    world.stages(arn, seconds=5 * 60)

    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")

    assert world.stages(arn, seconds=2 * STEP) == [
        ("ROLLBACK_IN_PROGRESS", "BAKE_TIME"),
        ("ROLLBACK_SUCCESSFUL", "BAKE_TIME"),
    ]
    assert simulation.primary_task_definition("web", CLUSTER) == world.v1
    assert world.running() == [("PRIMARY", "1", 2)]


def test_a_failing_lambda_hook_rolls_the_deployment_back(
    simulate: Any, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(hooks=HookFault(HookOutcome.FAILED))}))
    world = World(sim_clock, _blue_green(hooks=[LAMBDA_HOOK]))
    arn = world.deploy()

    seen = world.stages(arn, seconds=5 * 60)

    assert seen[-3:] == [
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"),
        ("ROLLBACK_IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"),
        ("ROLLBACK_SUCCESSFUL", "POST_TEST_TRAFFIC_SHIFT"),
    ]
    done = world.described(arn)
    [hook] = done["lifecycleHookDetails"]
    assert (hook["targetType"], hook["status"]) == ("AWS_LAMBDA", "FAILED")
    assert hook["hookId"] in done["rollback"]["reason"]
    assert world.running() == [("PRIMARY", "1", 2)]


def test_a_lambda_hook_in_progress_for_ever_times_out_and_rolls_back(
    simulate: Any, sim_clock: SimClock
) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(hooks=HookFault(HookOutcome.IN_PROGRESS))}))
    timed = LAMBDA_HOOK | {"timeoutConfiguration": {"timeoutInMinutes": 3}}
    world = World(sim_clock, _blue_green(hooks=[timed]))
    arn = world.deploy()

    world.stages(arn, seconds=2 * 60)
    [hook] = world.described(arn)["lifecycleHookDetails"]
    assert hook["status"] == "IN_PROGRESS"
    world.stages(arn, seconds=3 * 60)

    done = world.described(arn)
    assert done["status"] == "ROLLBACK_SUCCESSFUL"
    assert done["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"


def _paused(world: World, arn: str) -> Mapping[str, Any]:
    world.stages(arn, seconds=2 * 60)
    found = world.described(arn)
    assert (found["status"], found["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    [hook] = found["lifecycleHookDetails"]
    return dict(hook)


def test_a_pause_hook_waits_for_continue(simulate: Any, sim_clock: SimClock) -> None:
    simulate()
    world = World(sim_clock, _blue_green(hooks=[PAUSE_HOOK]))
    arn = world.deploy()

    hook = _paused(world, arn)
    assert (hook["targetType"], hook["status"], hook["timeoutAction"]) == (
        "PAUSE",
        "AWAITING_ACTION",
        "ROLLBACK",
    )
    assert hook["hookId"].startswith("ecs-pause-")
    assert hook["expiresAt"] > sim_clock.now + timedelta(hours=23)  # the default: 1440 minutes
    world.stages(arn, seconds=60 * 60, every=60)
    assert world.described(arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"  # still paused

    answer = world.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE"
    )

    assert answer["serviceDeploymentArn"] == arn
    assert world.described(arn)["lifecycleStage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    world.stages(arn, seconds=5 * 60)
    assert world.described(arn)["status"] == "SUCCESSFUL"


def test_continue_with_rollback_rolls_back(simulate: Any, sim_clock: SimClock) -> None:
    simulate()
    world = World(sim_clock, _blue_green(hooks=[PAUSE_HOOK]))
    arn = world.deploy()
    hook = _paused(world, arn)

    world.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK"
    )

    assert world.stages(arn, seconds=STEP) == [("ROLLBACK_SUCCESSFUL", "POST_TEST_TRAFFIC_SHIFT")]
    assert "ContinueServiceDeployment (ROLLBACK)" in world.described(arn)["rollback"]["reason"]
    assert world.running() == [("PRIMARY", "1", 2)]


def _hook_events(simulation: EcsSimulation, now: datetime) -> list[EcsEvent]:
    return [e for e in simulation.events.take(now) if e.detail_type == "ECS Hook State Change"]


@pytest.mark.parametrize(
    ("action", "ended"), [("CONTINUE", "HOOK_SUCCEEDED"), ("ROLLBACK", "HOOK_FAILED")]
)
def test_a_pause_hook_puts_hook_state_change_events(
    simulate: Any, sim_clock: SimClock, action: Literal["CONTINUE", "ROLLBACK"], ended: str
) -> None:
    simulation = simulate()
    world = World(sim_clock, _blue_green(hooks=[PAUSE_HOOK]))
    arn = world.deploy()
    hook = _paused(world, arn)
    service = world.ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]

    [paused] = _hook_events(simulation, sim_clock.now)
    world.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action=action
    )
    [answered] = _hook_events(simulation, sim_clock.now)

    assert paused.resources == (arn,)
    assert paused.detail == {
        "eventType": "INFO",
        "eventName": "HOOK_AWAITING_ACTION",
        "hookId": hook["hookId"],
        "hookType": "PAUSE",
        "expiresAt": f"{hook['expiresAt']:%Y-%m-%dT%H:%M:%SZ}",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "clusterArn": service["clusterArn"],
        "serviceArn": service["serviceArn"],
        "serviceDeploymentArn": arn,
        "updatedAt": f"{paused.at:%Y-%m-%dT%H:%M:%S}.000Z",
    }
    assert paused.at < sim_clock.now  # when the stage started, not when anyone looked
    assert (answered.name, answered.at) == (ended, sim_clock.now)
    assert answered.detail["hookId"] == hook["hookId"]


def test_a_lambda_hook_puts_its_start_and_its_answer(simulate: Any, sim_clock: SimClock) -> None:
    fault = HookFault(HookOutcome.FAILED, seconds=30)
    simulation = simulate(EcsFaults(services={"web": RolloutFault(hooks=fault)}))
    world = World(sim_clock, _blue_green(hooks=[LAMBDA_HOOK]))
    arn = world.deploy()

    world.stages(arn, seconds=5 * 60)

    started, failed = _hook_events(simulation, sim_clock.now)
    assert (started.name, failed.name) == ("HOOK_IN_PROGRESS", "HOOK_FAILED")
    assert started.detail["hookType"] == "AWS_LAMBDA"
    assert failed.at - started.at == timedelta(seconds=30)


def test_a_pause_hook_takes_its_timeout_action(simulate: Any, sim_clock: SimClock) -> None:
    simulate()
    go_on = PAUSE_HOOK | {"timeoutConfiguration": {"timeoutInMinutes": 5, "action": "CONTINUE"}}
    world = World(sim_clock, _blue_green(hooks=[go_on]))
    arn = world.deploy()
    _paused(world, arn)

    world.stages(arn, seconds=10 * 60)

    done = world.described(arn)
    assert done["status"] == "SUCCESSFUL"


def test_continue_refuses_what_is_not_awaiting(simulate: Any, sim_clock: SimClock) -> None:
    simulate()
    world = World(sim_clock, _blue_green(hooks=[PAUSE_HOOK]))
    arn = world.deploy()
    hook = _paused(world, arn)

    def refused(**request: str) -> str:
        with pytest.raises(ClientError) as error:
            world.ecs.continue_service_deployment(**request)  # type: ignore[arg-type]
        return str(error.value.response["Error"]["Code"])

    assert refused(serviceDeploymentArn=arn, hookId="ecs-pause-unknown") == (
        "InvalidParameterException"
    )
    assert refused(serviceDeploymentArn=arn[:-1] + "Z", hookId=hook["hookId"]) == (
        "ServiceDeploymentNotFoundException"
    )
    world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    assert refused(serviceDeploymentArn=arn, hookId=hook["hookId"]) == "InvalidParameterException"


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"strategy": "BLUE_GREEN"}, "bakeTimeInMinutes"),
        (_blue_green(hooks=[PAUSE_HOOK | {"lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}]), "PAUSE"),
        (
            _blue_green(hooks=[{"targetType": "AWS_LAMBDA", "lifecycleStages": ["PRE_SCALE_UP"]}]),
            "hookTargetArn",
        ),
    ],
)
def test_create_and_update_refuse_what_ecs_refuses(
    simulate: Any, sim_clock: SimClock, configuration: dict[str, Any], message: str
) -> None:
    simulate()
    world = World(sim_clock, {"strategy": "ROLLING"})
    with pytest.raises(ClientError) as created:
        world.ecs.create_service(
            cluster=CLUSTER,
            serviceName="api",
            taskDefinition=world.v1,
            desiredCount=1,
            deploymentConfiguration=configuration,  # type: ignore[arg-type]
        )
    with pytest.raises(ClientError) as updated:
        world.ecs.update_service(
            cluster=CLUSTER,
            service="web",
            deploymentConfiguration=configuration,  # type: ignore[arg-type]
        )
    for error in (created, updated):
        assert error.value.response["Error"]["Code"] == "InvalidParameterException"
        assert message in error.value.response["Error"]["Message"]


def test_linear_shifts_traffic_in_steps_with_step_bakes(simulate: Any, sim_clock: SimClock) -> None:
    simulate()
    configuration = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 0,
        "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 2},
    }
    world = World(sim_clock, configuration)
    arn = world.deploy()

    seen = world.stages(arn, seconds=60, every=STEP)
    seen += world.stages(arn, seconds=2 * 60 - STEP, every=STEP)  # the first step's bake
    assert seen[-1] == ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
    seen += world.stages(arn, seconds=5 * 60, every=STEP)

    shifts = [
        ("IN_PROGRESS", stage)
        for stage in ("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
    ]
    assert [now for now, _ in itertools.groupby(seen)][5:] == [
        *shifts,
        *shifts,
        ("IN_PROGRESS", "POST_PRODUCTION_TRAFFIC_SHIFT"),
        ("IN_PROGRESS", "BAKE_TIME"),
        ("IN_PROGRESS", "CLEAN_UP"),
        ("SUCCESSFUL", "CLEAN_UP"),
    ]


def test_an_alarm_in_alarm_rolls_the_deployment_back(simulate: Any, sim_clock: SimClock) -> None:
    simulate(EcsFaults(services={"web": RolloutFault(alarm_after=4 * 60)}))
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}
    world = World(sim_clock, _blue_green(bake_minutes=30) | {"alarms": alarms})
    arn = world.deploy()
    world.stages(arn, seconds=3 * 60)
    assert world.described(arn)["alarms"] == {
        "status": "MONITORING",
        "alarmNames": ["web-5xx"],
        "triggeredAlarmNames": [],
    }

    seen = world.stages(arn, seconds=2 * 60)

    assert seen[-2:] == [
        ("ROLLBACK_IN_PROGRESS", "BAKE_TIME"),
        ("ROLLBACK_SUCCESSFUL", "BAKE_TIME"),
    ]
    done = world.described(arn)
    assert done["alarms"]["status"] == "TRIGGERED"
    assert done["alarms"]["triggeredAlarmNames"] == ["web-5xx"]
    assert "web-5xx" in done["rollback"]["reason"]
    state = cloudwatch.describe_alarms(AlarmNames=["web-5xx"])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM"  # read from CloudWatch, where the fault set it
    assert world.running() == [("PRIMARY", "1", 2)]
