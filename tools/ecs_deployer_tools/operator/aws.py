"""AWS access for operators: boto3's credential chain, or a profile, a region, an endpoint."""

from __future__ import annotations

import ipaddress
import os
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


class InsecureEndpointError(OperatorError):
    """Plain http to another machine: the signed requests would cross the network in clear."""


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


def _same_host(configured: str, url: str) -> bool:
    wanted, seen = urlsplit(configured), urlsplit(url)
    return (wanted.scheme, wanted.hostname, wanted.port) == (seen.scheme, seen.hostname, seen.port)


def _refuse_plain_http(url: str, origin: str) -> None:
    """Raise InsecureEndpointError unless ``url`` is https, or names this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" or _is_loopback(parts.hostname or ""):
        return
    raise InsecureEndpointError(
        f"{origin} is plain http to another machine, which would carry your signed requests "
        "in clear: use https, or a loopback address (127.0.0.1, ::1, localhost) for the "
        "local cloud"
    )


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
        # before botocore's retries. Every client copies the session's handlers when made,
        # botocore's own too (e.g. the STS client of an assume-role profile), so this sees
        # every request, wherever its endpoint came from.
        self._checked: set[str] = set()
        self._session.events.register("before-send", self._check_endpoint_once)

    def _check_endpoint_once(self, request: Any, event_name: str, **_kwargs: Any) -> None:
        host = urlsplit(request.url).netloc
        if host not in self._checked:
            # before-send.<hyphenized service id>.<operation>
            service = event_name.split(".")[1]
            _refuse_plain_http(request.url, self._endpoint_origin(request.url, service))
            _probe_loopback(request.url)
            self._checked.add(host)

    def _endpoint_origin(self, url: str, service: str) -> str:
        """Where ``url``'s endpoint was configured, as the operator set it: what botocore
        reads, in its order (the option, then the variables, then the config file)."""
        service_variable = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
        configured = {
            "--endpoint-url": self.target.endpoint_url,
            service_variable: os.environ.get(service_variable),
            "AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL"),
        }
        for origin, value in configured.items():
            if value and _same_host(value, url):
                return f"{origin} {value}"
        parts = urlsplit(url)
        profile = self._session.profile_name
        return (
            f"endpoint_url {parts.scheme}://{parts.netloc} (the AWS config file, profile "
            f"'{profile}')"
        )

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
