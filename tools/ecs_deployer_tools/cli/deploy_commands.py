"""``ecs-deployer deploy`` and ``rollback``: start the deployer's state machine, follow it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from ecs_deployer.inputs import ManualRequest
from ecs_deployer_tools.cli.common import (
    AppArgument,
    DigestOption,
    EnvironmentOption,
    ImageChoice,
    ImageOption,
    JsonOption,
    RepositoryOption,
    StateMachineOption,
    TagOption,
    chosen_image,
    connected,
    takes_aws_options,
)
from ecs_deployer_tools.cli.live import LiveView, print_summary, short_image, styled
from ecs_deployer_tools.cli.output import EXIT_FAILED, console, emit_json, fail
from ecs_deployer_tools.operator.aws import OperatorError
from ecs_deployer_tools.operator.dry_run import admit
from ecs_deployer_tools.operator.executions import manual_request, start_execution
from ecs_deployer_tools.operator.follow import ExecutionOutcome, follow_execution
from ecs_deployer_tools.operator.records import (
    default_rollback_target,
    execution_to_follow,
    rollback_to_request,
)
from ecs_deployer_tools.operator.stack import Deployer

NoWaitOption = Annotated[
    bool, typer.Option("--no-wait", help="Print the execution ARN and exit 0 without following.")
]


def _print_outcome(outcome: ExecutionOutcome) -> None:
    console.print()
    console.print(f"{styled(outcome.status)} {escape(outcome.name)}")
    if outcome.error or outcome.message:
        console.print(f"{styled(outcome.status, outcome.error)}: {escape(outcome.message or '')}")
    print_summary(outcome.services, outcome.tasks)


def _check_first(
    deployer: Deployer,
    request: ManualRequest,
    image: ImageChoice | None,
    now: datetime,
    *,
    stack_optional: bool,
) -> None:
    """Refuse what the deployer would reject (a typo in the app, the tag, the target)
    before an execution starts and leaves a FAILED record of it. Given only the state
    machine (--state-machine-arn) and no stack to read configs and history from, the state
    machine checks it."""
    try:
        deployer.stack  # noqa: B018  # read to know whether there is one
    except OperatorError:
        if not stack_optional:
            raise
        return
    deployment = admit(deployer, request, now)
    if image is not None:
        image.check_registry(deployment.image.registry)


def _start_and_follow(
    deployer: Deployer,
    request: ManualRequest,
    image: ImageChoice | None,
    *,
    no_wait: bool,
    as_json: bool,
    state_machine_given: bool,
) -> None:
    """Exit 0 only when the deployment SUCCEEDED (or, with --no-wait, started)."""
    now = datetime.now(UTC)
    _check_first(deployer, request, image, now, stack_optional=state_machine_given)
    started = start_execution(
        deployer.aws.sfn, deployer.state_machine_arn, request, deployer.actor(), now
    )
    if no_wait:
        if as_json:
            emit_json(started.to_json())
        else:
            console.print(started.execution_arn)
        return
    if not as_json:
        console.print(f"[bold]{escape(started.name)}[/] started: {started.execution_arn}")
    _follow(deployer, started.execution_arn, started.name, as_json=as_json)


def _follow(deployer: Deployer, execution_arn: str, name: str, *, as_json: bool) -> None:
    """Show what the execution did and does until it ends; exit 0 only on SUCCEEDED."""
    view = None if as_json else LiveView(show_execution=False)
    try:
        outcome = follow_execution(deployer.aws.sfn, execution_arn, view, documents=deployer.table)
    except KeyboardInterrupt:
        fail(
            f"stopped following; the execution goes on: {execution_arn} "
            f"(`ecs-deployer follow {name}` re-attaches)",
            as_json=as_json,
            error="Interrupted",
        )
    if as_json:
        emit_json(outcome.to_json())
    else:
        _print_outcome(outcome)
    if not outcome.succeeded:
        raise typer.Exit(EXIT_FAILED)


@takes_aws_options
def deploy(
    ctx: typer.Context,
    app: AppArgument,
    *,
    tag: TagOption = None,
    digest: DigestOption = None,
    repository: RepositoryOption = None,
    image: ImageOption = None,
    skip_pre_tasks: Annotated[
        bool, typer.Option("--skip-pre-tasks", help="Run none of the tasks before the rollout.")
    ] = False,
    skip_post_tasks: Annotated[
        bool, typer.Option("--skip-post-tasks", help="Run none of the tasks after the rollout.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Fresh tasks for every service (forceNewDeployment).")
    ] = False,
    environment: EnvironmentOption = None,
    no_wait: NoWaitOption = False,
    as_json: JsonOption = False,
    state_machine_arn: StateMachineOption = None,
) -> None:
    """Deploy an image to an app now, through the deployer's state machine; follow it live.

    Shows each phase as it begins (with the time since the start), each service's rollout
    and each task's exit codes, then the summary. A request the deployer would reject (an
    unknown app or image) starts nothing. Exit 0 only when the deployment SUCCEEDED.

    Examples: [bold]ecs-deployer deploy shop --tag v1.4.2[/],
    [bold]ecs-deployer deploy shop --digest sha256:9d2f... --skip-pre-tasks --no-wait[/],
    [bold]ecs-deployer deploy worker --image 1234.dkr.ecr.eu-west-1.amazonaws.com/worker:v2[/],
    [bold]ecs-deployer deploy shop --tag v1.4.2 --environment staging[/]
    """
    image_choice = chosen_image(tag, digest, repository, image)
    with connected(ctx, state_machine_arn) as deployer:
        request = manual_request(
            app,
            tag=image_choice.tag,
            digest=image_choice.digest,
            repository=image_choice.repository,
            skip_pre_tasks=skip_pre_tasks,
            skip_post_tasks=skip_post_tasks,
            force=force,
            environment=environment,
        )
        _start_and_follow(
            deployer,
            request,
            image_choice,
            no_wait=no_wait,
            as_json=as_json,
            state_machine_given=state_machine_arn is not None,
        )


@takes_aws_options
def rollback(
    ctx: typer.Context,
    app: AppArgument,
    *,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The deployment id (execution name) whose revisions to return to; default: "
            "undo the newest successful deployment (return to the revisions it replaced).",
        ),
    ] = None,
    environment: EnvironmentOption = None,
    no_wait: NoWaitOption = False,
    as_json: JsonOption = False,
    state_machine_arn: StateMachineOption = None,
) -> None:
    """Undo an app's newest successful deployment, or return to an earlier one's revisions.

    Of an app with environments: in the environment that deployment ran in (without --to,
    the newest success of --environment, or of any); a rollback promotes nothing.

    Runs through the state machine (locked and recorded; no one-off tasks) and is followed
    like deploy. Exit 0 only when the rollback SUCCEEDED.

    Examples: [bold]ecs-deployer rollback shop[/],
    [bold]ecs-deployer rollback shop --to shop-manual-20261122T101530Z-3f2a[/]
    """
    with connected(ctx, state_machine_arn) as deployer:
        if to is None:
            undone = default_rollback_target(deployer, app, environment)
            if not as_json:
                image = short_image(undone.image or "")
                console.print(
                    f"undoing {undone.deployment_id} ({image}, {undone.requested_at}): "
                    f"returning {app} to the revisions that ran before it"
                )
            request = manual_request(app, undo=undone.deployment_id, environment=undone.environment)
        else:
            request = rollback_to_request(deployer, app, to, environment)
        _start_and_follow(
            deployer,
            request,
            None,
            no_wait=no_wait,
            as_json=as_json,
            state_machine_given=state_machine_arn is not None,
        )


@takes_aws_options
def follow(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="APP|EXECUTION",
            help="An app (its running deployment, else its latest), or an execution's name "
            "(a deployment id) or ARN.",
        ),
    ],
    *,
    as_json: JsonOption = False,
) -> None:
    """Re-attach to a deployment started with --no-wait or by a push, and follow it live.

    Shows what it did so far, then each phase as it begins, to the end. Exit 0 only when
    it SUCCEEDED.

    Examples: [bold]ecs-deployer follow shop[/],
    [bold]ecs-deployer follow shop-manual-20261122T101530Z-3f2a[/]
    """
    with connected(ctx) as deployer:
        execution_arn = execution_to_follow(deployer, target)
        name = execution_arn.rsplit(":", 1)[-1]
        if not as_json:
            console.print(f"following [bold]{escape(name)}[/]: {execution_arn}")
        _follow(deployer, execution_arn, name, as_json=as_json)
