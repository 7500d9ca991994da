"""CodeDeploy rollouts: the AppSpec, the judgement of a deployment, its live progress, and
the gateway's batches."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecs_deployer.aws.codedeploy import BATCH_GET_DEPLOYMENTS, CodeDeployGateway
from ecs_deployer.domain.codedeploy import (
    CodeDeployDeployment,
    LifecycleEvent,
    LoadBalancerTarget,
    appspec,
    judge_codedeploy,
    lifecycle_progress,
    load_balancer_target,
)
from ecs_deployer.domain.services import ServiceSnapshot
from ecs_deployer.errors import ResourceNotFound

NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"


def _snapshot(load_balancers: list[dict[str, Any]]) -> ServiceSnapshot:
    return ServiceSnapshot.from_api(
        {
            "serviceName": "web",
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
            "deploymentController": {"type": "CODE_DEPLOY"},
            "loadBalancers": load_balancers,
        }
    )


def test_the_appspec_names_the_task_definition_and_the_load_balanced_container() -> None:
    target = load_balancer_target(
        _snapshot(
            [
                {"targetGroupArn": "tg", "loadBalancerName": "classic"},  # no container
                {"targetGroupArn": "tg", "containerName": "app", "containerPort": 8000},
            ]
        )
    )
    assert target == LoadBalancerTarget("app", 8000)
    document = json.loads(appspec(NEW, target))
    assert document["Resources"] == [
        {
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": NEW,
                    "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8000},
                },
            }
        }
    ]


def test_a_service_without_a_load_balanced_container_cannot_have_an_appspec() -> None:
    with pytest.raises(ResourceNotFound, match="no load balancer naming a container"):
        load_balancer_target(_snapshot([]))


def _deployment(status: str, **info: Any) -> CodeDeployDeployment:
    return CodeDeployDeployment.from_api({"deploymentId": "d-1", "status": status, **info})


@pytest.mark.parametrize("status", ["Created", "Queued", "InProgress", "Baking", "Ready"])
def test_a_deployment_not_over_is_in_progress(status: str) -> None:
    assert judge_codedeploy(_deployment(status), NEW, "").state == "IN_PROGRESS"


def test_only_succeeded_is_a_success() -> None:
    judgement = judge_codedeploy(_deployment("Succeeded"), NEW, "done")
    assert (judgement.state, judgement.progress) == ("COMPLETED", "done")


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_deployment_codedeploy_rolls_back_is_a_rollback_with_its_cause(status: str) -> None:
    rolled_back = _deployment(
        status,
        errorInformation={"code": "HOOK_EXECUTION_FAILURE", "message": "hook failed"},
        rollbackInfo={"rollbackDeploymentId": "d-2"},
    )
    judgement = judge_codedeploy(rolled_back, NEW, "")
    assert judgement.state == "ROLLED_BACK_BY_ECS"
    assert "rolled back by deployment d-2" in judgement.reason
    assert "HOOK_EXECUTION_FAILURE: hook failed" in judgement.reason


def test_a_failure_without_a_rollback_is_a_failure() -> None:
    failed = _deployment("Failed", errorInformation={"code": "TIMEOUT"})
    judgement = judge_codedeploy(failed, NEW, "")
    assert (judgement.state, judgement.reason) == (
        "FAILED",
        "CodeDeploy deployment d-1 failed: TIMEOUT",
    )


def test_the_live_progress_names_the_event_under_way() -> None:
    events = [
        LifecycleEvent("BeforeInstall", "Succeeded"),
        LifecycleEvent("Install", "InProgress"),
        LifecycleEvent("AfterInstall", "Pending"),
    ]
    assert lifecycle_progress(events) == "Install InProgress (1/3 lifecycle events)"
    done = [LifecycleEvent("BeforeInstall", "Succeeded"), LifecycleEvent("Install", "Succeeded")]
    assert lifecycle_progress(done) == "Install (2/2 lifecycle events)"
    assert lifecycle_progress([]) == "no lifecycle event yet"


class _Client:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def batch_get_deployments(self, deploymentIds: list[str]) -> dict[str, Any]:  # noqa: N803
        self.batches.append(deploymentIds)
        return {
            "deploymentsInfo": [{"deploymentId": i, "status": "InProgress"} for i in deploymentIds]
        }


def test_deployments_are_read_25_at_a_time_once_each() -> None:
    client = _Client()
    ids = [f"d-{index}" for index in range(60)]
    found = CodeDeployGateway(lambda: client).deployments([*ids, ids[0]])
    assert sorted(found) == sorted(ids)
    assert [len(batch) for batch in client.batches] == [BATCH_GET_DEPLOYMENTS, 25, 10]
