"""What starts an execution: an ECR push (or replica) event from EventBridge, or a manual
request.

Tolerant where AWS speaks (an event's detail may gain fields), strict where people type
(a manual input with an unknown or mistyped key is rejected, naming the key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ecs_deployer.config.models import AppName, EnvironmentName, RepositoryName
from ecs_deployer.errors import InputError
from ecs_deployer.validation import field_errors

# Docker's tag grammar. ECR accepts any tag of up to 300 characters; the deployer deploys
# only tags Docker could have pushed (and `docker pull` could run).
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
ImageTag = Annotated[str, StringConstraints(pattern=IMAGE_TAG_PATTERN)]
ImageDigest = Annotated[str, StringConstraints(pattern=r"^sha256:[a-f0-9]{64}$")]
PollSeconds = Annotated[int, Field(ge=1, le=300, strict=True)]
# A Step Functions execution name, which is what a deployment id is.
DeploymentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,80}$")]


# The image events that put an image into a repository of this region, and the action
# type that says so: a push, or a replica of an image pushed in another region or account.
_PUSH_ACTIONS = {"ECR Image Action": "PUSH", "ECR Replication Action": "REPLICATE"}


class EventBridgeEvent(BaseModel):
    """The envelope EventBridge delivers every event in; each kind of event types its
    ``detail``. (Ours, not powertools' parser models: importing those costs a cold start
    tens of milliseconds.)"""

    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail: BaseModel


class EcrImageActionDetail(BaseModel):
    """``detail`` of the "ECR Image Action" and "ECR Replication Action" events; extra
    fields AWS adds are kept, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    result: str
    repository_name: RepositoryName = Field(alias="repository-name")
    image_digest: ImageDigest = Field(alias="image-digest")
    action_type: str = Field(alias="action-type")
    image_tag: str | None = Field(default=None, alias="image-tag")
    source_region: str | None = Field(default=None, alias="source-region")  # of a replica

    @field_validator("image_tag")
    @classmethod
    def _empty_tag_is_no_tag(cls, tag: str | None) -> str | None:
        # An untagged push's event comes without image-tag or with "": both mean no tag.
        return tag or None


class EcrImageActionEvent(EventBridgeEvent):
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


class Trigger(BaseModel):
    """Why a deployment happened; set by the dispatcher for pushes, optional for people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["ecr-push", "manual", "rollback", "promotion"] = "manual"
    event_id: str | None = None
    pushed_at: datetime | None = None
    actor: Annotated[str, StringConstraints(max_length=200)] | None = None


class Promotion(BaseModel):
    """Why a deployment is part of a promotion chain: the previous environment's success.
    Set by the state machine when that deployment ends SUCCEEDED (domain/promotion.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chain_id: DeploymentId  # the chain's first deployment
    previous_deployment_id: DeploymentId  # the previous environment's deployment


class ManualRequest(BaseModel):
    """``{"app": ..., "image_tag" | "image_digest": ..., ...}``: deploy one app now.

    With both a tag and a digest, the digest pins the image and the tag is recorded.
    ``{"app": ..., "rollback_to": DEPLOYMENT_ID}`` instead returns every service to the
    exact revisions that earlier (successful) deployment left, running no one-off tasks;
    ``{"app": ..., "undo": DEPLOYMENT_ID}`` to the revisions that ran before it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    app: AppName
    image_tag: ImageTag | None = None
    image_digest: ImageDigest | None = None
    repository: RepositoryName | None = None
    skip_pre_tasks: StrictBool = False
    skip_post_tasks: StrictBool = False
    force: StrictBool = False
    poll_seconds: PollSeconds | None = None
    rollback_to: DeploymentId | None = None
    undo: DeploymentId | None = None
    # Which of the app's environments to deploy in (required when its config lists them).
    environment: EnvironmentName | None = None
    promotion: Promotion | None = None
    trigger: Trigger = Trigger()
    # The dispatcher execution that started this one: the key Step Functions documents for
    # nested executions (the console links them). Set by the state machine, never by people.
    started_by: str | None = Field(
        default=None,
        alias="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
        description="Set by the dispatcher: the execution that started this one.",
    )

    @model_validator(mode="after")
    def _image_named(self) -> Self:
        image = self.image_tag is not None or self.image_digest is not None
        if self.rollback_to is not None and self.undo is not None:
            raise ValueError("give rollback_to or undo, not both")
        if self.is_rollback and image:
            raise ValueError("a rollback restores an earlier deployment's image: give no image")
        if not self.is_rollback and not image:
            raise ValueError("give image_tag or image_digest (or rollback_to, or undo)")
        if self.promotion is not None and (self.is_rollback or self.environment is None):
            raise ValueError("a promotion deploys an image to a named environment")
        return self

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
        return model.model_validate(raw)
    except ValidationError as exc:
        subject = "ECR event" if model is EcrImageActionEvent else "manual input"
        raise InputError(f"invalid {subject}", field_errors(exc)) from exc
