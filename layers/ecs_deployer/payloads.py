"""What each step Lambda receives from the state machine (the ASL's ``Payload``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ecs_deployer.document import DeploymentRef, Phase


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExecutionContext(BaseModel):
    """The part of Step Functions' context object the deployer uses (``$$.Execution``)."""

    Id: str
    Name: str
    StartTime: datetime


class ResolveEvent(_Event):
    input: Any
    execution: ExecutionContext


class StepEvent(_Event):
    deployment: DeploymentRef


class PhaseEvent(StepEvent):
    phase: Phase


class ModeEvent(StepEvent):
    mode: Literal["deploy", "rollback"]


class WaiterEvent(StepEvent):
    token: str  # the wait's task token ($$.Task.Token)
    # The approval gate's wait (an operator answers it), not a wait on ECS resources.
    approval: bool = False


class LockEvent(StepEvent):
    action: Literal["acquire", "checkpoint", "release"]
    # checkpoint: may a newer push supersede us here? Only before any service changes.
    supersede: bool = False
