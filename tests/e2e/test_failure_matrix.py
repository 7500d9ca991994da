"""Every Lambda step by (fails once, times out once after its side effects, fails on every
attempt), and executions stopped by an operator: each case ends in the right status, with
every service on the right revision, the app's lock free and the push's record final.

One local cloud (the real template, ASL, handlers and layer, the sample app seeded) serves
the whole module; each case pushes a new image of the sample app and judges what that push
did against what ran before it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.domain.dispatch import child_execution_name
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ecs_deployer.history import HistoryRecord

pytestmark = pytest.mark.e2e

SERVICES = (sample_app.WEB, sample_app.WORKER)
STEPS = (
    "ResolveFunction",
    "LockFunction",
    "RegisterTaskDefinitionsFunction",
    "RunTasksFunction",
    "CheckTasksFunction",
    "UpdateServicesFunction",
    "CheckServicesFunction",
    "FinalizeFunction",
)
# More failures than a step has attempts (a first try and 5 retries), and than the rollback
# path makes when it shares the function (UpdateServices, CheckServices).
EVERY_ATTEMPT = 50
# When a step fails on every attempt: the record's status, and whether the services end on
# the pushed image ("new") or on what ran before ("old").
EVERY_ATTEMPT_OUTCOME = {
    # The dispatcher never dispatched: the push is recorded FAILED under its execution.
    "ResolveFunction": ("FAILED", "old"),
    "LockFunction": ("FAILED", "old"),
    "RegisterTaskDefinitionsFunction": ("FAILED", "old"),
    "RunTasksFunction": ("FAILED", "old"),
    "CheckTasksFunction": ("FAILED", "old"),
    # The rollback shares the function and fails too; nothing was changed: FAILED.
    "UpdateServicesFunction": ("FAILED", "old"),
    # The rollback was started but never confirmed (CheckRollback shares the function).
    "CheckServicesFunction": ("ROLLBACK_FAILED", "old"),
    # Deployed, but never finalised: closed ABORTED by the status-change event.
    "FinalizeFunction": ("ABORTED", "new"),
}
_versions = itertools.count(2)


@dataclass
class Stack:
    cloud: LocalCloud
    table: DeploymentsTable
    registry: str
    summaries: runner.SummaryInbox


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with LocalCloud(runner.TEMPLATE, extensions=[EcsSimulation()]) as cloud:
        seeded = sample_app.seed(sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX)
        summaries = runner.SummaryInbox(cloud)
        cloud.deploy_stack(
            {
                **runner.STACK_PARAMETERS,
                **seeded.network_parameters,
                "LogLevel": "ERROR",
                "SummaryTopicArn": summaries.topic_arn,
            }
        )
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        yield Stack(cloud, table, seeded.registry, summaries)


@pytest.fixture
def cloud(stack: Stack) -> Iterator[LocalCloud]:
    stack.cloud.lambda_faults.clear()
    yield stack.cloud
    stack.cloud.lambda_faults.clear()


@dataclass(frozen=True)
class Running:
    """What a service's PRIMARY deployment runs."""

    task_definition: str
    app_image: str


def _running(cloud: LocalCloud) -> dict[str, Running]:
    ecs = cloud.client("ecs")
    # A few describes first: the simulation finishes what an earlier case left rolling.
    for _ in range(3):
        described = ecs.describe_services(cluster=sample_app.CLUSTER, services=list(SERVICES))
    running = {}
    for service in described["services"]:
        primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
        containers = ecs.describe_task_definition(taskDefinition=primary["taskDefinition"])[
            "taskDefinition"
        ]["containerDefinitions"]
        image = next(c["image"] for c in containers if c["name"] == "app")
        running[service["serviceName"]] = Running(primary["taskDefinition"], image)
    return running


@dataclass(frozen=True)
class Pushed:
    image: str
    digest: str
    before: dict[str, Running]
    after: dict[str, Running]
    record: HistoryRecord
    execution: dict[str, Any]  # DescribeExecution of the execution the record names


