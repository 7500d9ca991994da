from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ecs_deployer.domain.services import (
    UNSEEN_GRACE,
    ServiceSnapshot,
    judge_rollout,
    running_task_definition,
)

OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"
NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"
# How long ago UpdateService started the deployment judged: past the grace in which a
# describe that does not show it proves nothing.
SEEN = UNSEEN_GRACE


def _deployment(
    id_: str, status: str, td: str, rollout: str | None, running: int = 2, **extra: Any
) -> dict[str, Any]:
    data = {
        "id": id_,
        "status": status,
        "taskDefinition": td,
        "desiredCount": 2,
        "runningCount": running,
        "pendingCount": 0,
        "failedTasks": 0,
        **extra,
    }
    if rollout is not None:
        data["rolloutState"] = rollout
        data["rolloutStateReason"] = f"ECS deployment {id_} {rollout.lower()}."
    return data


def _service(*deployments: dict[str, Any]) -> ServiceSnapshot:
    return ServiceSnapshot.from_api(
        {
            "serviceName": "web",
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/demo/web",
            "status": "ACTIVE",
            "deployments": list(deployments),
            "events": [],
        }
    )


def test_completed_only_when_ours_is_primary_completed_on_our_revision() -> None:
    snapshot = _service(_deployment("ecs-svc/2", "PRIMARY", NEW, "COMPLETED"))
    assert judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN).state == "COMPLETED"


def test_in_progress_while_rolling() -> None:
    snapshot = _service(
        _deployment("ecs-svc/2", "PRIMARY", NEW, "IN_PROGRESS", running=1),
        _deployment("ecs-svc/1", "ACTIVE", OLD, "COMPLETED"),
    )
    judgement = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN)
    assert judgement.state == "IN_PROGRESS"
    assert judgement.progress == "1/2 running"


def test_failed_rollout() -> None:
    snapshot = _service(
        _deployment("ecs-svc/2", "PRIMARY", NEW, "FAILED", running=0, failedTasks=3)
    )
    judgement = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN)
    assert judgement.state == "FAILED"
    assert "failed" in judgement.reason
    assert judgement.progress == "0/2 running, 3 failed"


def test_circuit_breaker_rollback_in_progress_is_not_success() -> None:
    snapshot = _service(
        _deployment("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS"),
        _deployment("ecs-svc/2", "ACTIVE", NEW, "FAILED", running=0),
    )
    judgement = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN)
    assert judgement.state == "ROLLED_BACK_BY_ECS"
    assert "web:7" in judgement.reason


def test_circuit_breaker_rollback_completed_and_ours_gone_is_not_success() -> None:
    # The service is healthy again — on the old revision. The best-known deploy-tool bug is
    # to call this a success.
    snapshot = _service(_deployment("ecs-svc/3", "PRIMARY", OLD, "COMPLETED"))
    assert judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN).state == "ROLLED_BACK_BY_ECS"


def test_replaced_by_someone_else() -> None:
    other = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:9"
    snapshot = _service(
        _deployment("ecs-svc/4", "PRIMARY", other, "IN_PROGRESS"),
        _deployment("ecs-svc/2", "ACTIVE", NEW, "IN_PROGRESS"),
    )
    judgement = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN)
    assert judgement.state == "REPLACED"
    assert "web:9" in judgement.reason


def test_ours_gone_and_primary_on_our_revision_is_still_not_ours() -> None:
    snapshot = _service(_deployment("ecs-svc/5", "PRIMARY", NEW, "COMPLETED"))
    assert judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, SEEN).state == "REPLACED"


def test_services_without_rollout_state_are_steady_when_all_tasks_run() -> None:
    rolling = _service(_deployment("ecs-svc/2", "PRIMARY", NEW, None, running=1))
    assert judge_rollout(rolling, "ecs-svc/2", NEW, OLD, SEEN).state == "IN_PROGRESS"
    steady = _service(_deployment("ecs-svc/2", "PRIMARY", NEW, None, running=2))
    assert judge_rollout(steady, "ecs-svc/2", NEW, OLD, SEEN).state == "COMPLETED"


