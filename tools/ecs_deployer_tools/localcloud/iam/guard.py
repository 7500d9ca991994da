"""Each call a stack Lambda makes, authorized against the function's role as deployed.

The role is read from moto at each call: the function's Role ARN (Lambda), then the role's
inline policies and attached managed policies (IAM), as CloudFormation and the SAM transform
created them. A call that no statement allows, or that a Deny refuses, fails before it reaches
moto with the error the service returns: `AccessDeniedException`, "User: <assumed role> is not
authorized to perform: <action> on resource: <arn> because no identity-based policy allows
the <action> action" (or "with an explicit deny in an identity-based policy").

Every decision is kept in a `Ledger`: which grant (policy, statement, Action entry) allowed
each request, so a test can find the grants no call uses.

A call made with credentials from sts:AssumeRole (an app's deploy role in another account)
is evaluated against the assumed role's policies, in the role's account, as IAM does; and
AssumeRole itself against the caller's grant and then the role's trust policy: a statement
whose Principal names the caller's role (or its account), with its conditions
(sts:ExternalId) holding. moto itself checks neither. A trust policy is a resource-based
policy: `resource_policy_decision` decides it, and the ECR and EventBridge patches' policies.

The Lambda service writes the function's logs and, with active tracing, its X-Ray segments
with the same role; those are not calls of our code. They are evaluated too, per invocation
(`runtime_writes`), and kept apart in the ledger; AWS never fails an invocation for them (the
logs are lost instead), so neither does the guard.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from moto.awslambda.utils import get_backend as lambda_backend
from moto.codedeploy.models import codedeploy_backends
from moto.ecs.exceptions import TaskDefinitionNotFoundException
from moto.ecs.models import ecs_backends
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.sts.models import sts_backends

from ecs_deployer_tools.localcloud.iam import reference
from ecs_deployer_tools.localcloud.iam.policy import (
    AuthorizationRequest,
    Decision,
    Grant,
    Statement,
    UnsupportedPolicyError,
    evaluate,
    parse_policy,
)
from ecs_deployer_tools.localcloud.iam.requests import Call, TaskRoles, requests

if TYPE_CHECKING:
    from collections.abc import Mapping

    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    from ecs_deployer_tools.localcloud.runtime import Caller, FunctionConfig

PARTITION = "aws"
_AWS_MANAGED = ":iam::aws:policy/"


@dataclass(frozen=True)
class Role:
    arn: str
    name: str
    statements: tuple[Statement, ...]
    own_policies: frozenset[str]  # the policies the stack defines (not AWS managed ones)

    @property
    def grants(self) -> frozenset[Grant]:
        """Every entry of the stack's own policies: what the unused-grant check counts."""
        return frozenset(
            Grant(s.policy, s.key, entry)
            for s in self.statements
            if s.policy in self.own_policies
            for entry in s.entries
        )


def function_role(account: str, region: str, function_name: str) -> Role:
    """The role of a Lambda function with its policies, as moto holds them now."""
    function = lambda_backend(account, region).get_function(function_name)
    return role_of(account, function.role)


def role_of(account: str, role_arn: str) -> Role:
    """A role of `account` with its policies, as moto holds them now."""
    iam = iam_backends[account][PARTITION]
    role = iam.get_role_by_arn(role_arn)
    if role.permissions_boundary:
        raise UnsupportedPolicyError(f"{role.arn}: permissions boundaries are not evaluated")
    statements: list[Statement] = []
    for name, document in role.policies.items():
        statements += _parsed(name, _text(document))
    for policy_arn, policy in role.managed_policies.items():
        default = next(v for v in policy.versions if v.version_id == policy.default_version_id)
        statements += _parsed(policy_arn, _text(default.document))
    own = frozenset(s.policy for s in statements if _AWS_MANAGED not in s.policy)
    return Role(role.arn, role.name, tuple(statements), own)


def _text(document: str | Mapping[str, Any]) -> str:
    # CloudFormation's inline policies are dicts in moto, PutRolePolicy's JSON text.
    return document if isinstance(document, str) else json.dumps(document, sort_keys=True)


@cache
def _parsed(name: str, document: str) -> tuple[Statement, ...]:
    """A policy read once per text: every call reads its function's role afresh."""
    return tuple(parse_policy(name, json.loads(document)))


