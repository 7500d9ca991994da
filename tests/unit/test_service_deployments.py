"""Judging a service deployment (DescribeServiceDeployments) whatever the strategy."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from ecs_deployer.domain.service_deployments import (
    LONGEST_STRATEGY_TIME,
    ServiceDeployment,
    judge_service_deployment,
    reached,
    strategy_time,
    wait_budget,
)
from tests.support import load_event


def _blue_green(**changes: Any) -> dict[str, Any]:
    response = load_event("describe_service_deployments_blue_green")
    data: dict[str, Any] = copy.deepcopy(response["serviceDeployments"][0])
    data.update(changes)
    return data


def _judge(wait_until: Any = "COMPLETED", **changes: Any) -> tuple[str, str]:
    judgement = judge_service_deployment(
        ServiceDeployment.from_api(_blue_green(**changes)), wait_until
    )
    return judgement.state, judgement.reason


def test_parses_the_documented_shape() -> None:
    deployment = ServiceDeployment.from_api(_blue_green())
    assert deployment.lifecycle_stage == "BAKE_TIME"
    assert deployment.circuit_breaker == "MONITORING"
    assert deployment.triggered_alarms == ()
    assert deployment.ongoing
    assert deployment.paused_hook is None


def test_success_only_when_ecs_says_so() -> None:
    assert _judge(status="SUCCESSFUL")[0] == "COMPLETED"
    # Production traffic has shifted, but the bake is not over: not done by default.
    assert _judge()[0] == "IN_PROGRESS"


@pytest.mark.parametrize(
    ("stage", "wait_until", "done"),
    [
        ("BAKE_TIME", "BAKE_TIME", True),
        ("CLEAN_UP", "BAKE_TIME", True),
        ("PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", False),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", True),
        ("SCALE_UP", "COMPLETED", False),
        (None, "BAKE_TIME", False),
        # Before each production traffic shift step (the API's text lists it).
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", True),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", False),
    ],
)
def test_wait_until_a_stage(stage: str | None, wait_until: Any, done: bool) -> None:
    assert reached(stage, wait_until) is done
    state, _ = _judge(wait_until, lifecycleStage=stage)
    assert state == ("COMPLETED" if done else "IN_PROGRESS")


def test_a_stage_reached_is_no_success_once_ecs_rolls_back() -> None:
    state, reason = _judge(
        "BAKE_TIME",
        status="ROLLBACK_IN_PROGRESS",
        alarms={
            "status": "TRIGGERED",
            "alarmNames": "web-5xx,web-latency",
            "triggeredAlarmNames": "web-5xx",
        },
    )
    assert state == "IN_PROGRESS"  # ECS is rolling back: wait, never deploy on top of it
    assert "rolling the deployment back" in reason
    assert "web-5xx" in reason


def test_alarm_rollback_names_the_alarms() -> None:
    state, reason = _judge(
        status="ROLLBACK_SUCCESSFUL",
        alarms={"status": "TRIGGERED", "triggeredAlarmNames": "web-5xx, web-latency"},
    )
    assert state == "ROLLED_BACK_BY_ECS"
    assert "CloudWatch alarms web-5xx, web-latency went into ALARM" in reason


def test_alarm_names_as_the_api_lists_them() -> None:
    # ServiceDeploymentAlarms.triggeredAlarmNames is a StringList in the API model.
    state, reason = _judge(
        status="ROLLBACK_SUCCESSFUL",
        alarms={"status": "TRIGGERED", "triggeredAlarmNames": ["web-5xx", "web-latency"]},
    )
    assert state == "ROLLED_BACK_BY_ECS"
    assert "CloudWatch alarms web-5xx, web-latency went into ALARM" in reason


def test_circuit_breaker_and_hook_rollbacks_say_what_triggered_them() -> None:
    breaker = _judge(
        status="ROLLBACK_SUCCESSFUL",
        deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 3},
    )
    assert breaker == (
        "ROLLED_BACK_BY_ECS",
        "ECS rolled the deployment back: the deployment circuit breaker found tasks failing",
    )
    hooks = [{"hookId": "hook-9", "targetType": "AWS_LAMBDA", "status": "FAILED"}]
    state, reason = _judge(status="ROLLBACK_SUCCESSFUL", lifecycleHookDetails=hooks)
    assert state == "ROLLED_BACK_BY_ECS"
    assert "lifecycle hook hook-9 (AWS_LAMBDA) failed" in reason


def test_stopped_and_failed_rollbacks_are_failures() -> None:
    assert _judge(status="STOPPED", statusReason="stopped by user")[0] == "FAILED"
    state, reason = _judge(status="ROLLBACK_FAILED", statusReason="tasks failed to start")
    assert state == "FAILED"
    assert "could not roll the deployment back (tasks failed to start)" in reason


def test_a_pause_hook_waits_for_an_operator() -> None:
    hooks = [
        {
            "hookId": "hook-7",
            "targetType": "PAUSE",
            "status": "AWAITING_ACTION",
            "timeoutAction": "ROLLBACK",
        }
    ]
    deployment = ServiceDeployment.from_api(
        _blue_green(lifecycleStage="PRODUCTION_TRAFFIC_SHIFT", lifecycleHookDetails=hooks)
    )
    assert deployment.paused_hook is not None
    assert deployment.paused_hook.hook_id == "hook-7"
    judgement = judge_service_deployment(deployment)
    assert judgement.state == "IN_PROGRESS"
    assert judgement.reason.startswith("paused at PRODUCTION_TRAFFIC_SHIFT for approval")


def test_strategy_time_adds_bakes_and_lambda_hook_timeouts() -> None:
    configuration = _blue_green()["deploymentConfiguration"]
    # 15 min bake + one Lambda hook at one stage with a 20 min timeout; PAUSE hooks excepted.
    assert strategy_time(configuration) == timedelta(minutes=35)
    assert wait_budget(timedelta(minutes=30), configuration) == timedelta(minutes=30 + 35)


def test_the_wait_budget_adds_at_most_a_day_of_strategy_time() -> None:
    # A Lambda hook may time out after 14 days (20160 min): the deployer waits a day for the
    # strategy at most, which the lock's lifetime and the state machine's timeout cover.
    hook = {
        "targetType": "AWS_LAMBDA",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 20160},
    }
    configuration = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60, "lifecycleHooks": [hook]}
    assert strategy_time(configuration) == timedelta(minutes=60 + 20160)
    assert wait_budget(timedelta(minutes=30), configuration) == timedelta(minutes=30, hours=24)
    assert timedelta(hours=24) == LONGEST_STRATEGY_TIME


@pytest.mark.parametrize(
    ("configuration", "minutes"),
    [
        ({"strategy": "ROLLING", "bakeTimeInMinutes": 60}, 0),
        ({"strategy": "LINEAR", "bakeTimeInMinutes": 5}, 5 + 9 * 6),  # 10 % steps: 9 step bakes
        (
            {
                "strategy": "LINEAR",
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2},
            },
            3 * 2,
        ),
        ({"strategy": "CANARY", "bakeTimeInMinutes": 1}, 1 + 10),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 0}}, 0),
        (
            # Hooks at the production traffic shift run at each of LINEAR's 4 steps.
            {
                "strategy": "LINEAR",
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 0},
                "lifecycleHooks": [
                    {
                        "targetType": "AWS_LAMBDA",
                        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_SCALE_UP"],
                        "timeoutConfiguration": {"timeoutInMinutes": 5},
                    }
                ],
            },
            4 * 5 + 5,
        ),
        (
            {
                "strategy": "ROLLING",
                "lifecycleHooks": [
                    {
                        "targetType": "AWS_LAMBDA",
                        "lifecycleStages": ["PRE_SCALE_UP", "POST_SCALE_UP"],
                    }
                ],
            },
            2 * 1440,  # the documented default hook timeout, at each of its stages
        ),
    ],
)
def test_strategy_time_follows_each_strategy(configuration: dict[str, Any], minutes: int) -> None:
    assert strategy_time(configuration) == timedelta(minutes=minutes)