def test_snapshot_reads_the_api_shape() -> None:
    snapshot = ServiceSnapshot.from_api(
        {
            "serviceName": "web",
            "serviceArn": "arn",
            "status": "DRAINING",
            "deploymentController": {"type": "ECS"},
            "deployments": [_deployment("ecs-svc/2", "PRIMARY", NEW, "COMPLETED")],
        }
    )
    assert (snapshot.status, snapshot.deployment_controller, snapshot.task_definition) == (
        "DRAINING",
        "ECS",
        NEW,
    )


def test_a_codedeploy_service_runs_its_primary_task_set() -> None:
    snapshot = ServiceSnapshot.from_api(
        {
            "serviceName": "web",
            "serviceArn": "arn",
            "deploymentController": {"type": "CODE_DEPLOY"},
            "taskSets": [
                {"status": "ACTIVE", "taskDefinition": NEW},
                {"status": "PRIMARY", "taskDefinition": OLD},
            ],
            "loadBalancers": [{"containerName": "app", "containerPort": 8000}],
        }
    )
    assert snapshot.task_definition == OLD
    assert snapshot.load_balancers == ({"containerName": "app", "containerPort": 8000},)


@pytest.mark.parametrize(
    "primary",
    [
        _deployment("ecs-svc/1", "PRIMARY", OLD, "COMPLETED"),  # as before the update
        _deployment("ecs-svc/9", "PRIMARY", NEW, "COMPLETED"),
    ],
)
def test_a_describe_without_our_deployment_right_after_the_update_proves_nothing(
    primary: dict[str, Any],
) -> None:
    # ECS's API is eventually consistent: a describe may still show the service as it was.
    snapshot = _service(primary)
    just_updated = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, UNSEEN_GRACE / 2)
    assert (just_updated.state, just_updated.reason) == (
        "IN_PROGRESS",
        "ECS does not show deployment ecs-svc/2 yet",
    )
    later = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, UNSEEN_GRACE)
    assert later.state in ("ROLLED_BACK_BY_ECS", "REPLACED")


def test_our_deployment_shown_is_judged_however_recent() -> None:
    snapshot = _service(
        _deployment("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS"),
        _deployment("ecs-svc/2", "ACTIVE", NEW, "FAILED", running=0),
    )
    judgement = judge_rollout(snapshot, "ecs-svc/2", NEW, OLD, timedelta(seconds=1))
    assert judgement.state == "ROLLED_BACK_BY_ECS"


def test_what_a_service_runs_is_our_update_until_a_describe_may_show_it() -> None:
    stale = _service(_deployment("ecs-svc/1", "PRIMARY", OLD, "COMPLETED"))
    assert running_task_definition(stale, "ecs-svc/2", NEW, UNSEEN_GRACE / 2) == NEW
    assert running_task_definition(stale, "ecs-svc/2", NEW, UNSEEN_GRACE) == OLD
    assert running_task_definition(stale, None, None, timedelta(0)) == OLD  # never updated
    shown = _service(
        _deployment("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS"),
        _deployment("ecs-svc/2", "ACTIVE", NEW, "FAILED"),
    )
    # A describe that shows ours is believed, however recent: ECS is rolling it back.
    assert running_task_definition(shown, "ecs-svc/2", NEW, timedelta(0)) == OLD


def test_a_service_created_before_2021_has_a_short_arn() -> None:
    def arn(service_arn: str) -> bool:
        return ServiceSnapshot.from_api(
            {"serviceName": "web", "serviceArn": service_arn}
        ).has_short_arn

    assert arn("arn:aws:ecs:us-east-1:123456789012:service/web")
    assert not arn("arn:aws:ecs:us-east-1:123456789012:service/demo/web")


def test_a_codedeploy_service_runs_its_primary_task_set_even_right_after_the_deployment() -> None:
    rolled_back = ServiceSnapshot.from_api(
        {
            "serviceName": "web",
            "serviceArn": "arn",
            "deploymentController": {"type": "CODE_DEPLOY"},
            "taskSets": [{"status": "PRIMARY", "taskDefinition": OLD}],
        }
    )
    assert running_task_definition(rolled_back, "d-1", NEW, timedelta(seconds=1)) == OLD
