"""SSM Parameter Store: the events Parameter Store emits, which moto does not.

1. `PutParameter` emits "Parameter Store Change" (source `aws.ssm`) on the default bus:
   operation `Create` for a new parameter, `Update` for a new version of one;
   `DeleteParameter` and `DeleteParameters` emit `Delete` for each parameter deleted. The
   detail carries the parameter's `name`, `type` and `operation` (and `description` when it
   has one), `resources` its ARN, as in the AWS Systems Manager User Guide's examples. The
   event time is virtual (`events.py`), and delivery to the rules' targets is as for ECR's
   events. AWS emits these on a best-effort basis; this cloud emits every one (a scenario
   that wants one lost drops it itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.ssm.models import Parameter, SimpleSystemManagerBackend

from ecs_deployer_tools.localcloud.patches.events import put_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher

DETAIL_TYPE = "Parameter Store Change"


def install(patcher: Patcher) -> None:
    """Apply this module's patches."""
    patcher.around(SimpleSystemManagerBackend, "put_parameter", _put_parameter)
    patcher.around(SimpleSystemManagerBackend, "delete_parameter", _delete_parameter)
    patcher.around(SimpleSystemManagerBackend, "delete_parameters", _delete_parameters)


def _put_parameter(
    original: Callable[..., Parameter],
    backend: SimpleSystemManagerBackend,
    *args: Any,
    **kwargs: Any,
) -> Parameter:
    parameter = original(backend, *args, **kwargs)
    _emit(backend, "Create" if parameter.version == 1 else "Update", parameter)
    return parameter


def _delete_parameter(
    original: Callable[..., None], backend: SimpleSystemManagerBackend, name: str
) -> None:
    versions = list(backend._parameters.get(backend._parameters.normalize_name(name), []))
    original(backend, name)
    if versions:
        _emit(backend, "Delete", versions[-1])


def _delete_parameters(
    original: Callable[..., list[str]], backend: SimpleSystemManagerBackend, names: list[str]
) -> list[str]:
    before = {
        name: list(backend._parameters.get(backend._parameters.normalize_name(name), []))
        for name in names
    }
    deleted = original(backend, names)
    for name in deleted:
        if before[name]:
            _emit(backend, "Delete", before[name][-1])
    return deleted


def _emit(backend: SimpleSystemManagerBackend, operation: str, parameter: Parameter) -> None:
    detail = {"operation": operation, "name": parameter.name, "type": parameter.parameter_type}
    if parameter.description:
        detail["description"] = parameter.description
    arn = (
        f"arn:aws:ssm:{backend.region_name}:{backend.account_id}:parameter/"
        f"{parameter.name.lstrip('/')}"
    )
    put_event(
        backend.account_id,
        backend.region_name,
        source="aws.ssm",
        detail_type=DETAIL_TYPE,
        detail=detail,
        resources=[arn],
    )
