"""The demo's scenarios: what is pushed, what goes wrong in ECS, and what must come out.

Every scenario pushes images of the sample app to the local cloud's ECR and lets the real
stack deploy them. ``expect`` is the outcome the deployer must report; ``deployments`` the
status each push's deployment must end with (a push that deploys nothing is IGNORED).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.localcloud.cloud import ACCOUNT_ID
from ecs_deployer_tools.localcloud.codedeploy import CodeDeployFaults, GroupFault, GroupOutcome
from ecs_deployer_tools.localcloud.ecs_sim import (
    EcsFaults,
    HookFault,
    HookOutcome,
    RolloutFault,
    RolloutOutcome,
    TaskFault,
    TaskOutcome,
)

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud

Outcome = Literal["SUCCEEDED", "FAILED", "ROLLED_BACK", "ROLLBACK_FAILED", "REJECTED", "IGNORED"]
PushStatus = Literal[
    "SUCCEEDED", "FAILED", "ROLLED_BACK", "ROLLBACK_FAILED", "SUPERSEDED", "REJECTED", "IGNORED"
]


# A Lambda step's first attempt plus the state machine's Retry MaxAttempts (5): a step that
# crashes this many times in a row has failed for good.
RETRIED_ATTEMPTS = 6
# The accounts apps run in, other than the deployer's (the local cloud's default account).
STAGING_ACCOUNT, PRODUCTION_ACCOUNT = "111111111111", "222222222222"
# The tooling account whose ECR is the central registry (`Scenario.registry`).
TOOLING_ACCOUNT = "333333333333"
# The promotion scenarios' environments: each runs the sample app's one-off tasks in its
# own account's subnet and security group (the runner's `_seed_chain`).
PROMOTION_CHAIN = (("staging", STAGING_ACCOUNT), ("production", PRODUCTION_ACCOUNT))
# A service the config of the `service-missing` scenario names and the cluster lacks.
MISSING_SERVICE = f"{sample_app.FAMILY_PREFIX}api"


@dataclass(frozen=True)
class LambdaCrash:
    """The next ``count`` invocations of a function fail like a crashed process."""

    function: str
    count: int = 1
    error_type: str = "Runtime.ExitError"
    after: int = 0  # invocations of the function that succeed first

    def inject(self, cloud: LocalCloud) -> None:
        cloud.lambda_faults.inject(
            self.function, count=self.count, error_type=self.error_type, after=self.after
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    expect: Outcome
    deployments: tuple[PushStatus, ...]
    # Each push is one image, pushed with one or more tags (one ECR event per tag).
    pushes: tuple[tuple[str, ...], ...] = (("v2.0.0",),)
    # True: push all at once; False: each push waits until the previous one is deployed.
    concurrent: bool = False
    faults: EcsFaults = field(default_factory=EcsFaults)
    config: dict[str, Any] = field(default_factory=dict)  # overrides of the sample config
    crash: LambdaCrash | None = None
    # Deliver the first push's event a second time, as EventBridge's at-least-once may.
    redeliver_first_event: bool = False
    # The image each push is built from (default: its first tag). Two pushes of one image
    # push one digest twice, as a re-run CI job or a re-tag does.
    images: tuple[str, ...] = ()
    # Then an operator runs `ecs-deployer rollback APP`: it undoes the newest success.
    then_rollback: bool = False
    # Each image built for these platforms and pushed as `docker buildx` does: the
    # platforms' and attestation manifests untagged, then the tagged index.
    platforms: tuple[str, ...] = ()
    # Pushed in this region, whose registry replicates into the deploy region: each push
    # arrives there as an "ECR Replication Action", with no PUSH event.
    replicated_from: str | None = None
    # Set: CodeDeploy deploys web blue/green (`sample_app.seed(blue_green=True)`), its
    # deployments progressing and failing as these faults say.
    codedeploy: CodeDeployFaults | None = None
    # How an operator answers the approval the deployment waits for (its config says
    # `approval: required`), as `ecs-deployer approve`/`reject` do; None: nobody answers.
    answer: Literal["approve", "reject"] | None = None
    # Added to web's deploymentConfiguration: ECS deploys it with this strategy, bake time
    # and lifecycle hooks (`localcloud/ecs_sim/strategies.py`).
    web_deployment: dict[str, Any] | None = None

    # The app runs in this account (its config names it): the stack lists a deploy role for
    # it, made there from templates/target-account-role.yaml, and reaches ECS through it.
    account: str | None = None
    # The external id that role's trust policy asks for, when not the stack's own.
    role_external_id: str | None = None
    # The image lives in this account's ECR (a central registry): its pushes are forwarded
    # by templates/ecr-forwarding.yaml, the stack lists it in EcrSourceAccounts, the config's
    # trigger names it, and its repository policy lets the deployer read the image.
    registry: str | None = None
    # A promotion chain (the config's `environments`): (name, account) in order, the app
    # seeded in each account and reached through its deploy role. A push deploys the first
    # environment; `chain` is how each environment's deployment of the last push ends, in
    # order (an environment the chain never reached has none).
    environments: tuple[tuple[str, str], ...] = ()
    chain: tuple[PushStatus, ...] = ()
    # The app's account forwards its ECS events to the deployer's bus
    # (templates/ecs-events-forwarding.yaml; the stack lists it in EcsEventSourceAccounts):
    # its waits end at ECS's events. Otherwise they stay on that account's bus, and each
    # wait there ends at its safety poll.
    forwards_ecs_events: bool = False

    def image_of(self, index: int) -> str:
        return self.images[index] if self.images else self.pushes[index][0]


# The approval gate of the approval scenarios: a 30-minute timeout.
APPROVAL_TIMEOUT_MINUTES = 30
_GATE = {"approval": "required", "approval_timeout": APPROVAL_TIMEOUT_MINUTES}


def _web_only_max_wait(minutes: int, **web: Any) -> dict[str, Any]:
    return {
        "services": [
            {"name": sample_app.WEB, "containers": ["app"], "max_wait": minutes, **web},
            {"name": sample_app.WORKER, "containers": ["app"]},
        ]
    }


def _blue_green(bake_minutes: int, *hooks: dict[str, Any]) -> dict[str, Any]:
    """web's ECS blue/green deployment: its bake time and lifecycle hooks."""
    return {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake_minutes, "lifecycleHooks": [*hooks]}


