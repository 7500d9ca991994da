"""The known IAM gaps, proven by the local cloud's IAM check: without the grant, the call AWS
would refuse is refused, the deployment fails, and the ledger says which action on which
resource; with it, the same push deploys. And a grant no call uses is found. (Short service
ARNs: test_iam_short_arn.py.)

One local cloud (the real template, the sample app seeded) serves the module; each case
takes a grant away from one function's role as deployed, pushes, and gives it back.
"""

from __future__ import annotations

import itertools
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from moto.iam.models import iam_backends

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.config.models import app_config
from ecs_deployer.structs import encode
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation, TaskFault, TaskOutcome
from ecs_deployer_tools.localcloud.iam.policy import Grant
from ecs_deployer_tools.operator.configs import push_config

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ecs_deployer.history import HistoryRecord
    from ecs_deployer_tools.localcloud.iam.guard import Authorization

pytestmark = pytest.mark.e2e

_versions = itertools.count(2)


@dataclass
class Stack:
    cloud: LocalCloud
    simulation: EcsSimulation
    table: DeploymentsTable


# The migration may run 1 minute (max_wait) before the deployer stops it.
MIGRATION_MAX_WAIT = 1


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    simulation = EcsSimulation()
    with LocalCloud(runner.TEMPLATE, extensions=[simulation]) as cloud:
        seeded = sample_app.seed(sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX)
        config = sample_app.app_config(seeded.subnet, seeded.security_group)
        document = encode(config)
        document["tasks"]["pre"][0]["max_wait"] = MIGRATION_MAX_WAIT
        push_config(
            cloud.client("ssm"),
            runner.CONFIG_PREFIX,
            sample_app.APP,
            app_config(document),
        )
        cloud.deploy_stack(
            {**runner.STACK_PARAMETERS, **seeded.network_parameters, "LogLevel": "ERROR"}
        )
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        yield Stack(cloud, simulation, table)


def _role_policies(cloud: LocalCloud, function: str) -> tuple[str, dict[str, Any]]:
    """The function's role name and its inline policies' documents, by policy name."""
    name = cloud.stack_resources()[function]
    role = cloud.client("lambda").get_function_configuration(FunctionName=name)["Role"]
    role_name = role.rsplit("/", 1)[-1]
    # From moto's model: its GetRolePolicy answers a policy CloudFormation made as a Python
    # repr, not JSON.
    role_model = iam_backends[cloud.account_id]["global"].get_role(role_name)
    documents = {
        policy: json.loads(document) if isinstance(document, str) else document
        for policy, document in role_model.policies.items()
    }
    return role_name, documents


@contextmanager
def _policies_changed(cloud: LocalCloud, function: str, change: Any) -> Iterator[None]:
    """Each inline policy of the function's role as `change(statements)` makes it, for the
    `with` block; the grants the guard counts follow."""
    role_name, documents = _role_policies(cloud, function)
    iam = cloud.client("iam")

    def put(policies: dict[str, Any]) -> None:
        for policy, document in policies.items():
            # SAM writes no Version (IAM then reads 2008-10-17); moto's PutRolePolicy wants
            # one, and no statement here uses a policy variable the versions differ on.
            versioned = {"Version": "2012-10-17", **document}
            iam.put_role_policy(
                RoleName=role_name, PolicyName=policy, PolicyDocument=json.dumps(versioned)
            )
        cloud.iam.declare(function, cloud.stack_resources()[function], cloud.region)

    put(
        {
            policy: {**document, "Statement": change(document["Statement"])}
            for policy, document in documents.items()
        }
    )
    try:
        yield
    finally:
        put(documents)


