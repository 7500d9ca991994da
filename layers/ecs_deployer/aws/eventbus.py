"""The EventBridge adapter: publish a deployment's lifecycle events (domain/lifecycle.py) on
the stack's bus. Best effort: a failure to publish is logged, never raised."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from ecs_deployer.domain.lifecycle import DETAIL_TYPES, SOURCE
from ecs_deployer.structs import encode_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_events import EventBridgeClient

    from ecs_deployer.domain.lifecycle import LifecycleDetail

logger = Logger(child=True)


class LifecycleEvents:
    def __init__(self, client: Callable[[], EventBridgeClient], bus: str) -> None:
        """``client`` makes the EventBridge client when the first event is published: most
        Resolve invocations (a push's dispatch) publish none, so their cold start skips it."""
        self._client = client
        self._bus = bus

    @cached_property
    def _events(self) -> EventBridgeClient:
        return self._client()

    def publish(self, detail: LifecycleDetail) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPES[detail.status],
            "Detail": encode_json(detail).decode(),
            "EventBusName": self._bus,
            "Resources": [detail.execution_arn],
        }
        try:
            response = self._events.put_events(Entries=[entry])  # type: ignore[list-item]
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not publish a deployment event", extra={"error": str(exc)})
            return
        if response.get("FailedEntryCount"):
            failed = response["Entries"][0]
            logger.warning(
                "could not publish a deployment event",
                extra={"error": failed.get("ErrorCode"), "reason": failed.get("ErrorMessage")},
            )
