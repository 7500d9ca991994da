"""The deployment document, and the reference to it that flows through the state machine.

Each step Lambda loads the document, does its part for every service or task, saves it and
returns a ``DeploymentRef``: the document grows with the app's services and containers,
while Step Functions limits state data to 256 KiB, so it lives in the deployments table and
the state carries only what the ASL routes on. The document holds ARNs, names, states and
reasons — never task-definition contents, whose environment values and secrets must not be
stored or logged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from msgspec import field

from ecs_deployer.config.models import AppConfig, CodeDeployConfig, TaskConfig, WaitUntil
from ecs_deployer.domain import promotion
from ecs_deployer.domain.locks import AcquireResult
from ecs_deployer.domain.promotion import PromotionStart
from ecs_deployer.domain.services import RolloutState
from ecs_deployer.domain.tasks import TaskState
from ecs_deployer.domain.waiters import safety_poll_seconds
from ecs_deployer.image import ImageRef
from ecs_deployer.inputs import Promotion, Trigger
from ecs_deployer.outcome import Outcome
from ecs_deployer.structs import Strict, encode

Phase = Literal["pre", "post"]
Progress = Literal["WAIT", "DONE", "FAILED"]
# Each state set extends the judgement of the rule that decides it (domain/).
ServiceState = Literal["PENDING", RolloutState, "TIMED_OUT"]
RollbackState = Literal["NOT_NEEDED", "IN_PROGRESS", "COMPLETED", "FAILED", "TIMED_OUT"]
TaskRunState = Literal["PENDING", TaskState, "TIMED_OUT"]
LockStatus = Literal["PENDING", AcquireResult, "RELEASED"]


class Failure(Strict, kw_only=True):
    """Shaped like a Step Functions Catch result, so caught and reported failures are alike."""

    error: str = field(name="Error")
    cause: str = field(name="Cause")


class Options(Strict, kw_only=True):
    skip_pre_tasks: bool = False
    skip_post_tasks: bool = False
    force: bool = False
    poll_seconds: int = 60


class TaskResult(Strict, kw_only=True):
    task_arn: str
    last_status: str
    exit_codes: dict[str, int | None] = {}
    stop_code: str | None = None
    stopped_reason: str | None = None
    # Its judgement, once final (STOPPED, or lost): kept, and the task never described
    # again, since ECS describes a stopped task for about an hour only.
    state: TaskState | None = None
    reason: str | None = None

    @property
    def final(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED")


class TaskRun(Strict, kw_only=True):
    """One task family of a phase: what ran, and how it ended."""

    config: TaskConfig
    task_definition: str | None = None
    watch_containers: list[str] = []
    task_arns: list[str] = []
    start_failures: list[str] = []  # RunTask's failures[]: tasks that never started
    started_at: datetime | None = None
    ended_at: datetime | None = None  # the poll that found every task stopped (or timed out)
    state: TaskRunState = "PENDING"
    reason: str | None = None
    results: list[TaskResult] = []

    @property
    def family(self) -> str:
        return self.config.family

    @property
    def deadline(self) -> datetime | None:
        """When a check stops its tasks still running (`max_wait`), if any may still run."""
        if self.ended_at is not None or self.started_at is None:
            return None
        return self.started_at + timedelta(minutes=self.config.max_wait)


class ServiceRollback(Strict, kw_only=True):
    # ECS's deployment id, or CodeDeploy's for a service deployed through CodeDeploy.
    ecs_deployment_id: str | None = None
    # The service deployment followed: ours, rolled back by ECS (or at our request), or the
    # one our UpdateService back started. None: judged by `deployments[]`.
    service_deployment_arn: str | None = None
    started_at: datetime | None = None
    state: RollbackState = "IN_PROGRESS"
    reason: str | None = None


class PausedHook(Strict, kw_only=True):
    """A PAUSE lifecycle hook our service deployment waits at, for an operator's answer
    (``ecs-deployer approve``/``reject``), which CheckServices sends: ContinueServiceDeployment."""

    hook_id: str
    stage: str | None = None
    since: datetime  # the check that first saw it paused
    announced: bool = False  # its approval is on the record and was published
    continued: bool = False  # an operator approved it: CONTINUE was sent
    # Why it was rolled back (ROLLBACK sent): an operator rejected it, or nobody answered.
    rejected: str | None = None


class ServiceRollout(Strict, kw_only=True):
    name: str
    containers: list[str]
    # Set for a rollback: the exact revision to return to, instead of a clone.
    target_task_definition: str | None = None
    force: bool = False
    max_wait_minutes: int = 15
    wait_until: WaitUntil = "COMPLETED"  # the stage that makes its rollout a success
    task_definition_before: str | None = None
    task_definition_after: str | None = None  # the revision this deployment rolls out
    images_before: dict[str, str] = {}
    images_after: dict[str, str] = {}
    codedeploy: CodeDeployConfig | None = None  # deployed through CodeDeploy, not UpdateService
    # ECS's deployment id, or CodeDeploy's for a service deployed through CodeDeploy.
    ecs_deployment_id: str | None = None
    # The service deployment our UpdateService started. None: judged by `deployments[]`.
    service_deployment_arn: str | None = None
    started_at: datetime | None = None
    # How long its rollout (or rollback) may take: `max_wait_minutes` plus its strategy's
    # bakes and hook timeouts, fixed once UpdateServices read the service. None: a document
    # stored before it was kept (or before the service was read), read once from the service.
    wait_budget: timedelta | None = None
    ended_at: datetime | None = None  # the poll that judged the rollout over
    state: ServiceState = "PENDING"
    reason: str | None = None
    progress: str | None = None
    rollback: ServiceRollback | None = None
    paused: PausedHook | None = None
    paused_seconds: int = 0  # the time it was paused before: not counted against max_wait

    def paused_for(self, now: datetime) -> timedelta:
        """How long its rollout has waited at PAUSE hooks so far: an operator's time."""
        current = now - self.paused.since if self.paused else timedelta()
        return timedelta(seconds=self.paused_seconds) + current

    @property
    def budget(self) -> timedelta:
        """How long its rollout (or rollback) may take: the wait budget kept; before one is
        (a document stored without it), `max_wait` alone, until a check past it reads the
        service's strategy (steps/services.py)."""
        if self.wait_budget is not None:
            return self.wait_budget
        return timedelta(minutes=self.max_wait_minutes)

    def deadline(self, now: datetime) -> datetime | None:
        """When a check finds its rollout (or rollback) out of time, if it is still awaited:
        a wait at a PAUSE hook is the operator's and does not count."""
        if self.rollback is not None:
            started = self.rollback.started_at if self.rollback.state == "IN_PROGRESS" else None
            return started + self.budget if started else None
        if self.ended_at is None and self.started_at is not None:
            return self.started_at + self.budget + self.paused_for(now)
        return None

    @property
    def changed(self) -> bool:
        return self.task_definition_before != self.task_definition_after


