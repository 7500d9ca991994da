"""ECS's BLUE_GREEN, LINEAR and CANARY strategies in the simulated ECS: the lifecycle stages
a service deployment goes through, with its bake times and lifecycle hooks.

A service whose `deploymentConfiguration.strategy` is one of these deploys through the
stages ECS documents (ServiceDeployment.lifecycleStage and DeploymentLifecycleHook
.lifecycleStages, ECS API Reference; "Amazon ECS blue/green service deployments workflow",
ECS Developer Guide), in this order: RECONCILE_SERVICE (only when the service had more than
one ACTIVE revision), PRE_SCALE_UP, SCALE_UP (the green tasks start: the rollout's time),
POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, then for each production traffic
shift step PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT (one step for
BLUE_GREEN, two for CANARY with the canary bake between, one per `stepPercent` for LINEAR
with the step bake between, "not applied after reaching 100 percent traffic"), then
POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (`bakeTimeInMinutes`) and CLEAN_UP (the blue
tasks stop). A stage without hooks or bake lasts `STAGE_SECONDS`: AWS documents no pace.

Lifecycle hooks run when their stage starts; the stage ends once each has SUCCEEDED (or
timed out with the timeout action CONTINUE). An AWS_LAMBDA hook's answer is the scenario's
(`HookFault`: SUCCEEDED, FAILED, or IN_PROGRESS until the hook's timeout), not a function
run: see docs/fidelity.md. A PAUSE hook waits AWAITING_ACTION for ContinueServiceDeployment
until its timeout ("Pause hooks for Amazon ECS service deployments").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from moto.ecs.exceptions import ECSException

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

STAGED: Final = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
STAGE_SECONDS: Final = 10.0
SCALE_UP: Final = "SCALE_UP"
BAKE_TIME: Final = "BAKE_TIME"
CLEAN_UP: Final = "CLEAN_UP"
PAUSE: Final = "PAUSE"
AWS_LAMBDA: Final = "AWS_LAMBDA"
CONTINUE: Final = "CONTINUE"
ROLLBACK: Final = "ROLLBACK"
# DeploymentLifecycleHookStatus (ECS API Reference).
AWAITING_ACTION: Final = "AWAITING_ACTION"
IN_PROGRESS: Final = "IN_PROGRESS"
SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
TIMED_OUT: Final = "TIMED_OUT"
# DeploymentLifecycleHookTimeoutConfiguration's defaults (ECS API Reference).
DEFAULT_HOOK_TIMEOUT_MINUTES: Final = 1440
DEFAULT_TIMEOUT_ACTION: Final = ROLLBACK
# LinearConfiguration's and CanaryConfiguration's defaults (ECS API Reference).
_LINEAR_STEP_PERCENT: Final = 10.0
_LINEAR_STEP_BAKE_MINUTES: Final = 6
_CANARY_BAKE_MINUTES: Final = 10
# "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT
# stages" (DeploymentLifecycleHook.lifecycleStages, ECS API Reference).
_NO_PAUSE_STAGES: Final = frozenset({"TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"})


class HookOutcome(StrEnum):
    """What a scenario's AWS_LAMBDA hooks answer (`HookFault`)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"  # for ever: the hook times out


@dataclass(frozen=True)
class HookFault:
    """The answer of a service's AWS_LAMBDA hooks, `seconds` after each is first invoked."""

    outcome: HookOutcome = HookOutcome.SUCCEEDED
    seconds: float = 30.0  # ECS's default callBackDelay: one IN_PROGRESS, then the answer

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("HookFault.seconds must be positive")


@dataclass(frozen=True)
class HookConfig:
    """One configured lifecycle hook (DeploymentLifecycleHook)."""

    target_type: str
    target_arn: str | None
    stages: tuple[str, ...]
    timeout: timedelta
    timeout_action: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HookConfig:
        timeout = data.get("timeoutConfiguration") or {}
        return cls(
            target_type=data.get("targetType") or AWS_LAMBDA,
            target_arn=data.get("hookTargetArn"),
            stages=tuple(data.get("lifecycleStages") or ()),
            timeout=timedelta(
                minutes=timeout.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES
            ),
            timeout_action=timeout.get("action") or DEFAULT_TIMEOUT_ACTION,
        )


@dataclass(frozen=True)
class Stage:
    """One lifecycle stage of a service deployment's plan: its own time (a bake), and the
    hooks that run when it starts."""

    name: str
    seconds: float
    hooks: tuple[HookConfig, ...] = ()


@dataclass
class HookRun:
    """A hook run at a stage, as `lifecycleHookDetails` shows it."""

    hook_id: str
    config: HookConfig
    status: str
    expires_at: datetime
    answers_at: datetime | None  # an AWS_LAMBDA hook's final answer (None: never)
    answer: str | None  # SUCCEEDED | FAILED
    decided_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status in {AWAITING_ACTION, IN_PROGRESS}

    def next_at(self) -> datetime | None:
        """When this pending hook is decided, by its answer or its timeout."""
        if not self.pending:
            return None
        return min(self.expires_at, self.answers_at or self.expires_at)

    def decide(self, at: datetime) -> None:
        """Its answer, or its timeout, when due by `at`."""
        due = self.next_at()
        if due is None or due > at:
            return
        answered = self.answers_at is not None and self.answers_at <= self.expires_at
        self.settle((self.answer or SUCCEEDED) if answered else TIMED_OUT, due)

    def settle(self, status: str, at: datetime) -> None:
        self.status, self.decided_at = status, at

    @property
    def lets_through(self) -> bool:
        """Done, and the deployment goes on."""
        return self.status == SUCCEEDED or (
            self.status == TIMED_OUT and self.config.timeout_action == CONTINUE
        )

    @property
    def rolls_back(self) -> bool:
        return self.status == FAILED or (
            self.status == TIMED_OUT and self.config.timeout_action == ROLLBACK
        )

    def as_api(self) -> dict[str, Any]:
        detail = {
            "hookId": self.hook_id,
            "targetType": self.config.target_type,
            "status": self.status,
            "expiresAt": self.expires_at,
            "timeoutAction": self.config.timeout_action,
        }
        if self.config.target_arn:
            detail["targetArn"] = self.config.target_arn
        return detail