def _without(action: str) -> Any:
    """Statements less `action` (a statement left with no action goes)."""

    def change(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for statement in statements:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            left = [a for a in actions if a != action]
            if left:
                kept.append({**statement, "Action": left})
        assert len(kept) <= len(statements)
        return kept

    return change


def _push(stack: Stack) -> str:
    """Push a new image and run what it starts to its end; the deployment's status."""
    return _pushed(stack).status


def _pushed(stack: Stack) -> HistoryRecord:
    # A second on: a push refused at once ends in no time, and two pushes of one instant
    # are ordered by their event ids.
    stack.cloud.advance(1.0)
    tag = f"v{next(_versions)}.0.0"
    digest = stack.cloud.push_image(sample_app.REPOSITORY, tag, sample_app.image_manifest(tag))
    stack.cloud.run_until_idle()
    [record] = stack.table.records_of_digest(sample_app.APP, digest)
    return record


def _refused(stack: Stack) -> list[tuple[str, str, str]]:
    denied: list[Authorization] = stack.cloud.iam.ledger.take_denied()
    return [(a.caller, a.decision.request.action, a.decision.request.resource) for a in denied]


def _roles() -> set[str]:
    return set(runner.STACK_PARAMETERS["PassRoleArns"].split(","))


def test_update_service_onto_a_new_task_definition_passes_its_roles(stack: Stack) -> None:
    with _policies_changed(stack.cloud, "UpdateServicesFunction", _without("iam:PassRole")):
        status = _push(stack)
        refused = _refused(stack)

    assert status != "SUCCEEDED"
    passed = {resource for caller, action, resource in refused if action == "iam:PassRole"}
    assert {caller for caller, _, _ in refused} == {"UpdateServicesFunction"}
    assert passed
    assert passed <= _roles()
    # With the grant, the same kind of push deploys.
    assert _push(stack) == "SUCCEEDED"
    assert _refused(stack) == []


def test_registering_a_tagged_revision_needs_tag_resource_on_create(stack: Stack) -> None:
    with _policies_changed(
        stack.cloud, "RegisterTaskDefinitionsFunction", _without("ecs:TagResource")
    ):
        record = _pushed(stack)
        refused = _refused(stack)

    assert record.status == "FAILED"
    # The error ECS answers, as the function saw it.
    assert "(AccessDeniedException) when calling the RegisterTaskDefinition operation: User: " in (
        record.cause or ""
    )
    assert ":assumed-role/" in (record.cause or "")
    assert "is not authorized to perform: ecs:TagResource on resource: arn:aws:ecs:" in (
        record.cause or ""
    )
    assert refused
    for caller, action, resource in refused:
        assert (caller, action) == ("RegisterTaskDefinitionsFunction", "ecs:TagResource")
        assert f":task-definition/{sample_app.FAMILY_PREFIX}" in resource
    assert _push(stack) == "SUCCEEDED"


def test_a_grant_no_call_uses_is_found(stack: Stack) -> None:
    # Actions no code of Resolve calls.
    unused = {
        "Sid": "NeverCalled",
        "Effect": "Allow",
        "Action": ["ssm:DescribeParameters", "ecs:ListTaskDefinitions"],
        "Resource": "*",
    }
    with _policies_changed(
        stack.cloud, "ResolveFunction", lambda statements: [*statements, unused]
    ):
        assert _push(stack) == "SUCCEEDED"
        ledger = stack.cloud.iam.ledger
        never = ledger.grants["ResolveFunction"] - ledger.used()["ResolveFunction"]

    # (The stack's own grants this one push leaves unused are other tests' to use.)
    assert {(g.statement, g.entry) for g in never if g.statement == "NeverCalled"} == {
        ("NeverCalled", "ssm:DescribeParameters"),
        ("NeverCalled", "ecs:ListTaskDefinitions"),
    }
    assert (
        Grant("ResolveFunctionRolePolicy0", "NeverCalled", "ssm:DescribeParameters")
        not in (stack.cloud.iam.ledger.grants["ResolveFunction"])
    )  # given back


def test_a_task_past_its_max_wait_is_stopped_with_the_stop_task_grant(stack: Stack) -> None:
    """CheckTasks' ecs:StopTask, on task/CLUSTER/ID in the cluster: no scenario of the
    catalogue has a task that never stops."""
    stack.simulation.faults = EcsFaults(
        tasks={sample_app.MIGRATE: TaskFault(TaskOutcome.NEVER_STOP)}
    )
    calls_before = stack.cloud.api_calls.get("ecs.StopTask", 0)
    try:
        record = _pushed(stack)
    finally:
        stack.simulation.faults = EcsFaults()

    assert (record.status, record.error) == ("FAILED", "DeployTimeout")
    assert f"still running after {MIGRATION_MAX_WAIT} min; stopped them" in (record.cause or "")
    assert stack.cloud.api_calls["ecs.StopTask"] == calls_before + 1
    assert _refused(stack) == []


def test_the_lambda_services_own_writes_are_checked_with_the_role(stack: Stack) -> None:
    """Logs and traces the Lambda service writes for an invocation: each function's logs
    into the log group the template declares for it (so never created), allowed by its own
    role's logging statement; traces by the stack's tracing policy."""
    seen = len(stack.cloud.iam.ledger.authorizations)
    assert _push(stack) == "SUCCEEDED"

    runtime = [a for a in stack.cloud.iam.ledger.authorizations[seen:] if a.by_runtime]
    assert {a.decision.request.action for a in runtime} == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert all(a.decision.allowed for a in runtime)
    writers = {a.caller for a in runtime if a.decision.request.action == "logs:PutLogEvents"}
    assert {"ResolveFunction", "FinalizeFunction"} <= writers
    for authorization in runtime:
        request, grants = authorization.decision.request, authorization.decision.grants
        assert grants
        if request.action.startswith("logs:"):
            assert f":log-group:/aws/lambda/{stack.cloud.stack_name}/" in request.resource
            assert {grant.statement for grant in grants} == {"WriteOwnLogs"}
        else:
            assert all("FunctionTracingPolicy" in grant.policy for grant in grants)
