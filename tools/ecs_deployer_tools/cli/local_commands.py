"""``ecs-deployer local``: the real stack on an embedded AWS emulator, no account needed."""

from __future__ import annotations

import threading
from typing import Annotated

import typer
from rich.table import Table

from ecs_deployer_tools.cli.common import JsonOption
from ecs_deployer_tools.cli.live import LiveView, print_summary, styled
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
from ecs_deployer_tools.operator import follow

app = typer.Typer(
    help="Run the real stack on an embedded AWS emulator (moto): no AWS account needed.",
    no_args_is_help=True,
)


class _DemoView(LiveView):
    def pushed(self, tags: tuple[str, ...], image: str) -> None:
        console.print(f"[bold]pushed[/] {sample_app.REPOSITORY}:{', '.join(tags)} -> {image}")


def _render(result: ScenarioResult) -> None:
    document = result.to_json()
    status = document["status"]
    console.print()
    console.print(
        f"{styled(status)} in {result.elapsed_seconds} s "
        f"(scenario {result.scenario.name} expects {result.scenario.expect})"
    )
    if document["error"]:
        console.print(f"{styled(status, document['error'])}: {document['cause']}")
    print_summary(follow.services_of(result.last.summary), follow.tasks_of(result.last.summary))
    for push in document["deployments"]:
        image = push["image"].rsplit("/", 1)[-1]
        console.print(f"deployment of {image}: {styled(push['status'])}")
    calls = document["api_calls"]
    console.print(
        f"{document['state_transitions']} state transitions, {sum(calls.values())} AWS API calls "
        f"({sum(n for name, n in calls.items() if name.startswith('ecs.'))} to ECS)"
    )


@app.command()
def demo(
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "happy",
    as_json: JsonOption = False,
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
    result = run(chosen, observer=None if as_json else _DemoView())
    if as_json:
        emit_json(result.to_json())
    else:
        _render(result)
    if not result.as_expected:
        raise typer.Exit(EXIT_FAILED)


def _print_calls(cloud: LocalCloud) -> None:
    """The AWS API calls served, per operation: the HTTP clients' and the Lambdas'."""
    clients, lambdas = cloud.client_calls, cloud.api_calls
    table = Table("operation", "clients", "lambdas", title="AWS API calls")
    for call in sorted(clients.keys() | lambdas.keys()):
        table.add_row(call, str(clients.get(call, 0)), str(lambdas.get(call, 0)))
    table.add_row("total", str(sum(clients.values())), str(sum(lambdas.values())))
    console.print(table)


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 4566,
    seed_demo: Annotated[bool, typer.Option(help="Seed the sample app first.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(help="ClusterNames (repeatable).")] = None,
    repository: Annotated[
        list[str] | None, typer.Option(help="RepositoryNames (repeatable).")
    ] = None,
    time_scale: Annotated[
        float, typer.Option(min=1, help="How much faster than the wall clock time runs.")
    ] = 1.0,
) -> None:
    """Serve the local cloud with the stack deployed, until interrupted.

    Lambdas run in this process; any client can drive the emulator, e.g.
    [bold]aws --endpoint-url http://127.0.0.1:4566 ecr put-image ...[/]
    Time is virtual and follows the wall clock ([bold]--time-scale[/] times faster);
    [bold]POST /_localcloud/time/run-until-idle[/] runs every execution to its end at
    once, [bold]POST /_localcloud/time/advance?seconds=N[/] skips N seconds ahead.
    [bold]GET /_localcloud/calls[/] counts the AWS API calls per operation, the clients'
    and the Lambdas'; they are printed when the server stops.
    """
    parameters = {
        **STACK_PARAMETERS,
        "ClusterNames": ",".join(cluster or [sample_app.CLUSTER]),
        "RepositoryNames": ",".join(repository or [sample_app.REPOSITORY]),
    }
    with LocalCloud(TEMPLATE, extensions=[EcsSimulation()], time_scale=time_scale) as cloud:
        if seed_demo:
            sample_app.seed(
                sample_app.Clients.of(cloud.client),
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
        _print_calls(cloud)
