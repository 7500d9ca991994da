"""The Lambdas make clients only for the services whose botocore models the layer ships."""

from __future__ import annotations

import pytest

from ecs_deployer.aws import clients
from ecs_deployer.aws.service_models import SERVICE_MODELS


def test_a_client_for_a_service_the_layer_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="'sqs'"):
        clients._client("sqs")


@pytest.mark.parametrize(
    "make",
    [
        clients.dynamodb_client,
        clients.ecr_client,
        clients.ecs_client,
        clients.events_client,
        clients.logs_client,
        clients.sfn_client,
        clients.sns_client,
        clients._sts_client,
        clients.ssm_client,
    ],
)
def test_every_gateway_client_is_a_shipped_service(
    make: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = make()  # type: ignore[operator]

    assert client.meta.service_model.service_name in SERVICE_MODELS
