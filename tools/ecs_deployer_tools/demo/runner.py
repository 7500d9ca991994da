"""Run a scenario: seed the sample app, deploy the real stack on the local cloud, push
images, follow every execution as it happens, and report what the deployer did.

The sample app is seeded before the stack exists, so its first image starts nothing; the
scenario's pushes are what deploy. The runner drives the local cloud's virtual time: it
runs as fast as the machine allows, and a scenario interleaves its executions the same way
on every run, on any machine.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.domain.dispatch import child_execution_name
from ecs_deployer.domain.lifecycle import SOURCE
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.demo.scenarios import PRODUCTION_ACCOUNT, STAGING_ACCOUNT, TOOLING_ACCOUNT
from ecs_deployer_tools.localcloud.cloud import (
    ACCOUNT_ID,
    ECR_FORWARDING_TEMPLATE,
    ECS_EVENTS_FORWARDING_TEMPLATE,
    LocalCloud,
)
from ecs_deployer_tools.localcloud.codedeploy import CodeDeploySimulation
from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
from ecs_deployer_tools.localcloud.runtime import FunctionOutput
from ecs_deployer_tools.operator import follow
from ecs_deployer_tools.operator.approvals import answer_approval, find_pending
from ecs_deployer_tools.operator.configs import push_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from ecs_deployer.history import HistoryRecord
    from ecs_deployer_tools.demo.scenarios import Scenario

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
CONFIG_PREFIX = "/ecs-deployer/apps"
# The sample app's stack; its network (`sample_app.network_parameters`) is known once seeded.
STACK_PARAMETERS = {
    "ClusterNames": sample_app.CLUSTER,
    "RepositoryNames": sample_app.REPOSITORY,
    "ConfigPrefix": CONFIG_PREFIX,
    "TaskFamilyPrefixes": sample_app.FAMILY_PREFIX,
    "PassRoleArns": ",".join(f"arn:aws:iam::{ACCOUNT_ID}:role/{role}" for role in sample_app.ROLES),
    # What a blue/green sample app (`Scenario.codedeploy`) deploys its web service through.
    "CodeDeployApplications": sample_app.CODEDEPLOY_APPLICATION,
    "CodeDeployDeploymentGroups": sample_app.CODEDEPLOY_DEPLOYMENT_GROUP,
}
# The deploy role of every account apps may run in, and the external id they ask for.
TARGET_ROLE_NAME = "ecs-deployer-target"
EXTERNAL_ID = "ecs-deployer-local"
# The sample config's trigger (`sample_app.app_config`), which a central registry extends.
_TRIGGER = {"repositories": [sample_app.REPOSITORY], "tags": ["v*"]}
TARGET_STACK_PARAMETERS = {
    "TargetAccountRoleArns": ",".join(
        f"arn:aws:iam::{account}:role/{TARGET_ROLE_NAME}"
        for account in (STAGING_ACCOUNT, PRODUCTION_ACCOUNT)
    ),
    "TargetRoleExternalId": EXTERNAL_ID,
}
# The demo shows the deployment itself; the Lambdas' INFO logs would drown it.
DEMO_LOG_LEVEL = "WARN"
# How much faster than the wall clock virtual time runs when the demo stack is served
# (`start_server`): two real seconds are a minute. Scenarios themselves run on driven time.
TIME_SCALE = 30.0
# Virtual seconds between the pushes of a concurrent scenario. ECR event times are whole
# seconds, so such pushes usually share one, as two CI jobs finishing together would.
PUSH_SPACING = 0.15


class Observer(follow.Observer, Protocol):
    """What a runner tells whoever watches (the CLI's live view)."""

    def pushed(self, tags: tuple[str, ...], image: str) -> None: ...


@dataclass
class PushResult:
    tags: tuple[str, ...]
    image: str
    digest: str
    status: str = "IGNORED"
    execution_arn: str | None = None
    error: str | None = None
    cause: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioResult:
    scenario: Scenario
    pushes: list[PushResult]
    state_transitions: int
    api_calls: dict[str, int]
    elapsed_seconds: float
    events: list[dict[str, Any]] = field(default_factory=list)  # the deployer's, as published
    # The summary topic's messages, as a subscriber gets them: {"subject": ..., "body": ...}.
    summaries: list[dict[str, str]] = field(default_factory=list)
    # The functions' metrics, as they printed them (embedded metric format documents).
    metrics: list[dict[str, Any]] = field(default_factory=list)
    # The last push's promotion chain, in the order it ran (a scenario with environments).
    chain: list[HistoryRecord] = field(default_factory=list)

    @property
    def last(self) -> PushResult:
        return self.pushes[-1]

    @property
    def status(self) -> str:
        """The outcome that decides what the app runs: the last push's."""
        return self.last.status

    @property
    def as_expected(self) -> bool:
        return (
            self.status == self.scenario.expect
            and tuple(push.status for push in self.pushes) == self.scenario.deployments
            and tuple(record.status for record in self.chain) == self.scenario.chain
        )

    def to_json(self) -> dict[str, Any]:
        summary = self.last.summary
        return {
            "status": self.status,
            "scenario": self.scenario.name,
            "execution_arn": self.last.execution_arn,
            "error": self.last.error,
            "cause": self.last.cause,
            "image": self.last.image,
            "services": [
                {
                    "name": service.name,
                    "task_definition_before": service.task_definition_before,
                    "task_definition_after": service.task_definition_after,
                    "images_after": service.images_after,
                }
                for service in follow.services_of(summary)
            ],
            "tasks": [
                {"family": task.family, "phase": task.phase, "exit_codes": task.exit_codes}
                for task in follow.tasks_of(summary)
            ],
            "state_transitions": self.state_transitions,
            "api_calls": self.api_calls,
            "deployments": [{"image": push.image, "status": push.status} for push in self.pushes],
            "chain": [
                {
                    "environment": record.environment,
                    "deployment_id": record.deployment_id,
                    "status": record.status,
                    "image": record.image,
                }
                for record in self.chain
            ],
        }


class _Follower:
    """Follows every execution of the stack's state machine as it happens."""

    def __init__(self, cloud: LocalCloud, observer: Observer | None) -> None:
        self._sfn = cloud.client("stepfunctions")
        self._machine = cloud.state_machine_arn()
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        self._history = follow.HistoryFollower(self._sfn, observer, table)
        self._live = observer is not None

    @property
    def transitions(self) -> int:
        return self._history.transitions

    def describe(self, execution_arn: str) -> Any:
        return self._sfn.describe_execution(executionArn=execution_arn)

    def executions(self) -> list[dict[str, Any]]:
        paginator = self._sfn.get_paginator("list_executions")
        return [
            execution
            for page in paginator.paginate(stateMachineArn=self._machine)
            for execution in page["executions"]
        ]

    def poll(self) -> None:
        """Read the history that is new since the last poll."""
        for execution in sorted(self.executions(), key=lambda item: item["startDate"]):
            self._history.read(execution["executionArn"], execution["name"])

    def on_turn(self) -> None:
        """After each turn, read on only for someone watching live: the local cloud answers
        GetExecutionHistory with the whole history, and the totals are read at the end."""
        if self._live:
            self.poll()


def _deployment_results(follower: _Follower, pushes: list[PushResult]) -> None:
    """Fill in how each push's deployment ended (or leave it IGNORED: nothing deployed it).

    A digest's deployments are named after it (a retry adds its attempt): the k-th push of
    a digest deployed it the k-th time, if at all.
    """
    started = sorted(follower.executions(), key=lambda item: item["startDate"])
    for push in pushes:
        base = child_execution_name(sample_app.APP, push.digest)
        ours = [e for e in started if e["name"] == base or e["name"].startswith(f"{base}-")]
        earlier = sum(p.digest == push.digest for p in pushes[: pushes.index(push)])
        if earlier < len(ours):
            _fill(follower, push, ours[earlier]["executionArn"])


def _fill(follower: _Follower, push: PushResult, execution_arn: str) -> None:
    outcome = follow.execution_outcome(follower.describe(execution_arn))
    push.execution_arn = execution_arn
    push.status, push.error, push.cause = outcome.status, outcome.error, outcome.message
    push.summary = outcome.summary


def _rollback(cloud: LocalCloud, follower: _Follower, pushes: list[PushResult]) -> PushResult:
    """What `ecs-deployer rollback APP` does: undo the newest successful deployment."""
    undone = next(p for p in reversed(pushes) if p.status == "SUCCEEDED")
    assert undone.execution_arn is not None
    name = f"{sample_app.APP}-rollback-{len(pushes)}"
    arn = cloud.start_execution(
        {"app": sample_app.APP, "undo": undone.execution_arn.rsplit(":", 1)[-1]}, name=name
    )
    cloud.run_until_idle(after_turn=follower.on_turn)
    rollback = PushResult(("rollback",), image="", digest="")
    _fill(follower, rollback, arn)
    images = [s.images_after.get("app") for s in follow.services_of(rollback.summary)]
    rollback.image = next((image for image in images if image), "")
    return rollback


# Who answers the approval scenarios' approvals (as `ecs-deployer approve` records its caller).
APPROVER = f"arn:aws:iam::{ACCOUNT_ID}:user/release-manager"


def _run_to_the_end(cloud: LocalCloud, scenario: Scenario, follower: _Follower) -> None:
    """Run every execution to its end, answering the app's approval as the scenario says."""
    if scenario.answer is not None:
        _answer_approval(cloud, scenario.answer, follower)
    cloud.run_until_idle(after_turn=follower.on_turn)
    follower.poll()


def _answer_approval(cloud: LocalCloud, answer: str, follower: _Follower) -> None:
    """Run until the app's deployment waits for an approval, then answer it as `ecs-deployer
    approve` or `reject` does."""
    table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
    cloud.scheduler.run_until(
        lambda: find_pending(table, sample_app.APP) is not None, after_turn=follower.on_turn
    )
    answer_approval(
        table,
        cloud.client("stepfunctions"),
        sample_app.APP,
        "APPROVED" if answer == "approve" else "REJECTED",
        actor=APPROVER,
        now=cloud.clock.now(),
        reason=None if answer == "approve" else "not before the freeze ends",
    )


def _redeliver(cloud: LocalCloud, follower: _Follower) -> None:
    """Start the state machine again with the first push's event, as EventBridge may."""
    first = min(follower.executions(), key=lambda item: item["startDate"])
    event = cloud.client("stepfunctions").describe_execution(executionArn=first["executionArn"])
    cloud.start_execution(event["input"])


def _push(cloud: LocalCloud, scenario: Scenario, index: int, tags: tuple[str, ...]) -> str:
    """Push the scenario's ``index``-th image as the scenario says (as one image, as a
    multi-platform image, or in the registry that replicates here); return its digest."""
    version = scenario.image_of(index)
    if scenario.platforms:
        image = sample_app.multi_platform_image(version, scenario.platforms)
        return cloud.push_multiplatform(sample_app.REPOSITORY, tags, image)
    manifest = sample_app.image_manifest(version)
    return cloud.push_image(
        sample_app.REPOSITORY,
        tags,
        manifest,
        region=scenario.replicated_from,
        account=scenario.registry,
    )


def _clients_in(cloud: LocalCloud, account: str, registry: str | None) -> sample_app.Clients:
    """The sample app's clients: ECS and its kin in ``account``, the image in ``registry``'s
    ECR (None: the deployer's), the config in the deployer's Parameter Store."""
    return sample_app.Clients(
        ecs=cloud.client("ecs", account=account),
        ecr=cloud.client("ecr", account=registry),
        ssm=cloud.client("ssm"),
        ec2=cloud.client("ec2", account=account),
        iam=cloud.client("iam", account=account),
        codedeploy=cloud.client("codedeploy", account=account),
        cloudwatch=cloud.client("cloudwatch", account=account),
    )


def _seed(cloud: LocalCloud, scenario: Scenario) -> list[sample_app.SeededApp]:
    """The sample app in the scenario's account (its image and config in the deployer's),
    or in each account of its chain."""
    blue_green = scenario.codedeploy is not None
    if scenario.environments:
        return _seed_chain(cloud, scenario)
    if scenario.account is None:
        return [
            sample_app.seed(
                sample_app.Clients.of(cloud.client),
                CONFIG_PREFIX,
                blue_green=blue_green,
                web_deployment=scenario.web_deployment,
                **scenario.config,
            )
        ]
    account = scenario.account
    trigger: dict[str, Any] = (
        {"trigger": {**_TRIGGER, "registry": scenario.registry}} if scenario.registry else {}
    )
    return [
        sample_app.seed(
            _clients_in(cloud, account, scenario.registry),
            CONFIG_PREFIX,
            blue_green=blue_green,
            web_deployment=scenario.web_deployment,
            account=account,
            **trigger,
            **scenario.config,
        )
    ]


def _seed_chain(cloud: LocalCloud, scenario: Scenario) -> list[sample_app.SeededApp]:
    """The sample app in every account of the chain, on one initial image (in the
    deployer's registry), with one config listing the environments: each runs the one-off
    tasks in its own account's subnet and security group (accounts share no network)."""
    seeded: list[sample_app.SeededApp] = []
    for _, account in scenario.environments:
        seeded.append(
            sample_app.seed_resources(
                _clients_in(cloud, account, None),
                initial_image=seeded[0].initial_image if seeded else None,
            )
        )
    # The scenario's own environments say more (an approval), in the chain's order.
    written = scenario.config.get("environments") or [
        {"name": name, "account": account} for name, account in scenario.environments
    ]
    environments = [
        {**environment, "network_configuration": app.network_configuration}
        for environment, app in zip(written, seeded, strict=True)
    ]
    first = seeded[0]
    config = sample_app.app_config(
        first.subnet,
        first.security_group,
        **{**scenario.config, "environments": environments},
    )
    push_config(cloud.client("ssm"), CONFIG_PREFIX, sample_app.APP, config)
    return seeded


def _chain(cloud: LocalCloud, push: PushResult) -> list[HistoryRecord]:
    """The records of the chain the push started, in the order its deployments ran."""
    if push.execution_arn is None:
        return []
    chain_id = push.execution_arn.rsplit(":", 1)[-1]
    table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
    return [
        record
        for record in reversed(table.history(sample_app.APP, 100))
        if record.chain_id == chain_id
    ]


def _deploy(
    cloud: LocalCloud,
    scenario: Scenario,
    seeded: list[sample_app.SeededApp],
    summaries: SummaryInbox,
) -> None:
    """The stack, in the deployer's account; the deploy role in the scenario's app account."""
    cloud.deploy_stack(
        {
            **STACK_PARAMETERS,
            **sample_app.network_parameters(seeded),
            **TARGET_STACK_PARAMETERS,
            "EcrSourceAccounts": TOOLING_ACCOUNT,
            "EcsEventSourceAccounts": STAGING_ACCOUNT,
            "LogLevel": DEMO_LOG_LEVEL,
            "SummaryTopicArn": summaries.topic_arn,
        }
    )
    if scenario.account is not None:
        _deploy_target_role(
            cloud, scenario.account, scenario.role_external_id, scenario.codedeploy is not None
        )
    for _, account in scenario.environments:
        _deploy_target_role(cloud, account, None, codedeploy=False)
    if scenario.registry is not None:
        _open_central_registry(cloud, scenario.registry)
    if scenario.account is not None and scenario.forwards_ecs_events:
        _forward_ecs_events(cloud, scenario.account)


def _forward_ecs_events(cloud: LocalCloud, account: str) -> None:
    """What an app's account does (README, "Many accounts") for its waits to end at ECS's
    events: forward them with templates/ecs-events-forwarding.yaml."""
    cluster = cloud.client("ecs", account=account).describe_clusters(clusters=[sample_app.CLUSTER])
    cloud.deploy_forwarding(
        ECS_EVENTS_FORWARDING_TEMPLATE,
        account,
        {
            "DeployerAccountId": ACCOUNT_ID,
            "DeployerRegion": cloud.region,
            "ClusterArns": cluster["clusters"][0]["clusterArn"],
        },
    )


def _open_central_registry(cloud: LocalCloud, account: str) -> None:
    """What the central registry's account does (README, "A central ECR"): forward its
    pushes with templates/ecr-forwarding.yaml, and let Resolve read the repository."""
    cloud.deploy_forwarding(
        ECR_FORWARDING_TEMPLATE,
        account,
        {
            "DeployerAccountId": ACCOUNT_ID,
            "DeployerRegion": cloud.region,
            "RepositoryNames": sample_app.REPOSITORY,
        },
    )
    resolve_role = cloud.client("cloudformation").describe_stack_resource(
        StackName=cloud.stack_name, LogicalResourceId="ResolveFunctionRole"
    )["StackResourceDetail"]["PhysicalResourceId"]
    statement = {
        "Sid": "EcsDeployerResolve",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/{resolve_role}"},
        "Action": ["ecr:DescribeImages", "ecr:DescribeRepositories"],
    }
    cloud.client("ecr", account=account).set_repository_policy(
        repositoryName=sample_app.REPOSITORY,
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


def _deploy_target_role(
    cloud: LocalCloud, account: str, external_id: str | None, codedeploy: bool
) -> None:
    """The account's deploy role, as its StackSet instance makes it, trusting the stack's
    function roles (with ``external_id``, default the stack's); with ``codedeploy``, granted
    the sample app's deployment group there (otherwise no CodeDeploy grant)."""
    codedeploy_parameters = {
        "CodeDeployApplications": sample_app.CODEDEPLOY_APPLICATION,
        "CodeDeployDeploymentGroups": sample_app.CODEDEPLOY_DEPLOYMENT_GROUP,
    }
    cloud.deploy_target_role(
        account,
        {
            **(codedeploy_parameters if codedeploy else {}),
            "RoleName": TARGET_ROLE_NAME,
            "DeployerRoleArns": cloud.outputs["EcsFunctionRoleArns"],
            "ExternalId": external_id or EXTERNAL_ID,
            "Regions": cloud.region,
            "ClusterNames": sample_app.CLUSTER,
            "TaskFamilyPrefixes": sample_app.FAMILY_PREFIX,
            "PassRoleArns": ",".join(
                f"arn:aws:iam::{account}:role/{role}" for role in sample_app.ROLES
            ),
        },
    )


def _extensions(scenario: Scenario, simulation: EcsSimulation) -> list[Any]:
    """The simulations the scenario's local cloud runs: ECS's, and CodeDeploy's for a
    blue/green scenario."""
    if scenario.codedeploy is None:
        return [simulation]
    return [simulation, CodeDeploySimulation(scenario.codedeploy)]


def run(
    scenario: Scenario,
    *,
    observer: Observer | None = None,
    inspect: Callable[[LocalCloud, EcsSimulation], None] | None = None,
    template: Path = TEMPLATE,
    push_spacing: float = PUSH_SPACING,
    function_logs: TextIO | None = sys.stdout,
) -> ScenarioResult:
    """Run ``scenario`` on a fresh local cloud. ``inspect`` sees the cloud before it ends;
    the result keeps the deployment events the deployer published.

    The pushes of a concurrent scenario are ``push_spacing`` virtual seconds apart: what
    the first push started runs meanwhile, until it waits or ends. The stack's functions'
    log lines go to ``function_logs`` (None: nowhere); their metrics are in the result.
    """
    started = time.monotonic()  # only reported: nothing depends on the machine's speed
    simulation = EcsSimulation(scenario.faults)
    with LocalCloud(
        template, extensions=_extensions(scenario, simulation), time_scale=TIME_SCALE
    ) as cloud:
        output = FunctionOutput(function_logs)
        cloud.runtime.output = output
        simulation.throttling = False  # the setup is not under test
        seeded = _seed(cloud, scenario)
        summaries = SummaryInbox(cloud)
        _deploy(cloud, scenario, seeded, summaries)
        listener = _DeploymentEvents(cloud)
        cloud.reset_api_calls()
        simulation.throttling = True
        if scenario.crash is not None:
            scenario.crash.inject(cloud)
        if scenario.replicated_from is not None:
            cloud.replicate_registry(scenario.replicated_from, [sample_app.REPOSITORY])
        follower = _Follower(cloud, observer)
        pushes: list[PushResult] = []
        for index, tags in enumerate(scenario.pushes):
            if index and scenario.concurrent:
                cloud.advance(push_spacing, after_turn=follower.on_turn)
            elif index:
                cloud.run_until_idle(after_turn=follower.on_turn)
                # A second on: ECR event times are whole seconds, so this push comes after
                # everything the previous one did, as its event time shows.
                cloud.advance(1.0, after_turn=follower.on_turn)
            digest = _push(cloud, scenario, index, tags)
            image = f"{seeded[0].registry}/{sample_app.REPOSITORY}@{digest}"
            pushes.append(PushResult(tags, image, digest))
            if observer is not None:
                observer.pushed(tags, image)
            if index == 0 and scenario.redeliver_first_event:
                _redeliver(cloud, follower)
            follower.poll()
        _run_to_the_end(cloud, scenario, follower)
        _deployment_results(follower, pushes)
        if scenario.then_rollback:
            pushes.append(_rollback(cloud, follower, pushes))
            follower.poll()
        if inspect is not None:
            inspect(cloud, simulation)
        return ScenarioResult(
            scenario=scenario,
            pushes=pushes,
            state_transitions=follower.transitions,
            api_calls=cloud.api_calls,
            elapsed_seconds=round(time.monotonic() - started, 1),
            events=listener.received(),
            summaries=summaries.received(),
            metrics=output.metrics,
            chain=_chain(cloud, pushes[-1]),
        )


class _Queue:
    """A queue the demo reads what the deployer sent, as a subscriber would."""

    def __init__(self, cloud: LocalCloud, name: str) -> None:
        self._sqs = cloud.client("sqs")
        self._url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])
        self.arn: str = attributes["Attributes"]["QueueArn"]

    def received(self) -> list[dict[str, Any]]:
        """Every message body delivered so far, in order."""
        received = []
        while batch := self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10):
            if not batch.get("Messages"):
                break
            for message in batch["Messages"]:
                received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return received


class _DeploymentEvents:
    """The deployer's lifecycle events (source ecs-deployer), as a platform would route them:
    a rule on the default bus delivering to a queue."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._queue = _Queue(cloud, "ecs-deployer-events")
        events = cloud.client("events")
        events.put_rule(Name="ecs-deployer-events", EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(
            Rule="ecs-deployer-events", Targets=[{"Id": "queue", "Arn": self._queue.arn}]
        )

    def received(self) -> list[dict[str, Any]]:
        return self._queue.received()


class SummaryInbox:
    """The stack's summary topic (SummaryTopicArn), with a queue subscribed to it."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._queue = _Queue(cloud, "ecs-deployer-summaries")
        sns = cloud.client("sns")
        self.topic_arn: str = sns.create_topic(Name="ecs-deployer-summaries")["TopicArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=self._queue.arn)

    def received(self) -> list[dict[str, str]]:
        """Each summary published so far: its subject and body."""
        return [
            {"subject": message["Subject"], "body": message["Message"]}
            for message in self._queue.received()
        ]
