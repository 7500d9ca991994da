"""The last lines a failed one-off task printed, for its failure cause.

ECS's awslogs log driver sends a container's output to the stream
``PREFIX/CONTAINER/TASK-ID`` of its ``awslogs-group``, where PREFIX is the container's
``awslogs-stream-prefix`` (without one, the stream is named after a Docker container id the
deployer never sees: no excerpt). An operator reading why a migration failed wants its last
words there, as ecspresso shows them; they are capped, and the values the task definition
holds in clear (its environment) are masked, whatever the task printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

EXCERPT_LINES: Final = 10
_LINE_CHARS: Final = 200
_MASK: Final = "****"
_SHORTEST_MASKED: Final = 4  # a 1-3 character value would mask ordinary words


@dataclass(frozen=True)
class LogStream:
    group: str
    stream: str
    region: str | None  # awslogs-region, when the container names one


def awslogs_stream(container: Mapping[str, Any], task_arn: str) -> LogStream | None:
    """Where the awslogs driver sends ``container``'s output in task ``task_arn``."""
    config = container.get("logConfiguration") or {}
    options = config.get("options") or {}
    prefix, group = options.get("awslogs-stream-prefix"), options.get("awslogs-group")
    if config.get("logDriver") != "awslogs" or not prefix or not group:
        return None
    task_id = task_arn.rsplit("/", 1)[-1]
    return LogStream(
        group=group,
        stream=f"{prefix}/{container['name']}/{task_id}",
        region=options.get("awslogs-region"),
    )


def clear_values(container: Mapping[str, Any]) -> list[str]:
    """The values a container definition holds in clear: never repeated in a cause."""
    return [str(item.get("value", "")) for item in container.get("environment", [])]


def excerpt(lines: Sequence[str], masked: Iterable[str]) -> str:
    """The last lines, each capped, with every ``masked`` value replaced."""
    values = sorted((v for v in masked if len(v) >= _SHORTEST_MASKED), key=len, reverse=True)
    shown = []
    for printed in lines[-EXCERPT_LINES:]:
        line = printed
        for value in values:
            line = line.replace(value, _MASK)
        line = line.rstrip()
        shown.append(line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…")
    return " | ".join(shown)
