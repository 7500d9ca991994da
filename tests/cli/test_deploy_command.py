"""`ecs-deployer deploy`: starts the state machine with the manual input, follows it live,
exits 0 only on SUCCEEDED."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ecs_deployer.config.models import app_config
from ecs_deployer_tools.cli import app
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, TaskFault, TaskOutcome
from ecs_deployer_tools.operator.configs import push_config
from tests.cli.conftest import no_traceback

if TYPE_CHECKING:
    from tests.cli.conftest import Local

PHASE = re.compile(r"^  +\d+:\d\d  (\S.*)$")
NAME = re.compile(r"^shop-manual-\d{8}T\d{6}Z-[0-9a-f]{4}$")
ACTOR = "arn:aws:sts::123456789012:user/moto"  # moto's caller identity


def _phases(output: str) -> list[str]:
    return [match[1] for match in map(PHASE.match, output.splitlines()) if match]


def _app_images(local: Local) -> dict[str, str]:
    ecs = local.cloud.client("ecs")
    images = {}
    for service, task_definition in local.running().items():
        described = ecs.describe_task_definition(taskDefinition=task_definition)
        containers = described["taskDefinition"]["containerDefinitions"]
        images[service] = next(c["image"] for c in containers if c["name"] == "app")
    return images


def test_deploy_follows_the_deployment_live_and_exits_0(local: Local) -> None:
    image = local.push("build-2")
    result = local.run("deploy", "shop", "--tag", "build-2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Each phase as it begins, with the time since the start; rollout progress; exit codes.
    assert _phases(result.stdout) == [
        "check the request",
        "lock",
        "register task definitions",
        "tasks before the rollout",
        "rollout",
        "tasks after the rollout",
        "finalize",
    ]
    assert "?" not in result.stdout  # no Choice state
    assert "shop-web: 2/2 running (COMPLETED)" in result.stdout
    assert "shop-migrate: SUCCEEDED, app=0" in result.stdout
    [summary] = [line for line in lines if line.startswith("SUCCEEDED ")]
    assert _app_images(local) == {service: image for service in local.seeded.services}
    # A readable, unique name; the manual input with who asked for it.
    name = summary.split()[1]
    assert NAME.match(name), name
    execution = local.cloud.client("stepfunctions").describe_execution(
        executionArn=f"{local.cloud.outputs['StateMachineArn']}:{name}".replace(
            ":stateMachine:", ":execution:"
        )
    )
    assert json.loads(execution["input"]) == {
        "app": "shop",
        "image_tag": "build-2",
        # A Trigger encodes each of its fields (only the request leaves out its defaults).
        "trigger": {"kind": "manual", "event_id": None, "pushed_at": None, "actor": ACTOR},
    }


def test_no_wait_prints_the_arn_and_needs_no_stack_given_the_state_machine(local: Local) -> None:
    local.push("build-4")
    machine = local.cloud.outputs["StateMachineArn"]
    result = local.run(
        "deploy",
        "shop",
        "--tag",
        "build-4",
        "--skip-pre-tasks",
        "--skip-post-tasks",
        "--force",
        "--no-wait",
        "--state-machine-arn",
        machine,
        stack="no-such-stack",
    )
    assert result.exit_code == 0, result.output
    arn = result.stdout.strip()
    assert arn.startswith(machine.replace(":stateMachine:", ":execution:") + ":shop-manual-")
    execution = local.cloud.wait_for_execution(arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["input"])["skip_pre_tasks"] is True
    assert json.loads(execution["input"])["force"] is True


def test_a_failed_deployment_exits_1_with_the_cause(local: Local) -> None:
    before = local.running()
    local.push("build-5")
    local.simulation.faults = EcsFaults(
        tasks={sample_app.MIGRATE: TaskFault(TaskOutcome.EXIT, exit_code=1)}
    )
    try:
        code, outcome = local.json("deploy", "shop", "--tag", "build-5", "--skip-post-tasks")
    finally:
        local.simulation.faults = EcsFaults()
    assert code == 1
    assert (outcome["execution_status"], outcome["status"]) == ("FAILED", "FAILED")
    assert outcome["error"] == "TaskFailed"
    assert "shop-migrate" in outcome["message"]
    [task] = outcome["summary"]["tasks"]
    assert (task["family"], task["exit_codes"]) == (sample_app.MIGRATE, [{"app": 1}])
    assert local.running() == before  # a failed migration changes no service


def _executions(local: Local) -> list[str]:
    sfn = local.cloud.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=local.cloud.outputs["StateMachineArn"])
    return [execution["name"] for execution in listed["executions"]]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["shpo", "--tag", "v1.0.0"], "ConfigError", "no config for app 'shpo'"),
        (
            ["shop", "--tag", "v9.9.9"],
            "ImageNotFound",
            "tag 'v9.9.9' not found in ECR repository 'shop'",
        ),
        (
            ["shop", "--tag", "v1.0.0", "--environment", "staging"],
            "InputError",
            "environment: app 'shop' lists no environments",
        ),
    ],
    ids=["unknown-app", "unknown-tag", "no-environments"],
)
def test_a_typo_starts_nothing_and_records_nothing(
    local: Local, args: list[str], error: str, message: str
) -> None:
    before, records = _executions(local), local.table.history(args[0])
    result = local.run("deploy", *args)
    no_traceback(result)
    assert message in result.stderr
    code, document = local.json("deploy", *args)
    assert code == 1
    assert (document["error"], document["message"]) == (
        error,
        result.stderr[len("error: ") :].strip(),
    )
    assert _executions(local) == before
    assert local.table.history(args[0]) == records


def test_follow_re_attaches_by_execution_or_app(local: Local) -> None:
    local.push("build-6")
    code, started = local.json(
        "deploy", "shop", "--tag", "build-6", "--skip-pre-tasks", "--skip-post-tasks", "--no-wait"
    )
    assert code == 0
    by_name = local.run("follow", started["name"])
    assert by_name.exit_code == 0, by_name.output
    assert _phases(by_name.stdout)[0] == "check the request"  # what it did before, too
    assert f"SUCCEEDED {started['name']}" in by_name.stdout
    # An app: its running deployment, else its latest one.
    code, outcome = local.json("follow", "shop")
    assert (code, outcome["name"], outcome["status"]) == (0, started["name"], "SUCCEEDED")

    unknown = local.run("follow", "nope")
    no_traceback(unknown)
    assert "'nope' is neither an app with deployments nor an execution" in unknown.stderr


def test_an_app_without_a_trigger_deploys_given_the_repository_or_a_full_uri(
    local: Local,
) -> None:
    untriggered = app_config(
        {
            "version": "v1",
            "cluster": sample_app.CLUSTER,
            "services": [{"name": sample_app.WEB, "containers": ["app"]}],
        }
    )
    push_config(local.cloud.client("ssm"), runner.CONFIG_PREFIX, "untriggered", untriggered)
    image = local.push("build-7")

    # Nothing says where its image comes from: the error says what to pass.
    result = local.run("deploy", "untriggered", "--tag", "build-7")
    no_traceback(result)
    assert "repository: required" in result.stderr
    assert "pass --repository REPOSITORY, or --image with the image's full URI" in result.stderr

    code, outcome = local.json("deploy", "untriggered", "--repository", "shop", "--tag", "build-7")
    assert (code, outcome["status"], outcome["summary"]["image"]) == (0, "SUCCEEDED", image)
    registry = local.seeded.registry
    code, outcome = local.json("deploy", "untriggered", "--image", f"{registry}/shop:build-7")
    assert (code, outcome["status"], outcome["summary"]["image"]) == (0, "SUCCEEDED", image)
    digest = image.rpartition("@")[2]
    code, outcome = local.json("deploy", "untriggered", "--image", image)
    assert (code, outcome["summary"]["image"]) == (0, image)

    # Another registry's image is not the one this stack's ECR holds under that name.
    elsewhere = local.run("deploy", "untriggered", "--image", f"ghcr.io/shop@{digest}")
    no_traceback(elsewhere)
    assert f"--image: registry 'ghcr.io' is not {registry}" in elsewhere.stderr

    # The hint is for a missing repository only, not for one the app does not deploy from.
    other = local.run("deploy", "shop", "--repository", "other", "--tag", "build-7")
    no_traceback(other)
    assert "'other' is not a trigger repository of app 'shop'" in other.stderr
    assert "--image" not in other.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--image", "shop:build-7"],  # no registry
        ["--image", "x.example/shop:1", "--tag", "1"],
        ["--image", "x.example/shop:1", "--repository", "shop"],
    ],
)
def test_image_is_a_full_uri_and_alone(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["deploy", "shop", *args])
    assert result.exit_code == 2, result.output
