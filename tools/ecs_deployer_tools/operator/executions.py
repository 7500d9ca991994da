"""Starting the deploy state machine by hand: a manual deployment or a rollback."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from msgspec.structs import replace

from ecs_deployer.errors import InputError
from ecs_deployer.inputs import ManualRequest, Trigger
from ecs_deployer.structs import decode, encode
from ecs_deployer.validation import field_errors

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_stepfunctions import SFNClient

_MAX_ACTOR = 200  # Trigger.actor's limit


def manual_request(
    app: str,
    *,
    tag: str | None = None,
    digest: str | None = None,
    repository: str | None = None,
    skip_pre_tasks: bool = False,
    skip_post_tasks: bool = False,
    force: bool = False,
    rollback_to: str | None = None,
    undo: str | None = None,
    environment: str | None = None,
) -> ManualRequest:
    """The manual input, validated as the Resolve step will; only what was asked is set."""
    values = {
        "app": app,
        "environment": environment,
        "image_tag": tag,
        "image_digest": digest,
        "repository": repository,
        "rollback_to": rollback_to,
        "undo": undo,
    }
    flags = {"skip_pre_tasks": skip_pre_tasks, "skip_post_tasks": skip_post_tasks, "force": force}
    document: dict[str, Any] = {key: value for key, value in values.items() if value is not None}
    document |= {key: True for key, value in flags.items() if value}
    try:
        return decode(document, ManualRequest)
    except msgspec.ValidationError as exc:
        raise InputError("invalid manual input", field_errors(exc)) from exc


def execution_name(request: ManualRequest, now: datetime) -> str:
    """``<app>-manual|rollback-<UTC time>-<4 hex>``: readable, unique, at most 70 characters
    (apps have at most 40) of [A-Za-z0-9_-], as execution names must be."""
    kind = "rollback" if request.is_rollback else "manual"
    return f"{request.app}-{kind}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class StartedExecution:
    execution_arn: str
    name: str
    input: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"execution_arn": self.execution_arn, "name": self.name, "input": self.input}


def start_execution(
    sfn: SFNClient, state_machine_arn: str, request: ManualRequest, actor: str, now: datetime
) -> StartedExecution:
    """Start ``request`` on behalf of ``actor`` (recorded in the deployment's history)."""
    # "rollback" from the start: a rollback the Resolve step rejects is recorded as one.
    kind: Literal["rollback", "manual"] = "rollback" if request.is_rollback else "manual"
    trigger = Trigger(kind=kind, actor=actor[:_MAX_ACTOR])
    request = replace(request, trigger=trigger)
    name = execution_name(request, now)
    document = encode(request)
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(document)
    )
    return StartedExecution(response["executionArn"], name, document)
