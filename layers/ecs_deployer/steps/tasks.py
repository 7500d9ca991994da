"""Run the one-off tasks of a phase, and check them until every one has stopped.

All families of a phase start together (as ECS Toolkit does). The phase fails when any
task did not run to an exit code of 0 in every watched container — but only once every
task has stopped, so a failing asset sync never leaves a migration running unobserved.
Each task's result is recorded when it is seen stopped, and the task is not described
again: ECS describes a stopped task for about an hour, and its siblings may run longer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from ecs_deployer.document import TaskResult
from ecs_deployer.domain.task_logs import EXCERPT_LINES, awslogs_stream, clear_values, excerpt
from ecs_deployer.domain.tasks import judge_missing, judge_task
from ecs_deployer.errors import DeployerError

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment, Phase, TaskRun
    from ecs_deployer.domain.task_logs import LogStream
    from ecs_deployer.domain.tasks import TaskJudgement, TaskSnapshot

logger = Logger(child=True)


def run_tasks(deployment: Deployment, phase: Phase, ecs: EcsGateway, now: datetime) -> Deployment:
    """The step: start every task family of ``phase`` (not those a retried step started)."""
    for run in deployment.tasks(phase):
        if run.state != "PENDING":
            continue  # a retried step: these were started already
        started = ecs.run_task(
            deployment.cluster,
            run.task_definition or run.family,
            run.config,
            started_by=f"ecs-deployer/{deployment.deployment_id}",
            idempotency_key=f"{deployment.execution_arn}/{phase}/{run.family}",
        )
        run.task_arns = started.task_arns
        # Tasks that did start are still watched to their end before the phase fails.
        run.start_failures = started.failures
        run.started_at = now
        run.state = "RUNNING"
        logger.info(
            "started tasks", extra={"family": run.family, "tasks": run.task_arns, "phase": phase}
        )
    deployment.progress = "WAIT"
    return deployment


def _result(arn: str, snapshot: TaskSnapshot | None, judgement: TaskJudgement) -> TaskResult:
    final = judgement.state != "RUNNING"
    state, reason = (judgement.state, judgement.reason) if final else (None, None)
    if snapshot is None:
        return TaskResult(task_arn=arn, last_status="MISSING", state=state, reason=reason)
    return TaskResult(
        task_arn=arn,
        last_status=snapshot.last_status,
        exit_codes=snapshot.exit_codes,
        stop_code=snapshot.stop_code,
        stopped_reason=snapshot.stopped_reason,
        state=state,
        reason=reason,
    )


def _unsettled(run: TaskRun) -> list[str]:
    """The run's tasks without a final result: the only ones still worth describing."""
    final = {result.task_arn for result in run.results if result.final}
    return [arn for arn in run.task_arns if arn not in final]


class TaskLogReader(Protocol):
    """What this step reads of a task's log (aws.logs.TaskLogs)."""

    def last_lines(self, stream: LogStream, count: int) -> list[str]: ...


def _last_words(run: TaskRun, ecs: EcsGateway, logs: TaskLogReader) -> str | None:
    """The last lines the run's first failed task printed, in the watched container that
    failed it; None when there are none to read. Never a reason to fail the step itself."""
    failed = next((result for result in run.results if result.state == "FAILED"), None)
    if failed is None or run.task_definition is None or not run.watch_containers:
        return None
    codes = failed.exit_codes
    failing = [name for name in run.watch_containers if codes.get(name) not in (0, None)]
    name = (failing or run.watch_containers)[0]
    try:
        registration = ecs.describe_task_definition(run.task_definition).registration
        container = next(c for c in registration["containerDefinitions"] if c["name"] == name)
        stream = awslogs_stream(container, failed.task_arn)
        lines = logs.last_lines(stream, EXCERPT_LINES) if stream is not None else []
    except (BotoCoreError, ClientError, DeployerError, StopIteration) as exc:
        logger.warning("could not read a failed task's log", extra={"error": str(exc)})
        return None
    if not lines:
        return None
    return f"last log lines of '{name}': {excerpt(lines, clear_values(container))}"


def _judge_run(
    run: TaskRun,
    snapshots: dict[str, TaskSnapshot],
    *,
    ecs: EcsGateway,
    logs: TaskLogReader | None,
    cluster: str,
    now: datetime,
) -> None:
    seen = {result.task_arn: result for result in run.results}
    results = []
    for arn in run.task_arns:
        snapshot = snapshots.get(arn)
        if arn in seen and seen[arn].final:
            results.append(seen[arn])
        elif snapshot is not None:
            judgement = judge_task(snapshot, run.watch_containers, run.config.containers)
            results.append(_result(arn, snapshot, judgement))
        else:
            judgement = judge_missing(arn, run.started_at or now, now)
            # Not visible yet: what an earlier describe showed still stands.
            missing = _result(arn, None, judgement)
            results.append(seen.get(arn, missing) if judgement.state == "RUNNING" else missing)
    run.results = results
    running = [result.task_arn for result in results if not result.final]
    failures = [f"RunTask failed: {failure}" for failure in run.start_failures]
    failures += [result.reason or "" for result in results if result.state == "FAILED"]
    deadline = run.deadline
    if running and deadline is not None and now >= deadline:
        reason = f"ecs-deployer: task did not stop within max_wait ({run.config.max_wait} min)"
        for arn in running:
            ecs.stop_task(cluster, arn, reason)
        run.state = "TIMED_OUT"
        run.reason = (
            f"family '{run.family}': {len(running)} task(s) still running "
            f"after {run.config.max_wait} min; stopped them"
        )
    elif running:
        return
    elif failures or not run.task_arns:
        run.state = "FAILED"
        words = _last_words(run, ecs, logs) if logs is not None else None
        reasons = failures + ([words] if words else [])
        run.reason = "; ".join(reasons) or f"family '{run.family}': no task started"
    else:
        run.state = "SUCCEEDED"
        run.reason = None


def check_tasks(
    deployment: Deployment,
    phase: Phase,
    ecs: EcsGateway,
    now: datetime,
    logs: TaskLogReader | None = None,
) -> Deployment:
    """The step the state machine polls: judge every running task, stop those past their
    max_wait; the phase fails only once every task has stopped. With ``logs``, a failed
    family's reason ends with the last lines its failed task printed."""
    runs = [run for run in deployment.tasks(phase) if run.state == "RUNNING"]
    # A task's result is kept once final: ECS describes a stopped task for about an hour
    # only, while its siblings may run for longer.
    snapshots, _ = ecs.describe_tasks(
        deployment.cluster, [arn for run in runs for arn in _unsettled(run)]
    )
    for run in runs:
        _judge_run(run, snapshots, ecs=ecs, logs=logs, cluster=deployment.cluster, now=now)
        if run.state != "RUNNING":
            run.ended_at = now
    runs = deployment.tasks(phase)
    if any(run.state == "RUNNING" for run in runs):
        deployment.progress = "WAIT"
        return deployment
    failed = [run for run in runs if run.state in ("FAILED", "TIMED_OUT")]
    if failed:
        error = "DeployTimeout" if all(run.state == "TIMED_OUT" for run in failed) else "TaskFailed"
        deployment.fail(
            error,
            f"{phase}-deploy tasks failed: "
            + "; ".join(run.reason or run.family for run in failed),
        )
    else:
        deployment.progress = "DONE"
    return deployment