# The CloudWatch alarm web's canary deployments watch, rolled back when it goes off.
WEB_ALARM = "shop-web-5xx"
_CANARY_WITH_ALARM = {
    "strategy": "CANARY",
    "bakeTimeInMinutes": 5,
    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
    "alarms": {"alarmNames": [WEB_ALARM], "enable": True, "rollback": True},
}

# An AWS_LAMBDA hook that tests web's green tasks once test traffic reaches them.
_TEST_TRAFFIC_HOOK = {
    "targetType": "AWS_LAMBDA",
    "hookTargetArn": f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:shop-green-check",
    "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/shop-ecs-hooks",
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
}


# A PAUSE hook after the test traffic shift: ECS waits there for ContinueServiceDeployment.
_PAUSE_HOOK = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}


# The pace of the scenarios' CodeDeploy lifecycle events (virtual seconds each).
_CODEDEPLOY_EVENT_SECONDS = 5.0


def _codedeploy(fault: GroupFault | None = None) -> CodeDeployFaults:
    """The scenario's CodeDeploy, with ``fault`` for the sample app's deployment group."""
    groups = {sample_app.CODEDEPLOY_GROUP: fault} if fault is not None else {}
    return CodeDeployFaults(groups=groups, event_seconds=_CODEDEPLOY_EVENT_SECONDS)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "happy",
            "push v2.0.0: migrate, roll out web and worker, smoke-test",
            "SUCCEEDED",
            ("SUCCEEDED",),
        ),
        Scenario(
            "events-dropped",
            "ECS's events are all lost (best effort): each wait ends at its safety poll (120 s "
            "first, twice the default poll_seconds), and the deployment succeeds as with them",
            "SUCCEEDED",
            ("SUCCEEDED",),
            faults=EcsFaults(event_drop_rate=1.0),
            config={"poll_seconds": 60},
        ),
        Scenario(
            "migration-fails",
            "the database migration exits 1: no service is touched, and the cause quotes its "
            "last log lines",
            "FAILED",
            ("FAILED",),
            faults=EcsFaults(
                tasks={
                    sample_app.MIGRATE: TaskFault(
                        TaskOutcome.EXIT, exit_code=1, log_lines=sample_app.FAILED_MIGRATION_LOG
                    )
                }
            ),
        ),
        Scenario(
            "task-fails-to-start",
            "the migration cannot pull its image (TaskFailedToStart): no service is touched",
            "FAILED",
            ("FAILED",),
            faults=EcsFaults(tasks={sample_app.MIGRATE: TaskFault(TaskOutcome.FAIL_TO_START)}),
        ),
        Scenario(
            "rollout-fails",
            "web's new tasks keep failing (circuit breaker, no ECS rollback): all go back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            faults=EcsFaults(services={sample_app.WEB: RolloutFault(RolloutOutcome.FAIL)}),
        ),
        Scenario(
            "ecs-auto-rollback",
            "ECS's circuit breaker rolls web back by itself: never reported as a success",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            faults=EcsFaults(services={sample_app.WEB: RolloutFault(RolloutOutcome.AUTO_ROLLBACK)}),
        ),
        Scenario(
            "never-stable",
            "web never stabilises: after its max_wait (2 min) everything goes back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            # Healthy rollouts (the rollback) take one check, well within web's 2 minutes.
            faults=EcsFaults(
                services={sample_app.WEB: RolloutFault(RolloutOutcome.NEVER_STABLE)},
                seconds_to_complete=10.0,
            ),
            config=_web_only_max_wait(2),
        ),
        Scenario(
            "never-stable-longest-wait",
            "web never stabilises at the longest max_wait (24 h), polled every 10 s: the "
            "polls back off, so the DeployTimeout comes well inside the execution's history",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            faults=EcsFaults(
                services={sample_app.WEB: RolloutFault(RolloutOutcome.NEVER_STABLE)},
                seconds_to_complete=10.0,
            ),
            config=_web_only_max_wait(1440),
        ),
        Scenario(
            "post-task-fails",
            "the smoke test after the rollout exits 1: both services go back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            faults=EcsFaults(
                tasks={sample_app.SMOKE_TEST: TaskFault(TaskOutcome.EXIT, exit_code=1)}
            ),
        ),
        Scenario(
            "throttled",
            "ECS answers ThrottlingException to a quarter of all calls: retried, deployed",
            "SUCCEEDED",
            ("SUCCEEDED",),
            faults=EcsFaults(throttle_rate=0.25, seed=7),
        ),
        Scenario(
            "ignored-tag",
            "push main-3f2c1a: the app only deploys v* tags, so nothing happens",
            "IGNORED",
            ("IGNORED",),
            pushes=(("main-3f2c1a",),),
        ),
        Scenario(
            "duplicate-event",
            "EventBridge delivers the push event twice: one deployment",
            "SUCCEEDED",
            ("SUCCEEDED",),
            redeliver_first_event=True,
        ),
        Scenario(
            "two-tags",
            "one image pushed as v2.0.0 and v2.0-latest (two events, one digest): one deployment",
            "SUCCEEDED",
            ("SUCCEEDED",),
            pushes=(("v2.0.0", "v2.0-latest"),),
        ),
        Scenario(
            "concurrent-pushes",
            "v2.0.0 and v3.0.0 pushed together (concurrency: queue): one after the other",
            "SUCCEEDED",
            ("SUCCEEDED", "SUCCEEDED"),
            pushes=(("v2.0.0",), ("v3.0.0",)),
            concurrent=True,
        ),
        Scenario(
            "concurrent-pushes-supersede",
            "v2.0.0 and v3.0.0 pushed together (concurrency: supersede): v2 gives way",
            "SUCCEEDED",
            ("SUPERSEDED", "SUCCEEDED"),
            pushes=(("v2.0.0",), ("v3.0.0",)),
            concurrent=True,
            config={"concurrency": "supersede"},
            # A slower migration: v3 is queued well before v2 reaches its checkpoint.
            faults=EcsFaults(
                tasks={sample_app.MIGRATE: TaskFault(pending_seconds=20.0, running_seconds=30.0)}
            ),
        ),
        Scenario(
            "crash-mid-deploy",
            "the Lambda updating services crashes once: retried; the next push deploys too",
            "SUCCEEDED",
            ("SUCCEEDED", "SUCCEEDED"),
            pushes=(("v2.0.0",), ("v3.0.0",)),
            crash=LambdaCrash("UpdateServicesFunction"),
        ),
        Scenario(
            "rollback-partially-fails",
            "web's new tasks keep failing; worker's rollback is refused (its old revision was "
            "deregistered meanwhile): web still goes back, worker is reported",
            "ROLLBACK_FAILED",
            ("ROLLBACK_FAILED",),
            faults=EcsFaults(
                services={
                    sample_app.WEB: RolloutFault(RolloutOutcome.FAIL),
                    sample_app.WORKER: RolloutFault(rollback_error="TaskDefinition is inactive"),
                }
            ),
        ),
        Scenario(
            "post-checkpoint-fails",
            "the lock is found lost at the checkpoint after the rollout, before the smoke "
            "test: both services go back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            # The app's first two lock calls (acquire, the checkpoint before the rollout) pass.
            crash=LambdaCrash("LockFunction", error_type="LockLost", after=2),
        ),
        Scenario(
            "service-deleted-mid-rollout",
            "someone deletes web while it rolls out: a failure naming it; worker goes back",
            "ROLLBACK_FAILED",
            ("ROLLBACK_FAILED",),
            # Deleted at 15 s, INACTIVE a progress step (10 s) later: the first check, at
            # the first safety poll (20 s: twice poll_seconds), finds it draining.
            faults=EcsFaults(
                services={sample_app.WEB: RolloutFault(RolloutOutcome.DELETED, seconds=15.0)}
            ),
            config={"poll_seconds": 10},
        ),
        *(
            Scenario(
                f"newer-push-first{suffix}",
                f"v2.0.0 then v3.0.0 (concurrency: {mode}); v2's dispatch crashes once, so "
                "v3 reaches the lock first: v2 is stale and deploys nothing",
                "SUCCEEDED",
                ("SUPERSEDED", "SUCCEEDED"),
                pushes=(("v2.0.0",), ("v3.0.0",)),
                concurrent=True,
                config={"concurrency": mode},
                crash=LambdaCrash("ResolveFunction"),
            )
            for mode, suffix in (("queue", ""), ("supersede", "-supersede"))
        ),
        Scenario(
            "repush-after-failure",
            "v2.0.0 fails (the task Lambda crashes on every attempt); pushed again as "
            "v2.0.0-rerun after that, the same digest is a retry and deploys",
            "SUCCEEDED",
            ("FAILED", "SUCCEEDED"),
            pushes=(("v2.0.0",), ("v2.0.0-rerun",)),
            images=("v2.0.0", "v2.0.0"),
            crash=LambdaCrash("RunTasksFunction", count=RETRIED_ATTEMPTS),
        ),
        Scenario(
            "rollback-first-deployment",
            "v2.0.0 is the app's first deployment; `ecs-deployer rollback shop` undoes it: "
            "both services return to the revisions they ran before",
            "SUCCEEDED",
            ("SUCCEEDED", "SUCCEEDED"),
            then_rollback=True,
        ),
        Scenario(
            "multi-platform-push",
            "v2.0.0 built by docker buildx for linux/amd64 and linux/arm64, for an app that "
            "deploys every tag: the untagged platform and attestation manifests deploy "
            "nothing, the tagged index deploys once",
            "SUCCEEDED",
            ("SUCCEEDED",),
            platforms=("linux/amd64", "linux/arm64"),
            config={"trigger": {"repositories": [sample_app.REPOSITORY]}},
        ),
        Scenario(
            "retag",
            "v2.0.0 deploys; the same image is then tagged v2.0 (a PUSH of a digest that "
            "deployed): a duplicate, nothing deploys again",
            "IGNORED",
            ("SUCCEEDED", "IGNORED"),
            pushes=(("v2.0.0",), ("v2.0",)),
            images=("v2.0.0", "v2.0.0"),
        ),
        Scenario(
            "replicated-push",
            "v2.0.0 is pushed in us-west-2, whose registry replicates into the deploy "
            "region: the replica (an ECR Replication Action, no PUSH here) deploys",
            "SUCCEEDED",
            ("SUCCEEDED",),
            replicated_from="us-west-2",
        ),
        Scenario(
            "migration-interrupted",
            "Fargate Spot reclaims the migration's task; the migration handles SIGTERM and "
            "exits 0, unfinished (stop code SpotInterruption): no service is touched",
            "FAILED",
            ("FAILED",),
            faults=EcsFaults(
                tasks={sample_app.MIGRATE: TaskFault(TaskOutcome.STOPPED_BY_ECS, exit_code=0)}
            ),
        ),
        Scenario(
            "short-service-arn",
            "web was created before 2021: its ARN is short (service/NAME), out of the "
            "deployer's IAM scope; refused before anything changes, saying how to migrate it",
            "FAILED",
            ("FAILED",),
            faults=EcsFaults(services={sample_app.WEB: RolloutFault(short_arn=True)}),
        ),
        Scenario(
            "service-missing",
            "the config names shop-api, which the cluster does not have: the deployment fails "
            "naming it (the cluster is there), before anything changes",
            "FAILED",
            ("FAILED",),
            config={
                "services": [
                    {"name": sample_app.WEB, "containers": ["app"]},
                    {"name": MISSING_SERVICE, "containers": ["app"]},
                ]
            },
        ),
        Scenario(
            "cross-account-happy",
            f"the app runs in account {STAGING_ACCOUNT}: the deployer, in its own account, "
            "assumes that account's deploy role and does everything there",
            "SUCCEEDED",
            ("SUCCEEDED",),
            account=STAGING_ACCOUNT,
        ),
        Scenario(
            "cross-account-events",
            f"the app runs in account {STAGING_ACCOUNT}, which forwards its ECS events to the "
            "deployer's bus: each wait there ends at ECS's event, not at its safety poll",
            "SUCCEEDED",
            ("SUCCEEDED",),
            account=STAGING_ACCOUNT,
            forwards_ecs_events=True,
        ),
        Scenario(
            "cross-account-role-denied",
            f"account {PRODUCTION_ACCOUNT}'s deploy role trusts another external id: the "
            "deployment fails naming the account and the role, having changed nothing",
            "FAILED",
            ("FAILED",),
            account=PRODUCTION_ACCOUNT,
            role_external_id="another-deployer",
        ),
        Scenario(
            "central-ecr-push",
            f"v2.0.0 is pushed to the central registry of account {TOOLING_ACCOUNT}, which "
            "forwards its pushes to the deployer's bus: the app in account "
            f"{STAGING_ACCOUNT} runs that registry's digest",
            "SUCCEEDED",
            ("SUCCEEDED",),
            account=STAGING_ACCOUNT,
            registry=TOOLING_ACCOUNT,
        ),
        Scenario(
            "promotion-staging-to-production",
            f"v2.0.0 deploys to staging (account {STAGING_ACCOUNT}); once that succeeded, "
            f"the deployer promotes the same digest to production (account {PRODUCTION_ACCOUNT}); "
            "each runs the migration and the smoke test in its own account's network",
            "SUCCEEDED",
            ("SUCCEEDED",),
            environments=PROMOTION_CHAIN,
            chain=("SUCCEEDED", "SUCCEEDED"),
        ),
        Scenario(
            "promotion-stops-on-failure",
            "web's new tasks keep failing in staging: staging goes back, and the chain stops "
            "there; production is never touched",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            faults=EcsFaults(services={sample_app.WEB: RolloutFault(RolloutOutcome.FAIL)}),
            environments=PROMOTION_CHAIN,
            chain=("ROLLED_BACK",),
        ),
        Scenario(
            "promotion-approved",
            "staging deploys v2.0.0; production asks for approval (approval: required) "
            "before any of its services changes; an operator approves, and production runs "
            "the same digest",
            "SUCCEEDED",
            ("SUCCEEDED",),
            environments=PROMOTION_CHAIN,
            chain=("SUCCEEDED", "SUCCEEDED"),
            config={
                "environments": [
                    {"name": "staging", "account": STAGING_ACCOUNT},
                    {"name": "production", "account": PRODUCTION_ACCOUNT, "approval": "required"},
                ],
            },
            answer="approve",
        ),
        Scenario(
            "approval-gate-approved",
            "the app asks for approval (approval: required): after the migration the "
            "deployment waits, 'Waiting For Approval' goes out, an operator approves, and "
            "web and worker roll out",
            "SUCCEEDED",
            ("SUCCEEDED",),
            config=_GATE,
            answer="approve",
        ),
        Scenario(
            "approval-gate-rejected",
            "the app asks for approval; an operator rejects it: REJECTED, no service "
            "changed, no smoke test, the lock free",
            "REJECTED",
            ("REJECTED",),
            config=_GATE,
            answer="reject",
        ),
        Scenario(
            "approval-timeout",
            f"the app asks for approval and nobody answers within its approval_timeout "
            f"({APPROVAL_TIMEOUT_MINUTES} min): rejected (ApprovalTimedOut), no service changed",
            "REJECTED",
            ("REJECTED",),
            config=_GATE,
        ),
        Scenario(
            "paused-approved",
            "web deploys blue/green with a PAUSE hook after the test traffic shift: the "
            "deployment waits for approval there (announced, its wait not counted against "
            "max_wait); an operator approves, ECS continues, and it succeeds",
            "SUCCEEDED",
            ("SUCCEEDED",),
            web_deployment=_blue_green(5, _PAUSE_HOOK),
            answer="approve",
        ),
        Scenario(
            "paused-rejected",
            "the same; an operator rejects it: ECS rolls web back to blue (followed, never "
            "fought), the deployer rolls worker back: ROLLED_BACK, never a success",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            web_deployment=_blue_green(5, _PAUSE_HOOK),
            answer="reject",
        ),
        Scenario(
            "paused-timeout",
            f"the same; nobody answers within the app's approval_timeout "
            f"({APPROVAL_TIMEOUT_MINUTES} min, web's max_wait 5 min): the deployer rejects "
            "the hook, ECS rolls web back: ROLLED_BACK",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            web_deployment=_blue_green(5, _PAUSE_HOOK),
            config={
                "approval_timeout": APPROVAL_TIMEOUT_MINUTES,
                **_web_only_max_wait(5),
            },
        ),
        Scenario(
            "paused-approved-cross-account",
            f"paused-approved, the app in account {STAGING_ACCOUNT}: the operator's answer "
            "is recorded, and the deployer continues the hook there through the account's "
            "deploy role",
            "SUCCEEDED",
            ("SUCCEEDED",),
            web_deployment=_blue_green(5, _PAUSE_HOOK),
            account=STAGING_ACCOUNT,
            answer="approve",
        ),
        Scenario(
            "paused-timeout-cross-account",
            f"paused-timeout, the app in account {STAGING_ACCOUNT}: the deployer rejects "
            "the hook there through the account's deploy role",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            web_deployment=_blue_green(5, _PAUSE_HOOK),
            config={"approval_timeout": APPROVAL_TIMEOUT_MINUTES},
            account=STAGING_ACCOUNT,
        ),
        Scenario(
            "blue-green-happy",
            "ECS deploys web blue/green (bake 5 min): the deployer follows its service "
            "deployment through the lifecycle stages and succeeds once the bake is over",
            "SUCCEEDED",
            ("SUCCEEDED",),
            web_deployment=_blue_green(5),
        ),
        Scenario(
            "blue-green-long-bake",
            "web's blue/green bake (45 min) is far longer than its max_wait (5 min): its "
            "wait budget adds the bake, so it succeeds, never times out",
            "SUCCEEDED",
            ("SUCCEEDED",),
            web_deployment=_blue_green(45),
            config=_web_only_max_wait(5),
        ),
        Scenario(
            "blue-green-wait-until-bake",
            "web waits until BAKE_TIME (bake 60 min): success once production traffic has "
            "shifted, ECS left to finish the bake",
            "SUCCEEDED",
            ("SUCCEEDED",),
            web_deployment=_blue_green(60),
            config=_web_only_max_wait(5, wait_until="BAKE_TIME"),
        ),
        Scenario(
            "blue-green-hook-fails",
            "web's AWS_LAMBDA hook after the test traffic shift answers FAILED: ECS returns "
            "web to blue, which the deployer reports and follows (never fights), and it "
            "rolls worker back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            web_deployment=_blue_green(5, _TEST_TRAFFIC_HOOK),
            faults=EcsFaults(
                services={sample_app.WEB: RolloutFault(hooks=HookFault(HookOutcome.FAILED))}
            ),
        ),
        Scenario(
            "canary-alarm-rollback",
            f"web deploys as a canary (10 %, baked 5 min); its alarm {WEB_ALARM} goes off "
            "during the canary's bake: ECS rolls web back, reported with the alarm's name; "
            "the deployer rolls worker back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            web_deployment=_CANARY_WITH_ALARM,
            faults=EcsFaults(services={sample_app.WEB: RolloutFault(alarm_after=180.0)}),
        ),
        Scenario(
            "linear-happy",
            "web deploys linearly (25 % a step, 1 min between steps, bake 2 min): "
            "success once ECS shifted every step, baked and cleaned up",
            "SUCCEEDED",
            ("SUCCEEDED",),
            web_deployment={
                "strategy": "LINEAR",
                "bakeTimeInMinutes": 2,
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
            },
        ),
        Scenario(
            "codedeploy-happy",
            "web is deployed by CodeDeploy blue/green (an AppSpec naming the new revision, "
            "followed through its lifecycle events to Succeeded), worker by ECS",
            "SUCCEEDED",
            ("SUCCEEDED",),
            codedeploy=_codedeploy(),
        ),
        Scenario(
            "codedeploy-fails",
            "the AfterAllowTestTraffic hook of web's CodeDeploy deployment fails: CodeDeploy "
            "rolls web back, which the deployer follows, and it rolls worker back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            codedeploy=_codedeploy(GroupFault(GroupOutcome.HOOK_FAILS, "AfterAllowTestTraffic")),
        ),
        Scenario(
            "cross-account-codedeploy",
            f"the app runs in account {STAGING_ACCOUNT} and CodeDeploy there deploys web "
            "blue/green: the deployer starts and follows that deployment through the "
            "account's deploy role",
            "SUCCEEDED",
            ("SUCCEEDED",),
            account=STAGING_ACCOUNT,
            codedeploy=_codedeploy(),
        ),
        Scenario(
            "codedeploy-hangs",
            "web's CodeDeploy deployment never gets past AfterAllowTestTraffic: at its "
            "max_wait (1 min) the deployer stops it, CodeDeploy rolls web back, and the "
            "deployer rolls worker back",
            "ROLLED_BACK",
            ("ROLLED_BACK",),
            codedeploy=_codedeploy(GroupFault(GroupOutcome.NEVER_ENDS, "AfterAllowTestTraffic")),
            config={
                "services": [
                    {
                        "name": sample_app.WEB,
                        "containers": ["app"],
                        "max_wait": 1,
                        "codedeploy": {
                            "application": sample_app.CODEDEPLOY_APPLICATION,
                            "deployment_group": sample_app.CODEDEPLOY_GROUP,
                        },
                    },
                    {"name": sample_app.WORKER, "containers": ["app"]},
                ]
            },
        ),
    )
}
