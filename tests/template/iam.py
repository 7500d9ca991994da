"""A small IAM evaluator for the identity policies of a resolved template.

It answers "may this role do this action on this resource in this request context?" with
IAM's rules for what the template uses: Allow statements, Action/Resource wildcards, ARN
matching component by component, and the String/Arn condition operators (a condition key
missing from the context fails the condition). Anything else raises, so a policy using a
construct it does not understand cannot pass by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

_ARN_PARTS = 6  # arn:partition:service:region:account:resource


@dataclass(frozen=True)
class Statement:
    role: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, Any]]


def as_tuple(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def role_statements(resolved: dict[str, Any]) -> list[Statement]:
    """The statements of every IAM role of a resolved template (its inline policies and the
    template's managed policies attached to it), and of every managed policy of the
    template under the policy's own logical id."""
    found: list[Statement] = []
    for logical_id, resource in resolved["Resources"].items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                found.extend(_statements(logical_id, policy["PolicyDocument"]))
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            # Roles lists `!Ref Role`, a role's name, which resolves to "<Ref Role>".
            attached = [
                role.removeprefix("<Ref ").removesuffix(">") for role in properties.get("Roles", [])
            ]
            for holder in [logical_id, *attached]:
                found.extend(_statements(holder, properties["PolicyDocument"]))
    return found


def _statements(holder: str, document: dict[str, Any]) -> list[Statement]:
    found: list[Statement] = []
    for raw in document["Statement"]:
        unsupported = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unsupported or raw["Effect"] != "Allow":
            msg = f"{holder}: evaluator does not handle {raw}"
            raise ValueError(msg)
        found.append(
            Statement(
                role=holder,
                actions=as_tuple(raw["Action"]),
                resources=as_tuple(raw["Resource"]),
                conditions=raw.get("Condition", {}),
            )
        )
    return found


def arn_matches(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", _ARN_PARTS - 1)
    arn_parts = arn.split(":", _ARN_PARTS - 1)
    if len(pattern_parts) != _ARN_PARTS or len(arn_parts) != _ARN_PARTS:
        # Not ARNs (placeholders of unresolved resources): plain wildcard matching.
        return fnmatchcase(arn, pattern)
    return all(fnmatchcase(part, want) for want, part in zip(pattern_parts, arn_parts, strict=True))


def _operator_matches(operator: str, wanted: tuple[str, ...], actual: str) -> bool:
    if operator == "StringEquals":
        return actual in wanted
    if operator == "StringLike":
        return any(fnmatchcase(actual, pattern) for pattern in wanted)
    if operator in {"ArnEquals", "ArnLike"}:  # IAM treats both alike: wildcards allowed
        return any(arn_matches(pattern, actual) for pattern in wanted)
    msg = f"evaluator does not handle condition operator {operator}"
    raise ValueError(msg)


def conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, keys in conditions.items():
        for key, wanted in keys.items():
            actual = context.get(key)
            if actual is None or not _operator_matches(operator, as_tuple(wanted), actual):
                return False
    return True


def is_allowed(
    statements: list[Statement],
    role: str,
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> bool:
    context = context or {}
    return any(
        statement.role == role
        and any(fnmatchcase(action.lower(), wanted.lower()) for wanted in statement.actions)
        and any(arn_matches(pattern, resource) for pattern in statement.resources)
        and conditions_hold(statement.conditions, context)
        for statement in statements
    )
