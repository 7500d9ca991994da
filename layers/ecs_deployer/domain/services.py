"""Service rollouts as ECS reports them, and the judgement of the one we started.

A service is done only when *our* deployment is PRIMARY, COMPLETED, and runs the task
definition we asked for. Everything else is in progress or a failure — in particular a
service that is healthy again because ECS's circuit breaker rolled our deployment back is a
failed deployment, never a success.

ECS's API is eventually consistent: right after UpdateService, DescribeServices may still
show the service as it was, without our deployment. Within ``UNSEEN_GRACE`` of the update, a
describe that does not show our deployment proves nothing: the rollout is in progress, never
replaced nor rolled back by ECS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

# How long after UpdateService a describe without our deployment is not evidence. AWS
# documents no bound; RunTask's reference advises describing again with a backoff of up to
# about five minutes, which this follows.
UNSEEN_GRACE: Final = timedelta(minutes=5)

RolloutState = Literal[
    "IN_PROGRESS",  # ours is rolling out
    "COMPLETED",  # ours is PRIMARY, COMPLETED, on the task definition we asked for
    "FAILED",  # ours failed (circuit breaker without rollback, tasks failing)
    # ECS's circuit breaker replaced ours with the previous revision (or, for a CODE_DEPLOY
    # service, CodeDeploy rolled ours back)
    "ROLLED_BACK_BY_ECS",
    "REPLACED",  # someone else started a deployment over ours
]


@dataclass(frozen=True)
class EcsDeployment:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    rollout_state: str | None
    rollout_state_reason: str | None
    desired_count: int
    running_count: int
    pending_count: int
    failed_tasks: int

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> EcsDeployment:
        return cls(
            id=data["id"],
            status=data["status"],
            task_definition=data["taskDefinition"],
            rollout_state=data.get("rolloutState"),
            rollout_state_reason=data.get("rolloutStateReason"),
            desired_count=data.get("desiredCount", 0),
            running_count=data.get("runningCount", 0),
            pending_count=data.get("pendingCount", 0),
            failed_tasks=data.get("failedTasks", 0),
        )

    @property
    def progress(self) -> str:
        text = f"{self.running_count}/{self.desired_count} running"
        if self.pending_count:
            text += f", {self.pending_count} pending"
        if self.failed_tasks:
            text += f", {self.failed_tasks} failed"
        return text

    def completed_on(self, task_definition: str) -> bool:
        if self.status != "PRIMARY" or self.task_definition != task_definition:
            return False
        if self.rollout_state is not None:
            return self.rollout_state == "COMPLETED"
        # Services predating rollout states: steady when every wanted task runs.
        return self.running_count == self.desired_count and self.pending_count == 0


@dataclass(frozen=True)
class ServiceSnapshot:
    name: str
    arn: str
    status: str  # ACTIVE | DRAINING | INACTIVE
    deployment_controller: str
    deployments: tuple[EcsDeployment, ...]
    # A CODE_DEPLOY service's task sets: task definition by status (PRIMARY serves traffic).
    task_sets: tuple[tuple[str, str], ...] = ()
    load_balancers: tuple[Mapping[str, Any], ...] = ()
    service_task_definition: str | None = None  # the service's own taskDefinition field
    current_service_deployment: str | None = None  # its newest service deployment's ARN
    # Its strategy, bake time and hooks, which lengthen a rollout (`deploymentConfiguration`).
    deployment_configuration: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ServiceSnapshot:
        return cls(
            name=data["serviceName"],
            arn=data["serviceArn"],
            status=data.get("status", "ACTIVE"),
            deployment_controller=data.get("deploymentController", {}).get("type", "ECS"),
            deployments=tuple(EcsDeployment.from_api(item) for item in data.get("deployments", [])),
            task_sets=tuple(
                (item["status"], item["taskDefinition"]) for item in data.get("taskSets", [])
            ),
            load_balancers=tuple(data.get("loadBalancers", [])),
            service_task_definition=data.get("taskDefinition"),
            current_service_deployment=data.get("currentServiceDeployment"),
            deployment_configuration=data.get("deploymentConfiguration") or {},
        )

    @property
    def primary(self) -> EcsDeployment | None:
        return next((item for item in self.deployments if item.status == "PRIMARY"), None)

    @property
    def has_short_arn(self) -> bool:
        """Created before 2021: ``service/NAME``, without the cluster's name."""
        return "/" not in self.arn.partition(":service/")[2]

    @property
    def task_definition(self) -> str | None:
        """What the service runs: its PRIMARY deployment's task definition, or for a
        CODE_DEPLOY service its PRIMARY task set's (ECS shows it task sets: "Service
        creation results in the creation of a (blue) task set"), else the service's own."""
        if self.deployment_controller == "CODE_DEPLOY":
            primary_set = (td for status, td in self.task_sets if status == "PRIMARY")
            return next(primary_set, self.service_task_definition)
        primary = self.primary
        return primary.task_definition if primary else None

    def deployment(self, deployment_id: str) -> EcsDeployment | None:
        return next((item for item in self.deployments if item.id == deployment_id), None)


