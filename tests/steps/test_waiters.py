"""Event-driven waits: a wait's token is stored under what its deployment awaits, and only
an ECS event that may end the wait, in the deployer's clusters, sends it (once)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from ecs_deployer.aws.stepfunctions import TaskTokens
from ecs_deployer.document import ServiceRollback, TaskResult, TaskRun
from ecs_deployer.domain.lifecycle import DETAIL_TYPES
from ecs_deployer.domain.waiters import (
    approval_key,
    awaited_keys,
    service_key,
    task_key,
    woken_keys,
)
from ecs_deployer.history import iso
from ecs_deployer.steps.notify_waiters import notify_waiters
from ecs_deployer.steps.waiters import register_waiter, request_approval
from ecs_deployer.structs import encode, encode_json
from tests.aws_fixtures import STARTED, accepted

if TYPE_CHECKING:
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer.domain.lifecycle import LifecycleDetail

ACCOUNT = "arn:aws:ecs:us-east-1:123456789012"
TASK = f"{ACCOUNT}:task/{{cluster}}/{{task_id}}"


class FakeTokens(TaskTokens):
    """SendTaskSuccess, faked: the tokens sent; `closed` ones answer TaskTimedOut."""

    def __init__(self, closed: frozenset[str] = frozenset()) -> None:
        self.sent: list[str] = []
        self.closed = closed

    def wake(self, token: str) -> bool:
        self.sent.append(token)
        return token not in self.closed


def _deployment_event(cluster: str, service: str, name: str) -> dict[str, Any]:
    return {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "resources": [f"{ACCOUNT}:service/{cluster}/{service}"],
        "detail": {"eventType": "INFO", "eventName": name, "deploymentId": "ecs-svc/1"},
    }


def _hook_event(cluster: str, service: str, name: str) -> dict[str, Any]:
    """As "Amazon ECS service deployment hook state change events" shows one: its resource
    is the service deployment, `serviceArn` names the service."""
    deployment = f"{ACCOUNT}:service-deployment/{cluster}/{service}/AbCdEfGhIjKlMnOpQrStU"
    return {
        "source": "aws.ecs",
        "detail-type": "ECS Hook State Change",
        "resources": [deployment],
        "detail": {
            "eventType": "INFO",
            "eventName": name,
            "hookType": "PAUSE",
            "clusterArn": f"{ACCOUNT}:cluster/{cluster}",
            "serviceArn": f"{ACCOUNT}:service/{cluster}/{service}",
            "serviceDeploymentArn": deployment,
        },
    }


def _task_event(task_arn: str, last_status: str) -> dict[str, Any]:
    return {
        "source": "aws.ecs",
        "detail-type": "ECS Task State Change",
        "resources": [task_arn],
        "detail": {"taskArn": task_arn, "lastStatus": last_status},
    }


def _mid_rollout(deps: AdmissionDeps) -> Deployment:
    """Web still rolling out, worker done; the migration's first task stopped, its second
    one still running."""
    deployment = accepted(deps)
    deployment.services[1].ended_at = STARTED
    cluster = deployment.cluster
    stopped, running = (TASK.format(cluster=cluster, task_id=i) for i in ("a1", "b2"))
    run = TaskRun(config=deployment.config.tasks.pre[0], task_arns=[stopped, running])  # type: ignore[union-attr]
    run.results = [TaskResult(task_arn=stopped, last_status="STOPPED", state="SUCCEEDED")]
    deployment.pre_tasks = [run]
    return deployment


def test_a_deployment_awaits_its_unfinished_services_and_tasks(deps: AdmissionDeps) -> None:
    deployment = _mid_rollout(deps)
    web, worker = deployment.services
    running = TASK.format(cluster=deployment.cluster, task_id="b2")

    assert awaited_keys(deployment) == [
        service_key(deployment.cluster, web.name),
        task_key(running),
    ]
    # A service being rolled back is awaited again, though its rollout ended.
    worker.rollback = ServiceRollback(state="IN_PROGRESS")
    assert service_key(deployment.cluster, worker.name) in awaited_keys(deployment)


def test_a_cluster_named_by_its_arn_is_awaited_under_the_key_its_events_wake(
    deps: AdmissionDeps,
) -> None:
    deployment = accepted(deps)
    name = deployment.config.cluster_name
    deployment.config = replace(deployment.config, cluster=f"{ACCOUNT}:cluster/{name}")
    web = deployment.services[0].name

    [woken] = woken_keys(_deployment_event(name, web, "SERVICE_DEPLOYMENT_COMPLETED"), {name})
    assert woken in awaited_keys(deployment)


def test_only_an_end_in_the_deployers_clusters_wakes() -> None:
    clusters = {"prod"}
    task = TASK.format(cluster="prod", task_id="a1")

    assert woken_keys(
        _deployment_event("prod", "web", "SERVICE_DEPLOYMENT_COMPLETED"), clusters
    ) == [service_key("prod", "web")]
    assert woken_keys(_deployment_event("prod", "web", "SERVICE_DEPLOYMENT_FAILED"), clusters) == [
        service_key("prod", "web")
    ]
    assert woken_keys(_task_event(task, "STOPPED"), clusters) == [task_key(task)]
    # What the deployer itself started, a task still running, another cluster: nothing.
    assert (
        woken_keys(_deployment_event("prod", "web", "SERVICE_DEPLOYMENT_IN_PROGRESS"), clusters)
        == []
    )
    assert woken_keys(_task_event(task, "RUNNING"), clusters) == []
    assert (
        woken_keys(_deployment_event("staging", "web", "SERVICE_DEPLOYMENT_COMPLETED"), clusters)
        == []
    )
    assert (
        woken_keys(_task_event(TASK.format(cluster="staging", task_id="a1"), "STOPPED"), clusters)
        == []
    )
    # A PAUSE hook awaiting its answer wakes its service's wait (the check announces it);
    # a hook's other changes, or another cluster's hook, nothing.
    assert woken_keys(_hook_event("prod", "web", "HOOK_AWAITING_ACTION"), clusters) == [
        service_key("prod", "web")
    ]
    assert woken_keys(_hook_event("prod", "web", "HOOK_SUCCEEDED"), clusters) == []
    assert woken_keys(_hook_event("staging", "web", "HOOK_AWAITING_ACTION"), clusters) == []
    # A short service ARN does not name its cluster.
    short = {
        **_deployment_event("prod", "web", "SERVICE_DEPLOYMENT_COMPLETED"),
        "resources": [f"{ACCOUNT}:service/web"],
    }
    assert woken_keys(short, clusters) == []


def test_an_event_sends_the_waiting_token_once(
    deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = _mid_rollout(deps)
    web = deployment.services[0]
    register_waiter(table, deployment, "token-1", STARTED)
    tokens = FakeTokens()
    completed = _deployment_event(deployment.cluster, web.name, "SERVICE_DEPLOYMENT_COMPLETED")

    assert notify_waiters(table.waiter_items, tokens, completed, {deployment.cluster}) == 1
    assert tokens.sent == ["token-1"]
    # Forgotten once sent: ECS's duplicate (or an event of the other awaited resource after
    # the wake) sends nothing under this key again.
    assert notify_waiters(table.waiter_items, tokens, completed, {deployment.cluster}) == 0
    assert tokens.sent == ["token-1"]


def test_a_newer_wait_replaces_the_older_token(
    deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = _mid_rollout(deps)
    web = deployment.services[0]
    register_waiter(table, deployment, "token-1", STARTED)
    register_waiter(table, deployment, "token-2", STARTED)
    tokens = FakeTokens()
    completed = _deployment_event(deployment.cluster, web.name, "SERVICE_DEPLOYMENT_COMPLETED")

    notify_waiters(table.waiter_items, tokens, completed, {deployment.cluster})

    assert tokens.sent == ["token-2"]


def test_a_stale_token_is_forgotten_without_error(
    deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = _mid_rollout(deps)
    running = TASK.format(cluster=deployment.cluster, task_id="b2")
    register_waiter(table, deployment, "timed-out", STARTED)
    tokens = FakeTokens(closed=frozenset({"timed-out"}))

    assert (
        notify_waiters(
            table.waiter_items, tokens, _task_event(running, "STOPPED"), {deployment.cluster}
        )
        == 0
    )
    assert table.waiter_items.waiters(task_key(running)) == []


def test_forgetting_a_woken_waiter_keeps_a_newer_token(
    deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = _mid_rollout(deps)
    key = service_key(deployment.cluster, deployment.services[0].name)
    register_waiter(table, deployment, "token-2", STARTED)
    ((waiter, _),) = table.waiter_items.waiters(key)

    table.waiter_items.delete_waiter(key, waiter, "token-1")  # the woken one: replaced meanwhile

    assert table.waiter_items.waiters(key) == [(waiter, "token-2")]


class _Heard:
    def __init__(self) -> None:
        self.details: list[LifecycleDetail] = []

    def publish(self, detail: LifecycleDetail) -> None:
        self.details.append(detail)


def test_the_approval_gate_stores_its_token_notes_the_record_and_asks_operators(
    deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    deployment = accepted(deps)
    deployment.approval_timeout_minutes = 90
    heard = _Heard()

    deadline = request_approval(table, deployment, "token-1", STARTED, heard)

    assert deadline == STARTED + timedelta(minutes=90)
    # Under the app's approval key only: no ECS event of its services wakes it.
    assert table.waiter_items.waiters(approval_key("shop")) == [
        (f"shop#{deployment.deployment_id}", "token-1")
    ]
    assert (
        table.waiter_items.waiters(service_key(deployment.cluster, deployment.services[0].name))
        == []
    )
    [record] = table.history("shop")
    assert record.approval is not None
    assert (record.approval.status, record.approval.deadline) == ("PENDING", iso(deadline))
    [detail] = heard.details
    assert (detail.status, detail.app, detail.deployment_id) == (
        "AWAITING_APPROVAL",
        "shop",
        deployment.deployment_id,
    )
    assert detail.image == deployment.image.uri
    assert detail.approval is not None
    assert detail.approval.approve == "ecs-deployer approve shop"
    assert detail.approval.deadline == iso(deadline)
    assert DETAIL_TYPES[detail.status] == "Waiting For Approval"
    # Names, never a config's or a task definition's values (the detail's own
    # `environment` is a promotion chain's environment name).
    others = {key: value for key, value in encode(detail).items() if key != "environment"}
    assert b"environment" not in encode_json(others)
