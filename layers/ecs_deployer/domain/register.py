"""What a deployment will register, update and run: computed from ECS, changing nothing.

``plan_deployment`` reads ECS through the gateway and returns a plan; it changes neither
ECS nor the deployment document. The register step carries the plan out; ``ecs-deployer
plan`` shows it as a dry run. Every problem (an unknown service, family or container) is
collected and reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_deployer.domain.codedeploy import load_balancer_target
from ecs_deployer.domain.scope import family_of
from ecs_deployer.domain.taskdef import (
    Change,
    RegistrationInput,
    diff,
    essential_containers,
    missing_containers,
    tagged_as_ours,
    with_image,
)
from ecs_deployer.errors import ConfigError, FieldError, ResourceNotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.ecs import DescribedTaskDefinition, EcsGateway
    from ecs_deployer.document import Deployment, ServiceRollout, TaskRun
    from ecs_deployer.domain.scope import StackScope
    from ecs_deployer.domain.services import ServiceSnapshot


@dataclass(frozen=True)
class Registration:
    """One task definition to register (or reuse): the source it is cloned from and the
    RegisterTaskDefinition input wanted."""

    source: DescribedTaskDefinition
    wanted: RegistrationInput
    # The family's newest revision, when planning read it: registering compares the clone
    # with it (a retried step or a redeploy reuses it) and otherwise reads it then.
    latest: DescribedTaskDefinition | None

    @property
    def changes(self) -> list[Change]:
        return diff(self.source.registration, self.wanted)

    @property
    def needs_registering(self) -> bool:
        return bool(self.changes) or not self.source.active


def forced_update(force: bool, revision_changes: bool) -> bool:
    """Whether UpdateService forces new tasks: when asked to, or when the revision stays
    the same (ECS would otherwise have nothing to roll out)."""
    return force or not revision_changes


@dataclass(frozen=True)
class PlannedService:
    service: ServiceRollout
    current: DescribedTaskDefinition  # what it runs now: what a rollback returns to
    registration: Registration


@dataclass(frozen=True)
class PlannedTask:
    run: TaskRun
    watch_containers: list[str]  # the containers whose exit codes judge the task
    registration: Registration


@dataclass(frozen=True)
class DeploymentPlan:
    services: list[PlannedService]
    tasks: list[PlannedTask]


def _current_revisions(
    deployment: Deployment, ecs: EcsGateway, scope: StackScope
) -> dict[str, ServiceSnapshot]:
    """The services as they run now; every problem with them, reported at once."""
    cluster = deployment.cluster
    snapshots, missing = ecs.describe_services(cluster, [s.name for s in deployment.services])
    if missing:
        check_cluster(ecs, cluster)
    problems = [f"service '{name}' not found in cluster '{cluster}'" for name in missing]
    unsupported = []
    for index, service in enumerate(deployment.services):
        snapshot = snapshots.get(service.name)
        if snapshot is None:
            continue
        problem = _service_problem(snapshot, service, cluster, scope)
        if isinstance(problem, str):
            problems.append(problem)
        elif problem is not None:
            unsupported.append(FieldError(f"services[{index}]", problem.reason))
    if unsupported:
        raise ConfigError(f"config of app '{deployment.app}' is invalid", unsupported)
    if problems:
        raise ResourceNotFound("; ".join(problems))
    return snapshots


# Why a service of the EXTERNAL deployment controller is refused.
_EXTERNAL = (
    "its task sets are created and shifted by a controller outside ECS, which alone knows "
    "how to deploy it"
)


@dataclass(frozen=True)
class _Unsupported:
    """A service the deployer cannot deploy whatever ECS does: the config must change."""

    reason: str


def _service_problem(
    snapshot: ServiceSnapshot, service: ServiceRollout, cluster: str, scope: StackScope
) -> str | _Unsupported | None:
    """Why the service cannot be deployed now (a state of ECS), or at all, or None."""
    name = snapshot.name
    if snapshot.status != "ACTIVE":
        return f"service '{name}' is {snapshot.status}"
    if problem := _controller_problem(snapshot, service):
        return _Unsupported(problem)
    if snapshot.has_short_arn:
        return _Unsupported(_short_arn(snapshot, cluster))
    if snapshot.task_definition is None:
        return f"service '{name}' has no PRIMARY deployment"
    if family := scope.family_problem(family_of(snapshot.task_definition)):
        return _Unsupported(f"'{name}': {family}")
    return None


def _controller_problem(snapshot: ServiceSnapshot, service: ServiceRollout) -> str | None:
    """Why the service's deployment controller and its config do not go together."""
    name, controller = snapshot.name, snapshot.deployment_controller
    if controller == "EXTERNAL":
        return (
            f"'{name}' uses the EXTERNAL deployment controller, which the deployer cannot "
            f"drive: {_EXTERNAL}"
        )
    if controller == "CODE_DEPLOY" and service.codedeploy is None:
        return (
            f"'{name}' uses the CODE_DEPLOY deployment controller: CodeDeploy deploys it, so "
            "its config names the CodeDeploy application and deployment group "
            "(codedeploy: {application: ..., deployment_group: ...})"
        )
    if controller == "CODE_DEPLOY":
        try:
            load_balancer_target(snapshot)
        except ResourceNotFound:
            return (
                f"'{name}' uses the CODE_DEPLOY deployment controller but has no load "
                "balancer naming a container and port, which a CodeDeploy AppSpec needs"
            )
    if controller != "CODE_DEPLOY" and service.codedeploy is not None:
        return (
            f"'{name}' uses the {controller} deployment controller, so CodeDeploy does not "
            "deploy it: remove its codedeploy settings"
        )
    return None


