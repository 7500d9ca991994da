"""The config store tells a missing config, a passing failure and a denied read apart, and
refuses a config it cannot read as text (a SecureString): in the store, in Resolve (a
manual request and a push's dispatch) and in the operator's `config push` / `show`."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.domain.admission import Rejected
from ecs_deployer.domain.dispatch import Dispatch
from ecs_deployer.errors import ConfigAccessDenied, ConfigError, TransientAwsError
from ecs_deployer.steps.resolve import resolve
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.operator.configs import push_config, stored_config
from tests.aws_fixtures import PREFIX, STARTED, context, push
from tests.support import load_event

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_ssm import SSMClient

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.operator.stack import Deployer

SHOP = f"{PREFIX}/shop"
CONFIG = json.dumps(
    {"version": "v1", "cluster": "demo", "services": [{"name": "web", "containers": ["app"]}]}
)
# What AWS says when IAM denies the read (the action and the resource are in the message).
DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/deployer/resolve is not authorized to "
    "perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:123456789012:parameter"
    f"{SHOP} because no identity-based policy allows the ssm:GetParameter action"
)


class FakeTime:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def stubber() -> Iterator[Stubber]:
    """An SSM client that answers only what the test queued, in order, and nothing else."""
    with Stubber(boto3.client("ssm")) as stubbed:
        yield stubbed
        stubbed.assert_no_pending_responses()


def _store(stubber: Stubber, **options: Any) -> ConfigStore:
    return ConfigStore(PREFIX, cast("SSMClient", stubber.client), **options)


def _parameter(name: str = SHOP, value: str = CONFIG, kind: str = "String") -> dict[str, Any]:
    return {"Parameter": {"Name": name, "Type": kind, "Value": value}}


def _error(
    stubber: Stubber, operation: str, code: str, status: int = 400, message: str = ""
) -> None:
    stubber.add_client_error(
        operation, service_error_code=code, service_message=message, http_status_code=status
    )


# The store


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("InternalServerError", 500), ("ServiceUnavailable", 503)],
)
def test_a_read_that_keeps_failing_for_a_passing_reason_is_retried(
    stubber: Stubber, code: str, status: int
) -> None:
    _error(stubber, "get_parameter", code, status, "Rate exceeded")
    with pytest.raises(TransientAwsError, match=code):
        _store(stubber).load("shop")


def test_a_missing_config_is_a_config_error_naming_the_parameter(stubber: Stubber) -> None:
    _error(stubber, "get_parameter", "ParameterNotFound")
    with pytest.raises(ConfigError, match=f"no config for app 'shop'.*{SHOP} does not exist"):
        _store(stubber).load("shop")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", DENIED),
        # KMS's refusal reaches the SSM caller as AccessDeniedException too
        (
            "AccessDeniedException",
            "The ciphertext refers to a customer master key that does not exist, does not "
            "exist in this region, or you are not allowed to access. (Service: AWSKMS)",
        ),
        ("InvalidKeyId", "The query key ID isn't valid."),
    ],
)
def test_a_denied_read_names_the_action_and_the_parameter(
    stubber: Stubber, code: str, message: str
) -> None:
    _error(stubber, "get_parameter", code, message=message)
    with pytest.raises(ConfigAccessDenied) as caught:
        _store(stubber).load("shop")
    said = str(caught.value)
    assert f"ssm:GetParameter on {SHOP}" in said
    assert f"{code}: {message}" in said
    assert "app 'shop'" in said


@pytest.mark.parametrize("kind", ["SecureString", "StringList"])
def test_a_config_that_is_not_a_string_parameter_is_refused(stubber: Stubber, kind: str) -> None:
    stubber.add_response("get_parameter", _parameter(value="AQICAHh...ciphertext", kind=kind))
    with pytest.raises(ConfigError) as caught:
        _store(stubber).load("shop")
    said = str(caught.value)
    assert f"config of app 'shop' ({SHOP}) is a {kind} parameter" in said
    assert "only String parameters" in said
    if kind == "SecureString":
        assert "the task definition's `secrets`" in said


def test_a_config_is_read_again_only_once_its_max_age_has_passed(stubber: Stubber) -> None:
    time = FakeTime()
    store = _store(stubber, max_age=60, monotonic=time)
    stubber.add_response("get_parameter", _parameter())
    first = store.load("shop")
    time.seconds = 59.9
    assert store.load("shop") == first  # the stubber would refuse a second call
    time.seconds = 60.0
    changed = CONFIG.replace('"demo"', '"production"')
    stubber.add_response("get_parameter", _parameter(value=changed))
    assert store.load("shop").config.cluster == "production"


def test_a_failed_read_is_not_cached(stubber: Stubber) -> None:
    store = _store(stubber, max_age=60, monotonic=FakeTime())
    _error(stubber, "get_parameter", "ThrottlingException")
    with pytest.raises(TransientAwsError):
        store.load("shop")
    stubber.add_response("get_parameter", _parameter())
    assert store.load("shop").config.cluster == "demo"


def test_the_max_age_comes_from_powertools_variable(
    stubber: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "0")  # 0: no caching
    store = _store(stubber, monotonic=FakeTime())
    for _ in range(2):
        stubber.add_response("get_parameter", _parameter())
        store.load("shop")


def test_listing_the_configs_reports_one_it_cannot_read(stubber: Stubber) -> None:
    stubber.add_response(
        "get_parameters_by_path",
        {
            "Parameters": [
                _parameter()["Parameter"],
                _parameter(f"{PREFIX}/vault", "AQICAHh...", "SecureString")["Parameter"],
            ]
        },
        {"Path": PREFIX, "Recursive": False},
    )
    texts = _store(stubber).load_all_texts()
    assert texts["shop"] == CONFIG
    refused = texts["vault"]
    assert isinstance(refused, ConfigError)
    assert f"config of app 'vault' ({PREFIX}/vault) is a SecureString parameter" in str(refused)


def test_listing_the_configs_distinguishes_passing_and_denied_failures(stubber: Stubber) -> None:
    _error(stubber, "get_parameters_by_path", "ThrottlingException")
    with pytest.raises(TransientAwsError, match="ThrottlingException"):
        _store(stubber).load_all_texts()
    _error(stubber, "get_parameters_by_path", "AccessDeniedException", message="denied")
    with pytest.raises(ConfigAccessDenied) as caught:
        _store(stubber).load_all_texts()
    assert f"ssm:GetParametersByPath on {PREFIX}" in str(caught.value)
    assert "AccessDeniedException: denied" in str(caught.value)


# Resolve: a manual request, and a push's dispatch


def _with_store(deps: AdmissionDeps, stubber: Stubber) -> AdmissionDeps:
    return dataclasses.replace(deps, configs=_store(stubber))


def test_a_throttled_config_read_is_retried_not_recorded_as_a_rejection(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable, stubber: Stubber
) -> None:
    _error(stubber, "get_parameter", "ThrottlingException", message="Rate exceeded")
    with pytest.raises(TransientAwsError, match="ThrottlingException"):
        resolve(
            {"app": "shop", "image_tag": "v1.0.0"}, context(), _with_store(deps, stubber), STARTED
        )
    assert table.history("shop") == []


def test_a_denied_config_read_rejects_the_request_with_its_own_error(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable, stubber: Stubber
) -> None:
    _error(stubber, "get_parameter", "AccessDeniedException", message=DENIED)
    result = resolve(
        {"app": "shop", "image_tag": "v1.0.0"}, context(), _with_store(deps, stubber), STARTED
    )
    assert isinstance(result, Rejected)
    assert result.outcome.error == "ConfigAccessDenied"
    assert f"ssm:GetParameter on {SHOP}" in json.loads(result.outcome.cause or "")["message"]
    [record] = table.history("shop")
    assert (record.status, record.error) == ("FAILED", "ConfigAccessDenied")


def test_a_secure_string_config_rejects_the_request(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    boto3.client("ssm").put_parameter(Name=SHOP, Value=CONFIG, Type="SecureString", Overwrite=True)
    result = resolve({"app": "shop", "image_tag": "v1.0.0"}, context(), deps, STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == "ConfigError"
    assert "is a SecureString parameter" in json.loads(result.outcome.cause or "")["message"]


def _push_event(digest: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("ecr_push")
    event["detail"].update({"repository-name": "shop", "image-digest": digest, "image-tag": "v2"})
    return event


def test_a_push_whose_configs_cannot_be_listed_for_now_is_retried_not_ignored(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, stubber: Stubber
) -> None:
    _error(stubber, "get_parameters_by_path", "ThrottlingException", message="Rate exceeded")
    with pytest.raises(TransientAwsError, match="ThrottlingException"):
        resolve(_push_event(push("v2")), context(), _with_store(deps, stubber), STARTED)


def test_a_push_whose_configs_may_not_be_listed_fails_with_its_own_error(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, stubber: Stubber
) -> None:
    _error(stubber, "get_parameters_by_path", "AccessDeniedException", message="denied")
    result = resolve(_push_event(push("v2")), context(), _with_store(deps, stubber), STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == "ConfigAccessDenied"
    cause = json.loads(result.outcome.cause or "")
    assert f"ssm:GetParametersByPath on {PREFIX}" in cause["message"]


def test_a_push_reports_a_secure_string_config_and_still_deploys_the_others(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/vault", Value=CONFIG, Type="SecureString")
    result = resolve(_push_event(push("v2")), context(), deps, STARTED)
    assert isinstance(result, Dispatch)
    assert [target.app for target in result.targets] == ["shop"]
    [error] = result.errors
    assert f"config of app 'vault' ({PREFIX}/vault) is a SecureString parameter" in error


# The operator's tools


@dataclasses.dataclass(frozen=True)
class _Aws:
    ssm: Any


@dataclasses.dataclass(frozen=True)
class _Deployer:
    """What `stored_config` reads of a Deployer."""

    configs: ConfigStore
    aws: _Aws


def test_config_push_and_show_refuse_a_secure_string(
    seeded: sample_app.SeededApp,
) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=SHOP, Value=CONFIG, Type="SecureString", Overwrite=True)
    subnet = boto3.client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    with pytest.raises(ConfigError, match="is a SecureString parameter") as pushed:
        push_config(ssm, PREFIX, "shop", sample_app.app_config(subnet, "sg-1"))
    assert f"aws ssm delete-parameter --name {SHOP}" in str(pushed.value)
    assert ssm.get_parameter(Name=SHOP)["Parameter"]["Type"] == "SecureString"  # untouched
    deployer = cast("Deployer", _Deployer(ConfigStore(PREFIX, ssm), _Aws(ssm)))
    with pytest.raises(ConfigError, match="is a SecureString parameter"):
        stored_config(deployer, "shop")
