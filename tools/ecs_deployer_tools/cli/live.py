"""How executions look to people: each state as it is entered, rollout progress as it is
checked, and the summary they end with. Used by `deploy`, `rollback` and `local demo`."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from ecs_deployer.outcome import ServiceSummary, TaskSummary
from ecs_deployer_tools.cli.output import console

STATUS_STYLE = {
    "SUCCEEDED": "green",
    "IGNORED": "cyan",
    "SUPERSEDED": "cyan",
    "ROLLED_BACK": "yellow",
    "FAILED": "red",
    "ROLLBACK_FAILED": "bold red",
    "ABORTED": "red",
    "QUEUED": "blue",
    "IN_PROGRESS": "blue",
}
_DIGEST_SHOWN = 12  # hex digits of a sha256 digest: enough to tell images apart


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


class LiveView:
    """Prints each state as the executions enter it, and what changed in the rollout."""

    def __init__(self, *, show_execution: bool = True) -> None:
        # Several executions interleave (a dispatch and its deployments): name each line.
        self._width = 14 if show_execution else 0
        self._shown: dict[str, str] = {}  # what was last printed per service or task family

    def entered(self, execution: str, state: str) -> None:
        # Choices (named "...?") and waits are the machinery: shown, but dimmed.
        quiet = state.endswith("?") or state.startswith("Wait")
        label = f"[dim]{execution[: self._width]:<{self._width}}[/] " if self._width else ""
        console.print(f"  {label}" + (f"[dim]{state}[/]" if quiet else state))

    def checked(self, execution: str, deployment: dict[str, Any]) -> None:
        lines: dict[str, str] = {}
        for service in deployment.get("services", []):
            rollback = service.get("rollback")
            state = f"rollback {rollback['state']}" if rollback else service["state"]
            if service.get("progress") and state != "PENDING":
                lines[service["name"]] = f"{service['progress']} ({state})"
        for phase in ("pre_tasks", "post_tasks"):
            for task in deployment.get(phase, []):
                if task["state"] != "PENDING":
                    codes = [result["exit_codes"] for result in task.get("results", [])]
                    lines[task["config"]["family"]] = f"{task['state']}, exit codes {codes}"
        indent = f"{'':<{self._width}}   " if self._width else "    "
        for name, line in lines.items():
            key = f"{execution}/{name}"
            if self._shown.get(key) != line:
                self._shown[key] = line
                console.print(f"  {indent}{name}: {line}")


def print_summary(services: list[ServiceSummary], tasks: list[TaskSummary]) -> None:
    """A deployment summary's (or a Fail state cause's) services and tasks, as tables."""
    table = Table("service", "before", "after", "images", title="services")
    for service in services:
        images = service.images_after
        table.add_row(
            service.name,
            short(service.task_definition_before),
            short(service.task_definition_after),
            "\n".join(f"{name}: {short_image(image)}" for name, image in images.items()) or "-",
        )
    if services:
        console.print(table)
    table = Table("task family", "phase", "exit codes", title="tasks")
    for task in tasks:
        table.add_row(task.family, task.phase, str(task.exit_codes))
    if tasks:
        console.print(table)
