"""The error hierarchy.

The class name of a raised error becomes the Lambda ``errorType`` and therefore the
Step Functions error name, which the state machine routes on and which operators see in
Fail states. Keep the names stable: they are part of the product's interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class DeployerError(Exception):
    """Base of every error the deployer raises on purpose.

    Subclasses are never subclassed again: the Lambda runtime reports the exact class name.
    """

    @property
    def error_name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class FieldError:
    """One validation problem, located by its field path (``services[0].max_wait``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class _FieldErrors(DeployerError):
    """An error that may list field errors; the message names every one of them."""

    def __init__(self, message: str, errors: Iterable[FieldError] = ()) -> None:
        self.errors = tuple(errors)
        if self.errors:
            message = f"{message}: " + "; ".join(str(error) for error in self.errors)
        super().__init__(message)


class InputError(_FieldErrors):
    """The execution input is malformed."""


class ConfigError(_FieldErrors):
    """An app config is missing, malformed or asks for something this stack may not do."""


class ConfigAccessDenied(DeployerError):
    """The deployer may not read an app config: IAM (or the KMS key of an encrypted
    parameter) denied the SSM read. Nothing changed; the message names the action and the
    parameter or path, so an operator knows which grant to fix."""


class ImageNotFound(DeployerError):
    """The image (repository, tag or digest) does not exist in ECR."""


class ResourceNotFound(DeployerError):
    """A cluster, service, task-definition family or container named by the config is absent."""


class ServiceChanged(DeployerError):
    """A service left the revision the deployment planned from: someone else deployed it."""


class TaskFailed(DeployerError):
    """A one-off task did not run to completion with exit code 0."""


class RolloutFailed(DeployerError):
    """A service rollout failed, was rolled back by ECS, or was replaced by another deployment."""


class DeployTimeout(DeployerError):
    """A rollout or a one-off task did not finish within its max_wait."""


class RollbackFailed(DeployerError):
    """Returning the services to their previous revisions did not complete."""


class ApprovalRejected(DeployerError):
    """An operator rejected the deployment at its approval gate (``ecs-deployer reject``):
    no service changed, the post tasks did not run."""


class ApprovalTimedOut(DeployerError):
    """Nobody answered the deployment's approval gate within its ``approval_timeout``: it is
    rejected like ``ecs-deployer reject``, no service changed."""


class TransientAwsError(Exception):
    """An AWS call kept failing for a reason that passes (throttling, 5xx): retried by the ASL.

    Deliberately not a DeployerError: it is never a deployment's outcome, so no handler of
    deployment errors may catch it and record it as one.
    """


class LockLost(DeployerError):
    """Another deployment took this app's lock while this one still ran: stop, change nothing."""


class AccountNotAllowed(DeployerError):
    """The config names an account the stack has no deploy role for (TargetAccountRoleArns):
    refused at Resolve, before anything changes."""


class TargetRoleDenied(DeployerError):
    """The deploy role of the app's account could not be assumed (its trust policy, the
    external id, or the deployer's own grant refused it): the message names the account and
    the role. Nothing changed in ECS: no call reaches the account without the role."""
