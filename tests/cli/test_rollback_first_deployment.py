"""`ecs-deployer rollback` right after an app's first deployment: it undoes it.

A module of its own: it needs a local cloud on which the app was never deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.cli.conftest import deploy, local_cloud

if TYPE_CHECKING:
    from tests.cli.conftest import Local


def test_rollback_right_after_the_first_deployment_undoes_it() -> None:
    with local_cloud() as local:
        _undo_the_first_deployment(local)


def _undo_the_first_deployment(local: Local) -> None:
    before = local.running()
    first = deploy(local, "build-1")
    assert local.running() != before
    code, plan = local.json("plan", "shop", "--rollback")
    assert code == 0
    assert {s["name"]: s["current"] for s in plan["services"]} == _left_by(first)
    code, outcome = local.json("rollback", "shop")
    assert (code, outcome["status"]) == (0, "SUCCEEDED")
    assert local.running() == before
    undo = next(r for r in local.table.history("shop") if r.deployment_id == outcome["name"])
    assert (undo.trigger, undo.undoes) == ("rollback", first["name"])


def _left_by(outcome: dict[str, object]) -> dict[str, str]:
    summary = outcome["summary"]
    assert isinstance(summary, dict)
    return {s["name"]: s["task_definition_after"] for s in summary["services"]}
