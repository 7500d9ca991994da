"""The app config: ECS Toolkit's v1 file format, accepted as is, plus the deployer's keys.

Strict on purpose: an unknown key, a wrong type or a broken rule is an error that names its
field, because a typo in a deploy config must never be silently ignored in production.
Read a config with ``app_config`` (config/parsing.py for text), never a constructor.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated, Any, Literal

from msgspec import Meta
from msgspec.structs import replace

from ecs_deployer.structs import Frozen, decode

APP_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
_NAME = r"^[A-Za-z0-9_-]{1,255}$"
_CLUSTER = (
    rf"({_NAME[1:-1]})|(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{{12}}:cluster/[A-Za-z0-9_-]{{1,255}})"
)
# A family (latest ACTIVE revision), family:revision, or a task-definition ARN, as ECS Toolkit.
_FAMILY = (
    r"^(?:arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/)?"
    r"[A-Za-z0-9_-]{1,255}(?::[1-9]\d*)?$"
)
# ECR's own repository-name pattern.
_REPOSITORY = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"

Name = Annotated[str, Meta(pattern=_NAME)]
ContainerName = Annotated[str, Meta(pattern=_NAME)]
AppName = Annotated[str, Meta(pattern=APP_NAME_PATTERN)]
ClusterRef = Annotated[str, Meta(pattern=rf"^(?:{_CLUSTER})$")]
FamilyRef = Annotated[str, Meta(pattern=_FAMILY)]
RepositoryName = Annotated[str, Meta(min_length=2, max_length=256, pattern=_REPOSITORY)]
AwsId = Annotated[str, Meta(min_length=1, max_length=255)]
AccountId = Annotated[str, Meta(pattern=r"^[0-9]{12}$")]
Region = Annotated[str, Meta(pattern=r"^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$")]
Minutes = Annotated[int, Meta(ge=1, le=1440)]

# A choice among words, in any case: ECS Toolkit users write launch types as ECS spells them
# (FARGATE), and the config keeps the lowercase word (``_lowercase_words``).
LaunchType = Literal["ec2", "fargate", "external"]
RollbackMode = Literal["auto", "none"]
ConcurrencyMode = Literal["queue", "supersede"]
ApprovalMode = Literal["required", "none"]
# An answer may take up to 2 days: with 24 h for each phase (pre tasks, rollout, post tasks,
# rollback) and a day in the lock's queue, the longest deployment stays inside the state
# machine's 8-day timeout (tests/template/test_asl.py).
MAX_APPROVAL_TIMEOUT_MINUTES = 2 * 24 * 60


class _Config(Frozen, kw_only=True, frozen=True):
    """A part of the config. Encoded (in a deployment's document), every value is written
    out, defaults too: a deployment keeps the config it started with across an upgrade."""


def _unique(field: str, values: list[str], what: str) -> None:
    """Raises, naming ``field`` (validation.py), when a value is listed twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: {what} '{value}' is listed twice")
        seen.add(value)


class CapacityProviderStrategy(_Config, kw_only=True, frozen=True):
    capacity_provider: AwsId
    base: Annotated[int, Meta(ge=0, le=100000)] = 0
    weight: Annotated[int, Meta(ge=0, le=1000)] = 0


class VpcConfiguration(_Config, kw_only=True, frozen=True):
    assign_public_ip: bool
    security_groups: Annotated[list[AwsId], Meta(max_length=5)] = []
    subnets: Annotated[list[AwsId], Meta(min_length=1, max_length=16)]


class NetworkConfiguration(_Config, kw_only=True, frozen=True):
    vpc_configuration: VpcConfiguration


class TaskConfig(_Config, kw_only=True, frozen=True):
    """A one-off task run before (``pre``) or after (``post``) the services roll out."""

    family: FamilyRef
    count: Annotated[int, Meta(ge=1, le=10)] = 1
    containers: Annotated[list[ContainerName], Meta(min_length=1)]
    launch_type: LaunchType | None = None
    capacity_provider_strategies: (
        Annotated[list[CapacityProviderStrategy], Meta(min_length=1, max_length=6)] | None
    ) = None
    network_configuration: NetworkConfiguration | None = None
    # Ours: whose exit codes decide success (default: every essential container).
    watch_containers: Annotated[list[ContainerName], Meta(min_length=1)] | None = None
    # Ours: minutes before the deployer stops the task and fails.
    max_wait: Minutes = 30

    def __post_init__(self) -> None:
        _unique("containers", self.containers, "container")
        _unique("watch_containers", self.watch_containers or [], "container")
        strategies = self.capacity_provider_strategies
        if strategies is not None:
            if self.launch_type is not None:
                raise ValueError(
                    "launch_type and capacity_provider_strategies are mutually exclusive"
                )
            if sum(1 for strategy in strategies if strategy.base > 0) > 1:
                raise ValueError("only one capacity provider strategy may have a base")


def _in_network(task: TaskConfig, network: NetworkConfiguration) -> TaskConfig:
    """``task`` in ``network`` when it runs in one (awsvpc); as it is otherwise."""
    if task.network_configuration is None:
        return task
    return replace(task, network_configuration=network)


class TasksConfig(_Config, kw_only=True, frozen=True):
    pre: list[TaskConfig] = []
    post: list[TaskConfig] = []

    def __post_init__(self) -> None:
        for phase, tasks in (("pre", self.pre), ("post", self.post)):
            _unique(phase, [task.family for task in tasks], "task family")


# CodeDeploy's application and deployment group names: 1 to 100 characters.
CodeDeployName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.+@=-]{1,100}$")]


