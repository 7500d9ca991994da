"""Deployment history as operators read it: reconciled with Step Functions, never rewritten.

A record still QUEUED or IN_PROGRESS whose execution no longer runs (stopped, timed out, or
its Finalize never ran) is shown as ABORTED, one whose approval is pending as
AWAITING_APPROVAL; the table keeps what the deployer wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code
from ecs_deployer.structs import encode
from ecs_deployer_tools.operator.aws import OperatorError
from ecs_deployer_tools.operator.executions import manual_request

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ecs_deployer.aws.stepfunctions import Executions
    from ecs_deployer.history import HistoryRecord
    from ecs_deployer.inputs import ManualRequest
    from ecs_deployer_tools.operator.stack import Deployer

ROLLBACK_CANDIDATES = 100  # how far back `rollback` looks for a deployment to undo
FOLLOW_CANDIDATES = 20  # how many of an app's newest deployments `follow` looks at


@dataclass(frozen=True)
class ShownRecord:
    record: HistoryRecord
    status: str  # as recorded, or ABORTED when its execution ended without finalising it

    @property
    def running(self) -> bool:
        return not self.record.is_final and self.status != "ABORTED"

    def to_json(self) -> dict[str, Any]:
        document = encode(self.record)
        return {**document, "status": self.status, "recorded_status": self.record.status}


def _shown_status(record: HistoryRecord, executions: Executions) -> str:
    if record.is_final:
        return record.status
    if not (record.execution_arn and executions.is_running(record.execution_arn)):
        return "ABORTED"
    if record.approval is not None and record.approval.status == "PENDING":
        return "AWAITING_APPROVAL"  # `ecs-deployer approve APP` or `reject APP` answers it
    return record.status


def reconcile(records: Iterable[HistoryRecord], executions: Executions) -> list[ShownRecord]:
    """Each record with the status to show (one DescribeExecution per unfinished record):
    a running deployment that waits for an approval shows AWAITING_APPROVAL."""
    return [ShownRecord(record, _shown_status(record, executions)) for record in records]


@dataclass(frozen=True)
class PromotionChain:
    """One push's way through an app's environments (domain/promotion.py), as its records
    tell it: each environment's deployment in the order they ran, and where it stands."""

    chain_id: str
    steps: list[ShownRecord]  # in the order they ran

    @property
    def state(self) -> str:
        last = self.steps[-1]
        record = last.record
        following = record.next_environment
        if last.status == "AWAITING_APPROVAL":
            return f"waiting for approval in {record.environment}"
        if last.running:
            return f"deploying to {record.environment}"
        if last.status == "SUCCEEDED":
            return f"{following} not started yet" if following else "complete"
        stopped = f"stopped at {record.environment} ({last.status})"
        return f"{stopped}: {following} not deployed" if following else stopped

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "state": self.state,
            "steps": [
                {
                    "environment": step.record.environment,
                    "deployment_id": step.record.deployment_id,
                    "status": step.status,
                    "approved_by": approved_by(step.record),
                }
                for step in self.steps
            ],
        }


def approved_by(record: HistoryRecord) -> str | None:
    """Who approved the deployment (the name in their ARN), if anyone did."""
    approval = record.approval
    if approval is None or approval.status != "APPROVED" or approval.answered_by is None:
        return None
    return approval.answered_by.rsplit("/", 1)[-1]


def promotion_chains(shown: Iterable[ShownRecord]) -> list[PromotionChain]:
    """The chains among ``shown``, the newest first."""
    by_chain: dict[str, list[ShownRecord]] = {}
    for item in shown:
        if item.record.chain_id is not None:
            by_chain.setdefault(item.record.chain_id, []).append(item)
    chains = [
        PromotionChain(
            chain_id,
            sorted(steps, key=lambda s: (s.record.order, s.record.deployment_id)),
        )
        for chain_id, steps in by_chain.items()
    ]
    return sorted(chains, key=lambda chain: chain.steps[-1].record.order, reverse=True)


