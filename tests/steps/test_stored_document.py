"""The deployment document lives in the deployments table; the state carries a reference
whose size does not depend on the app (Step Functions allows 256 KiB of state data)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from msgspec.structs import replace

from ecs_deployer.config.models import describe_tag_filter
from ecs_deployer.document import (
    Deployment,
    DeploymentRef,
    Failure,
    PausedHook,
    ServiceRollout,
    wait_seconds,
)
from ecs_deployer.domain.waiters import LONGEST_SAFETY_POLL_SECONDS, safety_poll_seconds
from ecs_deployer.errors import ResourceNotFound
from ecs_deployer.steps.stored import on_stored_document, save
from ecs_deployer.structs import decode, decode_json, encode, encode_json
from tests.aws_fixtures import STARTED, accepted
from tests.support import load_event

if TYPE_CHECKING:
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "a" * 64


def _grown(deployment: Deployment, services: int, containers: int) -> Deployment:
    """The deployment of an app with many multi-container services, mid-rollout."""
    images = {f"container-{index}": IMAGE for index in range(containers)}
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-service-{}:{}"
    grown = copy.deepcopy(deployment)
    grown.services = [
        ServiceRollout(
            name=f"shop-service-{index}",
            containers=list(images),
            task_definition_before=arn.format(index, 7),
            task_definition_after=arn.format(index, 8),
            images_before=images,
            images_after=images,
            state="IN_PROGRESS",
            reason="ecs-svc/1234567890 is rolling out",
            progress="1/2 running, 1 pending",
        )
        for index in range(services)
    ]
    return grown


def test_the_state_stays_small_however_large_the_app(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = accepted(deps)
    small = save(table, deployment, STARTED)
    large = _grown(deployment, services=200, containers=10)
    large.deployment_id = "manual-2"
    payload = save(table, large, STARTED)
    assert len(json.dumps(payload)) < 2_000
    assert payload.keys() == small.keys()
    assert len(encode_json(large)) > 256 * 1024  # what the state used to carry
    # The document is stored whole (compressed: a DynamoDB item holds 400 KB at most).
    loaded = table.load_document("shop", "manual-2")
    assert loaded == large


def test_a_step_runs_on_the_stored_document_and_keeps_what_the_catch_recorded(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = accepted(deps)
    ref = deployment.ref(STARTED)
    save(table, deployment, STARTED)
    caught = replace(ref, failure=Failure(error="TaskFailed", cause="exit 3"))
    seen: list[Deployment] = []

    def step(document: Deployment) -> Deployment:
        seen.append(copy.deepcopy(document))
        document.progress = "DONE"
        return document

    payload = on_stored_document(table, caught, STARTED, step)
    assert seen[0].failure == Failure(error="TaskFailed", cause="exit 3")
    assert payload["progress"] == "DONE"
    stored = table.load_document("shop", deployment.deployment_id)
    assert stored is not None
    assert (stored.progress, stored.failure) == ("DONE", caught.failure)


def test_a_step_that_raises_saves_nothing(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = accepted(deps)
    save(table, deployment, STARTED)

    def step(document: Deployment) -> Deployment:
        document.progress = "DONE"
        raise RuntimeError("crashed after changing the document")

    with pytest.raises(RuntimeError):
        on_stored_document(table, deployment.ref(STARTED), STARTED, step)
    stored = table.load_document("shop", deployment.deployment_id)
    assert stored is not None
    assert stored.progress is None


def test_a_missing_document_is_a_named_error(table: DeploymentsTable) -> None:
    ref = DeploymentRef(app="shop", deployment_id="gone")
    with pytest.raises(ResourceNotFound, match="document of deployment gone of app 'shop'"):
        on_stored_document(table, ref, STARTED, lambda document: document)


def test_a_wait_slows_down_as_it_goes_on_and_restarts_with_the_next_wait(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = accepted(deps)
    deployment.progress = "WAIT"
    assert save(table, deployment, STARTED)["wait_seconds"] == deployment.options.poll_seconds
    later = STARTED + timedelta(minutes=20)
    assert save(table, deployment, later)["wait_seconds"] == 120  # a tenth of 20 minutes
    deployment.progress = "DONE"
    save(table, deployment, later)
    deployment.progress = "WAIT"
    assert save(table, deployment, later)["wait_seconds"] == deployment.options.poll_seconds


@pytest.mark.parametrize("poll_seconds", [1, 10, 300])
def test_the_longest_wait_fits_in_an_execution_history(poll_seconds: int) -> None:
    """24 hours (the largest max_wait) of polling, 9 history events a round, in far fewer
    than the 25,000 events an execution may have: with a pre, a rollout, a rollback and a
    post phase of 24 hours each."""
    waited, rounds = 0.0, 0
    since = STARTED
    while waited < 24 * 3600:
        waited += wait_seconds(poll_seconds, since, since + timedelta(seconds=waited))
        rounds += 1
    assert rounds * 9 * 4 < 25_000
    assert wait_seconds(poll_seconds, since, since + timedelta(hours=5)) == 300


class _CountingTable:
    """The deployments table, counting the documents it stores."""

    def __init__(self, table: DeploymentsTable) -> None:
        self._table = table
        self.saved = 0

    def load_document(self, app: str, deployment_id: str) -> Deployment | None:
        return self._table.load_document(app, deployment_id)

    def save_document(self, deployment: Deployment, now: datetime) -> None:
        self.saved += 1
        self._table.save_document(deployment, now)


def test_a_poll_that_changes_nothing_stores_nothing(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    """A check step polls every few seconds for hours: a poll that learnt nothing new costs
    one read, no write."""
    deployment = accepted(deps)
    deployment.progress = "WAIT"
    ref = decode(save(table, deployment, STARTED), DeploymentRef)
    counting = _CountingTable(table)
    later = STARTED + timedelta(minutes=1)

    unchanged = on_stored_document(counting, ref, later, lambda document: document)  # type: ignore[arg-type]
    assert counting.saved == 0
    assert unchanged["progress"] == "WAIT"
    assert unchanged["wait_seconds"] == wait_seconds(
        deployment.options.poll_seconds, STARTED, later
    )

    def progressed(document: Deployment) -> Deployment:
        document.services[0].progress = "1/2 running"
        return document

    on_stored_document(counting, ref, later, progressed)  # type: ignore[arg-type]
    assert counting.saved == 1
    stored = table.load_document(deployment.app, deployment.deployment_id)
    assert stored is not None
    assert stored.services[0].progress == "1/2 running"


def test_the_safety_poll_doubles_from_poll_seconds_up_to_its_longest(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    """Each event-driven wait's timeout: twice poll_seconds, then as long again as the wait
    so far plus that (each wait doubles), at most LONGEST_SAFETY_POLL_SECONDS; the plain wait
    (a broken waiter's, the lock's) keeps its own pace. (Nothing awaited has a deadline.)"""
    deployment = accepted(deps)
    deployment.progress = "WAIT"
    deployment.options.poll_seconds = poll = 60
    waits, waited = [], 0
    for _ in range(6):
        ref = save(table, deployment, STARTED + timedelta(seconds=waited))
        waits.append(ref["safety_poll_seconds"])
        # The plain wait keeps its own pace.
        assert ref["wait_seconds"] == wait_seconds(
            poll, STARTED, STARTED + timedelta(seconds=waited)
        )
        waited += ref["safety_poll_seconds"]
    assert waits == [2 * poll, 4 * poll, 8 * poll, LONGEST_SAFETY_POLL_SECONDS, 600, 600]
    deployment.progress = "DONE"
    save(table, deployment, STARTED + timedelta(seconds=waited))
    deployment.progress = "WAIT"  # the next wait starts over
    restarted = save(table, deployment, STARTED + timedelta(seconds=waited))
    assert restarted["safety_poll_seconds"] == 2 * poll


@pytest.mark.parametrize("poll_seconds", [1, 60, 300])
def test_the_first_safety_poll_is_twice_poll_seconds(poll_seconds: int) -> None:
    assert safety_poll_seconds(poll_seconds, 0, None) == 2 * poll_seconds
    assert safety_poll_seconds(poll_seconds, 24 * 3600, None) == max(
        2 * poll_seconds, LONGEST_SAFETY_POLL_SECONDS
    )


def test_no_safety_poll_outlasts_the_first_deadline_of_what_the_wait_awaits(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    """A rollout that never stabilises is judged timed out when its budget runs out (15
    min), not at the next doubling (24 min); a wait at a PAUSE hook does not count."""
    deployment = accepted(deps)
    deployment.progress = "WAIT"
    deployment.options.poll_seconds = 60
    web = deployment.services[0]
    web.state, web.started_at = "IN_PROGRESS", STARTED
    web.wait_budget = timedelta(minutes=15)
    waits, waited = [], 0
    while waited < 15 * 60:
        ref = save(table, deployment, STARTED + timedelta(seconds=waited))
        waits.append(ref["safety_poll_seconds"])
        waited += ref["safety_poll_seconds"]
    assert waits == [120, 240, 480, 60]  # the last until the deadline, at 900 s
    assert waited == 15 * 60

    web.paused_seconds = 300  # five of those minutes at a PAUSE hook
    ref = save(table, deployment, STARTED + timedelta(minutes=15))
    assert ref["safety_poll_seconds"] == 300

    # Paused 2 s before the budget runs out: the budget stands still there, and what falls
    # due is the approval timeout (then the deployer rejects the hook), not a 2 s poll.
    web.paused_seconds = 0
    web.paused = PausedHook(hook_id="ecs-pause-1", since=STARTED + timedelta(seconds=898))
    deployment.approval_timeout_minutes = 5
    ref = save(table, deployment, STARTED + timedelta(seconds=898))
    assert ref["safety_poll_seconds"] == 5 * 60
    deployment.approval_timeout_minutes = 24 * 60
    ref = save(table, deployment, STARTED + timedelta(hours=6))
    assert ref["safety_poll_seconds"] == LONGEST_SAFETY_POLL_SECONDS
    web.paused = None

    # A pre-deploy task's max_wait counts the same.
    deployment.services[0].started_at = None
    run = deployment.pre_tasks[0]
    run.started_at = STARTED
    ref = save(table, deployment, STARTED + timedelta(minutes=run.config.max_wait, seconds=-7))
    assert ref["safety_poll_seconds"] == 7


def test_a_document_the_previous_release_stored_reads_the_same() -> None:
    """An execution lasts up to 8 days, across an upgrade: a document pydantic stored (its
    timedeltas as PT45M30S, its config with every default written) loads, and what the new
    release stores of it loads back equal."""
    stored = json.dumps(load_event("deployment_document_pydantic")).encode()
    deployment = decode_json(stored, Deployment)
    web, worker = deployment.services
    assert web.wait_budget == timedelta(minutes=45, seconds=30)
    assert worker.wait_budget == timedelta(0)
    assert web.paused is not None
    assert web.paused.since == datetime(2026, 11, 27, 9, 30, 15, 123000, tzinfo=UTC)
    assert worker.rollback is not None
    assert worker.rollback.state == "IN_PROGRESS"
    assert deployment.failure is not None
    assert deployment.failure.error == "ServiceRolloutFailed"
    [migrate] = deployment.pre_tasks
    assert migrate.config.launch_type == "fargate"
    assert migrate.results[0].exit_codes == {"app": 0, "sidecar": None}
    assert deployment.config.poll_seconds == 15
    trigger = deployment.config.trigger
    assert trigger is not None
    assert [describe_tag_filter(tag) for tag in trigger.tags] == [
        "v*",
        "/release-[0-9]+/",
    ]
    assert decode_json(encode_json(deployment), Deployment) == deployment
    # The config is stored whole, defaults too, as the previous release did.
    assert encode(deployment.config) == load_event("deployment_document_pydantic")["config"]
