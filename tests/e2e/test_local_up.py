"""`ecs-deployer local up` serves the emulator over HTTP: a plain boto3 client pushes an image
and sees the deployment happen, as an operator's AWS CLI would. Instead of polling in real
time, the test asks the server to run every execution to its end (virtual time)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ecs_deployer.domain.dispatch import child_execution_name
from ecs_deployer_tools.cli import app
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.operator import follow
from tests.e2e.local_up import LocalUp, local_up

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e


@pytest.fixture
def server() -> Iterator[LocalUp]:
    with local_up("--seed-demo") as served:
        yield served


def _push(server: LocalUp, tag: str) -> tuple[str, str]:
    """Push a new image of the sample app and let every execution end; returns its digest
    and the execution that deployed it."""
    pushed = server.client("ecr").put_image(
        repositoryName=sample_app.REPOSITORY,
        imageManifest=sample_app.image_manifest(tag),
        imageTag=tag,
    )
    digest = pushed["image"]["imageId"]["imageDigest"]
    server.run_until_idle()
    sfn = server.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=server.output("output StateMachineArn"))
    name = child_execution_name(sample_app.APP, digest)
    arn = next(e["executionArn"] for e in executions["executions"] if e["name"] == name)
    return digest, arn


def test_a_push_over_http_deploys_the_sample_app(server: LocalUp) -> None:
    assert f"sample app: {sample_app.APP}" in server.lines
    assert server.output("output StateMachineArn").startswith("arn:aws:states:")
    ecr, sfn, ecs = (server.client(name) for name in ("ecr", "stepfunctions", "ecs"))

    digest, execution = _push(server, "v9.0.0")
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"

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


def test_a_manual_execution_over_http(server: LocalUp) -> None:
    sfn = server.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=server.output("output StateMachineArn"),
        input='{"app": "shop", "image_tag": "nope"}',
    )["executionArn"]
    server.run_until_idle()
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "ImageNotFound"


def test_the_clients_calls_are_counted_apart_from_the_lambdas(server: LocalUp) -> None:
    ecs = server.client("ecs")
    ecs.list_clusters()
    ecs.list_clusters()
    _push(server, "v9.0.0")

    calls = server.get("/_localcloud/calls")

    # The test's own calls (the push helper lists executions), and the deployment's.
    clients = {"ecs.ListClusters": 2, "ecr.PutImage": 1, "stepfunctions.ListExecutions": 1}
    assert calls["clients"] == clients
    assert calls["lambdas"]["ecs.UpdateService"] == 2  # web and worker
    assert "ecr.PutImage" not in calls["lambdas"]
    # Stopped, it prints the same counts, one row per operation; it never printed the
    # functions' EMF metric lines (CloudWatch's, in AWS) amid their logs.
    assert not [line for line in server.stop() if line.startswith('{"_aws"')]
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [cell.strip() for cell in line.strip("│ ").split("│")] for line in server.stop()
        )
        if len(cells) == 3
    }
    assert rows["ecs.ListClusters"] == ["2", "0"]
    assert rows["ecs.UpdateService"] == ["0", "2"]
    assert rows["total"][0] == "4"


@pytest.mark.parametrize(
    "options",
    [
        ("--scenario", "ecs-auto-rollback"),
        (
            "--seed-demo",
            "--faults",
            json.dumps({"services": {sample_app.WEB: {"outcome": "fail"}}}),
        ),
    ],
    ids=["scenario", "faults"],
)
def test_injected_faults_fail_a_rollout_served_over_http(options: tuple[str, ...]) -> None:
    with local_up(*options) as server:
        _, execution = _push(server, "v9.0.0")
        described = server.client("stepfunctions").describe_execution(executionArn=execution)

    assert follow.execution_outcome(described).status == "ROLLED_BACK"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--scenario", "nope"), "no scenario 'nope'"),
        (("--faults", "{"), "not JSON"),
        (("--faults", '{"service": {}}'), "service: no such field"),
        (("--faults", '{"services": {"web": {"outcome": "x"}}}'), 'services.web.outcome: "x"'),
        (("--faults", '{"services": {"web": {"seconds": 0}}}'), "RolloutFault.seconds must be"),
        (("--faults", '{"dropped_events": "TASK_STOPPED"}'), 'dropped_events: "TASK_STOPPED"'),
        # A JSON list is the tuple the field takes: only the rate is refused.
        (
            ("--faults", '{"dropped_events": ["TASK_STOPPED"], "event_drop_rate": 2}'),
            "event_drop_rate must be within [0, 1]",
        ),
        (("--faults", '{"tasks": {"migrate": {"exit_code": "1"}}}'), 'exit_code: "1" is not'),
        (("--scenario", "happy", "--faults", "{}"), "give --scenario or --faults, not both"),
    ],
)
def test_bad_faults_are_refused_naming_the_bad_value(
    options: tuple[str, ...], message: str
) -> None:
    result = CliRunner().invoke(app, ["local", "up", *options], terminal_width=200)

    assert result.exit_code == 2  # the command line is wrong; nothing was started
    assert message in " ".join(result.output.replace("│", " ").split())
