"""Every demo scenario, end to end on the local cloud: the real template, ASL, handlers and
layer on moto. Each test checks the deployer's report *and* the ECS state it left behind."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.domain.dispatch import child_execution_name
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import (
    APPROVAL_TIMEOUT_MINUTES,
    MISSING_SERVICE,
    SCENARIOS,
    WEB_ALARM,
    Scenario,
)
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, RolloutFault, RolloutOutcome
from ecs_deployer_tools.localcloud.images import manifest_digest

if TYPE_CHECKING:
    from ecs_deployer.document import Deployment, ServiceRollout
    from ecs_deployer.domain.locks import LockRecord
    from ecs_deployer.history import HistoryRecord
    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

pytestmark = pytest.mark.e2e

JSON_KEYS = {
    "status",
    "scenario",
    "execution_arn",
    "error",
    "cause",
    "image",
    "services",
    "tasks",
    "state_transitions",
    "api_calls",
    "deployments",
    "chain",
}


@dataclass
class World:
    """The ECS (and deployer) state a scenario left behind, read before the cloud stops."""

    primary: dict[str, str] = field(default_factory=dict)  # service -> task definition ARN
    app_images: dict[str, str] = field(default_factory=dict)  # service -> image of "app"
    exit_codes: dict[str, list[dict[str, int | None]]] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    lock: LockRecord | None = None
    executions: list[dict[str, Any]] = field(default_factory=list)
    throttled_calls: int = 0
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    codedeploy: list[tuple[str, str]] = field(default_factory=list)  # (creator, status)
    documents: dict[str, Deployment] = field(default_factory=dict)  # by deployment id


def _inspector(world: World) -> Any:
    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        simulation.throttling = False  # the inspection is not under test
        ecs = cloud.client("ecs")
        described = ecs.describe_services(
            cluster=sample_app.CLUSTER, services=[sample_app.WEB, sample_app.WORKER]
        )
        for service in described["services"]:
            # A service CodeDeploy deploys runs its PRIMARY task set; the others their
            # PRIMARY deployment.
            primary = next(
                d for d in service["deployments"] or service["taskSets"] if d["status"] == "PRIMARY"
            )
            world.primary[service["serviceName"]] = primary["taskDefinition"]
            containers = ecs.describe_task_definition(taskDefinition=primary["taskDefinition"])[
                "taskDefinition"
            ]["containerDefinitions"]
            world.app_images[service["serviceName"]] = next(
                c["image"] for c in containers if c["name"] == "app"
            )
        for task in simulation.tasks():
            world.exit_codes.setdefault(task.family, []).append(dict(task.exit_codes))
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        world.history = table.history(sample_app.APP)
        world.lock = table.read_lock(sample_app.APP, None)
        for record in world.history:
            document = table.load_document(sample_app.APP, record.deployment_id)
            if document is not None:
                world.documents[record.deployment_id] = document
        sfn = cloud.client("stepfunctions")
        world.executions = sfn.list_executions(stateMachineArn=cloud.state_machine_arn())[
            "executions"
        ]
        for execution in world.executions:
            world.histories[execution["name"]] = sfn.get_execution_history(
                executionArn=execution["executionArn"], maxResults=1000
            )["events"]
        world.throttled_calls = simulation.throttled_calls
        codedeploy = cloud.client("codedeploy")
        ids = codedeploy.list_deployments()["deployments"]
        if ids:
            found = codedeploy.batch_get_deployments(deploymentIds=ids)["deploymentsInfo"]
            world.codedeploy = sorted((info["creator"], info["status"]) for info in found)

    return inspect


def _run(name: str) -> tuple[runner.ScenarioResult, World]:
    world = World()
    result = runner.run(SCENARIOS[name], inspect=_inspector(world))
    return result, world


def _deployment_executions(world: World) -> list[dict[str, Any]]:
    return [e for e in world.executions if e["name"].startswith(f"{sample_app.APP}-")]


def _common(result: runner.ScenarioResult, world: World) -> dict[str, Any]:
    """What every scenario must satisfy."""
    document = result.to_json()
    assert set(document) == JSON_KEYS
    assert result.as_expected, document
    assert document["image"] == result.pushes[-1].image
    # Nothing holds or waits for the app's lock once everything ended.
    assert world.lock is not None
    assert (world.lock.holder, world.lock.waiting) == (None, ())
    # Every deployment is on record, finalised with the status it reported.
    recorded = {record.deployment_id: record.status for record in world.history}
    for push in result.pushes:
        if push.status != "IGNORED":
            assert recorded[push.execution_arn.rsplit(":", 1)[-1]] == push.status  # type: ignore[union-attr]
    # Two rollouts of the app never overlapped.
    spans = sorted((r.started_at, r.finished_at) for r in world.history if r.started_at)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None
        assert end <= start
    return document


def _on_new_image(result: runner.ScenarioResult, world: World) -> None:
    for service in (sample_app.WEB, sample_app.WORKER):
        assert world.app_images[service] == result.pushes[-1].image
        assert not world.primary[service].endswith(":1")


def _on_original_revisions(world: World) -> None:
    for service in (sample_app.WEB, sample_app.WORKER):
        assert world.primary[service].endswith(f"{service}:1"), world.primary


def test_happy() -> None:
    result, world = _run("happy")
    document = _common(result, world)
    _on_new_image(result, world)
    # Each service is described stale right after UpdateService: not taken for ECS's rollback.
    assert document["api_calls"]["ecs.UpdateService"] == 2
    assert world.exit_codes == {
        sample_app.MIGRATE: [{"app": 0}],
        sample_app.SMOKE_TEST: [{"app": 0}],
    }
    assert [(t["family"], t["phase"], t["exit_codes"]) for t in document["tasks"]] == [
        (sample_app.MIGRATE, "pre", [{"app": 0}]),
        (sample_app.SMOKE_TEST, "post", [{"app": 0}]),
    ]
    for service in document["services"]:
        assert service["task_definition_before"].endswith(":1")
        assert service["task_definition_after"] == world.primary[service["name"]]
        assert service["images_after"]["app"] == result.pushes[-1].image
    assert document["api_calls"]["ecs.UpdateService"] == 2
    # Batched: one DescribeServices per check for both services, never one per service.
    assert document["api_calls"]["ecs.DescribeServices"] <= 8
    assert document["state_transitions"] > 20


@pytest.mark.parametrize(
    ("name", "exit_codes"),
    [("migration-fails", [{"app": 1}]), ("task-fails-to-start", [{"app": None}])],
)
def test_pre_task_failures_change_no_service(
    name: str, exit_codes: list[dict[str, int | None]]
) -> None:
    result, world = _run(name)
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "TaskFailed"
    assert world.exit_codes == {sample_app.MIGRATE: exit_codes}  # no smoke test ran
    assert "ecs.UpdateService" not in document["api_calls"]
    assert document["services"]
    assert all(
        s["task_definition_after"] == s["task_definition_before"] for s in document["services"]
    )


def test_a_failed_migration_is_explained_by_its_last_log_lines() -> None:
    result, world = _run("migration-fails")
    _common(result, world)
    cause = result.last.cause or ""
    assert "last log lines of 'app': " in cause
    assert sample_app.FAILED_MIGRATION_LOG[-1] in cause


@pytest.mark.parametrize(
    ("name", "error", "updates", "stops"),
    [
        # 2 rollouts + 2 rollbacks
        ("rollout-fails", "RolloutFailed", 4, 0),
        # ECS already returned web: only worker is rolled back by the deployer
        ("ecs-auto-rollback", "RolloutFailed", 3, 0),
        # web's rollout is still in progress: ECS rolls it back (StopServiceDeployment),
        # never an UpdateService on top of it
        ("never-stable", "DeployTimeout", 3, 1),
        ("post-task-fails", "TaskFailed", 4, 0),
    ],
)
def test_failures_after_the_rollout_roll_every_service_back(
    name: str, error: str, updates: int, stops: int
) -> None:
    result, world = _run(name)
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["status"] == "ROLLED_BACK"
    assert document["error"] == error
    assert document["api_calls"]["ecs.UpdateService"] == updates
    assert document["api_calls"].get("ecs.StopServiceDeployment", 0) == stops
    for service in document["services"]:
        assert service["task_definition_after"] == service["task_definition_before"]
        # Reported images are the ones ECS runs: the original image, not the pushed one.
        assert service["images_after"]["app"] == world.app_images[service["name"]]
        assert service["images_after"]["app"] != result.pushes[-1].image


def test_post_task_failure_ran_the_smoke_test_on_the_new_image() -> None:
    result, world = _run("post-task-fails")
    _common(result, world)
    assert world.exit_codes[sample_app.SMOKE_TEST] == [{"app": 1}]
    assert world.exit_codes[sample_app.MIGRATE] == [{"app": 0}]


def test_throttled() -> None:
    result, world = _run("throttled")
    _common(result, world)
    _on_new_image(result, world)
    assert world.throttled_calls > 0


def test_ignored_tag_starts_no_deployment() -> None:
    result, world = _run("ignored-tag")
    document = _common(result, world)
    _on_original_revisions(world)
    assert _deployment_executions(world) == []
    assert not [name for name in document["api_calls"] if name.startswith("ecs.")]
    [dispatcher] = world.executions
    assert dispatcher["status"] == "SUCCEEDED"
    assert world.history == []


@pytest.mark.parametrize("name", ["duplicate-event", "two-tags"])
def test_one_digest_deploys_once(name: str) -> None:
    result, world = _run(name)
    document = _common(result, world)
    _on_new_image(result, world)
    assert len(_deployment_executions(world)) == 1
    assert len(world.executions) == 3  # two dispatches (events), one deployment
    assert len(world.history) == 1
    assert document["api_calls"]["ecs.UpdateService"] == 2
    assert world.exit_codes[sample_app.MIGRATE] == [{"app": 0}]


def test_concurrent_pushes_queue_one_after_the_other() -> None:
    result, world = _run("concurrent-pushes")
    document = _common(result, world)
    _on_new_image(result, world)
    assert [record.status for record in world.history] == ["SUCCEEDED", "SUCCEEDED"]
    assert document["api_calls"]["ecs.UpdateService"] == 4
    assert len(world.exit_codes[sample_app.MIGRATE]) == 2


def test_concurrent_pushes_supersede() -> None:
    result, world = _run("concurrent-pushes-supersede")
    document = _common(result, world)
    _on_new_image(result, world)
    # Newest first: v3 deployed, v2 gave way before touching any service.
    assert [record.status for record in world.history] == ["SUCCEEDED", "SUPERSEDED"]
    assert document["api_calls"]["ecs.UpdateService"] == 2


@pytest.mark.parametrize("name", ["newer-push-first", "newer-push-first-supersede"])
def test_an_older_push_reaching_the_lock_after_a_newer_one_deploys_nothing(name: str) -> None:
    result, world = _run(name)
    document = _common(result, world)
    _on_new_image(result, world)  # v3, the newest push, whatever reached the lock first
    older, newer = result.pushes
    assert [record.status for record in world.history] == ["SUCCEEDED", "SUPERSEDED"]
    [stale] = [r for r in world.history if r.status == "SUPERSEDED"]
    assert stale.digest == older.digest
    assert stale.started_at is None  # it never held the lock
    assert stale.cause is not None
    assert newer.image in stale.cause
    assert f"deployment {newer.execution_arn.rsplit(':', 1)[-1]}" in stale.cause  # type: ignore[union-attr]
    # It registered nothing and ran nothing: the revisions it reports are what v3 left.
    assert [s["task_definition_registered"] for s in older.summary["services"]] == [None, None]
    assert {(t["state"], t["task_definition"]) for t in older.summary["tasks"]} == {
        ("PENDING", None)
    }
    assert newer.image in (older.cause or "")
    # Only the newer deployment touched ECS: one rollout, one migration.
    assert document["api_calls"]["ecs.UpdateService"] == 2
    assert len(world.exit_codes[sample_app.MIGRATE]) == 1


def test_a_repush_after_a_failure_is_a_retry_that_deploys() -> None:
    result, world = _run("repush-after-failure")
    _common(result, world)
    _on_new_image(result, world)
    failed, retry = result.pushes
    assert failed.digest == retry.digest  # one image, pushed twice
    assert failed.execution_arn is not None
    assert retry.execution_arn == f"{failed.execution_arn}-2"  # the next attempt's name
    assert [record.status for record in world.history] == ["SUCCEEDED", "FAILED"]
    # The dispatcher of the re-push says why it deployed again.
    dispatcher_outputs = [
        e["executionSucceededEventDetails"]["output"]
        for events in world.histories.values()
        for e in events
        if e["type"] == "ExecutionSucceeded"
    ]
    assert any("retry: deployment " in output for output in dispatcher_outputs)


def test_rollback_right_after_the_first_deployment_returns_to_the_revisions_before() -> None:
    result, world = _run("rollback-first-deployment")
    _common(result, world)
    _on_original_revisions(world)
    deployed, rollback = result.pushes
    assert rollback.image == world.app_images[sample_app.WEB] != deployed.image
    [undo, first] = world.history
    assert (undo.trigger, undo.undoes, undo.status) == (
        "rollback",
        first.deployment_id,
        "SUCCEEDED",
    )
    assert world.exit_codes[sample_app.MIGRATE] == [{"app": 0}]  # a rollback runs no tasks


def test_crash_mid_deploy_is_retried_and_the_lock_is_not_leaked() -> None:
    result, world = _run("crash-mid-deploy")
    _common(result, world)
    _on_new_image(result, world)
    first = result.pushes[0].execution_arn
    assert first is not None
    events = world.histories[first.rsplit(":", 1)[-1]]
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["Runtime.ExitError"]
    assert [record.status for record in world.history] == ["SUCCEEDED", "SUCCEEDED"]


def _custom(scenario: Scenario) -> tuple[runner.ScenarioResult, World]:
    world = World()
    return runner.run(scenario, inspect=_inspector(world)), world


def test_rollback_none_leaves_the_failed_rollout_in_place() -> None:
    faults = EcsFaults(services={sample_app.WEB: RolloutFault(RolloutOutcome.FAIL)})
    scenario = Scenario(
        "no-rollback",
        "rollback: none",
        "FAILED",
        ("FAILED",),
        faults=faults,
        config={"rollback": "none"},
    )
    result, world = _custom(scenario)
    document = _common(result, world)
    assert document["error"] == "RolloutFailed"
    assert document["api_calls"]["ecs.UpdateService"] == 2  # no rollback
    # Left as ECS has it: both on the new revision (web's rollout failed there).
    assert all(not arn.endswith(":1") for arn in world.primary.values())


def test_a_failed_rollback_reports_each_services_state() -> None:
    faults = EcsFaults(
        services={sample_app.WORKER: RolloutFault(RolloutOutcome.FAIL, rollback_fails=True)}
    )
    scenario = Scenario(
        "rollback-fails", "rollback fails", "ROLLBACK_FAILED", ("ROLLBACK_FAILED",), faults=faults
    )
    result, world = _custom(scenario)
    document = _common(result, world)
    assert document["error"] == "RollbackFailed"
    cause = result.last.summary
    assert cause["error"] == "RolloutFailed"  # the original failure is kept
    states = {service["name"]: service["rollback"] for service in cause["services"]}
    assert states == {sample_app.WEB: "COMPLETED", sample_app.WORKER: "FAILED"}
    assert world.primary[sample_app.WEB].endswith(":1")


def test_housekeeping_keeps_what_runs_and_the_rollback_target() -> None:
    pushes = (("v2.0.0",), ("v3.0.0",), ("v4.0.0",))
    scenario = Scenario(
        "prune",
        "keep_revisions: 1",
        "SUCCEEDED",
        ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED"),
        pushes=pushes,
        config={"keep_revisions": 1},
    )
    active: dict[str, list[int]] = {}

    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        _inspector(world)(cloud, simulation)
        ecs = cloud.client("ecs")
        for family in (sample_app.WEB, sample_app.MIGRATE):
            arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")[
                "taskDefinitionArns"
            ]
            active[family] = sorted(int(arn.rsplit(":", 1)[-1]) for arn in arns)

    world = World()
    result = runner.run(scenario, inspect=inspect)
    _common(result, world)
    _on_new_image(result, world)
    # :4 runs; :3 is what the last deployment would roll back to; :2, registered by the
    # deployer, is pruned; :1 was registered by someone else (the app's own): never pruned.
    assert active[sample_app.WEB] == [1, 3, 4]
    # A task family has no rollback target: of the deployer's revisions, the newest stays.
    assert active[sample_app.MIGRATE] == [1, 4]


def _rollbacks(result: runner.ScenarioResult) -> dict[str, tuple[str, str]]:
    """Each service's rollback state and reason, as the failed execution's cause has them."""
    return {
        service["name"]: (service["rollback"], service["reason"])
        for service in result.last.summary["services"]
    }


def test_rollback_partially_fails_still_rolls_back_the_other_service() -> None:
    result, world = _run("rollback-partially-fails")
    document = _common(result, world)
    assert document["error"] == "RollbackFailed"
    assert result.last.summary["error"] == "RolloutFailed"  # the original failure is kept
    rollbacks = _rollbacks(result)
    assert rollbacks[sample_app.WEB][0] == "COMPLETED"
    state, reason = rollbacks[sample_app.WORKER]
    assert state == "FAILED"
    assert f"service '{sample_app.WORKER}': UpdateService back to" in reason
    assert "TaskDefinition is inactive" in reason
    # web is back on its old revision; worker, whose rollback was refused, still runs ours.
    assert world.primary[sample_app.WEB].endswith(f"{sample_app.WEB}:1")
    assert world.app_images[sample_app.WORKER] == result.pushes[-1].image
    [record] = world.history
    assert {s.name: s.state for s in record.services} == {
        sample_app.WEB: "COMPLETED",
        sample_app.WORKER: "FAILED",
    }


def test_post_checkpoint_failure_rolls_back_before_the_post_tasks() -> None:
    result, world = _run("post-checkpoint-fails")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "LockLost"
    assert result.last.summary["status"] == "ROLLED_BACK"
    # The smoke test never ran on the revision nobody checked: it ran nowhere.
    assert world.exit_codes == {sample_app.MIGRATE: [{"app": 0}]}
    assert document["api_calls"]["ecs.UpdateService"] == 4  # 2 rollouts + 2 rollbacks
    assert {state for state, _ in _rollbacks(result).values()} == {"COMPLETED"}
    [record] = world.history
    assert (record.status, record.error) == ("ROLLED_BACK", "LockLost")


def test_a_service_deleted_mid_rollout_fails_naming_it_and_the_others_go_back() -> None:
    result, world = _run("service-deleted-mid-rollout")
    document = _common(result, world)
    assert document["error"] == "RollbackFailed"
    cause = result.last.summary
    assert cause["error"] == "RolloutFailed"
    assert (
        f"service '{sample_app.WEB}': is DRAINING in cluster '{sample_app.CLUSTER}'"
        in (cause["message"])
    )
    rollbacks = _rollbacks(result)
    assert rollbacks[sample_app.WORKER][0] == "COMPLETED"
    state, reason = rollbacks[sample_app.WEB]
    assert state == "FAILED"
    # The rollback comes at once, while ECS still drains the deleted service.
    assert f"service '{sample_app.WEB}' is DRAINING" in reason
    assert world.primary[sample_app.WORKER].endswith(f"{sample_app.WORKER}:1")
    [record] = world.history
    assert (record.status, record.error) == ("ROLLBACK_FAILED", "RolloutFailed")


def _dispatchers(world: World) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The input (the ECR event) and output of each execution an ECR event started."""
    found = []
    for name, events in world.histories.items():
        if name.startswith(f"{sample_app.APP}-"):
            continue  # a deployment
        [started] = [e for e in events if e["type"] == "ExecutionStarted"]
        [ended] = [e for e in events if e["type"] == "ExecutionSucceeded"]
        found.append(
            (
                json.loads(started["executionStartedEventDetails"]["input"]),
                json.loads(ended["executionSucceededEventDetails"]["output"]),
            )
        )
    return found