class CodeDeployConfig(_Config, kw_only=True, frozen=True):
    """Where a CODE_DEPLOY service is deployed: its CodeDeploy application and deployment
    group (the one whose ecsServices names the service). Named, never discovered: the
    deployer's IAM grants name them, and a service in two groups would be ambiguous."""

    application: CodeDeployName
    deployment_group: CodeDeployName


# ECS's lifecycle stages of a service deployment, in the order it goes through them
# (ServiceDeployment.lifecycleStage, ECS API Reference: its text lists
# PRE_PRODUCTION_TRAFFIC_SHIFT, before each production traffic shift step, which the API
# model's enum lacks).
LifecycleStage = Literal[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
]
# A rollout succeeds once its service deployment is over (COMPLETED, bake time included),
# or once it has reached a lifecycle stage, leaving ECS to finish the rest.
WaitUntil = Literal["COMPLETED", LifecycleStage]


class ServiceConfig(_Config, kw_only=True, frozen=True):
    name: Name
    containers: Annotated[list[ContainerName], Meta(min_length=1)]
    force: bool = False
    max_wait: Minutes = 15
    wait_until: WaitUntil = "COMPLETED"
    # Set for a service of the CODE_DEPLOY deployment controller, and only for one.
    codedeploy: CodeDeployConfig | None = None

    def __post_init__(self) -> None:
        _unique("containers", self.containers, "container")


TagPattern = Annotated[str, Meta(min_length=1, max_length=300)]


class TagRegex(_Config, kw_only=True, frozen=True):
    """A tag filter written ``{regex: ...}``: the regex matches the whole tag."""

    regex: TagPattern

    def __post_init__(self) -> None:
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from exc


# A tag filter: a glob (``v*``) written as a plain string, or ``{regex: ...}``.
TagFilter = Annotated[
    TagPattern | TagRegex,
    Meta(description="A glob such as v* (a string), or {regex: ...} matching the whole tag."),
]


def tag_accepted(tag_filter: TagFilter, tag: str) -> bool:
    if isinstance(tag_filter, TagRegex):
        return re.fullmatch(tag_filter.regex, tag) is not None
    return fnmatch.fnmatchcase(tag, tag_filter)


def describe_tag_filter(tag_filter: TagFilter) -> str:
    return f"/{tag_filter.regex}/" if isinstance(tag_filter, TagRegex) else tag_filter


class TriggerConfig(_Config, kw_only=True, frozen=True):
    """Which ECR pushes deploy this app."""

    repositories: Annotated[list[RepositoryName], Meta(min_length=1)]
    # The account whose ECR (in the deployer's region) holds the repositories: a central
    # registry, which forwards its pushes (templates/ecr-forwarding.yaml). Omitted: the
    # deployer's own account.
    registry: AccountId | None = None
    # Empty: every push deploys, tagged or not. Otherwise a tag must match one filter.
    tags: list[TagFilter] = []

    def accepts_tag(self, tag: str | None) -> bool:
        if not self.tags:
            return True
        return tag is not None and any(tag_accepted(tag_filter, tag) for tag_filter in self.tags)


