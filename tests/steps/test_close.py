"""Closing what an execution left open when it ended without finalising (steps/close.py):
driven with the status-change event's detail, as EventBridge delivers it."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ecs_deployer import tracing
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.domain.dispatch import child_execution_name
from ecs_deployer.steps import locks
from ecs_deployer.steps.close import CloseDeps, ExecutionStatusDetail, close_execution
from ecs_deployer.steps.finalize import finalize
from ecs_deployer.steps.services import update_services
from ecs_deployer.structs import decode
from tests.aws_fixtures import (
    PREFIX,
    STARTED,
    AlwaysRunning,
    SimClock,
    accepted,
    push,
    registered,
)
from tests.support import load_event

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer.domain.lifecycle import LifecycleDetail
    from ecs_deployer_tools.demo import sample_app
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:ecs-deployer-deploy"
ENDED = STARTED + timedelta(minutes=5)
LAMBDA_CRASH = json.dumps(
    {
        "errorMessage": "RequestId: 42 Error: Runtime exited with error: exit status 1",
        "errorType": "Runtime.ExitError",
        "stackTrace": ["  File secret.py"],
    }
)


class _Executions:
    """Step Functions as the close step reads it; and the documents its executions saved."""

    def __init__(self, *documents: Deployment, existing: tuple[str, ...] = ()) -> None:
        self._documents = {document.execution_arn: document for document in documents}
        self._existing = set(existing) | set(self._documents)

    def exists(self, execution_arn: str) -> bool:
        return execution_arn in self._existing

    def input_of(self, execution_arn: str) -> Any:
        raise AssertionError("the event carries the input")

    def documents(self) -> list[Deployment]:
        return list(self._documents.values())


def _deps(table: DeploymentsTable, ecs: EcsGateway, executions: _Executions) -> CloseDeps:
    """The documents the executions last saved are in the table, as their steps left them."""
    for document in executions.documents():
        table.save_document(document, STARTED)
    return CloseDeps(
        configs=ConfigStore(PREFIX), table=table, ecs=lambda _: ecs, executions=executions
    )


def _detail(
    name: str, execution_input: Any, status: str = "FAILED", **fields: str
) -> ExecutionStatusDetail:
    return decode(
        {
            "executionArn": f"{MACHINE.replace(':stateMachine:', ':execution:')}:{name}",
            "stateMachineArn": MACHINE,
            "name": name,
            "status": status,
            "startDate": int(STARTED.timestamp() * 1000),
            "stopDate": int(ENDED.timestamp() * 1000),
            "input": json.dumps(execution_input),
            "inputDetails": {"included": True},
            "output": None,
            **fields,
        },
        ExecutionStatusDetail,
    )


def _of(deployment: Deployment, status: str = "ABORTED", **fields: str) -> ExecutionStatusDetail:
    request = {"app": deployment.app, "image_digest": deployment.image.digest}
    return _detail(deployment.deployment_id, request, status, **fields)


def test_a_deployment_whose_resolve_kept_crashing_is_recorded_failed(
    seeded: sample_app.SeededApp, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    detail = _detail(
        "manual-9",
        {"app": "shop", "image_tag": "v2.0.0"},
        error="DeploymentError",
        cause=LAMBDA_CRASH,
    )
    closed = close_execution(detail, _deps(table, ecs, _Executions()), ENDED)
    assert "recorded FAILED" in closed
    [record] = table.history("shop")
    assert (record.deployment_id, record.status, record.error) == (
        "manual-9",
        "FAILED",
        "DeploymentError",
    )
    assert record.execution_arn == detail.execution_arn
    assert record.tag == "v2.0.0"
    assert record.cause is not None
    assert "the execution failed before finalising" in record.cause
    assert "Runtime exited with error" in record.cause
    assert "stackTrace" not in record.cause
    assert record.finished_at is not None


def test_an_execution_stopped_mid_rollout_is_aborted_and_its_lock_released(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate()
    deployment = locks.acquire(registered(deps, ecs, table), table, AlwaysRunning(), STARTED)
    deployment = update_services(deployment, ecs, table, STARTED)
    assert table.read_lock("shop", None).holder is not None
    sim_clock.now = ENDED
    closed = close_execution(_of(deployment), _deps(table, ecs, _Executions(deployment)), ENDED)
    assert closed == "record IN_PROGRESS -> ABORTED; lock released"
    [record] = table.history("shop")
    assert record.status == "ABORTED"
    assert record.cause is not None
    assert record.cause.startswith("the execution was stopped before finalising")
    # What each service runs now: our new revisions, mid-rollout.
    for service in deployment.services:
        revision = (service.task_definition_after or "").rsplit("/", 1)[-1]
        assert f"{service.name} runs {revision}" in record.cause
    assert {s.name: s.task_definition_after for s in record.services} == {
        s.name: s.task_definition_after for s in deployment.services
    }
    lock = table.read_lock("shop", None)
    assert (lock.holder, lock.waiting) == (None, ())


class _Heard:
    """A lifecycle publisher that keeps what it is told."""

    def __init__(self) -> None:
        self.details: list[LifecycleDetail] = []

    def publish(self, detail: LifecycleDetail) -> None:
        self.details.append(detail)


def test_an_aborted_deployment_is_announced_with_what_runs(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulate()
    deployment = locks.acquire(registered(deps, ecs, table), table, AlwaysRunning(), STARTED)
    deployment = update_services(deployment, ecs, table, STARTED)
    sim_clock.now = ENDED
    heard = _Heard()
    annotations: dict[str, str] = {}
    monkeypatch.setattr(tracing.tracer, "put_annotation", annotations.__setitem__)
    close_deps = dataclasses.replace(_deps(table, ecs, _Executions(deployment)), events=heard)
    close_execution(_of(deployment, status="TIMED_OUT"), close_deps, ENDED)
    # Its X-Ray trace is found by app and deployment (ecs_deployer/tracing.py).
    assert annotations == {"deployment_id": deployment.deployment_id, "app": "shop"}
    [detail] = heard.details
    assert (detail.status, detail.deployment_id) == ("ABORTED", deployment.deployment_id)
    assert detail.cause is not None
    assert detail.cause.startswith("the execution timed out before finalising")
    assert {s.name: s.task_definition_after for s in detail.services} == {
        s.name: s.task_definition_after for s in deployment.services
    }


def test_a_describe_that_does_not_show_our_update_yet_is_not_what_the_abort_names(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    """Stopped seconds after UpdateService: ECS's describes still show the old revisions
    (eventual consistency), but each service is rolling out ours."""
    simulate()
    deployment = locks.acquire(registered(deps, ecs, table), table, AlwaysRunning(), STARTED)
    deployment = update_services(deployment, ecs, table, STARTED)
    shown = ecs.describe_services(deployment.cluster, [s.name for s in deployment.services])[0]
    assert {name: snapshot.task_definition for name, snapshot in shown.items()} == {
        s.name: s.task_definition_before for s in deployment.services
    }
    close_execution(
        _of(deployment), _deps(table, ecs, _Executions(deployment)), STARTED + timedelta(seconds=30)
    )
    [record] = table.history("shop")
    for service in deployment.services:
        revision = (service.task_definition_after or "").rsplit("/", 1)[-1]
        assert f"{service.name} runs {revision}" in (record.cause or "")


def test_a_queued_deployment_that_never_reached_the_lock_is_aborted(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    holder = locks.acquire(accepted(deps, "v2.0.0", "run-1"), table, AlwaysRunning(), STARTED)
    waiter = locks.acquire(accepted(deps, "v3.0.0", "run-2"), table, AlwaysRunning(), STARTED)
    assert waiter.lock.status == "WAITING"
    executions = _Executions(holder, waiter)
    closed = close_execution(_of(waiter, "TIMED_OUT"), _deps(table, ecs, executions), ENDED)
    assert closed == "record QUEUED -> ABORTED; lock released"
    records = {record.deployment_id: record for record in table.history("shop")}
    assert records["run-2"].status == "ABORTED"
    assert "timed out before finalising" in (records["run-2"].cause or "")
    assert records["run-1"].status == "IN_PROGRESS"  # the holder is not ours to close
    lock = table.read_lock("shop", None)
    assert lock.holder is not None
    assert (lock.holder.deployment_id, lock.waiting) == ("run-1", ())


def test_a_finalised_record_and_a_free_lock_are_left_alone(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = locks.acquire(registered(deps, ecs, table), table, AlwaysRunning(), STARTED)
    deployment.fail("TaskFailed", "the migration exited 1")
    finalize(deployment, table, ecs, deps.scope.clusters, STARTED)
    [before] = table.history("shop")
    closed = close_execution(
        _of(deployment, "FAILED", error="TaskFailed"),
        _deps(table, ecs, _Executions(deployment)),
        ENDED,
    )
    assert closed == "nothing open: the record is FAILED"
    assert table.history("shop") == [before]


def test_a_push_never_dispatched_is_recorded_failed_for_each_app_that_wanted_it(
    seeded: sample_app.SeededApp, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    digest = push("v2.0.0")
    event = load_event("ecr_push")
    event["detail"].update({"image-digest": digest, "image-tag": "v2.0.0"})
    detail = _detail("dispatch-1", event, error="DeploymentError", cause=LAMBDA_CRASH)
    closed = close_execution(detail, _deps(table, ecs, _Executions()), ENDED)
    assert closed == "recorded FAILED for app(s) shop"
    [record] = table.history("shop")
    assert (record.deployment_id, record.status, record.trigger) == (
        "dispatch-1",
        "FAILED",
        "ecr-push",
    )
    assert (record.digest, record.tag, record.event_id) == (digest, "v2.0.0", event["id"])
    assert record.execution_arn == detail.execution_arn
    assert "the push never reached app 'shop'" in (record.cause or "")


def test_a_push_whose_deployment_started_is_left_to_that_deployment(
    seeded: sample_app.SeededApp, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    digest = push("v2.0.0")
    event = load_event("ecr_push")
    event["detail"].update({"image-digest": digest, "image-tag": "v2.0.0"})
    child = f"{MACHINE.replace(':stateMachine:', ':execution:')}:" + child_execution_name(
        "shop", digest
    )
    closed = close_execution(
        _detail("dispatch-1", event, "ABORTED"),
        _deps(table, ecs, _Executions(existing=(child,))),
        ENDED,
    )
    assert closed == "nothing open"
    assert table.history("shop") == []
