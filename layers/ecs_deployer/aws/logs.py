"""The CloudWatch Logs adapter: the last lines of a task's log stream, in the log groups the
stack allows (``TaskLogGroupPrefixes``)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.domain.task_logs import LogStream


class TaskLogs:
    def __init__(self, client: Callable[[], Any], group_prefixes: frozenset[str]) -> None:
        """``client`` makes a boto3 CloudWatch Logs client (the dev lock has no stubs for it)
        when a failed task's log is first read: most polls read none, nor their cold start."""
        self._client = client
        self._prefixes = group_prefixes

    @cached_property
    def _logs(self) -> Any:
        return self._client()

    def last_lines(self, stream: LogStream, count: int) -> list[str]:
        """Its last ``count`` lines; none when the stack may not read the group, the stream
        is in another region, or there is no such stream (the task printed nothing)."""
        region: str = self._logs.meta.region_name
        allowed = any(stream.group.startswith(prefix) for prefix in self._prefixes)
        if not allowed or (stream.region is not None and stream.region != region):
            return []
        try:
            with transient_errors_as_retryable():
                response = self._logs.get_log_events(
                    logGroupName=stream.group,
                    logStreamName=stream.stream,
                    limit=count,
                    startFromHead=False,
                )
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []
            raise
        return [str(event.get("message", "")) for event in response["events"]]
