"""IAM's evaluation logic for the identity policies of one role.

For a role of the account calling its own account, with no permissions boundary, session
policy, SCP or resource policy in play (the stack's functions have none), AWS decides so:

1. an explicit Deny in a statement that applies denies the request, whatever else says;
2. otherwise an Allow in a statement that applies allows it;
3. otherwise it is denied (implicit deny).

A statement applies when its Action (or NotAction) matches the action, case-insensitively,
its Resource (or NotResource) matches the resource ARN component by component, and every
condition holds. Sources: IAM User Guide, "Policy evaluation logic", "IAM JSON policy
elements: Condition operators" and "Single-valued vs. multivalued context keys".

What this evaluator does not model (Principal, policy variables, the negated and numeric,
date or IP operators...) raises `UnsupportedPolicyError` when the policy is read: a policy is
never allowed by a construct read wrongly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

# A context key's value: one string, or a tuple for a multivalued key (aws:TagKeys).
ContextValue = str | tuple[str, ...]

_ARN_PARTS = 6  # arn:partition:service:region:account:resource
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_QUALIFIERS = ("ForAnyValue", "ForAllValues")
_IF_EXISTS = "IfExists"


class UnsupportedPolicyError(ValueError):
    """A policy uses IAM grammar this evaluator does not model."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """What AWS evaluates for one action of a call."""

    action: str  # "ecs:RunTask"
    resource: str  # an ARN, or "*" for an action without a resource type
    context: Mapping[str, ContextValue]


def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    if "${" in pattern:
        raise UnsupportedPolicyError(f"policy variables are not supported: {pattern}")
    return _compiled(pattern, ignore_case)


@cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM's wildcards are `*` (any run of characters) and `?` (one character), nothing else.
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str) -> bool:
    return _glob(pattern).fullmatch(value) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike (and Resource) matching: each of the six components on its own, wildcards
    never crossing the colons before the resource part."""
    if pattern == "*":
        return True
    wanted = pattern.split(":", _ARN_PARTS - 1)
    actual = arn.split(":", _ARN_PARTS - 1)
    if len(wanted) != _ARN_PARTS or len(actual) != _ARN_PARTS:
        return False
    return all(_like(w, a) for w, a in zip(wanted, actual, strict=True))


def _resource_matches(pattern: str, resource: str) -> bool:
    # An action without a resource type is requested on "*": only Resource "*" covers it.
    if resource == "*":
        return pattern == "*"
    return arn_like(pattern, resource)


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda wanted, actual: wanted == actual,
    "StringEqualsIgnoreCase": lambda wanted, actual: wanted.casefold() == actual.casefold(),
    "StringLike": _like,
    "ArnEquals": arn_like,  # IAM documents the same matching for both
    "ArnLike": arn_like,
    "Bool": lambda wanted, actual: wanted.lower() == actual.lower(),
}


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLike"
    key: str
    values: tuple[str, ...]

    def holds(self, context: Mapping[str, ContextValue]) -> bool:
        qualifier, _, operator = self.operator.rpartition(":")
        actual = _lookup(context, self.key)
        if operator == "Null":
            # "true": the key must be absent; "false": present.
            return any(value.lower() == str(actual is None).lower() for value in self.values)
        if_exists = operator.endswith(_IF_EXISTS)
        matcher = _MATCHERS[operator.removesuffix(_IF_EXISTS)]
        if actual is None:
            # ForAllValues holds over no values; ForAnyValue has none to match (even with
            # IfExists, as AWS answers); a plain operator only with IfExists.
            return qualifier == "ForAllValues" or (not qualifier and if_exists)
        if not qualifier:
            if isinstance(actual, tuple):
                raise UnsupportedPolicyError(
                    f"{self.key} is multivalued: {self.operator} needs a set qualifier"
                )
            return any(matcher(wanted, actual) for wanted in self.values)
        values = actual if isinstance(actual, tuple) else (actual,)
        matches = (any(matcher(wanted, value) for wanted in self.values) for value in values)
        return any(matches) if qualifier == "ForAnyValue" else all(matches)


def _lookup(context: Mapping[str, ContextValue], key: str) -> ContextValue | None:
    # Condition key names are case-insensitive; their values are not.
    folded = key.casefold()
    return next((value for name, value in context.items() if name.casefold() == folded), None)


