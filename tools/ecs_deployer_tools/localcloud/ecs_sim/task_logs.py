"""What a simulated task's containers print, as the awslogs log driver delivers it.

A container whose definition uses the `awslogs` driver with `awslogs-stream-prefix` logs to
the stream `PREFIX/CONTAINER/TASK-ID` of its `awslogs-group` (`ecs_deployer.domain.task_logs`;
the log group must exist on AWS unless `awslogs-create-group` is true: the simulation creates
it either way). The container a `TaskFault` is about prints the fault's `log_lines` before it
stops; the others print nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moto.logs.models import logs_backends

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from ecs_deployer.domain.task_logs import LogStream


def write(
    stream: LogStream, account_id: str, default_region: str, lines: Sequence[str], now: datetime
) -> None:
    """Deliver ``lines`` to ``stream``, as printed just before ``now``."""
    if not lines:
        return
    backend = logs_backends[account_id][stream.region or default_region]
    if stream.group not in backend.groups:
        backend.create_log_group(stream.group, tags={})
    if stream.stream not in backend.groups[stream.group].streams:
        backend.create_log_stream(stream.group, stream.stream)
    millis = int(now.timestamp() * 1000)
    backend.put_log_events(
        stream.group, stream.stream, [{"timestamp": millis, "message": line} for line in lines]
    )
