"""Promotion, end to end on the local cloud: one push, two environments in two accounts
(domain/promotion.py). The stack runs in the deployer's account; staging is the sample app
in STAGING_ACCOUNT, production the same app in PRODUCTION_ACCOUNT, each reached through
its deploy role. Production gets the digest only after staging succeeded, and never when
staging did not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.domain.promotion import execution_name
from ecs_deployer_tools.cli import app
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import PRODUCTION_ACCOUNT, SCENARIOS, STAGING_ACCOUNT
from ecs_deployer_tools.operator.records import ShownRecord, promotion_chains

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

pytestmark = pytest.mark.e2e


@dataclass
class Found:
    """What a run left in each account, read before the cloud stops."""

    images: dict[str, dict[str, str]] = field(default_factory=dict)  # account → service → image
    revisions: dict[str, dict[str, str]] = field(default_factory=dict)  # account → service → ARN
    locks_held: dict[str | None, bool] = field(default_factory=dict)  # environment → held
    executions: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str | None, str]] = field(default_factory=list)
    # account → the one-off tasks' (family, subnet, security groups), and the sample app's.
    task_networks: dict[str, list[tuple[str, str, list[str]]]] = field(default_factory=dict)
    app_networks: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


def _task_networks(cloud: LocalCloud, account: str) -> list[tuple[str, str, list[str]]]:
    """Where the one-off tasks ran in ``account``: the subnet and security groups of each
    task's network interface, which ECS made from RunTask's networkConfiguration."""
    ecs, ec2 = cloud.client("ecs", account=account), cloud.client("ec2", account=account)
    arns = [
        arn
        for family in (sample_app.MIGRATE, sample_app.SMOKE_TEST)
        for arn in ecs.list_tasks(
            cluster=sample_app.CLUSTER, family=family, desiredStatus="STOPPED"
        )["taskArns"]
    ]
    if not arns:
        return []
    networks = []
    for task in ecs.describe_tasks(cluster=sample_app.CLUSTER, tasks=arns)["tasks"]:
        [attachment] = task["attachments"]
        details = {detail["name"]: detail["value"] for detail in attachment["details"]}
        [interface] = ec2.describe_network_interfaces(
            NetworkInterfaceIds=[details["networkInterfaceId"]]
        )["NetworkInterfaces"]
        family = task["taskDefinitionArn"].rsplit("/", 1)[-1].split(":")[0]
        groups = [group["GroupId"] for group in interface["Groups"]]
        networks.append((family, details["subnetId"], groups))
    return sorted(networks)


def _app_network(cloud: LocalCloud, account: str) -> tuple[str, list[str]]:
    """The subnet and security group the sample app was seeded with in ``account``."""
    ec2 = cloud.client("ec2", account=account)
    [subnet] = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.20.1.0/24"]}])[
        "Subnets"
    ]
    [group] = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["shop"]}])[
        "SecurityGroups"
    ]
    return subnet["SubnetId"], [group["GroupId"]]


def _run(name: str) -> tuple[runner.ScenarioResult, Found]:
    found = Found()

    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        for account in (STAGING_ACCOUNT, PRODUCTION_ACCOUNT):
            ecs = cloud.client("ecs", account=account)
            described = ecs.describe_services(
                cluster=sample_app.CLUSTER, services=[sample_app.WEB, sample_app.WORKER]
            )
            found.revisions[account], found.images[account] = {}, {}
            for service in described["services"]:
                primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
                definition = ecs.describe_task_definition(taskDefinition=primary["taskDefinition"])
                found.revisions[account][service["serviceName"]] = primary["taskDefinition"]
                found.images[account][service["serviceName"]] = next(
                    c["image"]
                    for c in definition["taskDefinition"]["containerDefinitions"]
                    if c["name"] == "app"
                )
            found.task_networks[account] = _task_networks(cloud, account)
            found.app_networks[account] = _app_network(cloud, account)
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        for environment in ("staging", "production", None):
            found.locks_held[environment] = (
                table.read_lock(sample_app.APP, environment).holder is not None
            )
        found.executions = cloud.client("stepfunctions").list_executions(
            stateMachineArn=cloud.state_machine_arn()
        )["executions"]

    result = runner.run(SCENARIOS[name], inspect=inspect, function_logs=None)
    found.events = [
        (event["detail-type"], event["detail"]["environment"], event["detail"]["deployment_id"])
        for event in result.events
    ]
    return result, found


def test_production_gets_the_digest_staging_deployed_only_after_staging_succeeded() -> None:
    result, found = _run("promotion-staging-to-production")

    assert result.as_expected, result.to_json()
    staging, production = result.chain
    pushed = result.last.image
    # The same digest, in each account's own services, through each account's deploy role.
    both = {sample_app.WEB: pushed, sample_app.WORKER: pushed}
    assert found.images[STAGING_ACCOUNT] == both
    assert found.images[PRODUCTION_ACCOUNT] == both
    assert all(
        f":{PRODUCTION_ACCOUNT}:" in arn for arn in found.revisions[PRODUCTION_ACCOUNT].values()
    )
    # The promotion record: the chain is the push's deployment, production came from it.
    assert (staging.environment, staging.chain_id, staging.promoted_from) == (
        "staging",
        staging.deployment_id,
        None,
    )
    assert (production.environment, production.chain_id, production.promoted_from) == (
        "production",
        staging.deployment_id,
        staging.deployment_id,
    )
    assert production.deployment_id == execution_name(
        sample_app.APP, "production", staging.deployment_id
    )
    assert production.trigger == "promotion"
    assert production.image == staging.image == pushed
    # Only after staging succeeded: production was requested after staging had finished.
    assert staging.finished_at is not None
    assert production.requested_at >= staging.finished_at
    assert found.events == [
        ("Deployment Started", "staging", staging.deployment_id),
        ("Deployment Succeeded", "staging", staging.deployment_id),
        ("Deployment Started", "production", production.deployment_id),
        ("Deployment Succeeded", "production", production.deployment_id),
    ]
    assert found.locks_held == {"staging": False, "production": False, None: False}
    [chain] = promotion_chains(ShownRecord(record, record.status) for record in result.chain)
    assert chain.state == "complete"
    # The migration and the smoke test ran in each account, in that account's own network
    # (its environment's network_configuration): accounts share no subnet.
    for account in (STAGING_ACCOUNT, PRODUCTION_ACCOUNT):
        subnet, groups = found.app_networks[account]
        assert found.task_networks[account] == [
            (sample_app.MIGRATE, subnet, groups),
            (sample_app.SMOKE_TEST, subnet, groups),
        ]
    assert found.app_networks[STAGING_ACCOUNT] != found.app_networks[PRODUCTION_ACCOUNT]
    # One dispatcher, one deployment per environment: nothing started twice.
    assert sorted(execution["status"] for execution in found.executions) == ["SUCCEEDED"] * 3


def test_a_chain_stops_where_its_deployment_fails_and_production_is_never_touched() -> None:
    result, found = _run("promotion-stops-on-failure")

    assert result.as_expected, result.to_json()
    [staging] = result.chain
    assert staging.environment == "staging"
    assert staging.status == "ROLLED_BACK"
    [chain] = promotion_chains([ShownRecord(staging, staging.status)])
    assert chain.state == "stopped at staging (ROLLED_BACK): production not deployed"
    # Production runs what it was seeded with: no revision registered, no service updated.
    assert all(arn.endswith(":1") for arn in found.revisions[PRODUCTION_ACCOUNT].values())
    assert result.last.image not in found.images[PRODUCTION_ACCOUNT].values()
    assert [environment for _, environment, _ in found.events] == ["staging", "staging"]
    # The push's dispatcher and staging's deployment: no production execution at all.
    assert len(found.executions) == 2
    assert found.locks_held == {"staging": False, "production": False, None: False}


def test_production_waits_for_its_approval_and_records_who_gave_it() -> None:
    result, found = _run("promotion-approved")

    assert result.as_expected, result.to_json()
    staging, production = result.chain
    assert staging.approval is None  # only production asks
    assert production.approval is not None
    assert (production.approval.status, production.approval.answered_by) == (
        "APPROVED",
        runner.APPROVER,
    )
    # Asked for after staging ended, before production changed anything.
    assert staging.finished_at is not None
    assert staging.finished_at <= production.approval.requested_at
    assert found.images[PRODUCTION_ACCOUNT] == {
        sample_app.WEB: result.last.image,
        sample_app.WORKER: result.last.image,
    }
    [chain] = promotion_chains(ShownRecord(record, record.status) for record in result.chain)
    assert chain.to_json()["steps"][1]["approved_by"] == "release-manager"
    assert ("Waiting For Approval", "production", production.deployment_id) in found.events


def test_the_demo_says_where_the_chain_stopped() -> None:
    shown = CliRunner().invoke(app, ["local", "demo", "--scenario", "promotion-stops-on-failure"])

    assert shown.exit_code == 0, shown.output
    [line] = [line for line in shown.stdout.splitlines() if line.startswith("chain ")]
    assert line.endswith("ROLLED_BACK; stopped at staging (ROLLED_BACK): production not deployed")
