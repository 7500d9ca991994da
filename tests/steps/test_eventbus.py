"""Publishing a deployment event is best effort (aws/eventbus.py): EventBridge refusing it,
or unreachable, never fails the step that publishes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from ecs_deployer.aws.eventbus import LifecycleEvents
from ecs_deployer.domain.lifecycle import LifecycleDetail

DETAIL = LifecycleDetail(
    app="shop",
    deployment_id="manual-1",
    status="SUCCEEDED",
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v2.0.0",
    trigger="manual",
    execution_arn="arn:aws:states:us-east-1:123456789012:execution:ecs-deployer-deploy:manual-1",
    console_url="https://example.invalid",
)


class _Unreachable:
    def put_events(self, **_kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")


@pytest.mark.parametrize("failure", ["refused", "failed entry"])
def test_a_refused_event_is_logged_not_raised(failure: str) -> None:
    client = boto3.client("events", region_name="us-east-1")
    with Stubber(client) as stubbed:
        if failure == "refused":
            stubbed.add_client_error("put_events", service_error_code="AccessDeniedException")
        else:
            stubbed.add_response(
                "put_events",
                {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]},
            )
        LifecycleEvents(lambda: client, "default").publish(DETAIL)
        stubbed.assert_no_pending_responses()


def test_an_unreachable_bus_is_logged_not_raised() -> None:
    LifecycleEvents(_Unreachable, "default").publish(DETAIL)  # type: ignore[arg-type]