@dataclass(frozen=True)
class Statement:
    policy: str  # the inline policy's name, or the managed policy's ARN
    key: str  # its Sid, or its position in the policy
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditions: tuple[Condition, ...]

    @property
    def entries(self) -> tuple[str, ...]:
        """What the statement grants, entry by entry: its Action entries, or its NotAction
        as one entry."""
        if self.not_actions:
            return ("NotAction " + ",".join(self.not_actions),)
        return self.actions

    def matched_entries(self, action: str) -> tuple[str, ...]:
        """The entries that match `action`."""
        if self.not_actions:
            excluded = any(_action_matches(p, action) for p in self.not_actions)
            return () if excluded else self.entries
        return tuple(p for p in self.actions if _action_matches(p, action))

    def covers(self, resource: str) -> bool:
        if self.not_resources:
            return not any(_resource_matches(p, resource) for p in self.not_resources)
        return any(_resource_matches(p, resource) for p in self.resources)

    def conditions_hold(self, context: Mapping[str, ContextValue]) -> bool:
        return all(condition.holds(context) for condition in self.conditions)


def _action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, ignore_case=True).fullmatch(action) is not None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str | bool) for item in items):
        raise UnsupportedPolicyError(f"{where}: expected strings, got {value!r}")
    # JSON booleans (Bool conditions written unquoted) read as IAM reads them.
    return tuple(str(item).lower() if isinstance(item, bool) else item for item in items)


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(raw, dict):
        raise UnsupportedPolicyError(f"{where}: Condition must be an object")
    found: list[Condition] = []
    for operator, keys in raw.items():
        qualifier, _, base = operator.rpartition(":")
        known = base == "Null" or base.removesuffix(_IF_EXISTS) in _MATCHERS
        if not known or qualifier not in ("", *_QUALIFIERS) or (base == "Null" and qualifier):
            raise UnsupportedPolicyError(f"{where}: condition operator {operator} is not supported")
        for key, values in keys.items():
            found.append(Condition(operator, key, _strings(values, f"{where} {operator}")))
    return tuple(found)


def parse_policy(policy: str, document: Mapping[str, Any]) -> list[Statement]:
    """The statements of one identity policy document (a dict, as IAM stores it)."""
    raw_statements = document.get("Statement", [])
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    statements: list[Statement] = []
    for index, raw in enumerate(raw_statements):
        where = f"{policy} statement {raw.get('Sid', index)}"
        unknown = set(raw) - _STATEMENT_KEYS
        if unknown:
            raise UnsupportedPolicyError(f"{where}: {sorted(unknown)} not supported")
        if raw.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"{where}: Effect must be Allow or Deny")
        if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == (
            "NotResource" in raw
        ):
            raise UnsupportedPolicyError(
                f"{where}: needs one of Action/NotAction and of Resource/NotResource"
            )
        statement = Statement(
            policy=policy,
            key=str(raw.get("Sid", index)),
            effect=raw["Effect"],
            actions=_strings(raw.get("Action", []), where),
            not_actions=_strings(raw.get("NotAction", []), where),
            resources=_strings(raw.get("Resource", []), where),
            not_resources=_strings(raw.get("NotResource", []), where),
            conditions=_conditions(raw.get("Condition", {}), where),
        )
        for pattern in (*statement.actions, *statement.not_actions):
            _glob(pattern)  # refuses policy variables now, not when a call reaches it
        statements.append(statement)
    return statements


@dataclass(frozen=True)
class Grant:
    """One entry of one statement (`Statement.entries`): what the unused-grant check counts."""

    policy: str
    statement: str
    entry: str


@dataclass(frozen=True)
class Decision:
    request: AuthorizationRequest
    allowed: bool
    grants: tuple[Grant, ...]  # the Allow entries that allowed it (none if denied)
    denied_by: Statement | None = None  # the explicit Deny, if one applied

    @property
    def explicitly_denied(self) -> bool:
        return self.denied_by is not None


def evaluate(statements: Sequence[Statement], request: AuthorizationRequest) -> Decision:
    """Explicit Deny, else an Allow, else implicit deny."""
    grants: list[Grant] = []
    for statement in statements:
        matched = statement.matched_entries(request.action)
        if not (
            matched
            and statement.covers(request.resource)
            and statement.conditions_hold(request.context)
        ):
            continue
        if statement.effect == "Deny":
            return Decision(request, allowed=False, grants=(), denied_by=statement)
        grants += [Grant(statement.policy, statement.key, entry) for entry in matched]
    return Decision(request, allowed=bool(grants), grants=tuple(grants))