@dataclass
class StagedTimeline:
    """Where a staged service deployment stands: its stage, since when, and its hooks."""

    stages: tuple[Stage, ...]
    index: int
    stage_started: datetime
    hooks: list[HookRun] = field(default_factory=list)

    @property
    def stage(self) -> Stage:
        return self.stages[self.index]

    @property
    def scaling_up(self) -> bool:
        return self.stage.name == SCALE_UP

    def stage_ends_at(self) -> datetime | None:
        """When the stage is over, its hooks done (None: a hook still decides)."""
        if any(hook.pending for hook in self.hooks):
            return None
        decided = [hook.decided_at for hook in self.hooks if hook.decided_at is not None]
        return max([self.stage_started + timedelta(seconds=self.stage.seconds), *decided])

    def next_at(self) -> datetime:
        """When something next happens at this (non SCALE_UP) stage."""
        decisions = [at for hook in self.hooks if (at := hook.next_at()) is not None]
        ends = self.stage_ends_at()
        return min([*decisions, *([ends] if ends else [])])


def strategy(configuration: Mapping[str, Any] | None) -> str:
    return (configuration or {}).get("strategy") or "ROLLING"


def plan(configuration: Mapping[str, Any], *, reconcile: bool) -> tuple[Stage, ...]:
    """The stages of a service deployment under `configuration` (a staged strategy);
    `reconcile`: the service had more than one ACTIVE revision."""
    hooks = [HookConfig.from_api(hook) for hook in configuration.get("lifecycleHooks") or ()]

    def stage(name: str, seconds: float = STAGE_SECONDS) -> Stage:
        return Stage(name, seconds, tuple(hook for hook in hooks if name in hook.stages))

    stages = [stage("RECONCILE_SERVICE")] if reconcile else []
    stages += [
        stage("PRE_SCALE_UP"),
        Stage(SCALE_UP, 0.0),  # as long as the green tasks take to start (a rollout's time)
        stage("POST_SCALE_UP"),
        stage("TEST_TRAFFIC_SHIFT"),
        stage("POST_TEST_TRAFFIC_SHIFT"),
    ]
    for step_bake in _shift_step_bakes(configuration):
        stages += [
            stage("PRE_PRODUCTION_TRAFFIC_SHIFT"),
            stage("PRODUCTION_TRAFFIC_SHIFT", STAGE_SECONDS + step_bake),
        ]
    bake = 60.0 * (configuration.get("bakeTimeInMinutes") or 0)
    stages += [
        stage("POST_PRODUCTION_TRAFFIC_SHIFT"),
        Stage(BAKE_TIME, max(bake, STAGE_SECONDS)),
        Stage(CLEAN_UP, STAGE_SECONDS),
    ]
    return tuple(stages)


def _shift_step_bakes(configuration: Mapping[str, Any]) -> list[float]:
    """The bake after each production traffic shift step, in seconds (none after the last)."""
    chosen = strategy(configuration)
    if chosen == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        steps = math.ceil(100.0 / float(linear.get("stepPercent") or _LINEAR_STEP_PERCENT))
        bake = linear.get("stepBakeTimeInMinutes")
        minutes = _LINEAR_STEP_BAKE_MINUTES if bake is None else bake
        return [60.0 * minutes] * (steps - 1) + [0.0]
    if chosen == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        bake = canary.get("canaryBakeTimeInMinutes")
        return [60.0 * (_CANARY_BAKE_MINUTES if bake is None else bake), 0.0]
    return [0.0]


def validate(configuration: Mapping[str, Any] | None) -> None:
    """What ECS documents it refuses in a deploymentConfiguration, beyond botocore's shapes
    (which the client checks), as InvalidParameterException."""
    configuration = configuration or {}
    if strategy(configuration) == "BLUE_GREEN" and configuration.get("bakeTimeInMinutes") is None:
        # "You must provide this parameter when you use the BLUE_GREEN deployment strategy."
        _invalid("bakeTimeInMinutes is required for the BLUE_GREEN deployment strategy.")
    for hook in configuration.get("lifecycleHooks") or ():
        config = HookConfig.from_api(hook)
        if not config.stages:
            _invalid("A deployment lifecycle hook must name its lifecycleStages.")
        if config.target_type == PAUSE and _NO_PAUSE_STAGES & set(config.stages):
            _invalid(
                "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or "
                "PRODUCTION_TRAFFIC_SHIFT stages."
            )
        if config.target_type == AWS_LAMBDA and not config.target_arn:
            _invalid("An AWS_LAMBDA lifecycle hook needs a hookTargetArn.")


def _invalid(message: str) -> None:
    raise ECSException("InvalidParameterException", message)
