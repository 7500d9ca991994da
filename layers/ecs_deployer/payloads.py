"""What each step Lambda receives from the state machine (the ASL's ``Payload``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ecs_deployer.document import DeploymentRef, Phase
from ecs_deployer.structs import Strict, Tolerant


class ExecutionContext(Tolerant, kw_only=True, frozen=True):
    """The part of Step Functions' context object the deployer uses (``$$.Execution``)."""

    Id: str
    Name: str
    StartTime: datetime


class ResolveEvent(Strict, kw_only=True):
    input: Any
    execution: ExecutionContext


class StepEvent(Strict, kw_only=True):
    deployment: DeploymentRef


class PhaseEvent(StepEvent, kw_only=True):
    phase: Phase


class ModeEvent(StepEvent, kw_only=True):
    mode: Literal["deploy", "rollback"]


class WaiterEvent(StepEvent, kw_only=True):
    token: str  # the wait's task token ($$.Task.Token)
    # The approval gate's wait (an operator answers it), not a wait on ECS resources.
    approval: bool = False


class LockEvent(StepEvent, kw_only=True):
    action: Literal["acquire", "checkpoint", "release"]
    # checkpoint: may a newer push supersede us here? Only before any service changes.
    supersede: bool = False
