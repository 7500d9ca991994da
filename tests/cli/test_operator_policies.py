"""The stack's operator policies grant exactly the calls the CLI makes.

Each command meant for a policy runs against the local cloud, whose HTTP server counts every
AWS call a client makes; every call must be an action of that policy, and every action of
the policy must be a call one of its commands made. The policies are read from the deployed
stack's IAM (its ReadOnlyPolicyArn and OperatorPolicyArn outputs), as an account holds them.
Resource scoping is tests/template/test_iam.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.demo import runner, sample_app
from tests.template.iam import as_tuple

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.cli.conftest import Local

# boto3 service names whose IAM prefix differs; the operations the CLI calls are named as
# their IAM actions.
_IAM_PREFIX = {"stepfunctions": "states"}
# STS answers GetCallerIdentity for any caller: "No permissions are required to perform this
# operation" (STS API reference). No policy can allow or deny it.
_NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


def _action(call: str) -> str:
    service, operation = call.split(".", 1)
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def actions_of(local: Local, command: tuple[str, ...]) -> set[str]:
    """The IAM actions of the calls ``ecs-deployer COMMAND`` makes; it must succeed."""
    return output_and_actions_of(local, command)[1]


def output_and_actions_of(local: Local, command: tuple[str, ...]) -> tuple[str, set[str]]:
    """What ``ecs-deployer COMMAND`` prints, and the IAM actions of its calls; it must
    succeed."""
    local.cloud.reset_api_calls()
    result = local.run(*command)
    assert result.exit_code == 0, (command, result.output)
    return result.output, {_action(call) for call in local.cloud.client_calls} - (
        _NEEDS_NO_PERMISSION
    )


def policy_actions(local: Local, output: str) -> set[str]:
    iam = local.cloud.client("iam")
    arn = local.cloud.outputs[output]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    policy = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    statements: list[dict[str, Any]] = policy["Document"]["Statement"]
    return {action for statement in statements for action in as_tuple(statement["Action"])}


def _config_file(local: Local, tmp_path: Path) -> Path:
    """The sample app's stored config, as a file an operator pushes."""
    name = f"{runner.CONFIG_PREFIX}/{sample_app.APP}"
    stored = local.cloud.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    path = tmp_path / "shop.yml"
    path.write_text(stored)
    return path


_QUICK = ("--skip-pre-tasks", "--skip-post-tasks")


def _operator_commands(local: Local, config: Path) -> list[tuple[str, ...]]:
    # Two deployments, so that there is one to roll back to; one followed after the fact.
    local.push("policy-1")
    local.push("policy-2")
    local.push("policy-3")
    return [
        ("config", "push", str(config), "--app", sample_app.APP),
        ("deploy", sample_app.APP, "--tag", "policy-1", *_QUICK),
        ("deploy", sample_app.APP, "--tag", "policy-2", *_QUICK, "--no-wait"),
        ("follow", sample_app.APP),
        ("deploy", sample_app.APP, "--tag", "policy-3", *_QUICK),
        ("rollback", sample_app.APP),
    ]


def _read_only_commands(local: Local, config: Path) -> list[tuple[str, ...]]:
    # History to read and a deployment to plan a rollback of, made here (its calls are not
    # the read-only policy's): each case gets its own cloud under `pytest -n`.
    local.push("read-1")
    local.push("read-2")
    for tag in ("read-1", "read-2"):
        deployed = local.run("deploy", sample_app.APP, "--tag", tag, *_QUICK)
        assert deployed.exit_code == 0, deployed.output
    return [
        ("status",),
        ("status", sample_app.APP),
        ("history", sample_app.APP),
        ("plan", sample_app.APP, "--tag", sample_app.INITIAL_TAG),
        ("plan", sample_app.APP, "--rollback"),
        ("config", "show", sample_app.APP),
        ("config", "diff", str(config), "--app", sample_app.APP),
    ]


POLICIES: list[tuple[str, Callable[[Local, Path], list[tuple[str, ...]]]]] = [
    ("OperatorPolicyArn", _operator_commands),
    ("ReadOnlyPolicyArn", _read_only_commands),
]


@pytest.mark.parametrize(("output", "commands"), POLICIES, ids=[p[0] for p in POLICIES])
def test_a_policy_grants_exactly_the_calls_of_its_commands(
    local: Local,
    tmp_path: Path,
    output: str,
    commands: Callable[[Local, Path], list[tuple[str, ...]]],
) -> None:
    granted = policy_actions(local, output)
    used: set[str] = set()
    for command in commands(local, _config_file(local, tmp_path)):
        actions = actions_of(local, command)
        assert actions, command  # the calls were counted
        assert actions - granted == set(), f"`ecs-deployer {' '.join(command)}` is denied"
        used |= actions

    assert granted - used == set(), "granted, but no command calls it"
