"""`ecs-deployer rollback`: through the state machine, to the exact revisions an earlier
successful deployment left."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.operator.configs import push_config
from tests.cli.conftest import deploy, no_traceback

if TYPE_CHECKING:
    from tests.cli.conftest import Local


def _left(outcome: dict[str, object]) -> dict[str, str]:
    summary = outcome["summary"]
    assert isinstance(summary, dict)
    return {s["name"]: s["task_definition_after"] for s in summary["services"]}


def test_rollback_returns_to_the_previous_deployment_then_to_a_named_one(local: Local) -> None:
    first, second = deploy(local, "build-1"), deploy(local, "build-2")
    assert local.running() == _left(second)

    # Without --to: undo the newest success, back to the revisions it replaced.
    result = local.run("rollback", "shop")
    assert result.exit_code == 0, result.output
    assert f"undoing {second['name']}" in result.stdout
    assert "register task definitions" in result.stdout
    assert "tasks before the rollout" not in result.stdout  # a rollback runs no one-off tasks
    assert local.running() == _left(first)

    code, outcome = local.json("rollback", "shop", "--to", second["name"])
    assert (code, outcome["status"]) == (0, "SUCCEEDED")
    assert outcome["name"].startswith("shop-rollback-")
    assert local.running() == _left(second)

    records = {r.deployment_id: r for r in local.table.history("shop")}
    back = records[outcome["name"]]
    assert (back.trigger, back.rollback_of, back.status) == (
        "rollback",
        second["name"],
        "SUCCEEDED",
    )
    assert back.actor == "arn:aws:sts::123456789012:user/moto"


def test_rollback_to_an_unknown_deployment_starts_nothing(local: Local) -> None:
    records = local.table.history("shop")
    code, document = local.json("rollback", "shop", "--to", "never-happened")
    assert code == 1
    assert document["error"] == "InputError"
    assert document["fields"] == [
        {"path": "rollback_to", "message": "app 'shop' has no deployment 'never-happened'"}
    ]
    assert local.table.history("shop") == records  # no FAILED rollback on record


def test_rollback_needs_an_earlier_deployment_to_return_to(local: Local) -> None:
    never_deployed = sample_app.app_config("subnet-1", "sg-1", app="fresh")
    push_config(local.cloud.client("ssm"), runner.CONFIG_PREFIX, "fresh", never_deployed)
    result = local.run("rollback", "fresh")
    no_traceback(result)
    assert "no successful deployment" in result.stderr
    assert "nothing to roll back" in result.stderr
    unknown = local.run("rollback", "nope")
    no_traceback(unknown)
    assert "no config for app 'nope'" in unknown.stderr


def test_rollback_skips_a_deployment_that_changed_nothing(local: Local) -> None:
    """Deploying what already runs succeeds and changes no revision: undoing it would
    return the services to where they are, so the default undoes the newest change."""
    before = local.running()
    changed = deploy(local, "build-again")
    code, again = local.json(
        "deploy", "shop", "--tag", "build-again", "--skip-pre-tasks", "--skip-post-tasks"
    )
    assert (code, again["status"]) == (0, "SUCCEEDED")
    assert _left(again) == _left(changed)

    result = local.run("rollback", "shop")

    assert result.exit_code == 0, result.output
    assert f"undoing {changed['name']}" in result.stdout
    assert local.running() == before
