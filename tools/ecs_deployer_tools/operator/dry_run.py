"""``ecs-deployer plan``: what a deployment would register, update and run, changing nothing.

Runs the library exactly as the Resolve and RegisterTaskDefinitions Lambdas do, on the
operator's credentials: ``prepare`` checks the request, ``plan_deployment`` reads ECS.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ecs_deployer.domain.admission import prepare
from ecs_deployer.domain.register import check_cluster, forced_update, plan_deployment
from ecs_deployer.errors import InputError
from ecs_deployer.payloads import ExecutionContext
from ecs_deployer_tools.operator.aws import OperatorError

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.register import PlannedService, PlannedTask
    from ecs_deployer.domain.taskdef import Change
    from ecs_deployer.inputs import ManualRequest
    from ecs_deployer_tools.operator.stack import Deployer


def _changes(changes: list[Change]) -> list[dict[str, Any]]:
    return [{"path": c.path, "before": c.before, "after": c.after} for c in changes]


@dataclass(frozen=True)
class ServicePlan:
    name: str
    current: str  # the revision it runs now
    registers: bool  # a new revision is registered (a clone of the current one)
    changes: list[Change]
    # UpdateService with forceNewDeployment: fresh tasks even on the same revision.
    forced: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "current": self.current,
            "registers": self.registers,
            "changes": _changes(self.changes),
            "forced": self.forced,
        }


@dataclass(frozen=True)
class TaskPlan:
    family: str
    phase: str
    source: str  # the revision the task definition is cloned from
    registers: bool
    changes: list[Change]
    count: int
    launch_type: str | None
    capacity_providers: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "phase": self.phase,
            "source": self.source,
            "registers": self.registers,
            "changes": _changes(self.changes),
            "count": self.count,
            "launch_type": self.launch_type,
            "capacity_providers": self.capacity_providers,
        }


@dataclass(frozen=True)
class DryRun:
    app: str
    cluster: str
    image: str  # pinned by digest
    tag: str | None
    services: list[ServicePlan]
    tasks: list[TaskPlan]

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "cluster": self.cluster,
            "image": self.image,
            "tag": self.tag,
            "services": [service.to_json() for service in self.services],
            "tasks": [task.to_json() for task in self.tasks],
        }


def _service_plan(planned: PlannedService) -> ServicePlan:
    registers = planned.registration.needs_registering
    return ServicePlan(
        name=planned.service.name,
        current=planned.current.arn,
        registers=registers,
        changes=planned.registration.changes,
        # As steps/services.py decides: an unchanged revision still gets fresh tasks.
        forced=forced_update(planned.service.force, registers),
    )


def _task_plan(planned: PlannedTask, phase: str) -> TaskPlan:
    run, registration = planned.run, planned.registration
    strategies = run.config.capacity_provider_strategies or []
    return TaskPlan(
        family=run.family,
        phase=phase,
        source=registration.source.arn,
        registers=registration.needs_registering,
        changes=registration.changes,
        count=run.config.count,
        launch_type=run.config.launch_type,
        capacity_providers=[strategy.capacity_provider for strategy in strategies],
    )


def admit(deployer: Deployer, request: ManualRequest, now: datetime) -> Deployment:
    """The deployment ``request`` would be, after the checks the Resolve step makes first
    (config, cluster, image or rollback target). A request it would reject raises here
    (ConfigError, ImageNotFound, InputError...), before any execution starts or any
    record of it is written."""
    context = ExecutionContext(Id="dry-run", Name="plan", StartTime=now)
    try:
        deployment = prepare(request, context, deployer.resolve_deps())
    except InputError as exc:
        raise _with_hints(exc) from exc
    # The Lambdas learn it from Register's DescribeServices; an operator, before starting.
    # Another account's cluster is out of the operator's reach: the deploy role finds it.
    if deployment.config.account is None:
        check_cluster(deployer.ecs, deployment.cluster)
    return deployment


def _refuse_other_accounts(deployment: Deployment) -> None:
    """An app in another account is out of the plan's reach: the operator's credentials
    read the deployer's account (a plan there would show its services as the app's), and
    the app account's deploy role trusts the deployer's functions only (and their external
    id, which the stack does not show)."""
    config = deployment.config
    if config.account is None:
        return
    region = f", region {config.region}" if config.region else ""
    raise OperatorError(
        f"app '{deployment.app}' runs in account {config.account}{region}, through a deploy "
        "role that trusts the deployer's functions only; plan reads ECS with your "
        "credentials, in the deployer's account: nothing was planned"
    )


# What an operator passes to the CLI for a field of the manual input the deployer found
# missing (the deployer's own message, "required: ...", speaks of the input's fields).
_HINTS = {"repository": "pass --repository REPOSITORY, or --image with the image's full URI"}
_MISSING = "required"


def _with_hints(exc: InputError) -> InputError:
    errors = [
        replace(error, message=f"{error.message}: {_HINTS[error.path]}")
        if error.path in _HINTS and error.message.startswith(_MISSING)
        else error
        for error in exc.errors
    ]
    return InputError("invalid manual input", errors)


def dry_run(deployer: Deployer, request: ManualRequest, now: datetime) -> DryRun:
    """Raises the deployer's own errors (ConfigError, ImageNotFound, ResourceNotFound, ...)."""
    deployment = admit(deployer, request, now)
    _refuse_other_accounts(deployment)
    plan = plan_deployment(deployment, deployer.ecs, deployer.stack.scope)
    phases = {id(run): "pre" for run in deployment.pre_tasks}
    phases |= {id(run): "post" for run in deployment.post_tasks}
    return DryRun(
        app=deployment.app,
        cluster=deployment.cluster,
        image=deployment.image.uri,
        tag=deployment.image.tag,
        services=[_service_plan(planned) for planned in plan.services],
        tasks=[_task_plan(planned, phases[id(planned.run)]) for planned in plan.tasks],
    )