# An environment's name: short, since a promotion's execution name carries it (domain/promotion.py).
EnvironmentName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,19}$")]


def _target_problem(cluster: str, account: str | None, region: str | None) -> str | None:
    """Why a cluster, account and region cannot be one target; None when they can."""
    # One way to leave the deployer's account or region: through a deploy role.
    if region is not None and account is None:
        return (
            "region needs account: another region is reached through the deploy role "
            "of an account the stack lists"
        )
    if account is not None and cluster.startswith("arn:"):
        _, _, _, cluster_region, cluster_account, _ = cluster.split(":", 5)
        if cluster_account != account or (region is not None and cluster_region != region):
            where = f"account {account}" + (f", region {region}" if region else "")
            return f"cluster {cluster} is not in {where}"
    return None


class EnvironmentConfig(_Config, kw_only=True, frozen=True):
    """One environment of a promotion chain: what differs there. The services, containers
    and tasks are the app's, the same in every environment, but for their network."""

    name: EnvironmentName
    # Where it runs, as the app's own account, region and cluster say for an app without
    # environments; cluster omitted: the app's.
    account: AccountId | None = None
    region: Region | None = None
    cluster: ClusterRef | None = None
    # The approval gate of its deployments (the app's `approval`); omitted: the app's.
    approval: ApprovalMode | None = None
    # The network of every one-off task that has one, there: subnets and security groups
    # belong to one account's VPC. Omitted: each task's own.
    network_configuration: NetworkConfiguration | None = None


class AppConfig(_Config, kw_only=True, frozen=True):
    """One app: a cluster, its services, and the one-off tasks around their rollout."""

    version: Literal["v1"]
    cluster: ClusterRef
    services: Annotated[list[ServiceConfig], Meta(min_length=1)]
    tasks: TasksConfig | None = None
    # The deployer's own keys; ECS Toolkit files work without them.
    app: AppName | None = None
    trigger: TriggerConfig | None = None
    # A wait for the app's lock, which no event ends, polls at it; a wait an ECS event
    # ends early has a safety poll of twice it, then backing off (domain/waiters.py).
    poll_seconds: Annotated[int, Meta(ge=1, le=300)] = 60
    rollback: RollbackMode = "auto"
    concurrency: ConcurrencyMode = "queue"
    keep_revisions: Annotated[int, Meta(ge=1, le=1000)] = 10
    # required: each deployment waits for an operator's `approve` after its pre tasks,
    # before any service changes.
    approval: ApprovalMode = "none"
    # Minutes an approval (the gate's, or a PAUSE hook's) waits for an answer before the
    # deployer rejects it.
    approval_timeout: Annotated[int, Meta(ge=1, le=MAX_APPROVAL_TIMEOUT_MINUTES)] = 24 * 60
    # Another account (and region) to deploy in, through the deploy role the stack lists for
    # it (domain/accounts.py). Omitted: the deployer's own account and region.
    account: AccountId | None = None
    region: Region | None = None
    # A promotion chain (domain/promotion.py): a push deploys the first environment, and
    # each success deploys the same digest to the next. Omitted: the one target above.
    environments: Annotated[list[EnvironmentConfig], Meta(min_length=1, max_length=10)] | None = (
        None
    )

    def __post_init__(self) -> None:
        _unique("services", [service.name for service in self.services], "service")
        self._one_target()

    def _one_target(self) -> None:
        if self.environments is None:
            problem = _target_problem(self.cluster, self.account, self.region)
            if problem is not None:
                raise ValueError(problem)
            return
        # One place says where an environment runs: its own entry.
        for key in ("account", "region"):
            if getattr(self, key) is not None:
                raise ValueError(
                    f"{key} and environments are exclusive: give each environment its {key}"
                )
        names = [environment.name for environment in self.environments]
        _unique("environments", names, "environment")
        targets: dict[tuple[str | None, str | None, str], str] = {}
        for index, environment in enumerate(self.environments):
            cluster = environment.cluster or self.cluster
            problem = _target_problem(cluster, environment.account, environment.region)
            if problem is not None:
                raise ValueError(f"environments[{index}]: {problem}")
            # Two environments on one cluster would be one set of services deployed twice.
            target = (environment.account, environment.region, cluster.rsplit("/", 1)[-1])
            if target in targets:
                raise ValueError(
                    f"environments[{index}]: '{environment.name}' runs where "
                    f"'{targets[target]}' does (same account, region and cluster)"
                )
            targets[target] = environment.name
        self._check_environment_networks(self.environments)

    def _check_environment_networks(self, environments: list[EnvironmentConfig]) -> None:
        """A task's subnets and security groups exist in one account and region only: where
        the chain spans more, each environment names its own."""
        tasks = self.phase_tasks("pre") + self.phase_tasks("post")
        networked = any(task.network_configuration is not None for task in tasks)
        places = {(environment.account, environment.region) for environment in environments}
        for index, environment in enumerate(environments):
            where = f"environments[{index}].network_configuration"
            if environment.network_configuration is not None and not networked:
                raise ValueError(f"{where}: no one-off task has a network_configuration")
            if environment.network_configuration is None and networked and len(places) > 1:
                raise ValueError(
                    f"{where}: required, since one-off tasks have a network_configuration "
                    "and the environments span several accounts or regions"
                )

    @property
    def cluster_name(self) -> str:
        return self.cluster.rsplit("/", 1)[-1]

    def environment(self, name: str) -> EnvironmentConfig:
        """The environment called ``name``; KeyError when the app lists none of that name."""
        for environment in self.environments or []:
            if environment.name == name:
                return environment
        raise KeyError(name)

    def next_environment(self, name: str) -> EnvironmentConfig | None:
        """The environment after ``name`` in the chain; None after the last."""
        names = [environment.name for environment in self.environments or []]
        position = names.index(name) + 1
        return self.environments[position] if self.environments and position < len(names) else None

    def in_environment(self, name: str) -> AppConfig:
        """The config as deployed in environment ``name``: a single-target config with its
        account, region, cluster and tasks' network, so every step deploys it as any other
        app."""
        environment = self.environment(name)
        tasks = self.tasks
        network = environment.network_configuration
        if tasks is not None and network is not None:
            tasks = TasksConfig(
                pre=[_in_network(task, network) for task in tasks.pre],
                post=[_in_network(task, network) for task in tasks.post],
            )
        return replace(
            self,
            tasks=tasks,
            account=environment.account,
            region=environment.region,
            cluster=environment.cluster or self.cluster,
            approval=environment.approval or self.approval,
            environments=None,
        )

    def phase_tasks(self, phase: Literal["pre", "post"]) -> list[TaskConfig]:
        if self.tasks is None:
            return []
        return self.tasks.pre if phase == "pre" else self.tasks.post