def check_cluster(ecs: EcsGateway, cluster: str) -> None:
    """ResourceNotFound unless ECS has ``cluster``, ACTIVE. Planning asks only when services
    are missing (whether the cluster is why); the CLI before it starts anything."""
    status = ecs.cluster_status(cluster)
    if status != "ACTIVE":
        state = "does not exist" if status is None else f"is {status}"
        raise ResourceNotFound(f"cluster '{cluster}' {state}")


def _short_arn(snapshot: ServiceSnapshot, cluster: str) -> str:
    """Why a service with a short ARN is refused, and how its owner migrates it."""
    long_arn = snapshot.arn.replace(":service/", f":service/{cluster}/", 1)
    return (
        f"'{snapshot.name}' has the short ARN {snapshot.arn} (a service created before 2021), "
        f"which the deployer's IAM policies, scoped to service/{cluster}/*, do not cover. "
        "Migrate it to the long ARN format, in place and without downtime: enable the "
        "serviceLongArnFormat account setting for the principal that created the service "
        "(aws ecs put-account-setting --name serviceLongArnFormat --value enabled), then tag "
        f"the service through its long ARN (aws ecs tag-resource --resource-arn {long_arn} "
        "--tags key=...,value=...) or choose 'Migrate to long ARN' in the ECS console; see "
        "'Migrate an Amazon ECS short service ARN to a long ARN' in the Amazon ECS Developer "
        "Guide"
    )


def newest_revision(
    describe: Callable[[str], DescribedTaskDefinition], family: str
) -> DescribedTaskDefinition | None:
    """The family's newest ACTIVE revision; None when every revision is deregistered (a
    service may still run one: it is described by its ARN)."""
    try:
        return describe(family)
    except ResourceNotFound:
        return None


class _Describer:
    """DescribeTaskDefinition, once per reference: services often share a revision."""

    def __init__(self, ecs: EcsGateway) -> None:
        self.ecs = ecs
        self._seen: dict[str, DescribedTaskDefinition] = {}

    def __call__(self, reference: str) -> DescribedTaskDefinition:
        if reference not in self._seen:
            self._seen[reference] = self.ecs.describe_task_definition(reference)
        return self._seen[reference]


def _plan_service(
    deployment: Deployment,
    service: ServiceRollout,
    running: str,
    describe: _Describer,
    problems: list[str],
) -> PlannedService | None:
    owner = f"service '{service.name}'"
    # The family's newest revision first: the service usually runs it, and then this one
    # read is both what it runs and what a clone is compared with.
    latest = newest_revision(describe, family_of(running))
    current = latest if latest is not None and latest.arn == running else describe(running)
    if service.target_task_definition is not None:
        # A rollback: exactly the revision an earlier deployment left, image and all.
        try:
            target = describe(service.target_task_definition)
        except ResourceNotFound as exc:
            problems.append(f"{owner}: {exc}")
            return None
        return PlannedService(
            service, current, Registration(target, target.registration, latest=latest)
        )
    try:
        wanted = with_image(current.registration, service.containers, deployment.image.uri, owner)
    except ResourceNotFound as exc:
        problems.append(str(exc))
        return None
    registration = Registration(current, tagged_as_ours(wanted), latest=latest)
    return PlannedService(service, current, registration)


def _plan_task(
    run: TaskRun, image: str, describe: _Describer, problems: list[str]
) -> PlannedTask | None:
    owner = f"task family '{run.family}'"
    try:
        source = describe(run.family)
    except ResourceNotFound as exc:
        problems.append(str(exc))
        return None
    watch = list(run.config.watch_containers or essential_containers(source.registration))
    missing = missing_containers(source.registration, watch)
    if missing:
        problems.append(f"{owner}: watched container(s) {', '.join(missing)} not in it")
    try:
        wanted = with_image(source.registration, run.config.containers, image, owner)
    except ResourceNotFound as exc:
        problems.append(str(exc))
        return None
    # A bare family name described its newest revision.
    latest = None if ":" in run.family else source
    return PlannedTask(run, watch, Registration(source, tagged_as_ours(wanted), latest=latest))


def plan_deployment(deployment: Deployment, ecs: EcsGateway, scope: StackScope) -> DeploymentPlan:
    """Describe what runs, validate everything, and say what each service and task gets.
    Only families within ``scope`` are cloned.

    Raises one error naming every problem found.
    """
    describe = _Describer(ecs)
    problems: list[str] = []
    snapshots = _current_revisions(deployment, ecs, scope)
    services = [
        _plan_service(
            deployment, service, snapshots[service.name].task_definition or "", describe, problems
        )
        for service in deployment.services
    ]
    tasks = [
        _plan_task(run, deployment.image.uri, describe, problems)
        for run in [*deployment.pre_tasks, *deployment.post_tasks]
    ]
    if problems:
        raise ResourceNotFound("; ".join(problems))
    return DeploymentPlan(
        services=[planned for planned in services if planned is not None],
        tasks=[planned for planned in tasks if planned is not None],
    )
