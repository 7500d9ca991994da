"""The state machine's failure routing: once services may have changed, every failure path
goes through the rollback policy, and nothing supersedes a deployment after its rollout."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.template.cfn import ASL_PATH

ROLLBACK = "RollbackPolicy"
FINALIZE = "Finalize"


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(ASL_PATH.read_text())["States"]
    return result


def _successors(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return [target for target in targets if target]


def _after_the_rollout(states: dict[str, Any]) -> set[str]:
    """States reachable from UpdateServices before the rollback policy or Finalize."""
    seen: set[str] = set()
    todo = ["UpdateServices"]
    while todo:
        name = todo.pop()
        if name in seen or name in {ROLLBACK, FINALIZE}:
            continue
        seen.add(name)
        todo += _successors(states[name])
    return seen


def _is_event_wait(state: dict[str, Any]) -> bool:
    return str(state.get("Resource", "")).endswith(".waitForTaskToken")


def _fallback_wait(name: str) -> str:
    return "WaitFor" + name.removeprefix("Await")


def _checkpoints(states: dict[str, Any], names: set[str]) -> dict[str, bool]:
    """The lock checkpoints among ``names``: whether each may supersede the deployment."""
    return {
        name: states[name]["Parameters"]["Payload"]["supersede"]
        for name in names
        if states[name].get("Parameters", {}).get("Payload", {}).get("action") == "checkpoint"
    }


def test_every_failure_after_the_rollout_starts_goes_to_the_rollback_policy(
    states: dict[str, Any],
) -> None:
    after = _after_the_rollout(states)
    assert {"CheckServices", "CheckpointBeforePostTasks", "RunPostTasks"} <= after
    for name in after:
        for catch in states[name].get("Catch", []):
            if _is_event_wait(states[name]):
                # A wait that ends badly (its safety poll, a broken waiter) is no failure of
                # the deployment: its check, or the plain wait before it, judges.
                assert catch["Next"] in {states[name]["Next"], _fallback_wait(name)}, name
            else:
                assert catch["Next"] == ROLLBACK, f"{name} catches into {catch['Next']}"
        # A check that reports FAILED (its Choice's default) rolls back too.
        choices = states[name].get("Choices", [])
        if any(choice["Variable"] == "$.progress" for choice in choices):
            assert states[name]["Default"] == ROLLBACK, name
    # The only way out of that part of the machine without rolling back is success.
    exits = {t for name in after for t in _successors(states[name]) if t not in after}
    assert exits == {ROLLBACK, FINALIZE}
    finalize_from = {name for name in after if FINALIZE in _successors(states[name])}
    assert finalize_from == {"PostTasksDone?", "HasPostTasks?"}
    assert states["PostTasksDone?"]["Choices"][-1] == {
        "Variable": "$.progress",
        "StringEquals": "DONE",
        "Next": FINALIZE,
    }


def test_nothing_supersedes_a_deployment_after_its_rollout(states: dict[str, Any]) -> None:
    after = _after_the_rollout(states)
    superseding = {
        name
        for name, state in states.items()
        for choice in state.get("Choices", [])
        if choice.get("Variable") == "$.lock_status" and choice.get("StringEquals") == "SUPERSEDED"
    }
    assert superseding
    assert not superseding & after
    assert _checkpoints(states, after) == {"CheckpointBeforePostTasks": False}
    assert _checkpoints(states, set(states) - after) == {"CheckpointBeforeServices": True}
