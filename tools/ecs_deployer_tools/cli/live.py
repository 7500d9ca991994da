"""How executions look to people: each phase as it begins, with the time since the
execution started, rollout progress and exit codes as they are checked, and the summary
they end with. Used by `deploy`, `rollback`, `follow` and `local demo`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from ecs_deployer_tools.cli.output import console

if TYPE_CHECKING:
    from datetime import timedelta

    from ecs_deployer.outcome import ServiceSummary, TaskSummary
    from ecs_deployer_tools.operator.follow import ExecutionOutcome

STATUS_STYLE = {
    "SUCCEEDED": "green",
    "IGNORED": "cyan",
    "SUPERSEDED": "cyan",
    "ROLLED_BACK": "yellow",
    "FAILED": "red",
    "ROLLBACK_FAILED": "bold red",
    "REJECTED": "yellow",
    "AWAITING_APPROVAL": "magenta",
    "ABORTED": "red",
    "QUEUED": "blue",
    "IN_PROGRESS": "blue",
}
_DIGEST_SHOWN = 12  # hex digits of a sha256 digest: enough to tell images apart

# The phase each step (Task and Map states) and wait of statemachine/deploy.asl.json belongs
# to (a test keeps it complete). Choice, Pass, Succeed and Fail states are the machinery:
# not shown (the outcome is printed when the execution ends).
_PHASE_STATES = {
    "check the request": ["Resolve"],
    "dispatch to apps": ["Dispatch", "StartDeployment"],
    "lock": ["AcquireLock", "WaitForLock"],
    "register task definitions": ["RegisterTaskDefinitions"],
    "tasks before the rollout": [
        "RunPreTasks",
        "AwaitPreTasks",
        "WaitForPreTasks",
        "CheckPreTasks",
    ],
    "waiting for approval": ["AwaitApproval"],
    "rollout": ["UpdateServices", "AwaitServices", "WaitForServices", "CheckServices"],
    "tasks after the rollout": [
        "RunPostTasks",
        "AwaitPostTasks",
        "WaitForPostTasks",
        "CheckPostTasks",
    ],
    "rollback": ["RollbackServices", "AwaitRollback", "WaitForRollback", "CheckRollback"],
    "finalize": ["Finalize", "ReleaseLockAfterError"],
    "promote to the next environment": ["StartPromotion"],
}
# Checks of the lock between two phases begin none (a superseded deployment stops there).
_BETWEEN_PHASES = ("CheckpointBeforeServices", "CheckpointBeforePostTasks")
PHASES: dict[str, str | None] = {
    **{state: phase for phase, states in _PHASE_STATES.items() for state in states},
    **dict.fromkeys(_BETWEEN_PHASES),
}
# What a check step of each phase learns about: a deployment document's parts. (The
# document is read after the step, so it may show the next phase begun already.)
_CHECKED = {
    "tasks before the rollout": ("pre_tasks",),
    "rollout": ("services",),
    "tasks after the rollout": ("post_tasks",),
    "rollback": ("services",),
}


def styled(status: str, text: str | None = None) -> str:
    """``text`` (default: the status itself) in the status's colour, as markup."""
    shown = escape(text or status)
    style = STATUS_STYLE.get(status)
    return f"[{style}]{shown}[/]" if style else shown


def short(arn: str | None) -> str:
    """A task definition ARN as family:revision."""
    return arn.rsplit("/", 1)[-1] if arn else "-"


def short_image(image: str) -> str:
    """repository@sha256:<12 hex> (or repository:tag), without the registry."""
    name, separator, digest = image.rsplit("/", 1)[-1].partition("@sha256:")
    return f"{name}@sha256:{digest[:_DIGEST_SHOWN]}" if separator else name


def exit_codes(results: list[dict[str, int | None]]) -> str:
    """Each task's exit codes as ``app=0 sidecar=137``, tasks apart by "; "; a container
    without one shows ``none``; no task at all, "not run"."""
    tasks = [
        " ".join(f"{name}={'none' if code is None else code}" for name, code in codes.items())
        or "not run"
        for codes in results
    ]
    return "; ".join(tasks) or "not run"


