"""What operators get wrong ends with a clear message and a meaningful exit code, never a
traceback: no stack, no credentials, no region, a bad command line."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from ecs_deployer_tools.cli import app
from ecs_deployer_tools.operator.aws import OperatorError
from ecs_deployer_tools.operator.stack import DEFAULT_STACK_NAME, default_stack_name
from tests.cli.conftest import no_traceback

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result

    from tests.cli.conftest import Local


def test_an_unknown_stack(local: Local) -> None:
    result = local.run("status", stack="no-such-stack")
    no_traceback(result)
    assert "stack 'no-such-stack' not found" in result.stderr


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No credentials or region from anywhere: env, files, instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_no_credentials(no_aws_config: pytest.MonkeyPatch) -> None:
    # Any endpoint: credentials are looked for before anything is sent.
    result = CliRunner().invoke(app, ["status", "--endpoint-url", "http://127.0.0.1:9"])
    no_traceback(result)
    assert "no AWS credentials found" in result.stderr


def test_no_region(no_aws_config: pytest.MonkeyPatch) -> None:
    no_aws_config.delenv("AWS_DEFAULT_REGION")
    no_aws_config.delenv("AWS_REGION")
    no_aws_config.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws_config.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    result = CliRunner().invoke(app, ["history", "shop", "--endpoint-url", "http://127.0.0.1:9"])
    no_traceback(result)
    assert "no AWS region" in result.stderr


def test_an_unknown_profile(no_aws_config: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["rule", "show", "--profile", "nobody"])
    no_traceback(result)
    assert "The config profile (nobody) could not be found" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["deploy", "shop"],  # neither --tag nor --digest
        ["plan", "shop"],
        ["history"],
        ["history", "shop", "--limit", "0"],
        ["deploy", "shop", "--tag", "v1", "--no-such-option"],
    ],
)
def test_a_wrong_command_line_exits_2(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_bad_input_is_refused_before_anything_starts() -> None:
    args = ["deploy", "shop", "--digest", "sha256:nothex", "--endpoint-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, args)
    no_traceback(result)
    # Printed as it is: no Rich markup eats the pattern's brackets.
    pattern = "image_digest: expected `str` matching regex '^sha256:[a-f0-9]{64}$'"
    assert pattern in result.stderr
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout) == {
        "error": "InputError",
        "message": f"invalid manual input: {pattern}",
        "fields": [{"path": "image_digest", "message": pattern.removeprefix("image_digest: ")}],
    }


def test_an_unreachable_endpoint_is_said_at_once(
    no_aws_config: pytest.MonkeyPatch, closed_port: int
) -> None:
    no_aws_config.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws_config.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    no_aws_config.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://127.0.0.1:{closed_port}"
    sent: list[str] = []
    # botocore would retry a refused connection with backoff: no request may be sent at all.
    no_aws_config.setattr(
        "botocore.endpoint.Endpoint._send", lambda self, request: sent.append(request.url)
    )
    result = CliRunner().invoke(app, ["status", "--endpoint-url", endpoint])
    no_traceback(result)
    assert f"cannot reach {endpoint}" in result.stderr
    assert "is `ecs-deployer local up` running?" in result.stderr
    assert sent == []
    no_aws_config.setenv("AWS_ENDPOINT_URL", endpoint)
    code, document = _json(CliRunner().invoke(app, ["history", "shop", "--json"]))
    assert (code, document["error"]) == (1, "EndpointUnreachableError")


def _json(result: Result) -> tuple[int, Any]:
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('[default.global.parameters]\nstack_name = "global"\n', "global"),
        (
            '[default.global.parameters]\nstack_name = "global"\n'
            '[default.deploy.parameters]\nstack_name = "deploy"\n',
            "deploy",
        ),
        ('[prod.deploy.parameters]\nstack_name = "prod"\n', DEFAULT_STACK_NAME),
        ("version = 0.1\n", DEFAULT_STACK_NAME),
    ],
)
def test_the_stack_name_comes_from_samconfig(tmp_path: Path, text: str, name: str) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(text)
    assert default_stack_name(samconfig) == name


def test_without_samconfig_the_stack_is_the_default(tmp_path: Path) -> None:
    assert default_stack_name(tmp_path / "samconfig.toml") == DEFAULT_STACK_NAME
    broken = tmp_path / "broken.toml"
    broken.write_text("[default\n")
    with pytest.raises(OperatorError, match="is not valid TOML"):
        default_stack_name(broken)
