"""CheckServices answers a PAUSE hook with the operator's answer it reads on the record
(ContinueServiceDeployment through the app account's ECS), once; an answer to an earlier
hook never answers a later one."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from msgspec.structs import replace

from ecs_deployer.history import RecordUpdate, iso
from ecs_deployer.steps.services import check_services, update_services
from ecs_deployer.steps.waiters import announce_pauses, awaited_answer
from ecs_deployer_tools.operator.approvals import answer_approval
from ecs_deployer_tools.operator.aws import OperatorError
from tests.aws_fixtures import STARTED, drive, registered

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_ecs.type_defs import DeploymentConfigurationTypeDef

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer.domain.lifecycle import LifecycleDetail
    from ecs_deployer.domain.service_deployments import HookAction
    from ecs_deployer.history import HistoryRecord
    from ecs_deployer_tools.demo import sample_app
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from tests.aws_fixtures import SimClock

WEB = "shop-web"
WORKER = "shop-worker"
_PAUSED: DeploymentConfigurationTypeDef = {
    "strategy": "BLUE_GREEN",
    "bakeTimeInMinutes": 5,
    "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}],
}


class _Unheard:
    def publish(self, detail: LifecycleDetail) -> None:
        pass


@pytest.fixture
def answers(ecs: EcsGateway, monkeypatch: pytest.MonkeyPatch) -> list[HookAction]:
    """The actions ContinueServiceDeployment is sent, in order."""
    sent: list[HookAction] = []
    send = ecs.continue_service_deployment

    def recorded(arn: str, hook_id: str, action: HookAction) -> bool:
        sent.append(action)
        return send(arn, hook_id, action)

    monkeypatch.setattr(ecs, "continue_service_deployment", recorded)
    return sent


def _paused(
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> Deployment:
    """Web's rollout, checked until it waits at its PAUSE hook, announced."""
    simulate()
    boto3.client("ecs").update_service(
        cluster="shop-demo", service=WEB, deploymentConfiguration=_PAUSED
    )
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    for _ in range(60):
        sim_clock.advance(10)
        deployment = check_services(deployment, ecs, sim_clock())
        web = _web(deployment)
        if web.paused is not None:
            return announce_pauses(table, deployment, sim_clock(), _Unheard())
    raise AssertionError("web never paused")


def _web(deployment: Deployment) -> Any:
    return next(service for service in deployment.services if service.name == WEB)


def _answer(table: DeploymentsTable, deployment: Deployment, status: Any, when: Any) -> None:
    """Record an operator's answer, as `ecs-deployer approve`/`reject` does."""
    pending = table.read_approval(deployment)
    assert pending is not None
    assert pending.status == "PENDING"
    answered = pending.answered(status, "release-manager", when, "green looks wrong")
    table.update_record(deployment, RecordUpdate(updated_at=iso(when), approval=answered))


def test_an_approval_continues_the_hook_once_even_when_the_check_is_retried(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    answers: list[HookAction],
) -> None:
    deployment = _paused(deps, ecs, table, simulate, sim_clock)
    # Unanswered: the check reads the record, and sends nothing.
    assert awaited_answer(table, deployment) is not None
    deployment = check_services(
        deployment, ecs, sim_clock(), answer=awaited_answer(table, deployment)
    )
    assert answers == []

    _answer(table, deployment, "APPROVED", sim_clock())
    retried = copy.deepcopy(deployment)  # the document as a failed save leaves it
    deployment = check_services(
        deployment, ecs, sim_clock(), answer=awaited_answer(table, deployment)
    )
    assert answers == ["CONTINUE"]
    # Answered: the next check reads no record.
    assert awaited_answer(table, deployment) is None
    # A retried check, the hook no longer waiting: not answered again.
    sim_clock.advance(10)
    check_services(retried, ecs, sim_clock(), answer=awaited_answer(table, retried))
    assert answers == ["CONTINUE"]

    deployment = drive(lambda d: check_services(d, ecs, sim_clock()), deployment, sim_clock, 60)
    assert deployment.progress == "DONE"
    assert answers == ["CONTINUE"]


