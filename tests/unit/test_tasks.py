from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecs_deployer.domain.tasks import (
    MISSING_GRACE,
    TaskJudgement,
    TaskSnapshot,
    judge_missing,
    judge_task,
)

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


ENDED = "EssentialContainerExited"


def _stopped(exit_codes: dict[str, int | None], **extra: Any) -> TaskSnapshot:
    containers = [
        {"name": name} | ({} if code is None else {"exitCode": code})
        for name, code in exit_codes.items()
    ]
    return _task("STOPPED", containers, **({"stopCode": ENDED} | extra))


def test_running_task_is_running() -> None:
    assert judge_task(_task("RUNNING", [{"name": "app"}]), ["app"], ["app"]).state == "RUNNING"


def test_success_needs_exit_code_zero_in_every_watched_container() -> None:
    task = _stopped({"app": 0, "sidecar": 1})
    assert judge_task(task, ["app"], ["app"]).state == "SUCCEEDED"
    failed = judge_task(task, ["app", "sidecar"], ["app"])
    assert failed.state == "FAILED"
    assert "container sidecar exited with code 1" in failed.reason


@pytest.mark.parametrize("code", [137, 143])
def test_a_sidecar_ecs_stopped_after_the_work_exited_0_has_not_failed(code: int) -> None:
    # The migration exits 0, so ECS stops the task: the essential log router, watched by
    # default, dies of the SIGTERM (143) or of the SIGKILL after the stop timeout (137).
    task = _stopped({"app": 0, "log-router": code})
    assert judge_task(task, ["app", "log-router"], ["app"]).state == "SUCCEEDED"


@pytest.mark.parametrize(
    ("exit_codes", "reason", "culprit"),
    [
        # The sidecar exited first: the migration was stopped half way, whatever it exits.
        ({"app": 143, "log-router": 0}, None, "app exited with code 143"),
        ({"app": 137, "log-router": 143}, None, "app exited with code 137"),
        # ECS killed the sidecar for its own sake, not because the task was ending.
        ({"app": 0, "log-router": 137}, "OutOfMemoryError: Container killed", "log-router"),
        # A sidecar that fails on its own is still a failure.
        ({"app": 0, "log-router": 1}, None, "log-router exited with code 1"),
    ],
)
def test_signal_exits_are_failures_unless_a_sidecar_stopped_with_a_finished_task(
    exit_codes: dict[str, int], reason: str | None, culprit: str
) -> None:
    containers = [
        {"name": name, "exitCode": code} | ({"reason": reason} if name == "log-router" else {})
        for name, code in exit_codes.items()
    ]
    task = _task("STOPPED", containers, stopCode=ENDED)
    judgement = judge_task(task, ["app", "log-router"], ["app"])
    assert judgement.state == "FAILED"
    assert culprit in judgement.reason


def test_a_sidecar_stopped_with_the_task_needs_a_watched_container_that_exited_0() -> None:
    task = _stopped({"app": 0, "log-router": 143})
    assert judge_task(task, ["log-router"], ["app"]).state == "FAILED"


@pytest.mark.parametrize(
    ("stop_code", "reason"),
    [
        ("SpotInterruption", "Your Spot Task was interrupted."),
        ("TerminationNotice", "Host EC2 instance termination notice"),
        ("UserInitiated", "Task stopped by user"),
        ("ServiceSchedulerInitiated", "Scaling activity initiated by deployment ecs-svc/1"),
        (None, None),
    ],
)
def test_a_task_ecs_stopped_has_not_succeeded_though_it_exited_0(
    stop_code: str | None, reason: str | None
) -> None:
    # The migration handled SIGTERM and exited 0: it was interrupted, not finished.
    task = _task(
        "STOPPED",
        [{"name": "app", "exitCode": 0}],
        stopCode=stop_code,
        stoppedReason=reason,
    )
    judgement = judge_task(task, ["app"], ["app"])
    assert judgement.state == "FAILED"
    assert f"was stopped ({stop_code or 'no stop code'}) before it ended on its own" in (
        judgement.reason
    )


def test_non_zero_exit_code_names_task_container_code_and_reason() -> None:
    task = _task(
        "STOPPED",
        [{"name": "app", "exitCode": 1}],
        stopCode="EssentialContainerExited",
        stoppedReason="Essential container in task exited",
    )
    judgement = judge_task(task, ["app"], ["app"])
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
    judgement = judge_task(task, ["app"], ["app"])
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
    judgement = judge_task(task, ["app"], ["app"])
    assert judgement.state == "FAILED"
    assert "failed to start" in judgement.reason
    assert "ResourceInitializationError" in judgement.reason


def test_watched_container_missing_from_task_is_a_failure() -> None:
    assert judge_task(_stopped({"app": 0}), ["worker"], ["app"]).state == "FAILED"


def test_a_missing_task_is_not_visible_yet_within_the_grace_then_unknown() -> None:
    started = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    just_started = judge_missing(ARN, started, started + MISSING_GRACE - timedelta(seconds=1))
    assert just_started == TaskJudgement(
        "RUNNING", "task 0f3c1d2e4b5a is not visible to DescribeTasks yet"
    )
    lost = judge_missing(ARN, started, started + MISSING_GRACE)
    assert lost == TaskJudgement(
        "FAILED", "task 0f3c1d2e4b5a is unknown to ECS (MISSING) 5 min after RunTask"
    )