# Where the config writes a word (LaunchType and the modes above), which it may write in any
# case (the JSON Schema says so too: tools/ecs_deployer_tools/schemas.py).
WORDS_IN_ANY_CASE: dict[type[_Config], tuple[str, ...]] = {
    AppConfig: ("rollback", "concurrency", "approval"),
    EnvironmentConfig: ("approval",),
    TaskConfig: ("launch_type",),
}


def app_config(document: Any) -> AppConfig:
    """A config document (parsed YAML or JSON) as an ``AppConfig``, checked; raises
    ``msgspec.ValidationError`` naming the first wrong field."""
    return decode(_lowercase_words(document), AppConfig)


def _lowercase_words(document: Any) -> Any:
    """``document`` with its words in lowercase, where it has them; otherwise unchanged, for
    ``decode`` to name what is wrong."""
    if not isinstance(document, dict):
        return document
    result = _lowercased(document, WORDS_IN_ANY_CASE[AppConfig])
    environments = result.get("environments")
    if isinstance(environments, list):
        words = WORDS_IN_ANY_CASE[EnvironmentConfig]
        result["environments"] = [_lowercased(env, words) for env in environments]
    tasks = result.get("tasks")
    if isinstance(tasks, dict):
        result["tasks"] = {
            phase: [_lowercased(task, WORDS_IN_ANY_CASE[TaskConfig]) for task in runs]
            if isinstance(runs, list)
            else runs
            for phase, runs in tasks.items()
        }
    return result


def _lowercased(mapping: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    return {
        key: value.lower() if key in keys and isinstance(value, str) else value
        for key, value in mapping.items()
    }
