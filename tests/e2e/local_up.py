"""`ecs-deployer local up` in a subprocess, met as any client meets it: over HTTP.

The server runs on virtual time that follows the wall clock; the tests wait for outcomes
(`run_until_idle`, a client's own exit), never for a duration.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from collections.abc import Iterator

STARTUP_SECONDS = 120
STOP_SECONDS = 60
REGION = "us-east-1"
_ENDPOINT = re.compile(r"^endpoint: (http://127\.0\.0\.1:\d+)")


@dataclass
class LocalUp:
    process: subprocess.Popen[str]
    endpoint: str
    lines: list[str]  # what it printed until it was ready
    stopped_lines: list[str] = field(default_factory=list)  # what it printed as it stopped

    def output(self, prefix: str) -> str:
        """The value of the startup line `prefix: value` (e.g. "output StateMachineArn")."""
        return next(line.split(": ", 1)[1] for line in self.lines if line.startswith(prefix))

    def client(self, service: str) -> Any:
        session = boto3.session.Session()
        return session.client(  # type: ignore[call-overload]  # any service name
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.endpoint}{path}") as response:
            return json.load(response)

    def run_until_idle(self) -> None:
        """Every execution runs to its end, however long its waits (virtual time)."""
        request = urllib.request.Request(
            f"{self.endpoint}/_localcloud/time/run-until-idle", method="POST"
        )
        with urllib.request.urlopen(request) as response:
            assert json.load(response)["running"] == []

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass at once."""
        request = urllib.request.Request(
            f"{self.endpoint}/_localcloud/time/advance?seconds={seconds}", method="POST"
        )
        with urllib.request.urlopen(request):
            pass

    def stop(self) -> list[str]:
        """Ctrl-C, as an operator stops it; returns what it printed meanwhile."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                rest, _ = self.process.communicate(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                rest, _ = self.process.communicate()
            self.stopped_lines = rest.splitlines()
        return self.stopped_lines


@contextmanager
def local_up(*options: str) -> Iterator[LocalUp]:
    """`ecs-deployer local up --port 0 OPTIONS`, ready; stopped when the block ends."""
    command = [sys.executable, "-m", "ecs_deployer_tools.cli", "local", "up", "--port", "0"]
    process = subprocess.Popen(
        [*command, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("ready"):
            break
    endpoint = next((m[1] for m in map(_ENDPOINT.match, lines) if m), None)
    server = LocalUp(process, endpoint or "", lines)
    try:
        assert endpoint, "\n".join(lines)
        yield server
    finally:
        server.stop()
