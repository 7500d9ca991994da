"""ECS service deployments, as DescribeServiceDeployments reports them, and the judgement of
the one our UpdateService started, whatever the service's strategy.

Since October 2024 ECS records every deployment of a service as a *service deployment*
("View service history using Amazon ECS service deployments", ECS Developer Guide): it
starts PENDING, is ongoing while IN_PROGRESS, STOP_REQUESTED, ROLLBACK_REQUESTED or
ROLLBACK_IN_PROGRESS, and ends SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.
Its `lifecycleStage` says where a BLUE_GREEN, LINEAR or CANARY deployment stands, from
RECONCILE_SERVICE to CLEAN_UP; the bake time is the BAKE_TIME stage, *after* production
traffic has shifted, so such a deployment is over only once the bake has ended.

A service deployment that ECS rolls back (circuit breaker, CloudWatch alarms, a failed or
timed-out lifecycle hook) is a failed deployment, never a success: ROLLED_BACK_BY_ECS, with
what triggered it. While ECS rolls back, the deployer waits: it never deploys on top of ECS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from ecs_deployer.config.models import LifecycleStage, WaitUntil
from ecs_deployer.domain.services import RolloutJudgement

if TYPE_CHECKING:
    from collections.abc import Mapping

# The order ECS goes through them (ServiceDeployment.lifecycleStage, ECS API Reference).
LIFECYCLE_STAGES: Final = get_args(LifecycleStage)
# `wait_until`: the deployment is over (the default), or has reached a lifecycle stage.
COMPLETED: Final = "COMPLETED"

# How ContinueServiceDeployment answers a PAUSE hook.
HookAction = Literal["CONTINUE", "ROLLBACK"]

_ROLLING_BACK: Final = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
_ONGOING: Final = frozenset({"PENDING", "IN_PROGRESS", "STOP_REQUESTED"}) | _ROLLING_BACK
# A lifecycle hook's timeout when its configuration names none (DeploymentLifecycleHook
# TimeoutConfiguration.timeoutInMinutes, ECS API Reference).
DEFAULT_HOOK_TIMEOUT: Final = timedelta(minutes=1440)
# The most a service's strategy (bakes, hook timeouts) adds to its wait: a day, the longest
# bake ECS allows. A Lambda hook may time out after 14 days; the deployer stops waiting
# sooner (TIMED_OUT, and ECS rolls it back). The lock's lifetime covers it, as the state
# machine's TimeoutSeconds does (tests/template/test_asl.py).
LONGEST_STRATEGY_TIME: Final = timedelta(hours=24)
# LinearConfiguration and CanaryConfiguration defaults (ECS API Reference).
_AT_EVERY_SHIFT_STEP: Final = frozenset(
    {"PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"}
)
_LINEAR_STEP_PERCENT: Final = 10.0
_LINEAR_STEP_BAKE_MINUTES: Final = 6
_CANARY_BAKE_MINUTES: Final = 10


@dataclass(frozen=True)
class LifecycleHook:
    """One lifecycle hook of a service deployment (`lifecycleHookDetails`)."""

    hook_id: str
    target_type: str  # AWS_LAMBDA | PAUSE
    status: str  # AWAITING_ACTION | IN_PROGRESS | SUCCEEDED | FAILED | TIMED_OUT
    expires_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> LifecycleHook:
        return cls(
            hook_id=data["hookId"],
            target_type=data.get("targetType", "AWS_LAMBDA"),
            status=data.get("status", "IN_PROGRESS"),
            expires_at=data.get("expiresAt"),
        )

    @property
    def awaits_approval(self) -> bool:
        """A PAUSE hook waiting for ContinueServiceDeployment."""
        return self.target_type == "PAUSE" and self.status == "AWAITING_ACTION"


@dataclass(frozen=True)
class RevisionTasks:
    """The tasks of a service revision (ServiceRevisionSummary's counts)."""

    requested: int
    running: int
    pending: int

    @property
    def progress(self) -> str:
        """As a service's deployment shows its tasks (`EcsDeployment.progress`)."""
        text = f"{self.running}/{self.requested} running"
        return text + (f", {self.pending} pending" if self.pending else "")


@dataclass(frozen=True)
class ServiceDeployment:
    """A service deployment as DescribeServiceDeployments shows it."""

    arn: str
    status: str
    status_reason: str | None
    lifecycle_stage: str | None
    target_tasks: RevisionTasks | None  # its tasks, where ECS reports them
    rollback_reason: str | None
    rollback_revision: str | None  # the service revision ECS rolls back to
    circuit_breaker: str | None  # TRIGGERED | MONITORING | MONITORING_COMPLETE | DISABLED
    triggered_alarms: tuple[str, ...]
    hooks: tuple[LifecycleHook, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ServiceDeployment:
        rollback = data.get("rollback") or {}
        # A list of names (ServiceDeploymentAlarms.triggeredAlarmNames, a StringList), each
        # of which may itself separate names with "," as alarmNames' text says.
        triggered = (data.get("alarms") or {}).get("triggeredAlarmNames") or []
        alarms = ",".join([triggered] if isinstance(triggered, str) else triggered)
        target = data.get("targetServiceRevision") or {}
        return cls(
            arn=data["serviceDeploymentArn"],
            status=data["status"],
            status_reason=data.get("statusReason"),
            lifecycle_stage=data.get("lifecycleStage"),
            target_tasks=(
                RevisionTasks(
                    target["requestedTaskCount"],
                    target.get("runningTaskCount", 0),
                    target.get("pendingTaskCount", 0),
                )
                if "requestedTaskCount" in target
                else None
            ),
            rollback_reason=rollback.get("reason"),
            rollback_revision=rollback.get("serviceRevisionArn"),
            circuit_breaker=(data.get("deploymentCircuitBreaker") or {}).get("status"),
            # ECS separates the names with "," (ServiceDeploymentAlarms.triggeredAlarmNames).
            triggered_alarms=tuple(name.strip() for name in alarms.split(",") if name.strip()),
            hooks=tuple(
                LifecycleHook.from_api(item) for item in data.get("lifecycleHookDetails", [])
            ),
        )

    @property
    def ongoing(self) -> bool:
        return self.status in _ONGOING

    @property
    def judged_alone(self) -> bool:
        """Whether this deployment alone is enough to judge it, without its service: all
        but a STOPPED one, which a newer deployment may have replaced (the service's
        current one tells) or whose service may be gone."""
        return self.status != "STOPPED"

    @property
    def paused_hook(self) -> LifecycleHook | None:
        """The PAUSE hook this deployment waits on for an operator, if any."""
        return next((hook for hook in self.hooks if hook.awaits_approval), None)

    @property
    def progress(self) -> str:
        stage = f" at {self.lifecycle_stage}" if self.lifecycle_stage else ""
        return f"service deployment {self.status}{stage}"


def reached(stage: str | None, wait_until: WaitUntil) -> bool:
    """Whether a deployment at `stage` has reached the lifecycle stage `wait_until`."""
    if wait_until == COMPLETED or stage not in LIFECYCLE_STAGES:
        return False
    return LIFECYCLE_STAGES.index(stage) >= LIFECYCLE_STAGES.index(wait_until)


def rollback_cause(deployment: ServiceDeployment) -> str:
    """What made ECS roll `deployment` back, as an operator needs to read it."""
    if deployment.triggered_alarms:
        names = ", ".join(deployment.triggered_alarms)
        plural = "s" if len(deployment.triggered_alarms) > 1 else ""
        return f"CloudWatch alarm{plural} {names} went into ALARM"
    if deployment.circuit_breaker == "TRIGGERED":
        return "the deployment circuit breaker found tasks failing"
    failed = [hook for hook in deployment.hooks if hook.status in {"FAILED", "TIMED_OUT"}]
    if failed:
        hook = failed[0]
        return f"lifecycle hook {hook.hook_id} ({hook.target_type}) {hook.status.lower()}"
    return deployment.rollback_reason or deployment.status_reason or "no reason given"


def _ended(deployment: ServiceDeployment, current: str | None) -> RolloutJudgement:
    """The judgement of a service deployment that is over; `current` is the service's
    current service deployment."""
    progress, why = deployment.progress, deployment.status_reason or "no reason given"
    if deployment.status == "SUCCESSFUL":
        return RolloutJudgement("COMPLETED", "the service deployment succeeded", progress)
    if deployment.status == "STOPPED" and current not in {None, deployment.arn}:
        # ECS stops a service deployment that a newer one replaces.
        return RolloutJudgement(
            "REPLACED", f"replaced by service deployment {current}: {why}", progress
        )
    cause = rollback_cause(deployment)
    if deployment.status == "ROLLBACK_SUCCESSFUL":
        return RolloutJudgement(
            "ROLLED_BACK_BY_ECS", f"ECS rolled the deployment back: {cause}", progress
        )
    if deployment.status == "ROLLBACK_FAILED":
        reason = f"ECS could not roll the deployment back ({why}) after {cause}"
        return RolloutJudgement("FAILED", reason, progress)
    return RolloutJudgement("FAILED", f"the service deployment stopped: {why}", progress)


def judge_service_deployment(
    deployment: ServiceDeployment,
    wait_until: WaitUntil = COMPLETED,
    *,
    current: str | None = None,
) -> RolloutJudgement:
    """Judge the service deployment our UpdateService started; `current` is the service's
    `currentServiceDeployment` (None: not known).

    COMPLETED once it succeeded, or once it reached `wait_until`'s stage without ECS rolling
    it back; ROLLED_BACK_BY_ECS once ECS's rollback has ended; REPLACED when it stopped for
    a newer one; FAILED when it stopped otherwise or its rollback failed; IN_PROGRESS
    meanwhile, ECS's own rollback included.
    """
    if not deployment.ongoing:
        return _ended(deployment, current)
    progress, stage = deployment.progress, deployment.lifecycle_stage
    if deployment.status in _ROLLING_BACK:
        reason = f"ECS is rolling the deployment back: {rollback_cause(deployment)}"
    elif reached(stage, wait_until):
        return RolloutJudgement(
            "COMPLETED", f"reached {stage}; ECS finishes the deployment", progress
        )
    elif (paused := deployment.paused_hook) is not None:
        expiry = f" until {paused.expires_at:%Y-%m-%d %H:%M} UTC" if paused.expires_at else ""
        reason = f"paused at {stage} for approval{expiry}"
    else:
        reason = deployment.status_reason or ""
    return RolloutJudgement("IN_PROGRESS", reason, progress)


def judge_rollback(deployment: ServiceDeployment) -> RolloutJudgement:
    """Judge ECS's rollback of our service deployment (its own, or the one
    StopServiceDeployment asked for): COMPLETED once it is ROLLBACK_SUCCESSFUL, FAILED once
    it ended otherwise, IN_PROGRESS meanwhile."""
    progress = deployment.progress
    if deployment.ongoing:
        return RolloutJudgement("IN_PROGRESS", "ECS is rolling the deployment back", progress)
    if deployment.status == "ROLLBACK_SUCCESSFUL":
        return RolloutJudgement("COMPLETED", "rolled back by ECS", progress)
    why = deployment.status_reason or "no reason given"
    return RolloutJudgement("FAILED", f"ECS's rollback ended {deployment.status}: {why}", progress)


def _minutes(value: Any, default: float) -> timedelta:
    return timedelta(minutes=default if value is None else float(value))


def strategy_time(configuration: Mapping[str, Any]) -> timedelta:
    """The longest a deployment may wait, by `configuration`'s design, beyond the time its
    tasks take to start: bake times and lifecycle hooks' timeouts (PAUSE hooks excepted: an
    operator answers those, within the app's approval timeout)."""
    strategy = configuration.get("strategy", "ROLLING")
    total = timedelta()
    shift_steps = 1  # production traffic shift steps
    if strategy in {"BLUE_GREEN", "LINEAR", "CANARY"}:
        total += _minutes(configuration.get("bakeTimeInMinutes"), 0)
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent") or _LINEAR_STEP_PERCENT)
        shift_steps = math.ceil(100.0 / step)
        # The step bake is "not applied after reaching 100 percent traffic".
        bake = _minutes(linear.get("stepBakeTimeInMinutes"), _LINEAR_STEP_BAKE_MINUTES)
        total += (shift_steps - 1) * bake
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        shift_steps = 2  # the canary, then the rest
        total += _minutes(canary.get("canaryBakeTimeInMinutes"), _CANARY_BAKE_MINUTES)
    for hook in configuration.get("lifecycleHooks") or ():
        if hook.get("targetType", "AWS_LAMBDA") == "PAUSE":
            continue
        timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
        # Hooks at these stages run "at every traffic shift step" (DeploymentLifecycleHook).
        runs = sum(
            shift_steps if stage in _AT_EVERY_SHIFT_STEP else 1
            for stage in hook.get("lifecycleStages") or ()
        )
        total += max(runs, 1) * (
            _minutes(timeout, 0) if timeout is not None else DEFAULT_HOOK_TIMEOUT
        )
    return total


def wait_budget(max_wait: timedelta, configuration: Mapping[str, Any]) -> timedelta:
    """How long the deployer waits for a service deployment: the app's `max_wait` for its
    tasks, plus the strategy's bake times and hook timeouts (`configuration`: the service's
    `deploymentConfiguration`), at most `LONGEST_STRATEGY_TIME` of them."""
    return max_wait + min(strategy_time(configuration), LONGEST_STRATEGY_TIME)