class MotoEcs:
    """The account's ECS as moto (and the ECS simulation's patches) hold it."""

    def __init__(self, account: str, region: str) -> None:
        self._backend = ecs_backends[account][region]

    def _task_definition(self, reference_: str) -> Any:
        try:
            return self._backend.describe_task_definition(reference_)
        except (TaskDefinitionNotFoundException, ValueError):  # unknown, or not family:number
            return None

    def task_definition_arn(self, reference_: str) -> str | None:
        task_definition = self._task_definition(reference_)
        return None if task_definition is None else str(task_definition.arn)

    def task_definition_roles(self, reference_: str) -> TaskRoles:
        task_definition = self._task_definition(reference_)
        if task_definition is None:
            return TaskRoles()
        # moto sets each attribute only when the task definition has that role.
        return TaskRoles(
            getattr(task_definition, "task_role_arn", None),
            getattr(task_definition, "execution_role_arn", None),
        )

    def next_revision(self, family: str) -> int:
        return max(self._backend.task_definitions.get(family, {}), default=0) + 1

    def service_arn(self, cluster: str, service: str) -> str | None:
        found = self._backend.services.get(f"{cluster}:{service}")
        return None if found is None else str(found.arn)


class MotoCodeDeploy:
    """The account's CodeDeploy as moto (and the CodeDeploy simulation) hold it."""

    def __init__(self, account: str, region: str) -> None:
        self._backend = codedeploy_backends[account][region]

    def deployment_group(self, deployment_id: str) -> tuple[str, str] | None:
        found = self._backend.deployments.get(deployment_id)
        return None if found is None else (found.application_name, found.deployment_group_name)

    def deployment_config(self, application: str, deployment_group: str) -> str | None:
        group = self._backend.deployment_groups.get(application, {}).get(deployment_group)
        return None if group is None else str(group.deployment_config_name)


@dataclass(frozen=True)
class Authorization:
    """One decision: for `caller`'s call (or, `by_runtime`, the Lambda service's write)."""

    caller: str  # the function's logical id
    decision: Decision
    by_runtime: bool = False


@dataclass
class Ledger:
    """Every decision of one local cloud, and the grants of each function's role."""

    authorizations: list[Authorization] = field(default_factory=list)
    grants: dict[str, frozenset[Grant]] = field(default_factory=dict)  # by logical id
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, authorization: Authorization) -> None:
        with self._lock:
            self.authorizations.append(authorization)

    def declare(self, caller: str, grants: frozenset[Grant]) -> None:
        with self._lock:
            self.grants[caller] = grants

    def used(self) -> dict[str, set[Grant]]:
        """The grants that allowed at least one request, by function."""
        used: dict[str, set[Grant]] = {}
        with self._lock:
            authorizations = list(self.authorizations)
        for authorization in authorizations:
            used.setdefault(authorization.caller, set()).update(authorization.decision.grants)
        return used

    def denied(self) -> list[Authorization]:
        with self._lock:
            return [a for a in self.authorizations if not a.decision.allowed]

    def take_denied(self) -> list[Authorization]:
        """The refusals so far, taken out (a test that provokes them asserts them)."""
        with self._lock:
            denied = [a for a in self.authorizations if not a.decision.allowed]
            self.authorizations = [a for a in self.authorizations if a.decision.allowed]
        return denied


@dataclass(frozen=True)
class _Identity:
    """Who makes a call: a function with its own role, or a session of an assumed role."""

    role: Role
    account: str
    session: str  # the end of the assumed-role ARN: the function's name, or the session's
    ledger_key: str  # the function's logical id, or the assumed role's (declare_role)


def _assumed_role(access_key: str | None) -> tuple[str, str, str] | None:
    """(account, role ARN, session name) of AssumeRole's credentials; None for others.

    moto keeps AssumeRole's access keys with the role's account (which is how its calls
    act in that account)."""
    if access_key is None:
        return None
    for account, backends in list(iam_backends.items()):
        key = backends[PARTITION].access_keys.get(access_key)
        if key is not None and key.role_arn:
            session = sts_backends[account][PARTITION].get_assumed_role_from_access_key(access_key)
            return account, key.role_arn, session.session_name if session else access_key
    return None


