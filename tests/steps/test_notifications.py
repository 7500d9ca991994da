"""The summary topic (aws/notifications.py) hears how deployments end, only when the stack
names one, and best effort: SNS refusing or unreachable never fails the step."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from msgspec.structs import replace

from ecs_deployer.aws.notifications import SummaryTopic
from ecs_deployer.domain.lifecycle import Broadcast, LifecycleDetail
from tests.steps.test_eventbus import DETAIL

TOPIC = "arn:aws:sns:us-east-1:123456789012:deployments"


class _Unreachable:
    def publish(self, **_kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com")


class _Heard:
    def __init__(self) -> None:
        self.details: list[LifecycleDetail] = []

    def publish(self, detail: LifecycleDetail) -> None:
        self.details.append(detail)


def _no_client() -> Any:
    raise AssertionError("no SNS client is made")


def test_a_finished_deployment_is_published_with_its_subject() -> None:
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stubbed:
        stubbed.add_response(
            "publish",
            {"MessageId": "1"},
            {
                "TopicArn": TOPIC,
                "Subject": "ecs-deployer: shop SUCCEEDED",
                "Message": ANY,
            },
        )
        SummaryTopic(lambda: client, TOPIC).publish(DETAIL)
        stubbed.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("topic", "status"), [(None, "SUCCEEDED"), (TOPIC, "STARTED")], ids=["off", "started"]
)
def test_nothing_is_published_without_a_topic_nor_when_a_deployment_starts(
    topic: str | None, status: str
) -> None:
    SummaryTopic(_no_client, topic).publish(replace(DETAIL, status=status))


def test_a_summary_sns_refuses_is_logged_not_raised_and_the_others_still_hear() -> None:
    client = boto3.client("sns", region_name="us-east-1")
    heard = _Heard()
    with Stubber(client) as stubbed:
        stubbed.add_client_error("publish", service_error_code="AuthorizationError")
        Broadcast((SummaryTopic(lambda: client, TOPIC), heard)).publish(DETAIL)
        stubbed.assert_no_pending_responses()
    assert heard.details == [DETAIL]


def test_an_unreachable_topic_is_logged_not_raised() -> None:
    SummaryTopic(_Unreachable, TOPIC).publish(DETAIL)