@dataclass(frozen=True)
class AppStatus:
    """An app's deployments in one environment (None: an app without environments); each
    environment has its own lock (``LOCK#<environment>``), so its own running and latest."""

    app: str
    environment: str | None
    running: list[ShownRecord]  # newest first
    latest: ShownRecord | None  # the newest one that has ended

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "environment": self.environment,
            "running": [shown.to_json() for shown in self.running],
            "latest": self.latest.to_json() if self.latest else None,
        }


def app_statuses(shown: Iterable[ShownRecord]) -> list[AppStatus]:
    """Per app (by name) and environment (in promotion order): what runs now and how the
    last deployment ended."""
    by_app: dict[str, list[ShownRecord]] = {}
    for item in shown:
        by_app.setdefault(item.record.app, []).append(item)
    statuses = []
    for app, items in sorted(by_app.items()):
        ordered = sorted(
            items, key=lambda s: (s.record.order, s.record.deployment_id), reverse=True
        )
        for environment in _in_promotion_order({item.record.environment for item in items}, items):
            here = [item for item in ordered if item.record.environment == environment]
            statuses.append(
                AppStatus(
                    app=app,
                    environment=environment,
                    running=[item for item in here if item.running],
                    latest=next((item for item in here if not item.running), None),
                )
            )
    return statuses


def _in_promotion_order(
    environments: set[str | None], shown: Iterable[ShownRecord]
) -> list[str | None]:
    """The environments, each before those its successes promote to (as the records'
    ``next_environment`` tells), then by name."""
    following = {
        item.record.environment: item.record.next_environment
        for item in shown
        if item.record.next_environment is not None
    }

    def still_to_go(environment: str | None) -> int:
        steps, seen = 0, set()
        while environment in following and environment not in seen:
            seen.add(environment)
            environment, steps = following[environment], steps + 1
        return steps

    return sorted(environments, key=lambda name: (-still_to_go(name), name or ""))


def default_rollback_target(
    deployer: Deployer, app: str, environment: str | None = None
) -> HistoryRecord:
    """What ``rollback APP`` undoes without ``--to``: the newest successful deployment that
    changed a revision (undoing one that redeployed what ran would return nowhere), in
    ``environment`` if given (else in whichever environment it ran)."""
    deployer.configs.load(app)  # an unknown app is named as such
    for record in deployer.table.history(app, ROLLBACK_CANDIDATES):
        changed = any(
            service.task_definition_before != service.task_definition_after
            for service in record.services
        )
        wanted = environment is None or record.environment == environment
        if record.status == "SUCCEEDED" and changed and wanted:
            return record
    where = f" in environment '{environment}'" if environment else ""
    raise OperatorError(
        f"app '{app}' has no successful deployment{where} that changed a revision (of its "
        f"last {ROLLBACK_CANDIDATES}) to undo: nothing to roll back"
    )


def rollback_to_request(
    deployer: Deployer, app: str, to: str, environment: str | None
) -> ManualRequest:
    """The request of ``rollback APP --to TO``: in the environment that deployment ran in
    unless ``environment`` names one (a rollback never leaves its environment)."""
    if environment is None:
        target = deployer.table.find_record(app, to)
        environment = target.environment if target is not None else None
    return manual_request(app, rollback_to=to, environment=environment)


def execution_to_follow(deployer: Deployer, target: str) -> str:
    """The execution ARN ``target`` names: an execution ARN; an app, whose newest running
    deployment it is (else its newest one, to see how it ended); or an execution of the
    stack's state machine by name (a deployment id)."""
    if target.startswith("arn:"):
        return target
    shown = reconcile(deployer.table.history(target, FOLLOW_CANDIDATES), deployer.executions)
    chosen = next((item for item in shown if item.running), shown[0] if shown else None)
    if chosen is not None and chosen.record.execution_arn:
        return chosen.record.execution_arn
    machine = deployer.state_machine_arn
    execution_arn = f"{machine.replace(':stateMachine:', ':execution:')}:{target}"
    try:
        deployer.aws.sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if error_code(exc) not in ("ExecutionDoesNotExist", "InvalidArn"):
            raise
        raise OperatorError(
            f"'{target}' is neither an app with deployments nor an execution of {machine}"
        ) from exc
    return execution_arn