def _access_key(client: BaseClient) -> str | None:
    # botocore has no public reader of a client's credentials; reading them makes deferred
    # ones (an assumed role's) be fetched, as signing the request would.
    credentials = client._request_signer._credentials  # type: ignore[attr-defined]
    return None if credentials is None else credentials.get_frozen_credentials().access_key


def trust_decision(role_arn: str, caller_role_arn: str, request: AuthorizationRequest) -> Decision:
    """AssumeRole as the trust policy of `role_arn` decides it for a session of
    `caller_role_arn` (a resource-based policy: `resource_policy_decision`); a missing role
    refuses."""
    account = role_arn.split(":")[4]
    try:
        role = iam_backends[account][PARTITION].get_role_by_arn(role_arn)
    except NotFoundException:  # AWS refuses AssumeRole of a missing role the same way
        return Decision(request, allowed=False, grants=())
    return resource_policy_decision(
        _text(role.assume_role_policy_document), role_arn, caller_role_arn, request
    )


def resource_policy_decision(
    policy: str | None, resource_arn: str, caller: str, request: AuthorizationRequest
) -> Decision:
    """What the resource-based policy `policy` (JSON text: a role's trust policy, an ECR
    repository's, an event bus's) of `resource_arn` decides for `caller`'s request.

    The statements whose Principal names the caller apply (IAM User Guide, "IAM JSON policy
    elements: Principal": "*", an account id or its root ARN for every principal of the
    account, a role's ARN for that role's sessions); among them an explicit Deny wins, then
    an Allow ("Policy evaluation logic"). A statement without Resource (or NotResource) is on
    `resource_arn`. `caller` is the principal's ARN, or an account id where only the account
    is known (an emulated service sees no more): then a statement naming any principal of
    that account applies, as it may name the caller."""
    document = json.loads(policy or "{}")
    raw_statements = document.get("Statement", [])
    applicable = []
    for raw in raw_statements if isinstance(raw_statements, list) else [raw_statements]:
        if _names(raw.get("Principal", {}), caller):
            statement = {key: value for key, value in raw.items() if key != "Principal"}
            if "NotResource" not in statement:
                statement.setdefault("Resource", resource_arn)
            applicable.append(statement)
    statements = parse_policy(f"{resource_arn} resource policy", {"Statement": applicable})
    return evaluate(statements, request)


def _names(principal: Any, caller: str) -> bool:
    """Whether a statement's Principal names `caller` (`resource_policy_decision`)."""
    if principal == "*":
        return True
    listed = principal.get("AWS", []) if isinstance(principal, dict) else []
    listed = set(listed if isinstance(listed, list) else [listed])
    if not caller.startswith("arn:"):  # an account: any principal of it may be the caller
        return any(p in {"*", caller} or p.split(":")[4:5] == [caller] for p in listed)
    account = caller.split(":")[4]
    return bool(listed & {"*", caller, account, f"arn:{PARTITION}:iam::{account}:root"})


