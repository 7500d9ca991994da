"""cfn-lint passes, informational checks included, on the SAM template and on its transform.

cfn-lint reads a SAM template without transforming it, so it does not look inside the
functions' inline policies; linting the transformed template too checks those policies
(effects, action names, ARN formats) the way CloudFormation will receive them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from cfnlint.api import ManualArgs, lint

from tests.template.cfn import REGION, TEMPLATE_PATH


def lint_errors(text: str) -> list[str]:
    matches = lint(text, config=ManualArgs(include_checks=["I"], regions=[REGION]))
    return [f"{match.rule.id} {match.message} (line {match.linenumber})" for match in matches]


def test_sam_template_is_lint_clean() -> None:
    assert lint_errors(TEMPLATE_PATH.read_text()) == []


def test_transformed_template_is_lint_clean(transformed: dict[str, Any]) -> None:
    assert lint_errors(json.dumps(transformed)) == []


def test_lint_sees_inside_transformed_policies(transformed: dict[str, Any]) -> None:
    # Control: a broken statement in a function's policy is reported, so the clean result
    # above means something.
    broken = copy.deepcopy(transformed)
    role = broken["Resources"]["CheckTasksFunctionRole"]["Properties"]
    statement = role["Policies"][0]["PolicyDocument"]["Statement"][0]
    statement["Action"] = ["ecs:DescribeTaskz"]

    errors = lint_errors(json.dumps(broken))

    assert any("describetaskz" in error for error in errors)
