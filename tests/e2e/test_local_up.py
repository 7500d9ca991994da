"""`ecs-deployer local up` serves the emulator over HTTP: a plain boto3 client pushes an image
and sees the deployment happen, as an operator's AWS CLI would. Instead of polling in real
time, the test asks the server to run every execution to its end (virtual time)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ecs_deployer_tools.demo import sample_app

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e
STARTUP_SECONDS = 120


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    command = [
        sys.executable,
        "-m",
        "ecs_deployer_tools.cli",
        "local",
        "up",
        "--port",
        "0",
        "--seed-demo",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("ready"):
            break
    endpoint = next(
        (m[1] for m in map(re.compile(r"^endpoint: (http://127\.0\.0\.1:\d+)").match, lines) if m),
        None,
    )
    try:
        assert endpoint, "\n".join(lines)
        yield endpoint, lines
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _client(endpoint: str, service: str) -> Any:
    session = boto3.session.Session()
    return session.client(  # type: ignore[call-overload]  # any service name
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )


def _run_until_idle(endpoint: str) -> None:
    """Every execution runs to its end, however long its waits (virtual time)."""
    request = urllib.request.Request(f"{endpoint}/_localcloud/time/run-until-idle", method="POST")
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["running"] == []


def test_a_push_over_http_deploys_the_sample_app(server: tuple[str, list[str]]) -> None:
    endpoint, lines = server
    assert f"sample app: {sample_app.APP}" in lines
    assert any(line.startswith("output StateMachineArn: arn:aws:states:") for line in lines)
    ecr, sfn, ecs = (_client(endpoint, name) for name in ("ecr", "stepfunctions", "ecs"))
    machine = next(
        line.split(": ", 1)[1] for line in lines if line.startswith("output StateMachineArn")
    )

    pushed = ecr.put_image(
        repositoryName=sample_app.REPOSITORY,
        imageManifest=sample_app.image_manifest("v9.0.0"),
        imageTag="v9.0.0",
    )
    digest = pushed["image"]["imageId"]["imageDigest"]
    name = f"{sample_app.APP}-{digest[7:39]}"

    _run_until_idle(endpoint)
    executions = {e["name"]: e for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    assert executions[name]["status"] == "SUCCEEDED"

    registry = ecr.describe_repositories(repositoryNames=[sample_app.REPOSITORY])["repositories"][
        0
    ]["repositoryUri"]
    services = ecs.describe_services(
        cluster=sample_app.CLUSTER, services=[sample_app.WEB, sample_app.WORKER]
    )["services"]
    for service in services:
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
            "taskDefinition"
        ]
        app = next(c for c in definition["containerDefinitions"] if c["name"] == "app")
        assert app["image"] == f"{registry}@{digest}"


def test_a_manual_execution_over_http(server: tuple[str, list[str]]) -> None:
    endpoint, lines = server
    sfn = _client(endpoint, "stepfunctions")
    machine = next(
        line.split(": ", 1)[1] for line in lines if line.startswith("output StateMachineArn")
    )
    arn = sfn.start_execution(
        stateMachineArn=machine, input='{"app": "shop", "image_tag": "nope"}'
    )["executionArn"]
    _run_until_idle(endpoint)
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "ImageNotFound"