def test_a_rejection_rolls_the_hook_back_and_names_who(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    answers: list[HookAction],
) -> None:
    deployment = _paused(deps, ecs, table, simulate, sim_clock)
    _answer(table, deployment, "REJECTED", sim_clock())
    for _ in range(60):
        deployment = check_services(
            deployment, ecs, sim_clock(), answer=awaited_answer(table, deployment)
        )
        if deployment.progress != "WAIT":
            break
        sim_clock.advance(10)
    assert answers == ["ROLLBACK"]
    assert deployment.failure is not None
    assert "rejected by release-manager: green looks wrong" in deployment.failure.cause


def test_an_answer_to_an_earlier_hook_does_not_answer_a_later_one(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    answers: list[HookAction],
) -> None:
    deployment = _paused(deps, ecs, table, simulate, sim_clock)
    pending = table.read_approval(deployment)
    assert pending is not None
    since = _web(deployment).paused.since
    earlier = replace(pending, requested_at=iso(since - timedelta(minutes=1)))
    stale = earlier.answered("APPROVED", "release-manager", since)
    check_services(deployment, ecs, sim_clock(), answer=stale)
    assert answers == []


def _service(deployment: Deployment, name: str) -> Any:
    return next(service for service in deployment.services if service.name == name)


def _paused_one_after_the_other(
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> Deployment:
    """Web's hook paused early (PRE_SCALE_UP) and announced; the worker's, later
    (POST_TEST_TRAFFIC_SHIFT), just seen by a check that has not announced it yet."""
    simulate()
    client = boto3.client("ecs")
    early: DeploymentConfigurationTypeDef = {
        **_PAUSED,
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRE_SCALE_UP"]}],
    }
    client.update_service(cluster="shop-demo", service=WEB, deploymentConfiguration=early)
    client.update_service(cluster="shop-demo", service=WORKER, deploymentConfiguration=_PAUSED)
    deployment = update_services(registered(deps, ecs, table), ecs, table, STARTED)
    for _ in range(60):
        sim_clock.advance(10)
        deployment = check_services(
            deployment, ecs, sim_clock(), answer=awaited_answer(table, deployment)
        )
        if _service(deployment, WORKER).paused is not None:
            assert _web(deployment).paused.announced
            assert not _service(deployment, WORKER).paused.announced
            return deployment
        deployment = announce_pauses(table, deployment, sim_clock(), _Unheard())
    raise AssertionError("the worker never paused")


def test_an_answer_recorded_while_another_hook_pauses_is_not_overwritten(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    answers: list[HookAction],
) -> None:
    deployment = _paused_one_after_the_other(deps, ecs, table, simulate, sim_clock)
    # The racy order: the operator answers web's hook after the check read the record,
    # before it announces the worker's.
    _answer(table, deployment, "APPROVED", sim_clock())
    deployment = announce_pauses(table, deployment, sim_clock(), _Unheard())
    kept = table.read_approval(deployment)
    assert kept is not None
    assert (kept.status, kept.service) == ("APPROVED", WEB)

    # The next check continues web's hook, then asks for the worker's.
    sim_clock.advance(10)
    deployment = check_services(
        deployment, ecs, sim_clock(), answer=awaited_answer(table, deployment)
    )
    assert answers == ["CONTINUE"]
    deployment = announce_pauses(table, deployment, sim_clock(), _Unheard())
    asked = table.read_approval(deployment)
    assert asked is not None
    assert (asked.status, asked.service) == ("PENDING", WORKER)
    assert _service(deployment, WORKER).paused.announced


def test_an_answer_to_a_request_replaced_meanwhile_is_refused(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = _paused_one_after_the_other(deps, ecs, table, simulate, sim_clock)
    history = table.history

    def announced_after_the_read(app: str, limit: int = 20) -> list[HistoryRecord]:
        # The racy order: the check announces the worker's hook after `reject` read web's
        # request, before it records its answer.
        read = history(app, limit)
        announce_pauses(table, deployment, sim_clock(), _Unheard())
        return read

    monkeypatch.setattr(table, "history", announced_after_the_read)
    with pytest.raises(OperatorError, match="asked for a newer approval meanwhile"):
        answer_approval(
            table,
            boto3.client("stepfunctions"),
            "shop",
            "REJECTED",
            actor="release-manager",
            now=sim_clock(),
        )
    asked = table.read_approval(deployment)
    assert asked is not None
    assert (asked.status, asked.service) == ("PENDING", WORKER)