def test_a_multi_platform_push_deploys_its_index_once() -> None:
    result, world = _run("multi-platform-push")
    _common(result, world)
    _on_new_image(result, world)  # the index: ECS picks each task's platform from it
    image = sample_app.multi_platform_image("v2.0.0", SCENARIOS["multi-platform-push"].platforms)
    [push] = result.pushes
    assert push.digest == manifest_digest(image.index)
    [deployment] = _deployment_executions(world)
    assert deployment["name"] == child_execution_name(sample_app.APP, push.digest)
    # Each platform's manifest and attestation came untagged, with no image-tag or with "":
    # each deployed nothing, and said why.
    untagged = {
        event["detail"]["image-digest"]: (event["detail"].get("image-tag", "(absent)"), output)
        for event, output in _dispatchers(world)
        if event["detail"]["image-digest"] != push.digest
    }
    assert set(untagged) == {manifest_digest(manifest) for manifest in image.untagged}
    assert {tag for tag, _ in untagged.values()} == {"(absent)", ""}
    for digest, (_, output) in untagged.items():
        assert output["status"] == "IGNORED"
        assert output["reason"].startswith(f"{sample_app.REPOSITORY}@{digest}: untagged: ")


def test_a_retag_of_a_deployed_digest_is_a_duplicate() -> None:
    result, world = _run("retag")
    _common(result, world)
    _on_new_image(result, world)
    deployed, retagged = result.pushes
    assert deployed.digest == retagged.digest
    assert deployed.execution_arn is not None
    assert len(_deployment_executions(world)) == 1
    # The new tag on the existing digest was a PUSH event, which the retry rule judged.
    [(event, output)] = [
        (e, o) for e, o in _dispatchers(world) if e["detail"]["image-tag"] == "v2.0"
    ]
    assert (event["detail"]["action-type"], event["detail"]["image-digest"]) == (
        "PUSH",
        deployed.digest,
    )
    name = deployed.execution_arn.rsplit(":", 1)[-1]
    assert f"duplicate of deployment {name} (SUCCEEDED)" in output["reason"]


