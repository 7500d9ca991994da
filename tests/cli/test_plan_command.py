"""`ecs-deployer plan`: the library's own resolve and planning, as a dry run that changes
nothing, with every user error said plainly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.operator.configs import push_config
from tests.cli.conftest import no_traceback

if TYPE_CHECKING:
    from tests.cli.conftest import Local

IMAGE_PATH = "containerDefinitions[app].image"


def _world(local: Local) -> dict[str, Any]:
    """Everything a deployment would change: revisions, ECS deployments, history, executions."""
    ecs, sfn = local.cloud.client("ecs"), local.cloud.client("stepfunctions")
    services = ecs.describe_services(cluster=sample_app.CLUSTER, services=local.seeded.services)
    return {
        "task_definitions": ecs.list_task_definitions()["taskDefinitionArns"],
        "deployments": {
            s["serviceName"]: [d["id"] for d in s["deployments"]] for s in services["services"]
        },
        "history": local.table.history(sample_app.APP),
        "executions": sfn.list_executions(stateMachineArn=local.cloud.state_machine_arn())[
            "executions"
        ],
    }


def test_plan_shows_the_image_change_and_changes_nothing(local: Local) -> None:
    image = local.push("build-7")
    before = _world(local)
    code, plan = local.json("plan", "shop", "--tag", "build-7")
    assert code == 0
    assert (plan["app"], plan["cluster"], plan["image"]) == ("shop", sample_app.CLUSTER, image)
    assert plan["tag"] == "build-7"
    for service in plan["services"]:
        assert service["current"] == local.seeded.task_definitions[service["name"]]
        assert (service["registers"], service["forced"]) == (True, False)
        [change] = service["changes"]
        assert (change["path"], change["before"], change["after"]) == (
            IMAGE_PATH,
            local.seeded.initial_image,
            image,
        )
    tasks = {(t["family"], t["phase"]): t for t in plan["tasks"]}
    assert set(tasks) == {(sample_app.MIGRATE, "pre"), (sample_app.SMOKE_TEST, "post")}
    for task in tasks.values():
        assert (task["count"], task["launch_type"], task["registers"]) == (1, "fargate", True)
        assert [change["after"] for change in task["changes"]] == [image]

    result = local.run("plan", "shop", "--tag", "build-7")
    assert result.exit_code == 0, result.output
    assert f"{IMAGE_PATH}: {local.seeded.initial_image} -> {image}" in result.stdout
    assert "UpdateService to the new revision" in result.stdout
    assert f"pre task {sample_app.MIGRATE}: 1 x fargate" in result.stdout
    assert _world(local) == before


def test_plan_of_the_running_image_forces_fresh_tasks(local: Local) -> None:
    code, plan = local.json("plan", "shop", "--tag", sample_app.INITIAL_TAG)
    assert code == 0
    assert [(s["registers"], s["changes"], s["forced"]) for s in plan["services"]] == [
        (False, [], True),
        (False, [], True),
    ]
    result = local.run("plan", "shop", "--tag", sample_app.INITIAL_TAG)
    assert "UpdateService on the same revision with forceNewDeployment" in result.stdout


def _push_app(local: Local, app: str, **overrides: Any) -> None:
    """A config for ``app`` like the sample's, with ``overrides``."""
    seeded = local.seeded
    config = sample_app.app_config(seeded.subnet, seeded.security_group, app=app, **overrides)
    push_config(local.cloud.client("ssm"), runner.CONFIG_PREFIX, app, config)


@pytest.mark.parametrize(
    ("app", "overrides", "args", "message"),
    [
        ("nope", None, ["--tag", "v1.0.0"], "no config for app 'nope'"),
        ("shop", None, ["--tag", "v404"], "tag 'v404' not found in ECR repository 'shop'"),
        (
            "bad-container",
            {"services": [{"name": sample_app.WEB, "containers": ["nginx"]}]},
            ["--tag", "v1.0.0"],
            "container(s) nginx not in task definition family 'shop-web'",
        ),
        (
            "bad-service",
            {"services": [{"name": "ghost", "containers": ["app"]}]},
            ["--tag", "v1.0.0"],
            "service 'ghost' not found in cluster 'shop-demo'",
        ),
        (
            "bad-family",
            {"tasks": {"pre": [{"family": "shop-ghost", "containers": ["app"]}]}},
            ["--tag", "v1.0.0"],
            "task definition 'shop-ghost' not found",
        ),
        (
            "bad-cluster",
            {"cluster": "elsewhere"},
            ["--tag", "v1.0.0"],
            "'elsewhere' is not a cluster this stack may deploy to (ClusterNames: shop-demo)",
        ),
        ("shop", None, ["--digest", "sha256:abc"], "image_digest: expected `str` matching regex"),
        (
            "chain",
            {"environments": [{"name": "staging"}]},
            ["--tag", "v1.0.0"],
            "environment: required: app 'chain' lists staging",
        ),
        (
            "chain",
            {"environments": [{"name": "staging"}]},
            ["--tag", "v1.0.0", "--environment", "qa"],
            "environment: 'qa' is not one: app 'chain' lists staging",
        ),
    ],
)
def test_plan_errors_exit_1_with_a_clear_message(
    local: Local, app: str, overrides: dict[str, Any] | None, args: list[str], message: str
) -> None:
    if overrides is not None:
        _push_app(local, app, **overrides)
    result = local.run("plan", app, *args)
    no_traceback(result)
    assert message in " ".join(result.stderr.split()), result.stderr


def test_plan_of_an_app_with_environments_plans_the_one_named(local: Local) -> None:
    _push_app(local, "chained", environments=[{"name": "staging"}])

    code, document = local.json("plan", "chained", "--tag", "v1.0.0", "--environment", "staging")

    assert code == 0, document
    assert [service["name"] for service in document["services"]] == local.seeded.services


def test_a_rollback_plan_to_a_deployment_stays_in_its_environment(local: Local) -> None:
    # As `rollback --to` does: the environment is the one that deployment ran in.
    _push_app(local, "chained-back", environments=[{"name": "staging"}])
    code, deployed = local.json(
        "deploy", "chained-back", "--tag", sample_app.INITIAL_TAG, "--environment", "staging"
    )
    assert code == 0, deployed

    code, document = local.json("plan", "chained-back", "--rollback", "--to", deployed["name"])

    assert code == 0, document
    assert [service["name"] for service in document["services"]] == local.seeded.services
