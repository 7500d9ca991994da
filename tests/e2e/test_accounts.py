"""Apps in other accounts, end to end on the local cloud: the stack in the deployer's
account (moto's default), the sample app in STAGING_ACCOUNT or PRODUCTION_ACCOUNT, reached
through the deploy role templates/target-account-role.yaml makes there. moto keeps each
account's state apart (the access key decides the account); the local cloud's IAM guard
evaluates the assumed role's policies and its trust policy, so every grant of that role
these runs use, and none they lack, shows in the suite's IAM check."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pytest
from moto.sts.models import sts_backends

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.event_waits import scenario_run
from ecs_deployer_tools.demo.scenarios import (
    MISSING_SERVICE,
    PRODUCTION_ACCOUNT,
    RETRIED_ATTEMPTS,
    SCENARIOS,
    STAGING_ACCOUNT,
    TOOLING_ACCOUNT,
    LambdaCrash,
    Scenario,
)
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, TaskFault, TaskOutcome

if TYPE_CHECKING:
    from ecs_deployer.history import HistoryRecord
    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from ecs_deployer_tools.localcloud.iam.guard import Authorization

pytestmark = pytest.mark.e2e

DEPLOYER_ACCOUNT = "123456789012"
TARGET_ROLE = f"role/{runner.TARGET_ROLE_NAME}"


@dataclass
class Accounts:
    """What a run left in each account, read before the cloud stops."""

    clusters: dict[str, list[str]] = field(default_factory=dict)  # account → cluster ARNs
    primary: dict[str, str] = field(default_factory=dict)  # service → its task definition
    app_images: dict[str, str] = field(default_factory=dict)  # service → image of "app"
    revisions: dict[str, list[str]] = field(default_factory=dict)  # family → ACTIVE ARNs
    tasks: int = 0
    history: list[HistoryRecord] = field(default_factory=list)
    lock_held: bool | None = None  # None: not read
    sessions: list[tuple[str, str | None]] = field(default_factory=list)  # name, external id
    refused: list[Authorization] = field(default_factory=list)
    codedeploy_deployments: dict[str, int] = field(default_factory=dict)  # account → how many


def _run(
    scenario: Scenario, *, refusals_expected: bool = False
) -> tuple[runner.ScenarioResult, Accounts]:
    """Run `scenario`; the refusals IAM made are taken out of the ledger (for the suite's
    IAM check) only when the test expects them and asserts them."""
    found = Accounts()
    account = scenario.account or DEPLOYER_ACCOUNT

    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        for name in (DEPLOYER_ACCOUNT, STAGING_ACCOUNT, PRODUCTION_ACCOUNT):
            found.clusters[name] = cloud.client("ecs", account=name).list_clusters()["clusterArns"]
            if scenario.codedeploy is not None:
                codedeploy = cloud.client("codedeploy", account=name)
                found.codedeploy_deployments[name] = len(
                    codedeploy.list_deployments()["deployments"]
                )
        ecs = cloud.client("ecs", account=account)
        if found.clusters[account]:
            described = ecs.describe_services(
                cluster=sample_app.CLUSTER, services=[sample_app.WEB, sample_app.WORKER]
            )
            for service in described["services"]:
                # A service CodeDeploy deploys runs its PRIMARY task set.
                primary = next(
                    d
                    for d in service["deployments"] or service["taskSets"]
                    if d["status"] == "PRIMARY"
                )
                found.primary[service["serviceName"]] = primary["taskDefinition"]
                definition = ecs.describe_task_definition(taskDefinition=primary["taskDefinition"])
                found.app_images[service["serviceName"]] = next(
                    c["image"]
                    for c in definition["taskDefinition"]["containerDefinitions"]
                    if c["name"] == "app"
                )
            for family in (sample_app.WEB, sample_app.MIGRATE):
                found.revisions[family] = ecs.list_task_definitions(
                    familyPrefix=family, status="ACTIVE"
                )["taskDefinitionArns"]
        found.tasks = len(simulation.tasks())
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        found.history = table.history(sample_app.APP)
        lock = table.read_lock(sample_app.APP, None)
        found.lock_held = lock is not None and lock.holder is not None
        found.sessions = [
            (session.session_name, session.external_id)
            for session in sts_backends[account]["aws"].assumed_roles
            if session.role_arn.endswith(TARGET_ROLE)
        ]
        ledger = cloud.iam.ledger
        found.refused = ledger.take_denied() if refusals_expected else ledger.denied()

    return runner.run(scenario, inspect=inspect, function_logs=None), found


def _deployment_id(result: runner.ScenarioResult) -> str:
    assert result.last.execution_arn is not None
    return result.last.execution_arn.rsplit(":", 1)[-1]


def _ended_as_reported(result: runner.ScenarioResult, found: Accounts) -> None:
    assert result.as_expected, result.to_json()
    assert found.lock_held is False
    assert [record.status for record in found.history] == [result.last.status]


def _cross_account(base: str, **changes: Any) -> Scenario:
    """Scenario `base` (its pushes, faults and config) with the app in the staging account."""
    return replace(SCENARIOS[base], account=STAGING_ACCOUNT, **changes)


def test_cross_account_happy_deploys_in_the_apps_account_through_its_role() -> None:
    result, found = _run(SCENARIOS["cross-account-happy"])

    _ended_as_reported(result, found)
    for service in (sample_app.WEB, sample_app.WORKER):
        assert found.primary[service].startswith(f"arn:aws:ecs:us-east-1:{STAGING_ACCOUNT}:")
        assert not found.primary[service].endswith(":1")
        assert found.app_images[service] == result.last.image
    assert found.tasks == 2  # the migration and the smoke test, in the staging account
    # ECS of the deployer's account and of the other app account: untouched.
    assert found.clusters[DEPLOYER_ACCOUNT] == []
    assert found.clusters[PRODUCTION_ACCOUNT] == []
    # Every session names the deployment (the account's CloudTrail shows who acted) and
    # presents the external id; one per invocation that acted in ECS.
    assert {name for name, _ in found.sessions} == {_deployment_id(result)}
    assert {external_id for _, external_id in found.sessions} == {runner.EXTERNAL_ID}
    assert len(found.sessions) == result.api_calls["sts.AssumeRole"]
    assert found.refused == []


def test_a_codedeploy_service_in_the_apps_account_is_deployed_through_its_role() -> None:
    result, found = _run(SCENARIOS["cross-account-codedeploy"])

    _ended_as_reported(result, found)
    for service in (sample_app.WEB, sample_app.WORKER):
        assert found.primary[service].startswith(f"arn:aws:ecs:us-east-1:{STAGING_ACCOUNT}:")
        assert found.app_images[service] == result.last.image
    # CodeDeploy of the staging account deployed web, followed to its end through the role.
    assert result.api_calls["codedeploy.CreateDeployment"] == 1
    assert result.api_calls["codedeploy.BatchGetDeployments"] >= 1
    assert found.codedeploy_deployments == {
        DEPLOYER_ACCOUNT: 0,
        STAGING_ACCOUNT: 1,
        PRODUCTION_ACCOUNT: 0,
    }
    assert {name for name, _ in found.sessions} == {_deployment_id(result)}
    assert found.refused == []


def test_a_codedeploy_deployment_that_never_ends_is_stopped_in_the_apps_account() -> None:
    result, found = _run(_cross_account("codedeploy-hangs", name="cross-account-codedeploy-hangs"))

    _ended_as_reported(result, found)
    assert result.api_calls["codedeploy.StopDeployment"] == 1
    # Ours, and the rollback deployment CodeDeploy started when it was stopped.
    assert found.codedeploy_deployments[STAGING_ACCOUNT] == 2
    assert found.primary[sample_app.WEB].endswith(":1")
    assert found.refused == []


def test_a_role_that_cannot_be_assumed_fails_the_deployment_naming_account_and_role() -> None:
    result, found = _run(SCENARIOS["cross-account-role-denied"], refusals_expected=True)

    _ended_as_reported(result, found)
    assert result.last.error == "TargetRoleDenied"
    cause = result.last.cause or ""
    role = f"arn:aws:iam::{PRODUCTION_ACCOUNT}:{TARGET_ROLE}"
    assert f"{role} of account {PRODUCTION_ACCOUNT}" in cause
    assert found.history[0].error == "TargetRoleDenied"
    # Nothing changed in the production account: no revision, no task, no rollout.
    assert found.revisions[sample_app.WEB] == [f"{found.primary[sample_app.WEB]}"]
    assert found.primary[sample_app.WEB].endswith(":1")
    assert found.primary[sample_app.WORKER].endswith(":1")
    assert found.tasks == 0
    assert found.sessions == []
    # The role's trust policy refused each attempt (the functions may call AssumeRole).
    assert {(a.caller, a.decision.request.action) for a in found.refused} == {
        ("RegisterTaskDefinitionsFunction", "sts:AssumeRole"),
        ("FinalizeFunction", "sts:AssumeRole"),
    }
    assert all(a.decision.grants for a in found.refused)


def test_an_account_the_stack_does_not_list_is_refused_at_resolve() -> None:
    scenario = Scenario(
        "unlisted-account",
        "the config names an account the stack lists no deploy role for",
        "FAILED",
        ("FAILED",),
        config={"account": "333333333333"},
    )

    result, found = _run(scenario)

    _ended_as_reported(result, found)
    assert result.last.error == "AccountNotAllowed"
    assert "333333333333" in (result.last.cause or "")
    assert "sts.AssumeRole" not in result.api_calls
    assert "ecs.RegisterTaskDefinition" not in result.api_calls


def test_a_failed_migration_in_the_apps_account_quotes_its_log_read_there() -> None:
    result, found = _run(_cross_account("migration-fails", name="cross-account-migration"))

    _ended_as_reported(result, found)
    assert sample_app.FAILED_MIGRATION_LOG[-1] in (result.last.cause or "")
    assert found.primary[sample_app.WEB].endswith(":1")


def test_a_task_that_never_stops_is_stopped_in_the_apps_account() -> None:
    scenario = _cross_account(
        "happy",
        name="cross-account-task-timeout",
        expect="FAILED",
        deployments=("FAILED",),
        faults=EcsFaults(tasks={sample_app.MIGRATE: TaskFault(TaskOutcome.NEVER_STOP)}),
    )

    result, found = _run(scenario)

    _ended_as_reported(result, found)
    assert result.last.error == "DeployTimeout"
    assert result.api_calls["ecs.StopTask"] >= 1


def test_a_rollout_still_in_progress_is_rolled_back_by_ecs_in_the_apps_account() -> None:
    result, found = _run(_cross_account("never-stable", name="cross-account-never-stable"))

    _ended_as_reported(result, found)
    # The target role's grant: ECS rolls the ongoing service deployment back.
    assert result.api_calls["ecs.StopServiceDeployment"] == 1
    assert found.primary[sample_app.WEB].endswith(":1")


def test_a_service_missing_in_the_apps_account_is_named() -> None:
    result, found = _run(_cross_account("service-missing", name="cross-account-missing"))

    _ended_as_reported(result, found)
    assert MISSING_SERVICE in (result.last.cause or "")
    assert result.api_calls["ecs.DescribeClusters"] >= 1


def test_a_short_arn_service_in_the_apps_account_is_refused_saying_how_to_migrate() -> None:
    result, found = _run(_cross_account("short-service-arn", name="cross-account-short-arn"))

    _ended_as_reported(result, found)
    assert result.last.error == "ConfigError"
    assert "serviceLongArnFormat" in (result.last.cause or "")
    assert found.tasks == 0


def test_housekeeping_prunes_in_the_apps_account() -> None:
    scenario = _cross_account(
        "happy",
        name="cross-account-prune",
        deployments=("SUCCEEDED", "SUCCEEDED", "SUCCEEDED"),
        pushes=(("v2.0.0",), ("v3.0.0",), ("v4.0.0",)),
        config={"keep_revisions": 1},
    )

    result, found = _run(scenario)

    assert result.as_expected, result.to_json()
    assert sorted(int(arn.rsplit(":", 1)[-1]) for arn in found.revisions[sample_app.WEB]) == [
        1,
        3,
        4,
    ]


def test_an_execution_that_ends_unfinalised_is_closed_with_what_the_apps_account_runs() -> None:
    scenario = _cross_account(
        "happy",
        name="cross-account-finalize-crash",
        crash=LambdaCrash("FinalizeFunction", count=RETRIED_ATTEMPTS),
    )

    _, found = _run(scenario)

    [record] = found.history
    assert record.status == "ABORTED"
    assert found.lock_held is False
    # CloseExecution read, through the role, what each service runs in the app's account.
    assert f"{sample_app.WEB} runs {sample_app.WEB}:2" in (record.cause or "")


def test_a_push_to_the_central_registry_deploys_its_digest_in_the_apps_account() -> None:
    result, found = _run(SCENARIOS["central-ecr-push"])

    _ended_as_reported(result, found)
    central = f"{TOOLING_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{sample_app.REPOSITORY}@"
    assert result.last.image.startswith(central)
    for service in (sample_app.WEB, sample_app.WORKER):
        assert found.primary[service].startswith(f"arn:aws:ecs:us-east-1:{STAGING_ACCOUNT}:")
        assert found.app_images[service] == result.last.image
    assert found.refused == []


def _with_slow_rollouts(name: str) -> Scenario:
    """A scenario whose rollouts and tasks take 90 s, with `poll_seconds` 60: a wait that
    no event ends lasts until the first safety poll (120 s), 30 s after the rollout's end."""
    return replace(
        SCENARIOS[name],
        faults=EcsFaults(seconds_to_complete=90),
        config={"poll_seconds": 60},
    )


def test_forwarded_ecs_events_end_the_waits_in_the_apps_account() -> None:
    forwarded = scenario_run(_with_slow_rollouts("cross-account-events"))
    kept_home = scenario_run(_with_slow_rollouts("cross-account-happy"))

    assert forwarded.result.as_expected, forwarded.result.to_json()
    assert kept_home.result.as_expected, kept_home.result.to_json()
    gaps = forwarded.phase_end_gaps()
    assert all(0 <= gap <= 2 for gap in gaps.values()), gaps
    # Without the forwarding, the same rollout's end waits for the safety poll.
    assert kept_home.phase_end_gaps()["ServicesDone?"] >= 25