def test_a_replica_pushed_in_another_region_deploys() -> None:
    result, world = _run("replicated-push")
    _common(result, world)
    _on_new_image(result, world)  # the replica, in the deploy region's registry
    [(event, _)] = _dispatchers(world)
    assert event["detail-type"] == "ECR Replication Action"
    assert (event["detail"]["action-type"], event["detail"]["source-region"]) == (
        "REPLICATE",
        "us-west-2",
    )
    assert len(_deployment_executions(world)) == 1


def test_a_migration_ecs_interrupted_is_a_failure_though_it_exited_0() -> None:
    result, world = _run("migration-interrupted")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "TaskFailed"
    assert world.exit_codes == {sample_app.MIGRATE: [{"app": 0}]}
    assert "was stopped (SpotInterruption) before it ended on its own" in (result.last.cause or "")
    assert "ecs.UpdateService" not in document["api_calls"]


def test_a_service_with_a_short_arn_is_refused_before_anything_changes() -> None:
    result, world = _run("short-service-arn")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "ConfigError"
    assert f"'{sample_app.WEB}' has the short ARN" in (result.last.cause or "")
    assert "serviceLongArnFormat" in (result.last.cause or "")
    assert world.exit_codes == {}  # no task ran
    assert "ecs.UpdateService" not in document["api_calls"]
    assert "ecs.RegisterTaskDefinition" not in document["api_calls"]


def test_a_service_the_cluster_lacks_is_named_before_anything_changes() -> None:
    result, world = _run("service-missing")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "ResourceNotFound"
    assert f"service '{MISSING_SERVICE}' not found in cluster '{sample_app.CLUSTER}'" in (
        result.last.cause or ""
    )
    assert world.exit_codes == {}  # no task ran
    # Whether the cluster is why: it is there (and the grant for asking is used).
    assert document["api_calls"]["ecs.DescribeClusters"] == 1
    assert "ecs.RegisterTaskDefinition" not in document["api_calls"]


def test_services_run_the_tasks_of_the_deployment_they_completed() -> None:
    tasks: dict[str, list[tuple[str, str, str]]] = {}
    world = World()

    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        _inspector(world)(cloud, simulation)
        ecs = cloud.client("ecs")
        for service in (sample_app.WEB, sample_app.WORKER):
            arns = ecs.list_tasks(cluster=sample_app.CLUSTER, serviceName=service)["taskArns"]
            described = ecs.describe_tasks(cluster=sample_app.CLUSTER, tasks=arns)["tasks"]
            tasks[service] = [
                (t["lastStatus"], t["group"], t["taskDefinitionArn"]) for t in described
            ]

    result = runner.run(SCENARIOS["happy"], inspect=inspect)
    _common(result, world)
    _on_new_image(result, world)
    for service, count in ((sample_app.WEB, 2), (sample_app.WORKER, 1)):
        assert tasks[service] == [("RUNNING", f"service:{service}", world.primary[service])] * count


def _web_rollout(world: World, result: runner.ScenarioResult) -> ServiceRollout:
    """The web service's rollout in the scenario's last deployment, as it ended."""
    arn = result.pushes[-1].execution_arn
    assert arn is not None
    document = world.documents[arn.rsplit(":", 1)[-1]]
    return next(service for service in document.services if service.name == sample_app.WEB)


def test_codedeploy_happy() -> None:
    result, world = _run("codedeploy-happy")
    document = _common(result, world)
    _on_new_image(result, world)
    assert world.codedeploy == [("user", "Succeeded")]
    # web through CodeDeploy, worker through ECS: never both for one service.
    assert document["api_calls"]["codedeploy.CreateDeployment"] == 1
    assert document["api_calls"]["ecs.UpdateService"] == 1
    # The live view shows CodeDeploy's lifecycle events.
    assert _web_rollout(world, result).progress == "AfterAllowTraffic (8/8 lifecycle events)"


def test_codedeploy_fails_is_rolled_back_by_codedeploy_and_never_fought() -> None:
    result, world = _run("codedeploy-fails")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "RolloutFailed"
    assert "HOOK_EXECUTION_FAILURE" in (document["cause"] or "")
    # CodeDeploy's rollback deployment is followed; the deployer started none of its own.
    assert world.codedeploy == [("codeDeployRollback", "Succeeded"), ("user", "Failed")]
    assert document["api_calls"]["codedeploy.CreateDeployment"] == 1
    assert "codedeploy.StopDeployment" not in document["api_calls"]
    rollback = _web_rollout(world, result).rollback
    assert rollback is not None
    assert rollback.state == "COMPLETED"
    assert "rolled back by CodeDeploy" in (rollback.reason or "")
    assert document["api_calls"]["ecs.UpdateService"] == 2  # worker out, and back


def test_codedeploy_hangs_is_stopped_with_a_rollback_at_its_max_wait() -> None:
    result, world = _run("codedeploy-hangs")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "DeployTimeout"
    assert "AfterAllowTestTraffic InProgress" in (document["cause"] or "")
    assert document["api_calls"]["codedeploy.StopDeployment"] == 1
    assert world.codedeploy == [("codeDeployRollback", "Succeeded"), ("user", "Stopped")]


def _gate_record(world: World) -> HistoryRecord:
    [record] = world.history
    return record


def _states_entered(world: World, result: runner.ScenarioResult) -> list[str]:
    name = (result.last.execution_arn or "").rsplit(":", 1)[-1]
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in world.histories[name]
        if event["type"].endswith("StateEntered")
    ]


def _asked_for_approval(result: runner.ScenarioResult) -> dict[str, Any]:
    """The one "Waiting For Approval" event, between the start and the end; its detail."""
    types = [event["detail-type"] for event in result.events]
    assert types[:2] == ["Deployment Started", "Waiting For Approval"], types
    detail: dict[str, Any] = result.events[1]["detail"]
    assert (detail["app"], detail["image"]) == (sample_app.APP, result.last.image)
    assert detail["approval"]["approve"] == f"ecs-deployer approve {sample_app.APP}"
    assert "ApproverPolicy" in detail["approval"]["approvers"]
    subjects = [summary["subject"] for summary in result.summaries]
    assert subjects[0] == f"ecs-deployer: {sample_app.APP} AWAITING_APPROVAL"
    return detail


def test_approval_gate_approved() -> None:
    result, world = _run("approval-gate-approved")
    _common(result, world)
    _on_new_image(result, world)
    detail = _asked_for_approval(result)
    assert detail["deployment_id"] == _gate_record(world).deployment_id
    states = _states_entered(world, result)
    # After the migration, before any service changes.
    assert states.index("CheckPreTasks") < states.index("AwaitApproval")
    assert states.index("AwaitApproval") < states.index("UpdateServices")
    approval = _gate_record(world).approval
    assert approval is not None
    assert (approval.status, approval.answered_by) == ("APPROVED", runner.APPROVER)


def test_approval_gate_rejected_changes_nothing() -> None:
    result, world = _run("approval-gate-rejected")
    document = _common(result, world)
    _on_original_revisions(world)
    _asked_for_approval(result)
    assert document["error"] == "ApprovalRejected"
    assert document["cause"] == f"rejected by {runner.APPROVER}: not before the freeze ends"
    assert "ecs.UpdateService" not in document["api_calls"]
    assert sample_app.SMOKE_TEST not in world.exit_codes  # no post task ran
    states = _states_entered(world, result)
    assert "UpdateServices" not in states
    assert states[-1] == "ApprovalRejected"
    assert result.events[-1]["detail-type"] == "Deployment Rejected"
    approval = _gate_record(world).approval
    assert approval is not None
    assert (approval.status, approval.answered_by) == ("REJECTED", runner.APPROVER)


def test_approval_timeout_rejects_at_its_deadline_on_virtual_time() -> None:
    result, world = _run("approval-timeout")
    document = _common(result, world)
    _on_original_revisions(world)
    _asked_for_approval(result)
    assert document["error"] == "ApprovalTimedOut"
    assert "approval_timeout" in (document["cause"] or "")
    assert "ecs.UpdateService" not in document["api_calls"]
    states = _states_entered(world, result)
    assert states[states.index("AwaitApproval") :] == [
        "AwaitApproval",
        "ApprovalUnanswered",
        "Finalize",
        "RouteOutcome",
        "ApprovalTimedOut",
    ]
    record = _gate_record(world)
    assert record.approval is not None
    # The deadline the record shows is when the wait ended: the clock was driven past it.
    requested = datetime.fromisoformat(record.approval.requested_at)
    deadline = datetime.fromisoformat(record.approval.deadline)
    assert deadline - requested == timedelta(minutes=APPROVAL_TIMEOUT_MINUTES)
    assert record.finished_at is not None
    assert datetime.fromisoformat(record.finished_at) >= deadline


# -- ECS blue/green (deploymentConfiguration.strategy) ---------------------------------------


def _web_service_deployment(cloud: LocalCloud) -> dict[str, Any]:
    """web's current service deployment (DescribeServices' `currentServiceDeployment`): the
    deployer's, which ECS rolls back in place (ListServiceDeployments promises no order)."""
    ecs = cloud.client("ecs")
    described = ecs.describe_services(cluster=sample_app.CLUSTER, services=[sample_app.WEB])
    current = described["services"][0]["currentServiceDeployment"]
    found = ecs.describe_service_deployments(serviceDeploymentArns=[current])
    return dict(found["serviceDeployments"][0])


def _run_blue_green(name: str) -> tuple[runner.ScenarioResult, World, dict[str, Any]]:
    world = World()
    seen: dict[str, Any] = {}

    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        _inspector(world)(cloud, simulation)
        seen.update(_web_service_deployment(cloud))

    return runner.run(SCENARIOS[name], inspect=inspect), world, seen


@pytest.mark.parametrize("name", ["blue-green-happy", "blue-green-long-bake"])
def test_blue_green_succeeds_once_ecs_has_baked_and_cleaned_up(name: str) -> None:
    result, world, web = _run_blue_green(name)
    document = _common(result, world)
    _on_new_image(result, world)
    assert (web["status"], web["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")
    # Success only once ECS finished: the bake included, never timed out.
    [record] = world.history
    assert record.finished_at is not None
    assert datetime.fromisoformat(record.finished_at) >= web["finishedAt"]
    assert document["api_calls"]["ecs.UpdateService"] == 2
    assert "ecs.StopServiceDeployment" not in document["api_calls"]


def test_blue_green_wait_until_bake_time_succeeds_as_the_bake_starts() -> None:
    result, world, web = _run_blue_green("blue-green-wait-until-bake")
    _common(result, world)
    _on_new_image(result, world)
    [record] = world.history
    assert record.finished_at is not None
    # Reported as the bake started (`updatedAt`: entering BAKE_TIME, within a safety
    # poll), while ECS still bakes: the deployment is left to ECS to finish.
    assert (web["status"], web["lifecycleStage"]) == ("IN_PROGRESS", "BAKE_TIME")
    reported = datetime.fromisoformat(record.finished_at) - web["updatedAt"]
    assert timedelta(0) <= reported < timedelta(minutes=3)
    assert "BAKE_TIME" in (_web_rollout(world, result).reason or "")


def test_blue_green_hook_fails_is_rolled_back_by_ecs_and_never_fought() -> None:
    result, world, web = _run_blue_green("blue-green-hook-fails")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "RolloutFailed"
    assert web["status"] == "ROLLBACK_SUCCESSFUL"
    [hook] = web["lifecycleHookDetails"]
    assert hook["status"] == "FAILED"
    assert f"lifecycle hook {hook['hookId']} (AWS_LAMBDA) failed" in (document["cause"] or "")
    rollback = _web_rollout(world, result).rollback
    assert rollback is not None
    assert rollback.state == "COMPLETED"
    assert "rolled back by ECS" in (rollback.reason or "")
    # ECS's rollback is followed: web is never updated back nor stopped by the deployer.
    assert document["api_calls"]["ecs.UpdateService"] == 3  # web and worker out, worker back
    assert "ecs.StopServiceDeployment" not in document["api_calls"]


def test_canary_alarm_rollback_names_the_alarm() -> None:
    result, world, web = _run_blue_green("canary-alarm-rollback")
    document = _common(result, world)
    _on_original_revisions(world)
    assert document["error"] == "RolloutFailed"
    assert web["status"] == "ROLLBACK_SUCCESSFUL"
    assert web["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"  # during the canary's bake
    assert web["alarms"]["triggeredAlarmNames"] == [WEB_ALARM]
    assert f"CloudWatch alarm {WEB_ALARM} went into ALARM" in (document["cause"] or "")
    assert "ecs.StopServiceDeployment" not in document["api_calls"]
    assert document["api_calls"]["ecs.UpdateService"] == 3  # web and worker out, worker back


def test_linear_happy_shifts_every_step_then_succeeds() -> None:
    result, world, web = _run_blue_green("linear-happy")
    _common(result, world)
    _on_new_image(result, world)
    assert (web["status"], web["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")
    [record] = world.history
    assert record.finished_at is not None
    # Four steps, 1 minute between each, and a 2-minute bake: over 5 minutes of ECS's time.
    assert web["finishedAt"] - web["startedAt"] > timedelta(minutes=5)
    assert datetime.fromisoformat(record.finished_at) >= web["finishedAt"]


def _paused_approval(result: runner.ScenarioResult, world: World) -> dict[str, Any]:
    """The "Waiting For Approval" event of web's PAUSE hook; its detail."""
    detail = _asked_for_approval(result)
    assert (detail["approval"]["service"], detail["approval"]["stage"]) == (
        sample_app.WEB,
        "POST_TEST_TRAFFIC_SHIFT",
    )
    # After the services changed: a PAUSE hook is ECS's, inside web's service deployment.
    assert "UpdateServices" in _states_entered(world, result)
    return detail


def test_paused_approved_continues_and_succeeds() -> None:
    result, world = _run("paused-approved")
    document = _common(result, world)
    _on_new_image(result, world)
    _paused_approval(result, world)
    approval = _gate_record(world).approval
    assert approval is not None
    assert (approval.status, approval.service, approval.answered_by) == (
        "APPROVED",
        sample_app.WEB,
        runner.APPROVER,
    )
    # The deployer answers the hook (the operator only records the answer): once.
    assert document["api_calls"]["ecs.ContinueServiceDeployment"] == 1


def test_paused_rejected_is_rolled_back_by_ecs_never_a_success() -> None:
    result, world = _run("paused-rejected")
    document = _common(result, world)
    _on_original_revisions(world)
    _paused_approval(result, world)
    assert document["error"] == "RolloutFailed"
    assert "ContinueServiceDeployment (ROLLBACK)" in (document["cause"] or "")
    web = _web_rollout(world, result)
    assert web.state == "ROLLED_BACK_BY_ECS"
    approval = _gate_record(world).approval
    assert approval is not None
    assert (approval.status, approval.answered_by) == ("REJECTED", runner.APPROVER)
    assert f"rejected by {runner.APPROVER}: not before the freeze ends" in (document["cause"] or "")
    assert document["api_calls"]["ecs.ContinueServiceDeployment"] == 1


def test_paused_timeout_is_rejected_by_the_deployer_and_never_burns_max_wait() -> None:
    result, world = _run("paused-timeout")
    document = _common(result, world)
    _on_original_revisions(world)
    _paused_approval(result, world)
    assert document["error"] == "RolloutFailed"  # rolled back, not DeployTimeout
    assert "within the approval_timeout (30 min): rejected" in (document["cause"] or "")
    assert document["api_calls"]["ecs.ContinueServiceDeployment"] == 1
    web = _web_rollout(world, result)
    assert web.state == "ROLLED_BACK_BY_ECS"
    # Paused 30 min against a 5-minute max_wait (and a 5-minute bake): never timed out.
    assert web.paused is not None
    assert web.paused_for(web.ended_at or web.paused.since) >= timedelta(minutes=30)


def test_paused_timeout_in_another_account_is_rejected_through_its_deploy_role() -> None:
    result = runner.run(SCENARIOS["paused-timeout-cross-account"])
    assert result.as_expected, result.to_json()
    assert result.api_calls["ecs.ContinueServiceDeployment"] == 1
    assert "within the approval_timeout (30 min): rejected" in (result.last.cause or "")


def test_paused_approved_in_another_account_is_continued_through_its_deploy_role() -> None:
    # The operator has no session in the app's account: the deployer answers there.
    result = runner.run(SCENARIOS["paused-approved-cross-account"])
    assert result.as_expected, result.to_json()
    assert result.api_calls["ecs.ContinueServiceDeployment"] == 1