class LockState(Strict, kw_only=True):
    status: LockStatus = "PENDING"
    waiting_behind: str | None = None  # the deployment holding the lock while we wait
    superseded_by: str | None = None  # the newer deployment we gave way to
    reason: str | None = None  # why we gave way, naming the newer image and deployment


class Deployment(Strict, kw_only=True):
    kind: Literal["deploy"] = "deploy"
    deployment_id: str  # the execution's name
    execution_arn: str
    app: str
    config: AppConfig
    config_digest: str
    image: ImageRef
    options: Options
    trigger: Trigger
    # In a promotion chain (domain/promotion.py): the environment deployed here (its config
    # is ``config``), how the chain got here, and where a success sends it next.
    environment: str | None = None
    promotion: Promotion | None = None
    next_environment: str | None = None
    rollback_of: str | None = None  # the earlier deployment whose revisions this restores
    undoes: str | None = None  # the earlier deployment whose previous revisions this restores
    requested_at: datetime  # when the image was pushed (or the request made)
    order: str  # domain.locks.deployment_order(): orders the app's deployments, ties included
    services: list[ServiceRollout]
    pre_tasks: list[TaskRun] = []
    post_tasks: list[TaskRun] = []
    lock: LockState = field(default_factory=LockState)
    # The approval gate: wait for an operator's answer after the pre tasks, before any
    # service changes. Per deployment (Resolve sets it from the config, or the environment
    # promoted to); the ASL routes on the ref's copy.
    approval_required: bool = False
    # How long an approval (the gate's, or a PAUSE hook's) waits before it is rejected.
    approval_timeout_minutes: int = 24 * 60
    progress: Progress | None = None
    failure: Failure | None = None
    rollback_error: Failure | None = None  # the rollback itself failed (kept apart from failure)
    finalize_error: Failure | None = None  # Finalize failed after its retries
    outcome: Outcome | None = None
    wait_since: datetime | None = None  # when the current wait (a poll loop) began

    def absorb(self, ref: DeploymentRef) -> None:
        """Take what only the state knows: the failures the ASL's Catch clauses recorded."""
        self.failure = ref.failure or self.failure
        self.rollback_error = ref.rollback_error or self.rollback_error
        self.finalize_error = ref.finalize_error or self.finalize_error

    def track_wait(self, now: datetime) -> None:
        """Note when a wait began: a poll loop slows down as it goes on (``wait_seconds``)."""
        waiting = self.progress == "WAIT" or self.lock.status == "WAITING"
        self.wait_since = (self.wait_since or now) if waiting else None

    def ref(self, now: datetime) -> DeploymentRef:
        return DeploymentRef(
            app=self.app,
            deployment_id=self.deployment_id,
            progress=self.progress,
            lock_status=self.lock.status,
            has_pre_tasks=bool(self.pre_tasks),
            has_post_tasks=bool(self.post_tasks),
            rollback_policy=self.config.rollback,
            approval_required=self.approval_required,
            approval_timeout_seconds=self.approval_timeout_minutes * 60,
            wait_seconds=wait_seconds(self.options.poll_seconds, self.wait_since, now),
            safety_poll_seconds=safety_poll_seconds(
                self.options.poll_seconds, _waited(self.wait_since, now), self._next_deadline(now)
            ),
            failure=self.failure,
            rollback_error=self.rollback_error,
            finalize_error=self.finalize_error,
            outcome=self.outcome.bounded() if self.outcome else None,
            promote=promotion.next_start(self),
        )

    def _next_deadline(self, now: datetime) -> float | None:
        """Seconds until the first awaited rollout, rollback or task run times out, or a
        PAUSE hook's answer is due, if any: no safety poll outlasts it, so each is judged
        when it falls."""
        deadlines = [self._due(service, now) for service in self.services]
        deadlines += [run.deadline for run in (*self.pre_tasks, *self.post_tasks)]
        due = [deadline for deadline in deadlines if deadline is not None]
        return (min(due) - now).total_seconds() if due else None

    def _due(self, service: ServiceRollout, now: datetime) -> datetime | None:
        """At a PAUSE hook awaiting its answer, the rollout's budget stands still (it never
        times out there): what falls due is the approval timeout, when the check answers
        ROLLBACK. Otherwise the rollout's (or rollback's) own deadline."""
        paused = service.paused
        if (
            service.ended_at is None
            and paused is not None
            and not (paused.continued or paused.rejected)
        ):
            return paused.since + timedelta(minutes=self.approval_timeout_minutes)
        return service.deadline(now)

    @property
    def chain_id(self) -> str | None:
        """The promotion chain's id (its first deployment's); None outside any chain."""
        if self.environment is None:
            return None
        return self.promotion.chain_id if self.promotion else self.deployment_id

    @property
    def is_rollback(self) -> bool:
        """An operator asked for this exact earlier state: it runs however old it is."""
        return self.rollback_of is not None or self.undoes is not None

    @property
    def cluster(self) -> str:
        return self.config.cluster

    def tasks(self, phase: Phase) -> list[TaskRun]:
        return self.pre_tasks if phase == "pre" else self.post_tasks

    def fail(self, error: str, cause: str) -> None:
        """Record a failure the state machine will route on (``progress`` = FAILED)."""
        self.failure = Failure(error=error, cause=cause)
        self.progress = "FAILED"