@dataclass(frozen=True)
class RolloutJudgement:
    state: RolloutState
    reason: str
    progress: str


def revision(task_definition: str) -> str:
    return task_definition.rsplit("/", 1)[-1]


def _judge_primary(ours: EcsDeployment, task_definition: str, progress: str) -> RolloutJudgement:
    """Our deployment, PRIMARY."""
    if ours.completed_on(task_definition):
        return RolloutJudgement("COMPLETED", f"{revision(task_definition)} is steady", progress)
    if ours.rollout_state == "FAILED":
        return RolloutJudgement("FAILED", ours.rollout_state_reason or "rollout failed", progress)
    if ours.task_definition != task_definition:
        return RolloutJudgement(
            "REPLACED", f"deployment {ours.id} runs {ours.task_definition}", progress
        )
    return RolloutJudgement("IN_PROGRESS", ours.rollout_state_reason or "", progress)


def running_task_definition(
    snapshot: ServiceSnapshot,
    deployment_id: str | None,
    task_definition: str | None,
    since_update: timedelta,
) -> str | None:
    """The task definition the service runs (or rolls out) now: its PRIMARY's, unless the
    describe does not show ``deployment_id``, our latest UpdateService to
    ``task_definition``, within ``UNSEEN_GRACE`` of it: then it predates that update. A
    CODE_DEPLOY service's deployment is CodeDeploy's, which no describe shows: its task
    sets say what it runs."""
    unseen = (
        snapshot.deployment_controller == "ECS"
        and deployment_id is not None
        and snapshot.deployment(deployment_id) is None
    )
    if unseen and task_definition is not None and since_update < UNSEEN_GRACE:
        return task_definition
    return snapshot.task_definition


def judge_rollout(
    snapshot: ServiceSnapshot,
    deployment_id: str,
    task_definition: str,
    previous: str,
    since_update: timedelta,
) -> RolloutJudgement:
    """Judge deployment ``deployment_id`` of ``snapshot``, which should run ``task_definition``.

    ``previous`` is the revision the service ran before, to recognise ECS's own rollback;
    ``since_update`` how long ago UpdateService started the deployment.
    """
    ours = snapshot.deployment(deployment_id)
    primary = snapshot.primary
    progress = ours.progress if ours else (primary.progress if primary else "no deployment")
    if ours is None and since_update < UNSEEN_GRACE:
        return RolloutJudgement(
            "IN_PROGRESS", f"ECS does not show deployment {deployment_id} yet", progress
        )
    if ours is not None and ours.status == "PRIMARY":
        return _judge_primary(ours, task_definition, progress)
    # Ours is no longer PRIMARY, or gone: something replaced it.
    now_running = primary.task_definition if primary else "nothing"
    detail = ours.rollout_state_reason if ours and ours.rollout_state_reason else None
    if primary is not None and primary.task_definition == previous and previous != task_definition:
        reason = f"ECS rolled deployment {deployment_id} back to {revision(previous)}" + (
            f": {detail}" if detail else ""
        )
        return RolloutJudgement("ROLLED_BACK_BY_ECS", reason, progress)
    return RolloutJudgement(
        "REPLACED",
        f"deployment {deployment_id} was replaced; the service now runs {revision(now_running)}",
        progress,
    )
