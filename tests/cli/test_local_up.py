"""`ecs-deployer local up` in this process, its wait for Ctrl-C replaced by a check of what
it serves: a busy port is refused before anything starts, and the startup says how to use
the cloud."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from typer.testing import CliRunner

from ecs_deployer_tools.cli import app, local_commands
from ecs_deployer_tools.localcloud.cloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 another program listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_busy_port_exits_1_at_once_with_a_hint(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_cloud(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the local cloud was set up for a port it cannot serve on")

    monkeypatch.setattr("ecs_deployer_tools.cli.local_commands.LocalCloud", no_cloud)
    result = CliRunner().invoke(app, ["local", "up", "--port", str(busy_port)])
    assert result.exit_code == 1, result.output
    assert f"port {busy_port} on 127.0.0.1 is in use" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.output


def test_the_startup_says_how_to_use_it_and_keeps_the_lambdas_logs_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def instead_of_waiting_for_ctrl_c() -> None:
        # What an operator's client would see while it serves.
        functions = _client("lambda", seen["endpoint"]).list_functions()["Functions"]
        seen["log levels"] = {
            f["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] for f in functions
        }

    real_start_server = LocalCloud.start_server

    def start_server(cloud: LocalCloud, *args: Any) -> str:
        endpoint = real_start_server(cloud, *args)
        seen["endpoint"] = endpoint
        return endpoint

    monkeypatch.setattr(LocalCloud, "start_server", start_server)
    monkeypatch.setattr(local_commands, "serve_until_interrupted", instead_of_waiting_for_ctrl_c)
    result = CliRunner().invoke(app, ["local", "up", "--port", "0"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"export AWS_ENDPOINT_URL={seen['endpoint']}" in result.stdout
    assert "state is lost when it stops" in result.stdout
    assert seen["log levels"] == {"ERROR"}  # no JSON log lines but a Lambda's errors

    verbose = CliRunner().invoke(app, ["local", "up", "--port", "0", "--verbose"])
    assert verbose.exit_code == 0, verbose.output
    assert seen["log levels"] == {"INFO"}


def _client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(  # type: ignore[call-overload]  # any service
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )
