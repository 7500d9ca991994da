from __future__ import annotations

import copy
from datetime import timedelta
from typing import TYPE_CHECKING

import boto3
from msgspec.structs import replace

from ecs_deployer.domain.taskdef import registration_input
from ecs_deployer.steps.tasks import check_tasks, run_tasks
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation, TaskFault, TaskOutcome
from tests.aws_fixtures import POLL_SECONDS, STARTED, SimClock, drive, registered

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app


def _check(ecs: EcsGateway, minutes: int = 1) -> Callable[[Deployment], Deployment]:
    return lambda deployment: check_tasks(
        deployment, "pre", ecs, STARTED + timedelta(minutes=minutes)
    )


def test_tasks_run_with_the_new_revision_and_succeed_on_exit_zero(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate()
    deployment = run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED)
    migrate = deployment.pre_tasks[0]
    assert migrate.state == "RUNNING"
    assert len(migrate.task_arns) == 1
    [task] = simulation.tasks("shop-migrate")
    assert task.task_definition_arn == migrate.task_definition
    assert task.started_by == f"ecs-deployer/{deployment.deployment_id}"
    deployment = drive(_check(ecs), deployment, sim_clock)
    assert deployment.progress == "DONE"
    assert deployment.pre_tasks[0].state == "SUCCEEDED"
    assert deployment.pre_tasks[0].results[0].exit_codes == {"app": 0}


def test_a_retried_run_step_does_not_start_the_tasks_twice(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulation = simulate()
    planned = registered(deps, ecs, table)
    # The first attempt started the tasks, then the Lambda died before returning.
    run_tasks(copy.deepcopy(planned), "pre", ecs, STARTED)
    retried = run_tasks(planned, "pre", ecs, STARTED)
    assert len(simulation.tasks("shop-migrate")) == 1
    assert retried.pre_tasks[0].task_arns == [simulation.tasks("shop-migrate")[0].task_arn]


def test_non_zero_exit_fails_the_phase_naming_task_container_and_code(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate(tasks={"shop-migrate": TaskFault(TaskOutcome.EXIT, exit_code=3)})
    deployment = drive(
        _check(ecs), run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED), sim_clock
    )
    assert deployment.progress == "FAILED"
    assert deployment.failure is not None
    assert deployment.failure.error == "TaskFailed"
    assert "container app exited with code 3" in deployment.failure.cause
    assert "shop-migrate:2" in deployment.failure.cause
    assert deployment.pre_tasks[0].results[0].exit_codes == {"app": 3}


def test_task_that_failed_to_start_is_a_failure(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulate(tasks={"shop-migrate": TaskFault(TaskOutcome.FAIL_TO_START)})
    deployment = drive(
        _check(ecs), run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED), sim_clock
    )
    assert deployment.failure is not None
    assert deployment.failure.error == "TaskFailed"
    assert "failed to start" in deployment.failure.cause
    assert "CannotPullContainerError" in deployment.failure.cause


def test_a_task_that_never_stops_times_out_and_is_stopped(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    simulation = simulate(tasks={"shop-migrate": TaskFault(TaskOutcome.NEVER_STOP)})
    deployment = run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED)
    for _ in range(3):  # DescribeTasks shows the new task after a describe or two
        sim_clock.advance(POLL_SECONDS)
        deployment = check_tasks(deployment, "pre", ecs, STARTED + timedelta(minutes=1))
    assert deployment.progress == "WAIT"
    assert deployment.pre_tasks[0].results[0].last_status == "RUNNING"
    assert deployment.pre_tasks[0].ended_at is None
    deployment = check_tasks(deployment, "pre", ecs, STARTED + timedelta(minutes=30))  # max_wait
    assert deployment.pre_tasks[0].ended_at == STARTED + timedelta(minutes=30)  # its duration
    assert deployment.failure is not None
    assert deployment.failure.error == "DeployTimeout"
    assert "still running after 30 min; stopped them" in deployment.failure.cause
    task = boto3.client("ecs").describe_tasks(
        cluster="shop-demo", tasks=[simulation.tasks("shop-migrate")[0].task_arn]
    )["tasks"][0]
    assert task["desiredStatus"] == "STOPPED"
    assert "did not stop within max_wait" in task["stoppedReason"]


def test_a_task_missing_right_after_run_task_is_waited_for_until_it_is_unknown(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    # DescribeTasks misses a task RunTask just started for a describe or two (eventual
    # consistency); a task ECS never heard of stays MISSING.
    simulate()
    deployment = run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED)
    migrate = deployment.pre_tasks[0]
    [started] = migrate.task_arns
    lost = f"{started.rsplit('/', 1)[0]}/{'0' * 32}"
    migrate.task_arns.append(lost)
    deployment = check_tasks(deployment, "pre", ecs, STARTED + timedelta(seconds=1))
    assert deployment.progress == "WAIT"
    assert [r.last_status for r in deployment.pre_tasks[0].results] == ["MISSING", "MISSING"]
    for _ in range(3):
        sim_clock.advance(POLL_SECONDS)
        deployment = check_tasks(deployment, "pre", ecs, STARTED + timedelta(minutes=4))
    assert deployment.progress == "WAIT"  # the lost one: still within the grace
    assert deployment.pre_tasks[0].results[0].state == "SUCCEEDED"
    deployment = check_tasks(deployment, "pre", ecs, STARTED + timedelta(minutes=5))
    assert deployment.failure is not None
    assert deployment.failure.error == "TaskFailed"
    assert f"task {'0' * 32} is unknown to ECS (MISSING) 5 min after RunTask" in (
        deployment.failure.cause
    )


def test_runtask_failures_fail_the_phase(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate()
    planned = registered(deps, ecs, table)
    planned.pre_tasks[0].state = "RUNNING"
    planned.pre_tasks[0].start_failures = [
        "arn:aws:ecs:us-east-1:123456789012:container-instance/x: RESOURCE:MEMORY"
    ]
    deployment = check_tasks(planned, "pre", ecs, STARTED)
    assert deployment.failure is not None
    assert (
        "RunTask failed: arn:aws:ecs:us-east-1:123456789012:container-instance/x: RESOURCE:MEMORY"
        in deployment.failure.cause
    )


def _with_an_essential_log_router(seeded: sample_app.SeededApp) -> None:
    """shop-migrate's next revision runs an essential log router beside the migration: by
    default (no watch_containers) both are watched."""
    ecs = boto3.client("ecs")
    described = ecs.describe_task_definition(taskDefinition=seeded.task_definitions["shop-migrate"])
    registration = registration_input(described["taskDefinition"])
    router = {"name": "log-router", "image": "fluent-bit:3", "essential": True}
    registration["containerDefinitions"] = [*registration["containerDefinitions"], router]
    ecs.register_task_definition(**registration)


def test_an_essential_sidecar_stopped_after_the_migration_exited_0_does_not_fail_it(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    # The migration exits 0; ECS then stops the log router, which dies of the SIGTERM.
    simulate(tasks={"shop-migrate": TaskFault(killed_exit_code=143)})
    _with_an_essential_log_router(seeded)
    deployment = run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED)
    assert deployment.pre_tasks[0].watch_containers == ["app", "log-router"]
    deployment = drive(_check(ecs), deployment, sim_clock)
    assert deployment.failure is None
    assert deployment.pre_tasks[0].state == "SUCCEEDED"
    assert deployment.pre_tasks[0].results[0].exit_codes == {"app": 0, "log-router": 143}


def test_a_migration_ecs_interrupted_fails_though_it_exited_0(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
    sim_clock: SimClock,
) -> None:
    # Fargate Spot reclaims the task; the migration handles SIGTERM and exits 0, unfinished.
    simulate(
        tasks={"shop-migrate": TaskFault(TaskOutcome.STOPPED_BY_ECS, exit_code=0)},
    )
    deployment = drive(
        _check(ecs), run_tasks(registered(deps, ecs, table), "pre", ecs, STARTED), sim_clock
    )
    assert deployment.failure is not None
    assert deployment.failure.error == "TaskFailed"
    assert "was stopped (SpotInterruption) before it ended on its own" in deployment.failure.cause
    assert "Your Spot Task was interrupted." in deployment.failure.cause
    assert deployment.pre_tasks[0].results[0].exit_codes == {"app": 0}


def test_each_tasks_result_is_kept_once_stopped_while_its_sibling_runs_on(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
) -> None:
    # Two migrations: one ends at once, its sibling runs for about two hours. ECS describes
    # the first for an hour after it stopped; the phase must not depend on it any longer.
    clock = SimClock()
    faults = EcsFaults(tasks={"shop-migrate": TaskFault(running_seconds=(600.0, 7200.0))})
    with EcsSimulation(faults, clock=clock):
        planned = registered(deps, ecs, table)
        migrate = planned.pre_tasks[0]
        migrate.config = replace(migrate.config, count=2, max_wait=180)
        deployment = run_tasks(planned, "pre", ecs, STARTED)
        first, sibling = deployment.pre_tasks[0].task_arns
        while deployment.progress == "WAIT" and clock.now < STARTED + timedelta(hours=3):
            clock.now += timedelta(minutes=20)
            deployment = check_tasks(deployment, "pre", ecs, clock.now)
        forgotten = boto3.client("ecs").describe_tasks(cluster="shop-demo", tasks=[first])

    assert forgotten["failures"] == [{"arn": first, "reason": "MISSING"}]
    assert deployment.failure is None
    assert deployment.progress == "DONE"
    run = deployment.pre_tasks[0]
    assert run.state == "SUCCEEDED"
    assert [(r.task_arn, r.state, r.exit_codes) for r in run.results] == [
        (first, "SUCCEEDED", {"app": 0}),
        (sibling, "SUCCEEDED", {"app": 0}),
    ]