def _push(stack: Stack) -> Pushed:
    """Push a new image of the sample app and let everything it starts run to its end."""
    cloud = stack.cloud
    before = _running(cloud)
    tag = f"v{next(_versions)}.0.0"
    digest = cloud.push_image(sample_app.REPOSITORY, tag, sample_app.image_manifest(tag))
    cloud.run_until_idle()
    cloud.lambda_faults.clear()  # what is left of "every attempt" must not hit the checks
    [record] = stack.table.records_of_digest(sample_app.APP, digest)
    assert record.execution_arn is not None
    execution = cloud.client("stepfunctions").describe_execution(executionArn=record.execution_arn)
    image = f"{stack.registry}/{sample_app.REPOSITORY}@{digest}"
    return Pushed(image, digest, before, _running(cloud), record, execution)


def _assert_nothing_left_open(stack: Stack) -> None:
    lock = stack.table.read_lock(sample_app.APP, None)
    assert (lock.holder, lock.waiting) == (None, ())
    open_records = [r for r in stack.table.history(sample_app.APP, 100) if not r.is_final]
    assert open_records == []


def _assert_on(pushed: Pushed, revisions: str) -> None:
    for service in SERVICES:
        if revisions == "new":
            assert pushed.after[service].app_image == pushed.image, service
        else:
            assert pushed.after[service] == pushed.before[service], service


@pytest.mark.parametrize("step", STEPS)
def test_a_step_that_fails_once_is_retried(stack: Stack, cloud: LocalCloud, step: str) -> None:
    cloud.lambda_faults.inject(step, count=1, error_type="Runtime.ExitError")
    pushed = _push(stack)
    assert pushed.execution["status"] == "SUCCEEDED"
    assert (pushed.record.status, pushed.record.error) == ("SUCCEEDED", None)
    _assert_on(pushed, "new")
    _assert_nothing_left_open(stack)


@pytest.mark.parametrize("step", STEPS)
def test_a_step_that_times_out_after_its_side_effects_is_retried_safely(
    stack: Stack, cloud: LocalCloud, step: str
) -> None:
    # The handler ran (registered, started tasks, updated services...), then Lambda timed
    # out: the retry must not do it twice, nor trip over what the first attempt did.
    cloud.lambda_faults.inject(step, count=1, error_type="Sandbox.Timedout", after_handler=True)
    pushed = _push(stack)
    assert pushed.execution["status"] == "SUCCEEDED"
    assert pushed.record.status == "SUCCEEDED"
    _assert_on(pushed, "new")
    assert pushed.after[sample_app.WEB].task_definition == (
        pushed.record.services[0].task_definition_after
    )
    _assert_nothing_left_open(stack)


@pytest.mark.parametrize("step", STEPS)
def test_a_step_that_fails_on_every_attempt_ends_recorded_and_unlocked(
    stack: Stack, cloud: LocalCloud, step: str
) -> None:
    cloud.lambda_faults.inject(step, count=EVERY_ATTEMPT, error_type="Runtime.ExitError")
    pushed = _push(stack)
    status, revisions = EVERY_ATTEMPT_OUTCOME[step]
    assert pushed.execution["status"] == "FAILED"
    assert pushed.record.status == status
    assert pushed.record.error is not None
    assert pushed.record.finished_at is not None
    assert "Runtime exited with error" in (pushed.record.cause or "")
    _assert_on(pushed, revisions)
    _assert_nothing_left_open(stack)
    if step == "ResolveFunction":
        # Recorded under the dispatcher's execution: the app's deployment never started.
        assert pushed.record.deployment_id == pushed.execution["name"]
        assert pushed.record.trigger == "ecr-push"
        assert child_execution_name(sample_app.APP, pushed.digest) not in {
            e["name"]
            for e in cloud.client("stepfunctions").list_executions(
                stateMachineArn=cloud.state_machine_arn()
            )["executions"]
        }
    if status == "ABORTED":
        # The closed record names what each service runs now.
        for service in SERVICES:
            revision = pushed.after[service].task_definition.rsplit("/", 1)[-1]
            assert f"{service} runs {revision}" in (pushed.record.cause or "")


