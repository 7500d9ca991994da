from __future__ import annotations

from typing import Any

from ecs_deployer.domain.tasks import TaskSnapshot, judge_task

ARN = "arn:aws:ecs:us-east-1:123456789012:task/demo/0f3c1d2e4b5a"


def _task(last_status: str, containers: list[dict[str, Any]], **extra: Any) -> TaskSnapshot:
    return TaskSnapshot.from_api(
        {
            "taskArn": ARN,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/migrate:4",
            "lastStatus": last_status,
            "containers": containers,
            **extra,
        }
    )


def test_running_task_is_running() -> None:
    assert judge_task(_task("RUNNING", [{"name": "app"}]), ["app"]).state == "RUNNING"


def test_success_needs_exit_code_zero_in_every_watched_container() -> None:
    task = _task(
        "STOPPED",
        [{"name": "app", "exitCode": 0}, {"name": "sidecar", "exitCode": 137}],
        stopCode="EssentialContainerExited",
    )
    assert judge_task(task, ["app"]).state == "SUCCEEDED"
    failed = judge_task(task, ["app", "sidecar"])
    assert failed.state == "FAILED"
    assert "container sidecar exited with code 137" in failed.reason


def test_non_zero_exit_code_names_task_container_code_and_reason() -> None:
    task = _task(
        "STOPPED",
        [{"name": "app", "exitCode": 1}],
        stopCode="EssentialContainerExited",
        stoppedReason="Essential container in task exited",
    )
    judgement = judge_task(task, ["app"])
    assert judgement.state == "FAILED"
    assert "0f3c1d2e4b5a" in judgement.reason
    assert "migrate:4" in judgement.reason
    assert "container app exited with code 1" in judgement.reason
    assert "Essential container in task exited" in judgement.reason


def test_no_exit_code_means_it_never_ran() -> None:
    task = _task(
        "STOPPED",
        [{"name": "app", "reason": "CannotPullContainerError"}],
        stopCode="EssentialContainerExited",
    )
    judgement = judge_task(task, ["app"])
    assert judgement.state == "FAILED"
    assert "no exit code" in judgement.reason
    assert "CannotPullContainerError" in judgement.reason


def test_task_failed_to_start() -> None:
    task = _task(
        "STOPPED",
        [{"name": "app", "exitCode": 0}],
        stopCode="TaskFailedToStart",
        stoppedReason="ResourceInitializationError: unable to pull secrets",
    )
    judgement = judge_task(task, ["app"])
    assert judgement.state == "FAILED"
    assert "failed to start" in judgement.reason
    assert "ResourceInitializationError" in judgement.reason


def test_watched_container_missing_from_task_is_a_failure() -> None:
    assert (
        judge_task(_task("STOPPED", [{"name": "app", "exitCode": 0}]), ["worker"]).state == "FAILED"
    )
