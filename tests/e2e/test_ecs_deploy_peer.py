"""fabfuel's ecs-deploy, a peer deployer, run against `local up`: the local cloud must be
faithful enough for a real client, and it shows how that client judges a rollout.

ecs-deploy registers a task definition with the new image, updates the service, then polls
once a (wall-clock) second until the service has one deployment whose tasks all run:
DescribeServices, then ListTasks(serviceName) and DescribeTasks, counting RUNNING tasks of
the service's task definition. A PRIMARY deployment whose rolloutState is FAILED ends it
with exit 1. Its --timeout is generous: a rollout takes a few polls, however slow the
machine, and the tests assert outcomes, not durations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from ecs_deployer_tools.demo import sample_app
from tests.e2e.local_up import REGION, LocalUp, local_up

pytestmark = pytest.mark.e2e

ECS_DEPLOY_TIMEOUT = 120  # wall seconds ecs-deploy polls before it gives up
# A tag the sample app does not deploy (only v* tags), so the deployer stays out of the way.
TAG = "main-ecs-deploy"
# ECS's describes are eventually consistent, so on AWS a describe right after UpdateService
# may or may not show the new deployment. Each test picks one world, so its outcome repeats:
# describes that see the change at once...
CONSISTENT: dict[str, Any] = {"service_describe_lag": 0}
# ...or the local cloud's default: the next describe or two still show the deployments
# before it, however long the client takes to ask (not only within the default 5 s).
STALE: dict[str, Any] = {"describe_lag_seconds": 3600.0}


def _ecs_deploy(server: LocalUp, service: str, image: str) -> subprocess.CompletedProcess[str]:
    """`ecs deploy CLUSTER SERVICE --image app IMAGE`, as a CI job runs it."""
    command = [sys.executable, "-m", "ecs_deploy.cli", "deploy", sample_app.CLUSTER, service]
    options = ["--image", "app", image, "--region", REGION, "--timeout", str(ECS_DEPLOY_TIMEOUT)]
    return subprocess.run(
        [*command, *options],
        env={**os.environ, "AWS_ENDPOINT_URL": server.endpoint},
        capture_output=True,
        text=True,
        timeout=ECS_DEPLOY_TIMEOUT * 2,
        check=False,
    )


def _push(server: LocalUp) -> str:
    """Push an image as the CI job would before deploying it; returns its URI."""
    ecr = server.client("ecr")
    ecr.put_image(
        repositoryName=sample_app.REPOSITORY,
        imageManifest=sample_app.image_manifest(TAG),
        imageTag=TAG,
    )
    repository = ecr.describe_repositories(repositoryNames=[sample_app.REPOSITORY])
    return f"{repository['repositories'][0]['repositoryUri']}:{TAG}"


def _service(server: LocalUp, name: str) -> Any:
    ecs = server.client("ecs")
    return ecs.describe_services(cluster=sample_app.CLUSTER, services=[name])["services"][0]


def _image(server: LocalUp, task_definition: str) -> str:
    described = server.client("ecs").describe_task_definition(taskDefinition=task_definition)
    containers = described["taskDefinition"]["containerDefinitions"]
    return str(next(c["image"] for c in containers if c["name"] == "app"))


def _settled_service(server: LocalUp, name: str) -> Any:
    """The service once describes show its newest deployment and that deployment ended."""
    server.advance(STALE["describe_lag_seconds"])
    for _ in range(10):  # a poll every 10 s of virtual time
        server.advance(10)
        service = _service(server, name)
        if service["deployments"][0]["rolloutState"] != "IN_PROGRESS":
            return service
    raise AssertionError(f"{name}: still in progress: {service['deployments']}")


def _running_tasks(server: LocalUp, service: str) -> list[str]:
    """The task definitions of the service's RUNNING tasks, as ecs-deploy counts them."""
    ecs = server.client("ecs")
    arns = ecs.list_tasks(cluster=sample_app.CLUSTER, serviceName=service)["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=sample_app.CLUSTER, tasks=arns)["tasks"]
    return [t["taskDefinitionArn"] for t in tasks if t["lastStatus"] == "RUNNING"]


def test_ecs_deploy_deploys_a_new_image() -> None:
    with local_up(
        "--seed-demo", "--faults", json.dumps(CONSISTENT), "--time-scale", "60"
    ) as server:
        image = _push(server)
        result = _ecs_deploy(server, sample_app.WEB, image)
        service = _service(server, sample_app.WEB)
        deployed = _image(server, service["taskDefinition"])
        running = _running_tasks(server, sample_app.WEB)
        calls = server.get("/_localcloud/calls")["clients"]

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deployment successful" in result.stdout
    assert deployed == image
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
    assert running.count(service["taskDefinition"]) == service["desiredCount"]
    assert calls["ecs.UpdateService"] == 1


def test_ecs_deploy_fails_when_the_circuit_breaker_fails_the_rollout() -> None:
    faults = {**CONSISTENT, "services": {sample_app.WEB: {"outcome": "fail"}}}
    with local_up("--seed-demo", "--faults", json.dumps(faults), "--time-scale", "60") as server:
        before = _image(server, _service(server, sample_app.WEB)["taskDefinition"])
        result = _ecs_deploy(server, sample_app.WEB, _push(server))
        primary, *others = _service(server, sample_app.WEB)["deployments"]
        still_running = [_image(server, d["taskDefinition"]) for d in others]

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Deployment Failed! ECS deployment circuit breaker" in result.stderr
    # Nothing rolls back: the FAILED deployment stays PRIMARY beside the old one.
    assert primary["rolloutState"] == "FAILED"
    assert still_running == [before]


def test_ecs_deploy_reports_success_after_ecs_rolled_the_service_back() -> None:
    """The rivalry measurement: ECS's circuit breaker rolls web back by itself, and
    ecs-deploy, which only waits for one deployment whose tasks all run, calls it a success.
    The deployer reports the same rollout ROLLED_BACK (the ecs-auto-rollback scenario)."""
    faults = {**CONSISTENT, "services": {sample_app.WEB: {"outcome": "auto_rollback"}}}
    with local_up("--seed-demo", "--faults", json.dumps(faults), "--time-scale", "60") as server:
        before = _image(server, _service(server, sample_app.WEB)["taskDefinition"])
        image = _push(server)
        result = _ecs_deploy(server, sample_app.WEB, image)
        service = _service(server, sample_app.WEB)
        after = _image(server, service["taskDefinition"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deployment successful" in result.stdout
    assert after == before != image
    assert any("rolling back" in event["message"] for event in service["events"])


def test_ecs_deploy_reports_success_before_ecs_shows_its_deployment() -> None:
    """The same rollout, which ECS's circuit breaker fails, in the eventually consistent
    world: ecs-deploy's first describe still shows the old deployment alone, all its tasks
    running, and it reports success at once (the class of aws/aws-cli#9275 and
    sil-org/ecs-deploy#260). Then it deregisters the revision the old tasks still run.
    The deployer waits for the deployment UpdateService returned (`domain/services.py`)."""
    faults = {**STALE, "services": {sample_app.WEB: {"outcome": "fail"}}}
    with local_up("--seed-demo", "--faults", json.dumps(faults)) as server:
        before = _service(server, sample_app.WEB)["taskDefinition"]
        image = _push(server)
        result = _ecs_deploy(server, sample_app.WEB, image)
        primary, old = _settled_service(server, sample_app.WEB)["deployments"]
        primary_image = _image(server, primary["taskDefinition"])
        deregistered = server.client("ecs").describe_task_definition(taskDefinition=before)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deployment successful" in result.stdout
    assert "Successfully deregistered revision: 1" in result.stdout
    assert (primary["rolloutState"], primary_image) == ("FAILED", image)
    assert old["taskDefinition"] == before
    assert old["runningCount"] == old["desiredCount"] > 0
    assert deregistered["taskDefinition"]["status"] == "INACTIVE"