class DeploymentRef(Strict, kw_only=True):
    """What the state machine carries from step to step: which deployment, and what the ASL
    routes on. Its size does not depend on the app's services or containers."""

    kind: Literal["deploy"] = "deploy"
    app: str
    deployment_id: str
    progress: Progress | None = None
    lock_status: LockStatus = "PENDING"
    has_pre_tasks: bool = False
    has_post_tasks: bool = False
    rollback_policy: Literal["auto", "none"] = "auto"
    approval_required: bool = False  # the ASL's AwaitApproval runs before the services
    approval_timeout_seconds: int = 24 * 3600  # its TimeoutSecondsPath
    wait_seconds: int = 60  # the next plain wait (no event ends it): SecondsPath
    # The next event-driven wait's timeout (domain/waiters.py): TimeoutSecondsPath
    safety_poll_seconds: int = 60
    failure: Failure | None = None
    rollback_error: Failure | None = None
    finalize_error: Failure | None = None
    outcome: Outcome | None = None
    promote: PromotionStart | None = None  # the next environment's deployment to start

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = encode(self)
        return payload


_LONGEST_POLL_SECONDS = 300


def wait_seconds(poll_seconds: int, since: datetime | None, now: datetime) -> int:
    """How long to wait before the next poll: ``poll_seconds`` at first, then a tenth of the
    time waited so far, at most 5 minutes. The longest wait a config allows (24 h per phase)
    then takes about 350 poll rounds (some 3,200 history events) instead of 86,400 at a
    1-second poll: an execution's history holds 25,000 events."""
    waited = _waited(since, now)
    return int(min(max(poll_seconds, waited / 10), max(poll_seconds, _LONGEST_POLL_SECONDS)))


def _waited(since: datetime | None, now: datetime) -> float:
    """Seconds the current wait has lasted (none: 0)."""
    return (now - since).total_seconds() if since else 0.0
