"""One-off tasks as ECS reports them, and whether one ran to a successful end.

A task succeeds only when it STOPPED and every watched container exited with 0. A container
without an exit code never ran: that is a failure too (TaskFailedToStart, image pull
errors), not a success by omission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

TaskState = Literal["RUNNING", "SUCCEEDED", "FAILED"]


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


def judge_task(task: TaskSnapshot, watch: Iterable[str]) -> TaskJudgement:
    if task.last_status != "STOPPED":
        return TaskJudgement("RUNNING", task.last_status)
    where = f"task {task.short_id} ({task.task_definition.rsplit('/', 1)[-1]})"
    stopped = f"stopped: {task.stopped_reason}" if task.stopped_reason else "stopped"
    if task.stop_code == "TaskFailedToStart":
        return TaskJudgement("FAILED", f"{where} failed to start; {stopped}")
    containers = {container.name: container for container in task.containers}
    problems = []
    for name in watch:
        container = containers.get(name)
        if container is None or container.exit_code is None:
            detail = f" ({container.reason})" if container and container.reason else ""
            problems.append(f"container {name} has no exit code: it never ran{detail}")
        elif container.exit_code != 0:
            detail = f" ({container.reason})" if container.reason else ""
            problems.append(f"container {name} exited with code {container.exit_code}{detail}")
    if problems:
        return TaskJudgement("FAILED", f"{where}: {'; '.join(problems)}; {stopped}")
    return TaskJudgement("SUCCEEDED", f"{where} exited 0")
