"""``ecs-deployer local``: the real stack on an embedded AWS emulator, no account needed."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer
from rich.table import Table

from ecs_deployer_tools.cli.output import EXIT_FAILED, console, emit_json, fail
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.demo.runner import (
    CONFIG_PREFIX,
    STACK_PARAMETERS,
    TEMPLATE,
    ScenarioResult,
    run,
)
from ecs_deployer_tools.demo.scenarios import SCENARIOS
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

app = typer.Typer(
    help="Run the real stack on an embedded AWS emulator (moto): no AWS account needed.",
    no_args_is_help=True,
)

_STATUS_STYLE = {
    "SUCCEEDED": "green",
    "IGNORED": "cyan",
    "SUPERSEDED": "cyan",
    "ROLLED_BACK": "yellow",
    "FAILED": "red",
    "ROLLBACK_FAILED": "bold red",
}


def _short(arn: str | None) -> str:
    return arn.rsplit("/", 1)[-1] if arn else "-"


class LiveView:
    """Prints each state as the executions enter it, and what changed in the rollout."""

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}  # what was last printed per service or task family

    def entered(self, execution: str, state: str) -> None:
        # Choices (named "...?") and waits are the machinery: shown, but dimmed.
        quiet = state.endswith("?") or state.startswith("Wait")
        console.print(f"  [dim]{execution[:14]:<14}[/] " + (f"[dim]{state}[/]" if quiet else state))

    def pushed(self, tags: tuple[str, ...], image: str) -> None:
        console.print(f"[bold]pushed[/] {sample_app.REPOSITORY}:{', '.join(tags)} -> {image}")

    def checked(self, execution: str, deployment: dict[str, Any]) -> None:
        lines: dict[str, str] = {}
        for service in deployment.get("services", []):
            rollback = service.get("rollback")
            state = f"rollback {rollback['state']}" if rollback else service["state"]
            if service.get("progress") and state != "PENDING":
                lines[service["name"]] = f"{service['progress']} ({state})"
        for phase in ("pre_tasks", "post_tasks"):
            for task in deployment.get(phase, []):
                if task["state"] != "PENDING":
                    codes = [result["exit_codes"] for result in task.get("results", [])]
                    lines[task["config"]["family"]] = f"{task['state']}, exit codes {codes}"
        for name, line in lines.items():
            key = f"{execution}/{name}"
            if self._shown.get(key) != line:
                self._shown[key] = line
                console.print(f"  {'':<14}   {name}: {line}")


def _render(result: ScenarioResult) -> None:
    document = result.to_json()
    status = document["status"]
    style = _STATUS_STYLE.get(status, "")
    console.print()
    console.print(
        f"[{style}]{status}[/] in {result.elapsed_seconds} s "
        f"(scenario {result.scenario.name} expects {result.scenario.expect})"
    )
    if document["error"]:
        console.print(f"[{style}]{document['error']}[/]: {document['cause']}")
    services = Table("service", "before", "after", "app image", title="services")
    for service in document["services"]:
        services.add_row(
            service["name"],
            _short(service["task_definition_before"]),
            _short(service["task_definition_after"]),
            service["images_after"].get("app", "-").rsplit("/", 1)[-1],
        )
    if document["services"]:
        console.print(services)
    tasks = Table("task family", "phase", "exit codes", title="tasks")
    for task in document["tasks"]:
        tasks.add_row(task["family"], task["phase"], str(task["exit_codes"]))
    if document["tasks"]:
        console.print(tasks)
    for push in document["deployments"]:
        image, status = push["image"].rsplit("/", 1)[-1], push["status"]
        console.print(f"deployment of {image}: [{_STATUS_STYLE.get(status, '')}]{status}[/]")
    calls = document["api_calls"]
    console.print(
        f"{document['state_transitions']} state transitions, {sum(calls.values())} AWS API calls "
        f"({sum(n for name, n in calls.items() if name.startswith('ecs.'))} to ECS)"
    )


@app.command()
def demo(
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "happy",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document, last.")] = False,
) -> None:
    """Deploy the sample app on the local cloud and follow it live.

    Seeds an ECS app (web and worker services, a migration and a smoke test), deploys the
    real stack, pushes a new image to ECR and follows the deployment. Exit 0 when the
    outcome is the one the scenario expects.

    Examples: [bold]ecs-deployer local demo[/],
    [bold]ecs-deployer local demo --scenario ecs-auto-rollback --json[/]
    """
    chosen = SCENARIOS.get(scenario)
    if chosen is None:
        fail(f"unknown scenario '{scenario}'", details=list(SCENARIOS))
    if not as_json:
        console.print(f"[bold]ECS Deployer demo[/]: {chosen.name} - {chosen.summary}")
    result = run(chosen, observer=None if as_json else LiveView())
    if as_json:
        emit_json(result.to_json())
    else:
        _render(result)
    if not result.as_expected:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 4566,
    seed_demo: Annotated[bool, typer.Option(help="Seed the sample app first.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(help="ClusterNames (repeatable).")] = None,
    repository: Annotated[
        list[str] | None, typer.Option(help="RepositoryNames (repeatable).")
    ] = None,
) -> None:
    """Serve the local cloud with the stack deployed, until interrupted.

    Lambdas run in this process; any client can drive the emulator, e.g.
    [bold]aws --endpoint-url http://127.0.0.1:4566 ecr put-image ...[/]
    """
    parameters = {
        **STACK_PARAMETERS,
        "ClusterNames": ",".join(cluster or [sample_app.CLUSTER]),
        "RepositoryNames": ",".join(repository or [sample_app.REPOSITORY]),
    }
    with LocalCloud(TEMPLATE, extensions=[EcsSimulation()]) as cloud:
        if seed_demo:
            sample_app.seed(
                sample_app.Clients(
                    ecs=cloud.client("ecs"),
                    ecr=cloud.client("ecr"),
                    ssm=cloud.client("ssm"),
                    ec2=cloud.client("ec2"),
                    iam=cloud.client("iam"),
                ),
                CONFIG_PREFIX,
            )
        outputs = cloud.deploy_stack(parameters)
        endpoint = cloud.start_server(port)
        console.print(f"endpoint: {endpoint}")
        for name, value in sorted(outputs.items()):
            console.print(f"output {name}: {value}")
        if seed_demo:
            console.print(f"sample app: {sample_app.APP}")
        console.print("ready (Ctrl-C stops)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopping")
