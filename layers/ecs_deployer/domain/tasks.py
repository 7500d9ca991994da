"""One-off tasks as ECS reports them, and whether one ran to a successful end.

A task succeeds only when it ended on its own — STOPPED because an essential container
exited (stop code ``EssentialContainerExited``) — and every watched container exited 0:

* any other stop code means ECS or someone stopped it (a Spot interruption, a host's
  termination notice, StopTask, the service scheduler, a failed start): a failure, whatever
  the exit codes, since a container that exits 0 on the SIGTERM of a stop did not finish;
* a watched container without an exit code never ran (TaskFailedToStart, image pull
  errors): a failure too, not a success by omission;
* when the first essential container exits, ECS stops the others (SIGTERM, then SIGKILL
  after the stop timeout): a watched sidecar — a container that does not run the deployed
  image — that exited 137 or 143 with no reason from ECS was stopped with the task, not
  failed, once every watched container that runs the deployed image exited 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping
    from datetime import datetime

TaskState = Literal["RUNNING", "SUCCEEDED", "FAILED"]

# The stop code of a task whose essential container exited: the only way it ends on its own.
ENDED_ON_ITS_OWN: Final = "EssentialContainerExited"
# What a container stopped by ECS exits with: SIGKILL (128 + 9), SIGTERM (128 + 15).
_STOPPED_BY_SIGNAL: Final = frozenset({137, 143})
# ECS's API is eventually consistent: a task RunTask just started can be MISSING from
# DescribeTasks for a while. RunTask's reference advises describing it again with a backoff
# of up to about five minutes; only after that does MISSING mean ECS does not know it.
MISSING_GRACE: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class ContainerState:
    name: str
    exit_code: int | None
    reason: str | None


@dataclass(frozen=True)
class TaskSnapshot:
    arn: str
    task_definition: str
    last_status: str
    stop_code: str | None
    stopped_reason: str | None
    containers: tuple[ContainerState, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TaskSnapshot:
        return cls(
            arn=data["taskArn"],
            task_definition=data.get("taskDefinitionArn", ""),
            last_status=data.get("lastStatus", "PENDING"),
            stop_code=data.get("stopCode"),
            stopped_reason=data.get("stoppedReason"),
            containers=tuple(
                ContainerState(item["name"], item.get("exitCode"), item.get("reason"))
                for item in data.get("containers", [])
            ),
        )

    @property
    def short_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def exit_codes(self) -> dict[str, int | None]:
        return {container.name: container.exit_code for container in self.containers}


@dataclass(frozen=True)
class TaskJudgement:
    state: TaskState
    reason: str


def judge_task(
    task: TaskSnapshot, watch: Iterable[str], deployed: Collection[str]
) -> TaskJudgement:
    """Judge ``task`` by its stop code and its ``watch``ed containers' exit codes.

    ``deployed`` names the containers that run the deployed image (the config's
    ``containers``): the task's own work, as opposed to its sidecars.
    """
    if task.last_status != "STOPPED":
        return TaskJudgement("RUNNING", task.last_status)
    where = f"task {task.short_id} ({task.task_definition.rsplit('/', 1)[-1]})"
    stopped = f"stopped: {task.stopped_reason}" if task.stopped_reason else "stopped"
    if task.stop_code == "TaskFailedToStart":
        return TaskJudgement("FAILED", f"{where} failed to start; {stopped}")
    if task.stop_code != ENDED_ON_ITS_OWN:
        code = task.stop_code or "no stop code"
        return TaskJudgement(
            "FAILED", f"{where} was stopped ({code}) before it ended on its own; {stopped}"
        )
    containers = {container.name: container for container in task.containers}
    watched = list(watch)
    exits = {name: containers[name].exit_code for name in watched if name in containers}
    work_done = 0 in exits.values() and all(
        code == 0 for name, code in exits.items() if name in deployed
    )
    problems = []
    for name in watched:
        container = containers.get(name)
        detail = f" ({container.reason})" if container and container.reason else ""
        if container is None or container.exit_code is None:
            problems.append(f"container {name} has no exit code: it never ran{detail}")
        elif container.exit_code != 0 and not (
            work_done and name not in deployed and _stopped_with_the_task(container)
        ):
            problems.append(f"container {name} exited with code {container.exit_code}{detail}")
    if problems:
        return TaskJudgement("FAILED", f"{where}: {'; '.join(problems)}; {stopped}")
    return TaskJudgement("SUCCEEDED", f"{where} exited 0")


def _stopped_with_the_task(container: ContainerState) -> bool:
    """A sidecar ECS stopped because the task ended; ECS names a reason when it killed one
    for its own sake (OutOfMemoryError...)."""
    return container.exit_code in _STOPPED_BY_SIGNAL and not container.reason


def judge_missing(task_arn: str, started_at: datetime, now: datetime) -> TaskJudgement:
    """A task DescribeTasks reports MISSING: not visible yet within ``MISSING_GRACE`` of
    RunTask, unknown to ECS after that."""
    task_id = task_arn.rsplit("/", 1)[-1]
    if now - started_at < MISSING_GRACE:
        return TaskJudgement("RUNNING", f"task {task_id} is not visible to DescribeTasks yet")
    minutes = int(MISSING_GRACE.total_seconds()) // 60
    return TaskJudgement(
        "FAILED", f"task {task_id} is unknown to ECS (MISSING) {minutes} min after RunTask"
    )
