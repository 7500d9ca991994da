"""What goes wrong in the simulated CodeDeploy: the fate of each deployment group's
deployments (`GroupFault`, keyed by deployment group name in `CodeDeployFaults.groups`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

# The lifecycle events of an ECS blue/green deployment, in the order CodeDeploy runs them
# (CodeDeploy User Guide, "AppSpec 'hooks' section", run order of hooks in an Amazon ECS
# deployment; Install, AllowTestTraffic and AllowTraffic are CodeDeploy's own steps).
LIFECYCLE_EVENTS: Final = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
# The events whose Lambda hook may fail the deployment (the others are CodeDeploy's steps).
HOOK_EVENTS: Final = frozenset(
    {
        "BeforeInstall",
        "AfterInstall",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    }
)


class GroupOutcome(StrEnum):
    """How a deployment of a group hit by a `GroupFault` ends."""

    HOOK_FAILS = "hook_fails"  # the hook of `GroupFault.lifecycle_event` reports Failed
    NEVER_ENDS = "never_ends"  # `GroupFault.lifecycle_event` stays InProgress for ever


@dataclass(frozen=True)
class GroupFault:
    outcome: GroupOutcome
    lifecycle_event: str = "AfterAllowTestTraffic"

    def __post_init__(self) -> None:
        if self.lifecycle_event not in LIFECYCLE_EVENTS:
            raise ValueError(f"not an ECS lifecycle event: {self.lifecycle_event!r}")
        if self.outcome is GroupOutcome.HOOK_FAILS and self.lifecycle_event not in HOOK_EVENTS:
            raise ValueError(f"{self.lifecycle_event} runs no hook that could fail")


@dataclass(frozen=True)
class CodeDeployFaults:
    """The scenario: which groups' deployments fail or hang, and how long each lifecycle
    event takes in virtual time (the local cloud's pace; AWS documents none)."""

    groups: Mapping[str, GroupFault] = field(default_factory=dict)
    event_seconds: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))
        if self.event_seconds <= 0:
            raise ValueError("event_seconds must be positive")
