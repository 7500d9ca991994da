"""Roll services out (or back) and judge each rollout until it is really over.

Each rollout is judged by the service deployment UpdateService started
(DescribeServiceDeployments), or by the service's `deployments[]` where ECS shows none.
Rolling back returns exactly the services this deployment changed to the revision each ran
before. While our service deployment is ongoing, ECS rolls it back (StopServiceDeployment):
the deployer never deploys on top of ECS; UpdateService back comes only once it is over.
A service that ECS already returned (or is returning) is followed, not fought; a
service someone else has since deployed is left alone and reported. Each service is rolled
back on its own: one that is gone or refuses the update fails its own rollback, never the
others'. A service this deployment never updated needs no rollback, whatever runs on it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ecs_deployer.document import PausedHook, ServiceRollback
from ecs_deployer.domain.register import forced_update
from ecs_deployer.domain.service_deployments import (
    judge_rollback,
    judge_service_deployment,
    wait_budget,
)
from ecs_deployer.domain.services import RolloutJudgement, judge_rollout, revision
from ecs_deployer.errors import DeployerError, ResourceNotFound, ServiceChanged
from ecs_deployer.history import RecordUpdate, iso
from ecs_deployer.steps import codedeploy as codedeploy_steps

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ecs_deployer.aws.codedeploy import CodeDeployGateway
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment, ServiceRollout, ServiceState
    from ecs_deployer.domain.service_deployments import ServiceDeployment
    from ecs_deployer.domain.services import ServiceSnapshot
    from ecs_deployer.history import ApprovalRecord

logger = Logger(child=True)
_FAILED_ROLLOUTS = ("FAILED", "ROLLED_BACK_BY_ECS", "REPLACED", "TIMED_OUT")


def _snapshots(
    deployment: Deployment, ecs: EcsGateway, names: Sequence[str]
) -> tuple[dict[str, ServiceSnapshot], dict[str, str]]:
    """Snapshots of the named services that are still ACTIVE, and why each other one is not
    (deleted, or being deleted: DeleteService drains a service, then makes it INACTIVE)."""
    found, _ = ecs.describe_services(deployment.cluster, names) if names else ({}, [])
    snapshots = {name: found[name] for name in names if name in found}
    gone = {
        name: f"no longer exists in cluster '{deployment.cluster}'"
        for name in names
        if name not in snapshots
    }
    for name, snapshot in list(snapshots.items()):
        if snapshot.status != "ACTIVE":
            state = "being deleted" if snapshot.status == "DRAINING" else "deleted"
            gone[name] = f"is {snapshot.status} in cluster '{deployment.cluster}' ({state})"
            del snapshots[name]
    return snapshots, gone


def _names(services: Sequence[ServiceRollout]) -> list[str]:
    return [service.name for service in services]


def update_services(
    deployment: Deployment,
    ecs: EcsGateway,
    table: DeploymentsTable,
    now: datetime,
    *,
    codedeploy: CodeDeployGateway | None = None,
) -> Deployment:
    """The step: check that no service moved since planning (ServiceChanged), mark the
    record IN_PROGRESS, and start each service's rollout: UpdateService, or a CodeDeploy
    deployment for a service CodeDeploy deploys. A retried step recognises the
    UpdateService that already went through."""
    snapshots, gone = _snapshots(deployment, ecs, _names(deployment.services))
    if gone:
        raise ResourceNotFound("; ".join(f"service '{name}' {why}" for name, why in gone.items()))
    moved = [
        f"'{service.name}' now runs {snapshots[service.name].task_definition}, "
        f"not {service.task_definition_before}"
        for service in deployment.services
        if snapshots[service.name].task_definition
        not in (service.task_definition_before, service.task_definition_after)
    ]
    if moved:
        raise ServiceChanged("services changed since this deployment planned: " + "; ".join(moved))
    table.update_record(
        deployment, RecordUpdate.progress(deployment, now).with_status("IN_PROGRESS")
    )
    for service in deployment.services:
        if service.ecs_deployment_id is not None:
            continue
        primary = snapshots[service.name].primary
        if service.codedeploy is not None:
            service.ecs_deployment_id = codedeploy_steps.start_deployment(
                deployment,
                service,
                snapshots[service.name],
                service.task_definition_after or "",
                codedeploy_steps.required(codedeploy),
            )
        elif (
            service.changed and primary and primary.task_definition == service.task_definition_after
        ):
            # A retried step: our UpdateService went through before the step failed.
            service.ecs_deployment_id = primary.id
            service.service_deployment_arn = snapshots[service.name].current_service_deployment
        else:
            started = ecs.update_service(
                deployment.cluster,
                service.name,
                service.task_definition_after or "",
                force=forced_update(service.force, service.changed),
            )
            service.ecs_deployment_id = started.deployment_id
            service.service_deployment_arn = started.service_deployment_arn
        _keep_budget(service, snapshots[service.name])
        service.started_at = now
        service.state = "IN_PROGRESS"
        logger.info(
            "service update started",
            extra={
                "service": service.name,
                "ecs_deployment": service.ecs_deployment_id,
                "service_deployment": service.service_deployment_arn,
            },
        )
    deployment.progress = "WAIT"
    return deployment


def _judge(
    snapshot: ServiceSnapshot | None,
    deployment_id: str | None,
    *,
    target: str | None,
    previous: str | None,
    started_at: datetime | None,
    deadline: datetime | None,
    now: datetime,
    judged: RolloutJudgement | None = None,
) -> tuple[ServiceState, RolloutJudgement]:
    """ECS's verdict on one rollout (CodeDeploy's or its service deployment's, ``judged``,
    where there is one, else the service's ``snapshot``'s), or TIMED_OUT once it is still
    rolling at its ``deadline`` (``ServiceRollout.deadline``)."""
    if judged is None:
        assert snapshot is not None  # a rollout without a verdict of its own is described
        judged = judge_rollout(
            snapshot, deployment_id or "", target or "", previous or "", now - (started_at or now)
        )
    if judged.state == "IN_PROGRESS" and deadline is not None and now >= deadline:
        return "TIMED_OUT", judged
    return judged.state, judged


def _keep_budget(service: ServiceRollout, snapshot: ServiceSnapshot) -> None:
    """Keep, from the first `snapshot` of the service (UpdateServices'), how long its rollout
    (or rollback) may take: its `max_wait`, plus the bake times and hook timeouts of its
    deployment strategy, which are fixed once UpdateService ran."""
    if service.wait_budget is None:
        service.wait_budget = wait_budget(
            timedelta(minutes=service.max_wait_minutes), snapshot.deployment_configuration
        )


def _timed_out(budget: timedelta, judgement: RolloutJudgement) -> str:
    return f"not steady after {budget // timedelta(minutes=1)} min ({judgement.progress})"


def _codedeploy_judgements(
    codedeploy: CodeDeployGateway | None, ids: dict[str, str], target: dict[str, str]
) -> dict[str, RolloutJudgement]:
    if not ids:
        return {}
    gateway = codedeploy_steps.required(codedeploy)
    return codedeploy_steps.judgements(gateway, ids, lambda name: target[name])


def _service_deployments(
    ecs: EcsGateway, arns: dict[str, str | None]
) -> dict[str, ServiceDeployment]:
    """The service deployments `arns` names, by service name (one ECS does not show is
    left out: that service is judged by its `deployments[]`)."""
    wanted = {name: arn for name, arn in arns.items() if arn is not None}
    if not wanted:
        return {}
    found = ecs.describe_service_deployments(list(dict.fromkeys(wanted.values())))
    return {name: found[arn] for name, arn in wanted.items() if arn in found}


def _with_counts(
    judgement: RolloutJudgement,
    service_deployment: ServiceDeployment,
    snapshot: ServiceSnapshot | None,
    deployment_id: str | None,
) -> RolloutJudgement:
    """The judgement, its progress as operators read it: the tasks of the service's
    deployment (ours, else the PRIMARY) where the service was described, else of the
    service deployment's target revision; and the lifecycle stage of a deployment that has
    stages."""
    shown = (snapshot.deployment(deployment_id or "") or snapshot.primary) if snapshot else None
    tasks = shown or service_deployment.target_tasks
    progress = tasks.progress if tasks else judgement.progress
    stage = service_deployment.lifecycle_stage
    return replace(judgement, progress=f"{progress}, {stage}" if stage else progress)


def _track_pause(
    service: ServiceRollout, service_deployment: ServiceDeployment | None, now: datetime
) -> None:
    """Note when the service deployment starts waiting at a PAUSE hook, and add the time it
    waited to ``paused_seconds`` once it goes on. A hook the deployer rejected stays noted:
    the rollback's judgement names why."""
    hook = service_deployment.paused_hook if service_deployment else None
    paused = service.paused
    if paused is not None and paused.rejected:
        return  # ECS rolls it back: its judgement says why
    if paused is not None and (hook is None or hook.hook_id != paused.hook_id):
        service.paused_seconds += int((now - paused.since).total_seconds())
        service.paused = None
    if hook is not None and (service.paused is None or service.paused.hook_id != hook.hook_id):
        stage = service_deployment.lifecycle_stage if service_deployment else None
        service.paused = PausedHook(hook_id=hook.hook_id, stage=stage, since=now)


def _answer_pause(service: ServiceRollout, ecs: EcsGateway, answer: ApprovalRecord | None) -> None:
    """Send an operator's ``answer`` to the service's announced PAUSE hook through the app
    account's ECS: CONTINUE, or ROLLBACK (ECS rolls it back; its judgement says why). Once:
    the hook is marked answered, and one no longer waiting is not seen paused again. An
    answer covers every hook announced by the time its approval was asked (one record holds
    one approval); a hook announced after it waits for its own."""
    paused = service.paused
    if (
        paused is None
        or not paused.announced
        or paused.continued
        or paused.rejected
        or service.service_deployment_arn is None
        or answer is None
        or answer.service is None
        or answer.status not in ("APPROVED", "REJECTED")
        or iso(paused.since) > answer.requested_at  # both of iso(): they sort as times
    ):
        return
    if answer.status == "APPROVED":
        paused.continued = True
        ecs.continue_service_deployment(service.service_deployment_arn, paused.hook_id, "CONTINUE")
        return
    why = f": {answer.reason}" if answer.reason else ""
    _reject_pause(
        service, ecs, f"its PAUSE hook at {paused.stage} was rejected by {answer.answered_by}{why}"
    )


def _reject_unanswered_pause(
    service: ServiceRollout, ecs: EcsGateway, approval_timeout: timedelta, now: datetime
) -> None:
    """A PAUSE hook nobody answered within the app's ``approval_timeout``: the deployer
    rejects it (ContinueServiceDeployment ROLLBACK), and follows ECS's rollback."""
    paused = service.paused
    if (
        paused is None
        or paused.continued
        or paused.rejected
        or now - paused.since < approval_timeout
    ):
        return
    minutes = approval_timeout // timedelta(minutes=1)
    _reject_pause(
        service,
        ecs,
        f"nobody approved its PAUSE hook at {paused.stage} within the approval_timeout "
        f"({minutes} min): rejected",
    )


def _reject_pause(service: ServiceRollout, ecs: EcsGateway, why: str) -> None:
    """Roll the service's paused hook back (ContinueServiceDeployment ROLLBACK), noting why:
    ECS rolls it back, and the rollback's judgement names it."""
    paused = service.paused
    assert paused is not None
    paused.rejected = why
    if service.service_deployment_arn is not None:
        ecs.continue_service_deployment(service.service_deployment_arn, paused.hook_id, "ROLLBACK")
    service.reason = why


def _needs_describe(service: ServiceRollout, ours: ServiceDeployment | None, now: datetime) -> bool:
    """Whether judging the rollout needs its service described (DescribeServices): a
    CodeDeploy deployment or one without a service deployment is judged by the service; a
    STOPPED service deployment needs the service's current one; and a document stored
    without the wait budget needs the strategy's time once `max_wait` has passed (it only
    ever adds to `max_wait`). Otherwise the service deployment alone judges it, with its
    tasks."""
    if service.codedeploy is not None or ours is None or not ours.judged_alone:
        return True
    max_wait = timedelta(minutes=service.max_wait_minutes)
    return service.wait_budget is None and now >= (service.started_at or now) + max_wait


def check_services(
    deployment: Deployment,
    ecs: EcsGateway,
    now: datetime,
    *,
    codedeploy: CodeDeployGateway | None = None,
    answer: ApprovalRecord | None = None,
) -> Deployment:
    """The step the state machine polls: judge every rollout in progress; FAILED when any
    failed (DeployTimeout when all that failed timed out), DONE when all completed. An
    operator's ``answer`` (``steps/waiters.py awaited_answer``) goes to the PAUSE hooks it answers.

    Each round reads the service deployments first, and describes only the services that
    judgement needs (`_needs_describe`): a rollout under way costs one call per ten."""
    rolling = [service for service in deployment.services if service.state == "IN_PROGRESS"]
    found = _service_deployments(
        ecs, {s.name: s.service_deployment_arn for s in rolling if s.codedeploy is None}
    )
    snapshots, gone = _snapshots(
        deployment,
        ecs,
        [s.name for s in rolling if _needs_describe(s, found.get(s.name), now)],
    )
    by_codedeploy = _codedeploy_judgements(
        codedeploy,
        codedeploy_steps.rolling_ids([s for s in rolling if s.name not in gone]),
        {s.name: s.task_definition_after or "" for s in rolling},
    )
    by_ecs = {
        s.name: _with_counts(
            judge_service_deployment(
                found[s.name],
                s.wait_until,
                current=snapshot.current_service_deployment if snapshot else None,
            ),
            found[s.name],
            snapshot,
            s.ecs_deployment_id,
        )
        for s in rolling
        if s.name in found and s.name not in gone
        for snapshot in [snapshots.get(s.name)]
    }
    approval_timeout = timedelta(minutes=deployment.approval_timeout_minutes)
    for service in rolling:
        if service.name in gone:
            # Deleted under our rollout: a failure, never a success nor a crash.
            service.state = "FAILED"
            service.reason = f"{gone[service.name]} during the rollout"
            continue
        _track_pause(service, found.get(service.name), now)
        snapshot = snapshots.get(service.name)
        if snapshot is not None:
            _keep_budget(service, snapshot)
        state, judgement = _judge(
            snapshot,
            service.ecs_deployment_id,
            target=service.task_definition_after,
            previous=service.task_definition_before,
            started_at=service.started_at,
            deadline=service.deadline(now),
            now=now,
            judged=by_codedeploy.get(service.name) or by_ecs.get(service.name),
        )
        service.state = state
        service.progress = judgement.progress
        # A wait at a PAUSE hook is the operator's: it did not count against max_wait.
        budget = service.budget + service.paused_for(now)
        service.reason = _timed_out(budget, judgement) if state == "TIMED_OUT" else judgement.reason
        if state == "IN_PROGRESS":
            _answer_pause(service, ecs, answer)
            _reject_unanswered_pause(service, ecs, approval_timeout, now)
        elif service.paused is not None and service.paused.rejected:
            service.reason = f"{service.paused.rejected}; {service.reason}"
    for service in rolling:
        if service.state != "IN_PROGRESS":
            service.ended_at = now
    failed = [service for service in deployment.services if service.state in _FAILED_ROLLOUTS]
    if failed:
        error = "DeployTimeout" if all(s.state == "TIMED_OUT" for s in failed) else "RolloutFailed"
        deployment.fail(error, "; ".join(f"service '{s.name}': {s.reason}" for s in failed))
    elif any(service.state == "IN_PROGRESS" for service in deployment.services):
        deployment.progress = "WAIT"
    else:
        deployment.progress = "DONE"
    return deployment


def _left_alone(
    service: ServiceRollout, situation: str, *, ours: bool, failure: str = "left alone"
) -> ServiceRollback:
    """A service in ``situation`` is not touched: our rollback fails if we had updated it;
    a service this deployment never updated needs no rollback, whatever runs on it.

    ``ecs_deployment_id`` is unset when UpdateServices failed (its Catch keeps the document
    from before it ran); a service it did update is recognised by running our revision.
    """
    if not ours:
        return ServiceRollback(
            state="NOT_NEEDED",
            reason=f"service '{service.name}' {situation}; never updated by this deployment",
        )
    return ServiceRollback(
        state="FAILED", reason=f"service '{service.name}' {situation}: {failure}"
    )


def _rollback_without_update(
    deployment: Deployment,
    service: ServiceRollout,
    snapshot: ServiceSnapshot | None,
    gone: str | None,
    now: datetime,
) -> ServiceRollback | None:
    """The rollback of a service that takes no UpdateService of ours; None: move it back."""
    before, after = service.task_definition_before, service.task_definition_after
    if before is None or after is None or not service.changed:
        return ServiceRollback(
            state="NOT_NEEDED", reason="this deployment did not change its revision"
        )
    ours = service.ecs_deployment_id is not None
    if snapshot is None:
        why = gone or f"no longer exists in cluster '{deployment.cluster}'"
        return _left_alone(service, why, ours=ours, failure="not rolled back")
    primary = snapshot.primary
    if primary is not None and primary.task_definition == before:
        return _back_before(service, snapshot, primary.id, now)
    if primary is not None and primary.task_definition == after:
        return None
    running = revision(primary.task_definition) if primary else "nothing"
    return _left_alone(service, f"now runs {running}, deployed by someone else", ours=ours)


def _back_before(
    service: ServiceRollout, snapshot: ServiceSnapshot, primary_id: str, now: datetime
) -> ServiceRollback | None:
    """The rollback of a service whose PRIMARY runs the revision before ours; None: move it
    back."""
    before = service.task_definition_before or ""
    if service.ecs_deployment_id is None:
        return _left_alone(service, f"still runs {revision(before)}", ours=False)
    ours = judge_rollout(
        snapshot,
        service.ecs_deployment_id,
        service.task_definition_after or "",
        before,
        now - (service.started_at or now),
    )
    # Once a describe showed ECS rolling ours back (the rollout's verdict), ours may be gone
    # since; before that, a describe without it may predate our update (eventual
    # consistency): what ECS runs is not known, and moving it back is right either way.
    if "ROLLED_BACK_BY_ECS" not in (service.state, ours.state):
        return None
    # ECS's circuit breaker is returning (or returned) it: follow that deployment.
    return ServiceRollback(
        ecs_deployment_id=primary_id,
        started_at=now,
        state="IN_PROGRESS",
        reason="rolled back by ECS",
    )


def _start_rollback(
    deployment: Deployment,
    service: ServiceRollout,
    *,
    snapshot: ServiceSnapshot | None,
    gone: str | None,
    ecs: EcsGateway,
    codedeploy: CodeDeployGateway | None,
    now: datetime,
) -> ServiceRollback:
    if service.codedeploy is not None and snapshot is not None and service.changed:
        gateway = codedeploy_steps.required(codedeploy)
        return codedeploy_steps.start_rollback(deployment, service, snapshot, gateway, now)
    rollback = _rollback_without_update(deployment, service, snapshot, gone, now)
    if rollback is not None:
        return rollback
    before = service.task_definition_before or ""
    try:
        started = ecs.update_service(deployment.cluster, service.name, before, False)
    except (ClientError, DeployerError) as exc:
        # Refused for this service alone (deleted meanwhile, revision gone...): the others
        # are still rolled back.
        return ServiceRollback(
            state="FAILED",
            reason=f"service '{service.name}': UpdateService back to {revision(before)} "
            f"failed: {exc}",
        )
    return ServiceRollback(
        ecs_deployment_id=started.deployment_id,
        service_deployment_arn=started.service_deployment_arn,
        started_at=now,
        state="IN_PROGRESS",
    )


def _rolled_back_by_ecs(
    service: ServiceRollout, ours: ServiceDeployment | None, ecs: EcsGateway, now: datetime
) -> ServiceRollback | None:
    """The rollback of a service whose service deployment (ours) ECS rolls back, or is
    asked to now that it is still ongoing (StopServiceDeployment): ECS's rollback is
    followed. None: ours is over without a rollback; UpdateService moves it back."""
    if ours is None:
        return None
    by_ecs = ours.rollback_revision is not None or ours.status.startswith("ROLLBACK_")
    if not by_ecs and not (ours.ongoing and ecs.stop_service_deployment(ours.arn)):
        return None
    followed = ServiceRollback(
        service_deployment_arn=ours.arn,
        started_at=now,
        state="IN_PROGRESS",
        reason="rolled back by ECS" if by_ecs else "rolled back by ECS (StopServiceDeployment)",
    )
    if by_ecs and not ours.ongoing:
        # Over already, its event long gone: judged now rather than at a safety poll.
        judged = judge_rollback(ours)
        followed.state = "COMPLETED" if judged.state == "COMPLETED" else "FAILED"
        followed.reason = "rolled back by ECS" if judged.state == "COMPLETED" else judged.reason
        service.progress = judged.progress
    return followed


def _progress(deployment: Deployment) -> None:
    rolling = any(s.rollback and s.rollback.state == "IN_PROGRESS" for s in deployment.services)
    deployment.progress = "WAIT" if rolling else "DONE"


def start_rollback(
    deployment: Deployment,
    ecs: EcsGateway,
    table: DeploymentsTable,
    now: datetime,
    *,
    codedeploy: CodeDeployGateway | None = None,
) -> Deployment:
    """Start every service's rollback; each that cannot be rolled back fails on its own."""
    pending = [service for service in deployment.services if service.rollback is None]
    snapshots, gone = _snapshots(deployment, ecs, _names(pending))
    ours = _service_deployments(
        ecs,
        {
            s.name: s.service_deployment_arn
            for s in pending
            if s.codedeploy is None and s.changed and s.name in snapshots
        },
    )
    for service in pending:
        service.rollback = _rolled_back_by_ecs(
            service, ours.get(service.name), ecs, now
        ) or _start_rollback(
            deployment,
            service,
            snapshot=snapshots.get(service.name),
            gone=gone.get(service.name),
            ecs=ecs,
            codedeploy=codedeploy,
            now=now,
        )
        logger.info("rollback", extra={"service": service.name, "state": service.rollback.state})
    table.update_record(deployment, RecordUpdate.progress(deployment, now))
    _progress(deployment)
    return deployment


def check_rollback(
    deployment: Deployment,
    ecs: EcsGateway,
    now: datetime,
    *,
    codedeploy: CodeDeployGateway | None = None,
) -> Deployment:
    """The step the state machine polls during a rollback: judge each service's return to
    its previous revision, each on its own."""
    rolling = [s for s in deployment.services if s.rollback and s.rollback.state == "IN_PROGRESS"]
    snapshots, gone = _snapshots(deployment, ecs, _names(rolling))
    by_codedeploy = _codedeploy_judgements(
        codedeploy,
        {
            s.name: s.rollback.ecs_deployment_id
            for s in rolling
            if s.codedeploy and s.rollback and s.rollback.ecs_deployment_id and s.name not in gone
        },
        {s.name: s.task_definition_before or "" for s in rolling},
    )
    followed = _service_deployments(
        ecs,
        {
            s.name: s.rollback.service_deployment_arn
            for s in rolling
            if s.codedeploy is None and s.rollback and s.name not in gone
        },
    )
    by_ecs = {
        s.name: _with_counts(
            # Ours, rolled back by ECS; else the one our UpdateService back started.
            judge_rollback(followed[s.name])
            if followed[s.name].arn == s.service_deployment_arn
            else judge_service_deployment(
                followed[s.name], current=snapshots[s.name].current_service_deployment
            ),
            followed[s.name],
            snapshots[s.name],
            s.rollback.ecs_deployment_id if s.rollback else None,
        )
        for s in rolling
        if s.name in followed
    }
    for service in rolling:
        rollback = service.rollback
        assert rollback is not None
        if service.name in gone:
            rollback.state = "FAILED"
            rollback.reason = f"service '{service.name}' {gone[service.name]} during its rollback"
            continue
        _keep_budget(service, snapshots[service.name])
        state, judgement = _judge(
            snapshots[service.name],
            rollback.ecs_deployment_id,
            target=service.task_definition_before,
            previous=service.task_definition_after,
            started_at=rollback.started_at,
            deadline=service.deadline(now),
            now=now,
            judged=by_codedeploy.get(service.name) or by_ecs.get(service.name),
        )
        service.progress = judgement.progress
        if state == "COMPLETED":
            rollback.state = "COMPLETED"
            rollback.reason = rollback.reason or judgement.reason
        elif state == "TIMED_OUT":
            rollback.state = "TIMED_OUT"
            rollback.reason = _timed_out(service.budget, judgement)
        elif state != "IN_PROGRESS":
            rollback.state = "FAILED"
            rollback.reason = judgement.reason
    _progress(deployment)
    return deployment
