"""Returning an app to an earlier deployment: same pipeline, exact revisions, no tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import boto3

from ecs_deployer.document import Deployment
from ecs_deployer.domain.admission import Rejected
from ecs_deployer.steps import locks
from ecs_deployer.steps.finalize import finalize
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer.steps.resolve import resolve
from ecs_deployer.steps.services import check_services, update_services
from tests.aws_fixtures import STARTED, AlwaysRunning, SimClock, context, drive, push

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation


NO_TASKS = {"skip_pre_tasks": True, "skip_post_tasks": True}  # tasks are not the point here


def _deploy(
    request: dict[str, object],
    name: str,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    sim_clock: SimClock,
) -> Deployment:
    """Resolve, lock, register, roll out and finalize, as the state machine would."""
    result = resolve(request, context(name), deps, STARTED)
    assert isinstance(result, Deployment), result
    locks.acquire(result, table, AlwaysRunning(), STARTED)
    deployment = register_task_definitions(result, ecs, table, deps.scope, STARTED)
    deployment = update_services(deployment, ecs, table, STARTED)
    deployment = drive(
        lambda d: check_services(d, ecs, STARTED + timedelta(minutes=1)), deployment, sim_clock
    )
    return finalize(deployment, table, ecs, deps.scope.clusters, STARTED)


def test_rollback_returns_every_service_to_the_exact_earlier_revisions(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate()
    push("v2.0.0")
    first = _deploy(
        {"app": "shop", "image_tag": "v2.0.0", **NO_TASKS}, "first", deps, ecs, table, sim_clock
    )
    push("v3.0.0")
    _deploy(
        {"app": "shop", "image_tag": "v3.0.0", **NO_TASKS}, "second", deps, ecs, table, sim_clock
    )
    registered_before = len(boto3.client("ecs").list_task_definitions()["taskDefinitionArns"])

    back = _deploy({"app": "shop", "rollback_to": "first"}, "back", deps, ecs, table, sim_clock)
    assert back.outcome is not None
    assert back.outcome.status == "SUCCEEDED"
    assert back.trigger.kind == "rollback"
    assert back.rollback_of == "first"
    assert back.image.uri == first.image.uri
    assert (back.pre_tasks, back.post_tasks) == ([], [])
    for earlier, service in zip(first.services, back.services, strict=True):
        assert service.task_definition_after == earlier.task_definition_after
        assert (
            simulation.primary_task_definition(service.name, cluster="shop-demo")
            == earlier.task_definition_after
        )
    # Nothing new was registered: the earlier revisions are still active.
    assert (
        len(boto3.client("ecs").list_task_definitions()["taskDefinitionArns"]) == registered_before
    )
    record = table.find_record("shop", "back")
    assert record is not None
    assert (record.trigger, record.rollback_of, record.status) == ("rollback", "first", "SUCCEEDED")


def test_a_deregistered_target_is_registered_again_unchanged(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate()
    push("v2.0.0")
    first = _deploy(
        {"app": "shop", "image_tag": "v2.0.0", **NO_TASKS}, "first", deps, ecs, table, sim_clock
    )
    push("v3.0.0")
    _deploy(
        {"app": "shop", "image_tag": "v3.0.0", **NO_TASKS}, "second", deps, ecs, table, sim_clock
    )
    client = boto3.client("ecs")
    for service in first.services:
        client.deregister_task_definition(taskDefinition=service.task_definition_after or "")
    back = _deploy({"app": "shop", "rollback_to": "first"}, "back", deps, ecs, table, sim_clock)
    for earlier, service in zip(first.services, back.services, strict=True):
        assert service.task_definition_after != earlier.task_definition_after
        runs = simulation.primary_task_definition(service.name, cluster="shop-demo")
        assert runs == service.task_definition_after
        described = client.describe_task_definition(taskDefinition=runs)["taskDefinition"]
        assert {c["name"]: c["image"] for c in described["containerDefinitions"]}[
            "app"
        ] == first.image.uri


def test_only_a_successful_known_deployment_can_be_returned_to(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    unknown = resolve(
        {"app": "shop", "rollback_to": "never-happened"}, context("back"), deps, STARTED
    )
    assert isinstance(unknown, Rejected)
    assert "rollback_to: app 'shop' has no deployment 'never-happened'" in (
        unknown.outcome.cause or ""
    )
    failed = resolve({"app": "shop", "image_tag": "v404"}, context("failed"), deps, STARTED)
    assert isinstance(failed, Rejected)
    back = resolve({"app": "shop", "rollback_to": "failed"}, context("back2"), deps, STARTED)
    assert isinstance(back, Rejected)
    assert "deployment 'failed' ended FAILED" in (back.outcome.cause or "")
    both = resolve(
        {"app": "shop", "rollback_to": "x", "image_tag": "v1"}, context("both"), deps, STARTED
    )
    assert isinstance(both, Rejected)
    assert both.outcome.error == "InputError"


def test_undo_after_the_first_deployment_returns_to_the_revisions_before_it(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate()
    push("v2.0.0")
    first = _deploy(
        {"app": "shop", "image_tag": "v2.0.0", **NO_TASKS}, "first", deps, ecs, table, sim_clock
    )
    before = {s.name: s.task_definition_before for s in first.services}
    assert all(arn and arn.endswith(":1") for arn in before.values())

    undo = _deploy({"app": "shop", "undo": "first"}, "undo", deps, ecs, table, sim_clock)
    assert undo.outcome is not None
    assert undo.outcome.status == "SUCCEEDED"
    assert (undo.trigger.kind, undo.undoes, undo.rollback_of) == ("rollback", "first", None)
    assert not undo.pre_tasks
    assert not undo.post_tasks
    running, _ = ecs.describe_services(seeded.cluster, list(before))
    assert {name: snapshot.task_definition for name, snapshot in running.items()} == before
    # The image it returns to is the one the services ran before, not the undone push's.
    assert undo.image.uri == first.services[0].images_before["app"]
    record = table.find_record("shop", "undo")
    assert record is not None
    assert (record.status, record.undoes, record.image) == ("SUCCEEDED", "first", undo.image.uri)


def test_only_a_successful_deployment_can_be_undone(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    result = resolve({"app": "shop", "undo": "nonexistent"}, context("undo"), deps, STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == "InputError"
    assert "undo: app 'shop' has no deployment 'nonexistent'" in (result.outcome.cause or "")
