"""statemachine/deploy.asl.json is valid ASL and wired to the template's substitutions."""

from __future__ import annotations

import json
import re
import subprocess
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, get_args

import msgspec
import pytest

from ecs_deployer.config.models import AppConfig, ServiceConfig, TaskConfig
from ecs_deployer.steps.locks import lock_lifetime_seconds
from tests.template.cfn import ACCOUNT_ID, ASL_PATH, REGION, REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

ASL_VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def with_lambda_arns(text: str) -> str:
    """The ASL as Step Functions receives it: the partition, and every other substitution a
    well-formed Lambda ARN."""
    return PLACEHOLDER.sub(
        lambda match: (
            "aws"
            if match[1] == "Partition"
            else f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:ecs-deployer-{match[1]}"
        ),
        text,
    )


def validate(definition: Any, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not ASL_VALIDATOR.exists():
        pytest.fail(f"{ASL_VALIDATOR} is missing: run `make setup` (npm ci)")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def asl_text() -> str:
    assert ASL_PATH.exists(), f"{ASL_PATH} is missing"
    return ASL_PATH.read_text()


def test_definition_is_valid_asl(asl_text: str, tmp_path: Path) -> None:
    result = validate(json.loads(with_lambda_arns(asl_text)), tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_broken_definition(asl_text: str, tmp_path: Path) -> None:
    # Control: the validator really runs and fails a definition that points nowhere.
    definition = json.loads(with_lambda_arns(asl_text))
    definition["StartAt"] = "NoSuchState"

    result = validate(definition, tmp_path)

    assert result.returncode != 0


def test_placeholders_match_definition_substitutions(
    asl_text: str, sam_template: dict[str, Any]
) -> None:
    (machine,) = [
        resource
        for resource in sam_template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    ]
    substitutions = set(machine["Properties"]["DefinitionSubstitutions"])

    assert placeholders(asl_text) == substitutions


def test_no_literal_lambda_arns(asl_text: str) -> None:
    # Functions are named only through substitutions: a literal ARN would pin one account.
    strings = [value for value in _walk(json.loads(asl_text)) if isinstance(value, str)]

    assert strings
    assert not [value for value in strings if ":lambda:" in value and ":function:" in value]


def _walk(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [item for value in node.values() for item in _walk(value)]
    if isinstance(node, list):
        return [item for value in node for item in _walk(value)]
    return [node]


def _limit(struct: type[msgspec.Struct], field: str) -> int:
    [info] = [info for info in msgspec.structs.fields(struct) if info.name == field]
    [limit] = [
        meta.le
        for meta in get_args(info.type)[1:]
        if isinstance(meta, msgspec.Meta) and meta.le is not None
    ]
    return int(limit)


def test_the_execution_outlasts_the_longest_deployment_a_config_allows(asl_text: str) -> None:
    """Every phase at the largest max_wait, a rollback as long as the rollout, the longest
    approval, and a day in the lock's queue: the state machine's own timeout must not end a
    deployment first."""
    task = SimpleNamespace(config=SimpleNamespace(max_wait=_limit(TaskConfig, "max_wait")))
    service = SimpleNamespace(max_wait_minutes=_limit(ServiceConfig, "max_wait"))
    longest = SimpleNamespace(
        pre_tasks=[task],
        post_tasks=[task],
        services=[service],
        approval_required=True,
        approval_timeout_minutes=_limit(AppConfig, "approval_timeout"),
    )
    own = lock_lifetime_seconds(longest)  # type: ignore[arg-type]
    assert own > 6 * 24 * 3600
    assert json.loads(asl_text)["TimeoutSeconds"] >= own + 24 * 3600
