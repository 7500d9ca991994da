"""The SNS adapter: each finished deployment's readable summary, and each approval asked
for (domain/lifecycle.py, ``notice``), on the stack's optional summary topic. Best effort,
like the events: a failure to publish is logged, never raised."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from ecs_deployer.aws.clients import events_client, sns_client
from ecs_deployer.aws.eventbus import LifecycleEvents
from ecs_deployer.domain.lifecycle import Broadcast, notice

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.domain.lifecycle import LifecycleDetail
    from ecs_deployer.settings import Settings

logger = Logger(child=True)


class SummaryTopic:
    def __init__(self, client: Callable[[], Any], topic_arn: str | None) -> None:
        """No ``topic_arn``: summaries are off (the stack's SummaryTopicArn is empty).
        ``client`` makes the SNS client when the first summary is published."""
        self._client = client
        self._topic_arn = topic_arn

    @cached_property
    def _sns(self) -> Any:
        return self._client()

    def publish(self, detail: LifecycleDetail) -> None:
        """Tell the topic how a deployment ended, or that it waits for an answer; a
        deployment that starts is not news."""
        if self._topic_arn is None or detail.status == "STARTED":
            return
        told = notice(detail)
        try:
            self._sns.publish(TopicArn=self._topic_arn, Subject=told.subject, Message=told.body)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not publish a deployment summary", extra={"error": str(exc)})


def news_for_operators(settings: Settings) -> Broadcast:
    """Who hears how a deployment ended (Finalize, CloseExecution) and that it waits for an
    approval (RegisterWaiter): the event bus, and the summary topic when the stack names one."""
    return Broadcast(
        (
            LifecycleEvents(events_client, settings.event_bus_name),
            SummaryTopic(sns_client, settings.summary_topic_arn),
        )
    )
