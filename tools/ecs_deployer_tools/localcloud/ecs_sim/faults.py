"""What goes wrong in the simulated ECS: a scenario (`EcsFaults`), with the fate of each
service's deployments (`RolloutFault`) and of each task family's tasks (`TaskFault`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from ecs_deployer_tools.localcloud.ecs_sim.strategies import HookFault

if TYPE_CHECKING:
    from collections.abc import Mapping

# ECS's stop codes (TaskStopCode) for a running task stopped by ECS or a user, as opposed to
# one whose essential container exited (EssentialContainerExited) or that never started.
STOP_CODES: Final = frozenset(
    {
        "UserInitiated",
        "ServiceSchedulerInitiated",
        "SpotInterruption",
        "TerminationNotice",
        "InfrastructureHealth",
    }
)


class RolloutOutcome(StrEnum):
    """How a service deployment hit by a `RolloutFault` ends."""

    COMPLETE = "complete"  # reaches COMPLETED (a slow rollout when `seconds` is large)
    FAIL = "fail"  # circuit breaker without rollback: FAILED, stays PRIMARY
    AUTO_ROLLBACK = "auto_rollback"  # circuit breaker with rollback to the last completed one
    NEVER_STABLE = "never_stable"  # IN_PROGRESS for ever, failedTasks growing
    # Someone runs DeleteService --force mid-rollout: DRAINING after `seconds`, INACTIVE a
    # progress step later, as ECS drains a deleted service before making it INACTIVE.
    DELETED = "deleted"


class TaskOutcome(StrEnum):
    """How a task hit by a `TaskFault` ends."""

    # The essential container (`container`) exits 0; ECS then stops the others, which exit
    # with `killed_exit_code` (EssentialContainerExited).
    SUCCEED = "succeed"
    EXIT = "exit"  # the same, but `container` exits with `exit_code`
    FAIL_TO_START = "fail_to_start"  # STOPPED with TaskFailedToStart, no exit codes
    NEVER_STOP = "never_stop"  # RUNNING until StopTask
    # ECS stops the running task (`stop_code`: a Spot interruption, a host's termination
    # notice...): every container gets SIGTERM and exits with `exit_code`.
    STOPPED_BY_ECS = "stopped_by_ecs"


@dataclass(frozen=True)
class RolloutFault:
    """The fate of a service's deployments (keyed by service name in `EcsFaults.services`)."""

    outcome: RolloutOutcome = RolloutOutcome.COMPLETE  # how the deployment ends
    seconds: float = 20.0  # from UpdateService until that outcome
    rollback_fails: bool = False  # also hit deployments back to the original task definition
    # UpdateService back to the original task definition answers InvalidParameterException
    # with this message (e.g. that revision was deregistered meanwhile).
    rollback_error: str | None = None
    # Created before 2021, when a service's ARN had no cluster name: service/NAME.
    short_arn: bool = False
    # What its AWS_LAMBDA lifecycle hooks answer (a BLUE_GREEN, LINEAR or CANARY service).
    hooks: HookFault = field(default_factory=HookFault)
    # The CloudWatch alarms its deploymentConfiguration names go into ALARM this long after
    # UpdateService, as a breaching metric would make them (a staged deployment).
    alarm_after: float | None = None

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("RolloutFault.seconds must be positive")


@dataclass(frozen=True)
class TaskFault:
    """The fate of a family's tasks (keyed by task definition family in `EcsFaults.tasks`)."""

    outcome: TaskOutcome = TaskOutcome.SUCCEED  # how the task ends
    exit_code: int = 1  # exit code of `container` (EXIT), of every container (STOPPED_BY_ECS)
    container: str | None = None  # container that exits or fails to pull; default: 1st essential
    start_error: str | None = None  # stoppedReason for FAIL_TO_START; default: pull error
    pending_seconds: float = 10.0  # from RunTask until RUNNING (or STOPPED)
    # From RUNNING until STOPPED; a tuple gives the tasks of one RunTask their own, in turn
    # (siblings that run for longer).
    running_seconds: float | tuple[float, ...] = 10.0
    stop_code: str = "SpotInterruption"  # why ECS stopped the task (STOPPED_BY_ECS)
    # What the containers ECS stops once `container` exited exit with: 143 when SIGTERM ends
    # them, 137 when SIGKILL does after the stop timeout, 0 when they handle SIGTERM.
    killed_exit_code: int = 143
    # What `container` prints before it stops, delivered to its awslogs stream (task_logs.py).
    log_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        running = self.running_seconds
        durations = (self.pending_seconds, *(running if isinstance(running, tuple) else (running,)))
        if min(durations) <= 0 or running == ():
            raise ValueError("TaskFault seconds must be positive")
        if self.stop_code not in STOP_CODES:
            raise ValueError(f"TaskFault.stop_code must be one of {sorted(STOP_CODES)}")


@dataclass(frozen=True)
class EcsFaults:
    """A scenario: what goes wrong in ECS. The default is an ECS where nothing fails, and
    which behaves as AWS documents: eventually consistent, forgetting stopped tasks."""

    tasks: Mapping[str, TaskFault] = field(default_factory=dict)  # by task definition family
    services: Mapping[str, RolloutFault] = field(default_factory=dict)  # by service name
    throttle_rate: float = 0.0  # share of ECS API calls answered ThrottlingException
    seed: int = 0  # seeds throttling, generated ids and describe lags, so runs repeat
    seconds_to_complete: float = 20.0  # how long a fault-free deployment takes
    # How long after it stopped a task is still described (and listed): ECS's "at least one
    # hour"; then DescribeTasks answers MISSING.
    stopped_task_retention_seconds: float = 3600.0
    # Eventual consistency: a task RunTask just started is MISSING from the next 1 to
    # `describe_lag` DescribeTasks that name it (seeded), and a service UpdateService just
    # gave a deployment shows its previous deployments to the next 1 to
    # `service_describe_lag` DescribeServices, within `describe_lag_seconds` of the change;
    # 0: describes see the change at once.
    describe_lag: int = 2
    service_describe_lag: int = 2
    describe_lag_seconds: float = 5.0
    # Services run tasks, as their deployments' counts say (ListTasks serviceName, then
    # DescribeTasks).
    service_tasks: bool = True
    # ECS's events are best effort (events.py): a seeded share of them is lost, and every
    # event named here (SERVICE_DEPLOYMENT_COMPLETED, TASK_STOPPED...).
    event_drop_rate: float = 0.0
    dropped_events: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.throttle_rate <= 1.0:
            raise ValueError("EcsFaults.throttle_rate must be within [0, 1]")
        if not 0.0 <= self.event_drop_rate <= 1.0:
            raise ValueError("EcsFaults.event_drop_rate must be within [0, 1]")
        if self.seconds_to_complete <= 0:
            raise ValueError("EcsFaults.seconds_to_complete must be positive")
        if self.stopped_task_retention_seconds <= 0:
            raise ValueError("EcsFaults.stopped_task_retention_seconds must be positive")
        if min(self.describe_lag, self.service_describe_lag, self.describe_lag_seconds) < 0:
            raise ValueError("EcsFaults: describe lags must not be negative")
        # Read-only copies: a running simulation must not see the scenario change under it.
        object.__setattr__(self, "tasks", MappingProxyType(dict(self.tasks)))
        object.__setattr__(self, "services", MappingProxyType(dict(self.services)))
