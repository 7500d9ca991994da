"""AWS clients (botocore) with the retry behaviour the deployer relies on, and error translation."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from ecs_deployer import __version__
from ecs_deployer.aws.service_models import SERVICE_MODELS
from ecs_deployer.domain.accounts import session_name, target_of
from ecs_deployer.errors import TargetRoleDenied, TransientAwsError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.accounts import Target
    from ecs_deployer.settings import Settings

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


def _sts_client() -> Any:
    """STS (untyped: the dev lock has no stubs for it)."""
    return _client("sts")


class TargetClients:
    """The clients of one invocation for an app's account: the deployer's own (no target),
    or the target account's, through its deploy role.

    The role is assumed with the stack's external id and a session name carrying the
    deployment id, when the first call needs it (botocore's deferred credentials): a step
    that makes no call in the account assumes nothing, and a role that cannot be assumed
    fails that first call with TargetRoleDenied, before anything reaches the account. One
    session per (account, region), for this invocation only (its credentials and its
    session name are this deployment's).
    """

    def __init__(self, target: Target | None, deployment_id: str, external_id: str | None) -> None:
        self._target = target
        self._session_name = session_name(deployment_id)
        self._external_id = external_id
        self._clients: dict[str, Any] = {}
        self._session: botocore.session.Session | None = None

    @classmethod
    def of(cls, deployment: Deployment, settings: Settings) -> TargetClients:
        """The clients for ``deployment``'s app, in the account its config names."""
        return cls(
            target_of(deployment.config, settings.target_roles),
            deployment.deployment_id,
            settings.target_role_external_id,
        )

    def ecs(self) -> ECSClient:
        if self._target is None:
            return ecs_client()
        client: ECSClient = self._target_client(self._target, "ecs")
        return client

    def logs(self) -> Any:
        """CloudWatch Logs (untyped: the dev lock has no stubs for it)."""
        return logs_client() if self._target is None else self._target_client(self._target, "logs")

    def codedeploy(self) -> Any:
        """CodeDeploy (untyped: the dev lock has no stubs for it)."""
        if self._target is None:
            return codedeploy_client()
        return self._target_client(self._target, "codedeploy")

    def _target_client(self, target: Target, service: str) -> Any:
        if service not in self._clients:
            region = target.region or _session().get_config_variable("region")
            self._clients[service] = self._target_session(target).create_client(
                service, region_name=region, config=RETRY_CONFIG
            )
        return self._clients[service]

    def _target_session(self, target: Target) -> botocore.session.Session:
        if self._session is None:
            session = botocore.session.Session()
            # The models the process already loaded, not a second copy of them.
            session.register_component("data_loader", _session().get_component("data_loader"))
            # botocore has no public setter for a session's credentials.
            session._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
                refresh_using=lambda: self._assume(target), method="assume-role"
            )
            self._session = session
        return self._session

    def _assume(self, target: Target) -> dict[str, str]:
        arguments = {"RoleArn": target.role_arn, "RoleSessionName": self._session_name}
        if self._external_id is not None:
            arguments["ExternalId"] = self._external_id
        try:
            with transient_errors_as_retryable():
                credentials = _sts_client().assume_role(**arguments)["Credentials"]
        except ClientError as exc:
            raise TargetRoleDenied(
                f"cannot assume the deploy role {target.role_arn} of account {target.account}: "
                f"{error_code(exc)}: {error_message(exc)}"
            ) from exc
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }
