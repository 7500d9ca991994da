"""AWS clients (botocore) with the retry behaviour the deployer relies on, and error translation."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from ecs_deployer import __version__
from ecs_deployer.aws.service_models import SERVICE_MODELS
from ecs_deployer.errors import TransientAwsError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

# Standard mode retries throttling and 5xx with exponential backoff and full jitter, so
# bursts of deploys across many apps don't fail. (Adaptive mode's client-side rate limiter
# learns nothing useful in a Lambda that makes a few dozen calls and then ends.) What still
# fails after that becomes TransientAwsError, which the state machine retries with backoff.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    user_agent_extra=f"ecs-deployer/{__version__}",
)

_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


@contextmanager
def transient_errors_as_retryable() -> Iterator[None]:
    """Turn what is still failing after botocore's retries into a state-machine retry."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in _TRANSIENT_CODES:
            raise TransientAwsError(f"{error_code(exc)}: {error_message(exc)}") from exc
        raise
    except (ConnectionError, ReadTimeoutError) as exc:
        raise TransientAwsError(str(exc)) from exc


# botocore's session, not boto3's: importing boto3 imports s3transfer too, and the deployer
# makes plain clients only.
@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _client(service: str) -> Any:
    if service not in SERVICE_MODELS:
        # The layer ships no botocore model for it (service_models.py).
        raise ValueError(f"no botocore model shipped for {service!r}: add it to SERVICE_MODELS")
    return _session().create_client(service, config=RETRY_CONFIG)


def ecs_client() -> ECSClient:
    client: ECSClient = _client("ecs")
    return client


def events_client() -> EventBridgeClient:
    client: EventBridgeClient = _client("events")
    return client


def logs_client() -> Any:
    """CloudWatch Logs (untyped: the dev lock has no stubs for it)."""
    return _client("logs")


def codedeploy_client() -> Any:
    """CodeDeploy (untyped: the dev lock has no stubs for it)."""
    return _client("codedeploy")


def sns_client() -> Any:
    """SNS (untyped: the dev lock has no stubs for it)."""
    return _client("sns")


def ecr_client() -> ECRClient:
    client: ECRClient = _client("ecr")
    return client


def dynamodb_client() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def ssm_client() -> SSMClient:
    client: SSMClient = _client("ssm")
    return client


def sfn_client() -> SFNClient:
    client: SFNClient = _client("stepfunctions")
    return client