def elapsed(duration: timedelta) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, seconds = divmod(int(duration.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


class LiveView:
    """Prints each phase as the executions begin it, and what changed in the rollout."""

    def __init__(self, *, show_execution: bool = True) -> None:
        # Several executions interleave (a dispatch and its deployments): name each line.
        self._width = 14 if show_execution else 0
        self._phase: dict[str, str] = {}  # the phase each execution is in
        self._shown: dict[str, str] = {}  # what was last printed per service or task family

    def entered(self, execution: str, state: str, since_start: timedelta) -> None:
        phase = PHASES.get(state)
        if phase is None or self._phase.get(execution) == phase:
            return
        self._phase[execution] = phase
        label = (
            f"[dim]{escape(execution[: self._width]):<{self._width}}[/]  " if self._width else ""
        )
        console.print(f"  {label}[dim]{elapsed(since_start):>5}[/]  {phase}")

    def ended(self, execution: str, outcome: ExecutionOutcome, since_start: timedelta) -> None:
        """Among several executions, how each ended and why (an ignored push: which rule
        turned it away). A single execution's outcome is printed after it, in full."""
        if not self._width:
            return
        why = f": {escape(outcome.message)}" if outcome.message else ""
        console.print(
            f"  {self._label(execution)}[dim]{elapsed(since_start):>5}[/]  "
            f"{styled(outcome.status)}{why}"
        )

    def _label(self, execution: str) -> str:
        """The execution's name, shortened, where several interleave."""
        if not self._width:
            return ""
        return f"[dim]{escape(execution[: self._width]):<{self._width}}[/]  "

    def checked(self, execution: str, deployment: dict[str, Any]) -> None:
        parts = _CHECKED.get(
            self._phase.get(execution, ""), ("services", "pre_tasks", "post_tasks")
        )
        lines: dict[str, str] = {}
        for service in deployment.get("services", []) if "services" in parts else []:
            rollback = service.get("rollback")
            state = f"rollback {rollback['state']}" if rollback else service["state"]
            paused = service.get("paused")
            answered = paused and (paused.get("rejected") or paused.get("continued"))
            if state == "IN_PROGRESS" and paused and not answered:
                # At a PAUSE hook: `ecs-deployer approve`/`reject` answers it.
                state = f"waiting for approval at {paused.get('stage') or 'a PAUSE hook'}"
            if service.get("progress") and state != "PENDING":
                lines[service["name"]] = f"{service['progress']} ({state})"
        for part in ("pre_tasks", "post_tasks"):
            for task in deployment.get(part, []) if part in parts else []:
                state = task["state"]
                if state in ("PENDING", "RUNNING"):
                    lines[task["config"]["family"]] = state  # exit codes once it ended
                    continue
                results = [result["exit_codes"] for result in task.get("results", [])]
                lines[task["config"]["family"]] = f"{state}, {exit_codes(results)}"
        indent = f"{'':<{self._width}}   " if self._width else "    "
        for name, line in lines.items():
            key = f"{execution}/{name}"
            if self._shown.get(key) != line:
                self._shown[key] = line
                console.print(f"  {indent}{escape(name)}: {escape(line)}")


def print_summary(services: list[ServiceSummary], tasks: list[TaskSummary]) -> None:
    """A deployment summary's (or a Fail state cause's) services and tasks, as tables."""
    table = Table("service", "before", "after", "images", title="services")
    for service in services:
        images = service.images_after
        table.add_row(
            escape(service.name),
            escape(short(service.task_definition_before)),
            escape(short(service.task_definition_after)),
            "\n".join(
                f"{escape(name)}: {escape(short_image(image))}" for name, image in images.items()
            )
            or "-",
        )
    if services:
        console.print(table)
    table = Table("task family", "phase", "exit codes", title="tasks")
    for task in tasks:
        table.add_row(escape(task.family), task.phase, escape(exit_codes(task.exit_codes)))
    if tasks:
        console.print(table)
