"""AWS access for operators: boto3's credential chain, or a profile, a region, an endpoint."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import boto3

from ecs_deployer.aws.clients import RETRY_CONFIG

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient


class OperatorError(Exception):
    """A problem the operator can fix (a missing stack, an unknown app): a message, no trace."""

    @property
    def error_name(self) -> str:
        return type(self).__name__


class EndpointUnreachableError(OperatorError):
    """Nothing accepts connections at the endpoint (e.g. the local cloud is not running)."""


# A refused connection on this machine is final at once: botocore would retry it with
# backoff for seconds. Remote endpoints keep botocore's retries (networks blip).
_PROBE_SECONDS = 2.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _probe_loopback(url: str) -> None:
    """Raise EndpointUnreachableError when ``url`` names this machine and nothing listens there."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not _is_loopback(host):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=_PROBE_SECONDS).close()
    except OSError as exc:
        endpoint = f"{parts.scheme}://{parts.netloc}"
        reason = exc.strerror or str(exc)
        raise EndpointUnreachableError(
            f"cannot reach {endpoint}: {reason}; is `ecs-deployer local up` running? "
            "(or pass --endpoint-url, or unset AWS_ENDPOINT_URL)"
        ) from exc


@dataclass(frozen=True)
class AwsTarget:
    profile: str | None = None
    region: str | None = None
    # None leaves the endpoint to boto3: AWS_ENDPOINT_URL when set (the local cloud), else AWS.
    endpoint_url: str | None = None


class _ClientOptions(TypedDict):
    endpoint_url: str | None
    config: Config


class Aws:
    """One boto3 session and the clients a command needs, each made once."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self._session = boto3.session.Session(
            profile_name=target.profile, region_name=target.region
        )
        # What every client is made with. Each property calls session.client itself (rather
        # than a helper taking any name) so the stubs still check its name against its type.
        self._client_options = _ClientOptions(endpoint_url=target.endpoint_url, config=RETRY_CONFIG)
        # Before the first request to each host: after credentials and region are found,
        # before botocore's retries. Clients copy the session's handlers when made.
        self._probed: set[str] = set()
        self._session.events.register("before-send", self._probe_once)

    def _probe_once(self, request: Any, **_kwargs: Any) -> None:
        host = urlsplit(request.url).netloc
        if host not in self._probed:
            _probe_loopback(request.url)
            self._probed.add(host)

    @property
    def region(self) -> str | None:
        return self._session.region_name

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        return self._session.client("cloudformation", **self._client_options)

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self._session.client("dynamodb", **self._client_options)

    @cached_property
    def ecr(self) -> ECRClient:
        return self._session.client("ecr", **self._client_options)

    @cached_property
    def ecs(self) -> ECSClient:
        return self._session.client("ecs", **self._client_options)

    @cached_property
    def events(self) -> EventBridgeClient:
        return self._session.client("events", **self._client_options)

    @cached_property
    def sfn(self) -> SFNClient:
        return self._session.client("stepfunctions", **self._client_options)

    @cached_property
    def ssm(self) -> SSMClient:
        return self._session.client("ssm", **self._client_options)

    @cached_property
    def sts(self) -> STSClient:
        return self._session.client("sts", **self._client_options)
