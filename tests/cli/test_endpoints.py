"""Plain http carries an operator's signed requests in clear: the CLI sends it only to this
machine (the local cloud), wherever the endpoint comes from; https goes to any host."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from botocore.endpoint import Endpoint
from typer.testing import CliRunner

from ecs_deployer_tools.cli import app
from tests.cli.conftest import no_traceback

if TYPE_CHECKING:
    from pathlib import Path

    from botocore.awsrequest import AWSPreparedRequest

    from tests.cli.conftest import Local

REMOTE = "http://deployer.example.com:4566"
# A loopback port nothing listens on: the CLI says so at once, sending nothing.
CLOSED = 9


class Sent(Exception):  # noqa: N818 (not an error: it marks a request that left)
    """A request reached the network; raised instead of sending it."""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """The URL of each request that would have left this machine: none really does. Requests
    to the local cloud go through. No AWS config file but the test's own."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    urls: list[str] = []
    send_for_real = Endpoint._send  # type: ignore[attr-defined]  # private: not in the stubs

    def send(self: Endpoint, request: AWSPreparedRequest) -> object:
        if urlsplit(request.url).hostname == "127.0.0.1":
            return send_for_real(self, request)
        urls.append(request.url)
        raise Sent(request.url)

    monkeypatch.setattr(Endpoint, "_send", send)
    return urls


@pytest.mark.parametrize(
    ("args", "variables", "config", "origin"),
    [
        (["--endpoint-url", REMOTE], {}, "", "--endpoint-url"),
        ([], {"AWS_ENDPOINT_URL": REMOTE}, "", "AWS_ENDPOINT_URL"),
        ([], {"AWS_ENDPOINT_URL_CLOUDFORMATION": REMOTE}, "", "AWS_ENDPOINT_URL_CLOUDFORMATION"),
        ([], {}, f"[default]\nendpoint_url = {REMOTE}\n", "endpoint_url"),
        (["--endpoint-url", "http://10.1.2.3:4566"], {}, "", "--endpoint-url"),
    ],
    ids=["option", "variable", "service-variable", "config-file", "private-address"],
)
def test_plain_http_to_another_host_is_refused_before_anything_is_sent(
    sent: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    variables: dict[str, str],
    config: str,
    origin: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "config").write_text(config)
    url = args[1] if args else REMOTE
    result = CliRunner().invoke(app, ["status", *args])
    no_traceback(result)
    message = " ".join(result.stderr.split())
    assert f"{origin} {url}" in message, message
    assert "use https, or a loopback address" in message, message
    assert sent == []

    document = json.loads(CliRunner().invoke(app, ["status", *args, "--json"]).stdout)
    assert document["error"] == "InsecureEndpointError"
    assert f"{origin} {url}" in document["message"]
    assert sent == []


def test_a_service_s_own_variable_is_refused_when_that_service_is_called(
    sent: list[str], monkeypatch: pytest.MonkeyPatch, local: Local
) -> None:
    # CloudFormation goes to the local cloud; DynamoDB (the deployments) would go elsewhere.
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", REMOTE)
    args = ["--region", local.cloud.region, "--stack", local.cloud.stack_name]
    result = CliRunner().invoke(app, ["status", *args])
    no_traceback(result)
    assert f"AWS_ENDPOINT_URL_DYNAMODB {REMOTE}" in " ".join(result.stderr.split())
    assert sent == []


def test_https_goes_to_any_host(sent: list[str]) -> None:
    result = CliRunner().invoke(app, ["status", "--endpoint-url", "https://deployer.example.com"])
    assert isinstance(result.exception, Sent), result.output
    assert [urlsplit(url).netloc for url in sent] == ["deployer.example.com"]


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://127.0.0.1:{CLOSED}",
        f"http://127.0.0.2:{CLOSED}",
        f"http://localhost:{CLOSED}",
        f"http://LocalHost:{CLOSED}",
        f"http://[::1]:{CLOSED}",
    ],
)
def test_plain_http_to_this_machine_is_allowed(sent: list[str], endpoint: str) -> None:
    result = CliRunner().invoke(app, ["status", "--endpoint-url", endpoint, "--json"])
    no_traceback(result)
    assert json.loads(result.stdout)["error"] == "EndpointUnreachableError"
    assert sent == []


def test_an_assumed_role_s_credentials_are_fetched_under_the_same_rule(
    sent: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # botocore's own STS client (AssumeRole, signed with the source profile's keys) too.
    (tmp_path / "config").write_text(
        "[profile deployer]\nrole_arn = arn:aws:iam::123456789012:role/deployer\n"
        "source_profile = base\n"
        "[profile base]\naws_access_key_id = base\naws_secret_access_key = base\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", REMOTE)
    args = ["--profile", "deployer", "--endpoint-url", "https://deployer.example.com"]
    result = CliRunner().invoke(app, ["status", *args])
    no_traceback(result)
    assert f"AWS_ENDPOINT_URL_STS {REMOTE}" in " ".join(result.stderr.split())
    assert sent == []