class IamGuard:
    """Authorizes the stack's Lambdas' calls (`ApiCallRecorder.authorizer`)."""

    def __init__(self, account: str, *, enforce: bool = True) -> None:
        self.account = account
        self.enforce = enforce
        self.ledger = Ledger()
        self._assumed_roles: dict[str, str] = {}  # role ARN → its ledger key

    def declare(self, caller: str, function_name: str, region: str) -> None:
        """Note the grants of a function's role (once the stack exists)."""
        self.ledger.declare(caller, function_role(self.account, region, function_name).grants)

    def declare_role(self, account: str, role_arn: str, ledger_key: str) -> None:
        """Note the grants of a role the functions assume (an app account's deploy role),
        kept under `ledger_key`: the roles one template makes in many accounts are one set
        of grants, each used if any account's role used it."""
        self._assumed_roles[role_arn] = ledger_key
        self.ledger.declare(ledger_key, role_of(account, role_arn).grants)

    def authorize(
        self, caller: Caller, client: BaseClient, operation: str, params: Mapping[str, Any]
    ) -> None:
        region = client.meta.region_name
        identity = self._identity(caller, client, region)
        call = Call(
            service=client.meta.service_model.signing_name,
            operation=operation,
            params=params,
            partition=PARTITION,
            region=region,
            account=identity.account,
            ecs=MotoEcs(identity.account, region),
            codedeploy=MotoCodeDeploy(identity.account, region),
        )
        for request in requests(call):
            decision = evaluate(identity.role.statements, request)
            untrusted = False
            if decision.allowed and request.action == "sts:AssumeRole":
                trusted = trust_decision(request.resource, identity.role.arn, request)
                decision = Decision(request, trusted.allowed, decision.grants)
                untrusted = not trusted.allowed
            self.ledger.add(Authorization(identity.ledger_key, decision))
            if not decision.allowed and self.enforce:
                raise access_denied(
                    client,
                    operation,
                    identity.role,
                    identity.session,
                    decision,
                    untrusted=untrusted,
                )

    def _identity(self, caller: Caller, client: BaseClient, region: str) -> _Identity:
        assumed = _assumed_role(_access_key(client))
        if assumed is None:
            role = function_role(self.account, region, caller.function_name)
            return _Identity(role, self.account, caller.function_name, caller.logical_id)
        account, role_arn, session = assumed
        key = self._assumed_roles.get(role_arn, role_arn)
        return _Identity(role_of(account, role_arn), account, session, key)

    def runtime_writes(self, caller: Caller, config: FunctionConfig, log_stream: str) -> None:
        """The Lambda service's own writes for one invocation, with the function's role."""
        role = function_role(self.account, config.region, config.function_name)
        for request in _runtime_requests(self.account, config, log_stream):
            decision = evaluate(role.statements, request)
            self.ledger.add(Authorization(caller.logical_id, decision, by_runtime=True))


def _runtime_requests(
    account: str, config: FunctionConfig, log_stream: str
) -> list[AuthorizationRequest]:
    """What Lambda does with the execution role around an invocation: create the log group
    if it does not exist (a template may declare it), the stream, put the events; with active
    tracing, send segments and telemetry (Lambda developer guide: "Sending Lambda function
    logs to CloudWatch Logs", "Visualize Lambda function invocations using AWS X-Ray")."""
    names = {"partition": PARTITION, "region": config.region, "account": account}
    group = config.log_group_name
    context = {"aws:RequestedRegion": config.region}
    found = []
    if group not in logs_backends[account][config.region].groups:
        group_arn = reference.arn(
            reference.action("logs", "CreateLogGroup"), "log-group", **names, LogGroupName=group
        )
        found.append(AuthorizationRequest("logs:CreateLogGroup", group_arn, context))
    for action in ("CreateLogStream", "PutLogEvents"):
        stream_arn = reference.arn(
            reference.action("logs", action),
            "log-stream",
            **names,
            LogGroupName=group,
            LogStreamName=log_stream,
        )
        found.append(AuthorizationRequest(f"logs:{action}", stream_arn, context))
    function = lambda_backend(account, config.region).get_function(config.function_name)
    if function.tracing_config.get("Mode") == "Active":
        found += [
            AuthorizationRequest(reference.action("xray", action).action, "*", context)
            for action in ("PutTraceSegments", "PutTelemetryRecords")
        ]
    return found


def access_denied(
    client: BaseClient,
    operation: str,
    role: Role,
    session: str,
    decision: Decision,
    *,
    untrusted: bool = False,
) -> ClientError:
    """The error the service returns, as its client raises it. `untrusted`: the caller may
    call AssumeRole, but the role's trust policy does not let it in (STS then names no
    policy)."""
    request = decision.request
    if untrusted:
        reason = ""
    elif decision.explicitly_denied:
        reason = " with an explicit deny in an identity-based policy"
    else:
        reason = f" because no identity-based policy allows the {request.action} action"
    message = (
        f"User: arn:{PARTITION}:sts::{role.arn.split(':')[4]}:assumed-role/{role.name}/{session}"
        f" is not authorized to perform: {request.action} on resource: {request.resource}{reason}"
    )
    # STS's code is AccessDenied (its API reference); the other services' AccessDeniedException.
    code = "AccessDenied" if request.action.startswith("sts:") else "AccessDeniedException"
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    error_class: Any = client.exceptions.from_code(code)  # the modelled class, or ClientError
    error: ClientError = error_class(response, operation)
    return error
