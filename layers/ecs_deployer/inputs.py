"""What starts an execution: an ECR push (or replica) event from EventBridge, or a manual
request.

Tolerant where AWS speaks (an event's detail may gain fields), strict where people type
(a manual input with an unknown or mistyped key is rejected, naming the key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from ecs_deployer.config.models import AppName, EnvironmentName, RepositoryName
from ecs_deployer.errors import InputError
from ecs_deployer.structs import Frozen, Tolerant, decode
from ecs_deployer.validation import field_errors

# Docker's tag grammar. ECR accepts any tag of up to 300 characters; the deployer deploys
# only tags Docker could have pushed (and `docker pull` could run).
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
ImageTag = Annotated[str, Meta(pattern=IMAGE_TAG_PATTERN)]
ImageDigest = Annotated[str, Meta(pattern=r"^sha256:[a-f0-9]{64}$")]
PollSeconds = Annotated[int, Meta(ge=1, le=300)]
# A Step Functions execution name, which is what a deployment id is.
DeploymentId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,80}$")]


# The image events that put an image into a repository of this region, and the action
# type that says so: a push, or a replica of an image pushed in another region or account.
_PUSH_ACTIONS = {"ECR Image Action": "PUSH", "ECR Replication Action": "REPLICATE"}


class EventBridgeEvent(Tolerant, kw_only=True, frozen=True):
    """The envelope EventBridge delivers every event in; each kind of event types its
    ``detail``. (Ours, not powertools' parser models: importing those costs a cold start
    tens of milliseconds.)"""

    version: str
    id: str
    detail_type: str = field(name="detail-type")
    source: str
    account: str
    time: Annotated[datetime, Meta(tz=True)]
    region: str
    resources: list[str]
    detail: Any


class EcrImageActionDetail(Tolerant, kw_only=True, frozen=True):
    """``detail`` of the "ECR Image Action" and "ECR Replication Action" events; fields AWS
    adds are ignored, not refused."""

    result: str
    repository_name: RepositoryName = field(name="repository-name")
    image_digest: ImageDigest = field(name="image-digest")
    action_type: str = field(name="action-type")
    image_tag: str | None = field(default=None, name="image-tag")
    source_region: str | None = field(default=None, name="source-region")  # of a replica

    def __post_init__(self) -> None:
        # An untagged push's event comes without image-tag or with "": both mean no tag.
        if self.image_tag == "":
            msgspec.structs.force_setattr(self, "image_tag", None)


class EcrImageActionEvent(EventBridgeEvent, kw_only=True, frozen=True):
    """An image event: "ECR Image Action" (a push, a delete...) or "ECR Replication Action"
    (a replica arriving in this region: the image as its push left it)."""

    detail: EcrImageActionDetail

    @property
    def is_successful_push(self) -> bool:
        """The image is now in the repository: pushed, or replicated, here."""
        wanted = _PUSH_ACTIONS.get(self.detail_type)
        return self.detail.action_type == wanted and self.detail.result == "SUCCESS"

    @property
    def is_replica(self) -> bool:
        return self.detail_type == "ECR Replication Action"


class Trigger(Frozen, kw_only=True, frozen=True):
    """Why a deployment happened; set by the dispatcher for pushes, optional for people."""

    kind: Literal["ecr-push", "manual", "rollback", "promotion"] = "manual"
    event_id: str | None = None
    pushed_at: Annotated[datetime, Meta(tz=True)] | None = None  # with its time zone
    actor: Annotated[str, Meta(max_length=200)] | None = None


class Promotion(Frozen, kw_only=True, frozen=True):
    """Why a deployment is part of a promotion chain: the previous environment's success.
    Set by the state machine when that deployment ends SUCCEEDED (domain/promotion.py)."""

    chain_id: DeploymentId  # the chain's first deployment
    previous_deployment_id: DeploymentId  # the previous environment's deployment


class ManualRequest(Frozen, kw_only=True, frozen=True, omit_defaults=True):
    """``{"app": ..., "image_tag" | "image_digest": ..., ...}``: deploy one app now.

    With both a tag and a digest, the digest pins the image and the tag is recorded.
    ``{"app": ..., "rollback_to": DEPLOYMENT_ID}`` instead returns every service to the
    exact revisions that earlier (successful) deployment left, running no one-off tasks;
    ``{"app": ..., "undo": DEPLOYMENT_ID}`` to the revisions that ran before it.
    """

    # Encoded (an execution's input), it leaves out what is at its default.

    app: AppName
    image_tag: ImageTag | None = None
    image_digest: ImageDigest | None = None
    repository: RepositoryName | None = None
    skip_pre_tasks: bool = False
    skip_post_tasks: bool = False
    force: bool = False
    poll_seconds: PollSeconds | None = None
    rollback_to: DeploymentId | None = None
    undo: DeploymentId | None = None
    # Which of the app's environments to deploy in (required when its config lists them).
    environment: EnvironmentName | None = None
    promotion: Promotion | None = None
    trigger: Trigger = Trigger()
    # The dispatcher execution that started this one: the key Step Functions documents for
    # nested executions (the console links them). Set by the state machine, never by people.
    started_by: (
        Annotated[
            str, Meta(description="Set by the dispatcher: the execution that started this one.")
        ]
        | None
    ) = field(default=None, name="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")

    def __post_init__(self) -> None:
        image = self.image_tag is not None or self.image_digest is not None
        if self.rollback_to is not None and self.undo is not None:
            raise ValueError("give rollback_to or undo, not both")
        if self.is_rollback and image:
            raise ValueError("a rollback restores an earlier deployment's image: give no image")
        if not self.is_rollback and not image:
            raise ValueError("give image_tag or image_digest (or rollback_to, or undo)")
        if self.promotion is not None and (self.is_rollback or self.environment is None):
            raise ValueError("a promotion deploys an image to a named environment")

    @property
    def is_rollback(self) -> bool:
        return self.rollback_to is not None or self.undo is not None


ExecutionInput = EcrImageActionEvent | ManualRequest


def parse_execution_input(raw: Any) -> ExecutionInput:
    """An execution's input → a typed request; anything else is an InputError naming fields."""
    if not isinstance(raw, dict):
        raise InputError("execution input must be a JSON object")
    model: type[EcrImageActionEvent] | type[ManualRequest]
    model = EcrImageActionEvent if "detail-type" in raw or "source" in raw else ManualRequest
    try:
        return decode(raw, model)
    except msgspec.ValidationError as exc:
        subject = "ECR event" if model is EcrImageActionEvent else "manual input"
        raise InputError(f"invalid {subject}", field_errors(exc)) from exc
