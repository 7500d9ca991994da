"""The outcome contract between the code (outcome.py, errors.py), the ASL and the docs:
the state machine ends in exactly the outcomes and error names the code can produce."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from ecs_deployer import errors
from ecs_deployer.outcome import (
    NAMED_ERRORS,
    SUCCESSFUL_STATUSES,
    UNEXPECTED_ERROR,
    Cause,
)
from tests.template.cfn import ASL_PATH, REPO_ROOT

ALL_FAIL_ERRORS = NAMED_ERRORS | {UNEXPECTED_ERROR}


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(ASL_PATH.read_text())["States"]
    return result


def _choices(states: dict[str, Any], variable: str) -> dict[str, str]:
    return {
        choice["StringEquals"]: choice["Next"]
        for choice in states["RouteOutcome"]["Choices"]
        if choice["Variable"] == variable
    }


def test_named_errors_are_the_public_error_classes() -> None:
    public = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, errors.DeployerError)
        and value is not errors.DeployerError
        and not name.startswith("_")
    }
    assert public == NAMED_ERRORS
    assert "TransientAwsError" not in NAMED_ERRORS  # retried, never an outcome


def test_every_named_error_routes_to_its_own_fail_state(states: dict[str, Any]) -> None:
    routes = _choices(states, "$.outcome.error")
    assert set(routes) == NAMED_ERRORS
    for error, target in routes.items():
        assert states[target] == {
            "Type": "Fail",
            "Error": error,
            "CausePath": "$.outcome.cause",
        }, target
    default = states[states["RouteOutcome"]["Default"]]
    assert (default["Type"], default["Error"]) == ("Fail", UNEXPECTED_ERROR)


def test_successful_statuses_end_in_succeed_states(states: dict[str, Any]) -> None:
    routes = _choices(states, "$.outcome.status")
    assert set(routes) == SUCCESSFUL_STATUSES
    for route in routes.values():
        # A success starts its promotion first (Promote?), then ends where it would have.
        target = states[route]["Default"] if states[route]["Type"] == "Choice" else route
        assert states[target] == {"Type": "Succeed", "OutputPath": "$.outcome"}
    assert states["StartPromotion"]["Next"] == "Deployed"


def test_fail_states_name_only_errors_the_code_defines(states: dict[str, Any]) -> None:
    named = {state["Error"] for state in states.values() if state["Type"] == "Fail"}
    assert named == ALL_FAIL_ERRORS


@pytest.mark.parametrize("document", ["README.md", "docs/architecture.md"])
def test_the_docs_list_every_fail_state_error(document: str) -> None:
    text = (REPO_ROOT / document).read_text()
    listed = set(re.findall(r"`([A-Za-z]+)`", text))
    assert listed >= ALL_FAIL_ERRORS, sorted(ALL_FAIL_ERRORS - listed)
    keys = ", ".join(
        field.name
        for field in msgspec.structs.fields(Cause)
        if field.name in {"status", "error", "message"}
    )
    assert f"{{{keys}, " in text  # the cause's shape, as the docs show it


def test_a_cause_reads_back_what_was_written_and_nothing_else() -> None:
    cause = Cause(status="ROLLED_BACK", error="RolloutFailed", message="m")
    assert cause.to_text() == '{"status":"ROLLED_BACK","error":"RolloutFailed","message":"m"}'
    assert Cause.from_text(cause.to_text()) == cause
    assert Cause.from_text('{"errorMessage": "boom", "errorType": "KeyError"}') is None
    assert Cause.from_text('{"status": "IGNORED", "error": "x", "message": "m"}') is None