def _advance_until(stack: Stack, digest: str, status: str) -> HistoryRecord:
    """Let virtual time pass, a second at a time, until the push's record has ``status``."""
    for _ in range(120):
        stack.cloud.advance(1)
        records = list(stack.table.records_of_digest(sample_app.APP, digest))
        if records and records[0].status == status:
            return records[0]
    raise AssertionError(f"no record of {digest} reached {status}")


def _advance_until_entered(cloud: LocalCloud, execution_arn: str, state: str) -> None:
    """Let virtual time pass, a second at a time, until the execution has entered ``state``."""
    sfn = cloud.client("stepfunctions")
    for _ in range(120):
        cloud.advance(1)
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)
        entered = {e.get("stateEnteredEventDetails", {}).get("name") for e in events["events"]}
        if state in entered:
            return
    raise AssertionError(f"{execution_arn} never entered {state}")


def test_an_execution_stopped_mid_rollout_is_aborted_and_frees_the_app(
    stack: Stack, cloud: LocalCloud
) -> None:
    digest = cloud.push_image(sample_app.REPOSITORY, "v90.0.0", sample_app.image_manifest("v90"))
    record = _advance_until(stack, digest, "IN_PROGRESS")
    assert record.execution_arn is not None
    _advance_until_entered(cloud, record.execution_arn, "AwaitServices")
    cloud.client("stepfunctions").stop_execution(executionArn=record.execution_arn)
    cloud.run_until_idle()
    [record] = stack.table.records_of_digest(sample_app.APP, digest)
    assert record.status == "ABORTED"
    assert (record.cause or "").startswith("the execution was stopped before finalising")
    # CloseExecution told the summary topic, as Finalize tells it of the others.
    subjects = [summary["subject"] for summary in stack.summaries.received()]
    assert f"ecs-deployer: {sample_app.APP} ABORTED" in " ".join(subjects)
    _assert_nothing_left_open(stack)
    # Stopped mid-rollout: left where it was, on the new revisions, and said so.
    for service, running in _running(cloud).items():
        assert running.app_image == f"{stack.registry}/{sample_app.REPOSITORY}@{digest}"
        assert f"{service} runs {running.task_definition.rsplit('/', 1)[-1]}" in (
            record.cause or ""
        )
    # The lock is not leaked: the next push deploys.
    pushed = _push(stack)
    assert pushed.record.status == "SUCCEEDED"
    _assert_on(pushed, "new")


def test_a_deployment_stopped_while_queued_is_aborted_and_leaves_the_queue(
    stack: Stack, cloud: LocalCloud
) -> None:
    holder = cloud.push_image(sample_app.REPOSITORY, "v91.0.0", sample_app.image_manifest("v91"))
    _advance_until(stack, holder, "IN_PROGRESS")
    waiter = cloud.start_execution({"app": sample_app.APP, "image_tag": "v91.0.0"}, name="queued")
    cloud.advance(1)
    [record] = [r for r in stack.table.history(sample_app.APP, 100) if r.deployment_id == "queued"]
    assert record.status == "QUEUED"
    assert [e.deployment_id for e in stack.table.read_lock(sample_app.APP, None).waiting] == [
        "queued"
    ]
    cloud.client("stepfunctions").stop_execution(executionArn=waiter)
    cloud.run_until_idle()
    [record] = [r for r in stack.table.history(sample_app.APP, 100) if r.deployment_id == "queued"]
    assert (record.status, record.started_at) == ("ABORTED", None)
    # The same image, deployed by its push: that one was never disturbed.
    [held] = [
        r
        for r in stack.table.records_of_digest(sample_app.APP, holder)
        if r.deployment_id != "queued"
    ]
    assert held.status == "SUCCEEDED"
    _assert_nothing_left_open(stack)
