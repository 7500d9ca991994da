"""``ecs-deployer local``: the real stack on an embedded AWS emulator, no account needed."""

from __future__ import annotations

import dataclasses
import json
import runpy
import socket
import sys
import threading
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from ecs_deployer.domain.lifecycle import SOURCE
from ecs_deployer_tools.cli.common import JsonOption
from ecs_deployer_tools.cli.history_commands import chain_line
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
from ecs_deployer_tools.demo.scenarios import SCENARIOS, Scenario
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation, RolloutFault, TaskFault
from ecs_deployer_tools.localcloud.runtime import FunctionOutput
from ecs_deployer_tools.operator import follow
from ecs_deployer_tools.operator.records import ShownRecord, promotion_chains

_T = TypeVar("_T")
LOCAL_HOST = "127.0.0.1"  # where `local up` serves: this machine only

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
        console.print(f"{styled(status, document['error'])}: {escape(document['cause'] or '')}")
    print_summary(follow.services_of(result.last.summary), follow.tasks_of(result.last.summary))
    for push in document["deployments"]:
        image = push["image"].rsplit("/", 1)[-1]
        console.print(f"deployment of {escape(image)}: {styled(push['status'])}")
    for chain in promotion_chains(ShownRecord(record, record.status) for record in result.chain):
        console.print(chain_line(chain))
    calls = document["api_calls"]
    console.print(
        f"{document['state_transitions']} state transitions, {sum(calls.values())} AWS API calls "
        f"({sum(n for name, n in calls.items() if name.startswith('ecs.'))} to ECS)"
    )


def _render_events(published: list[dict[str, Any]]) -> None:
    """Each event as a platform's rule receives it: its type, then the detail's gist."""
    console.print()
    console.print(f"[bold]deployment events[/] (EventBridge, source {escape(SOURCE)}):")
    for event in published:
        detail = event["detail"]
        gist = f"{detail['app']} {detail['deployment_id']} {detail['status']}"
        if detail.get("error"):
            gist += f" {detail['error']}"
        console.print(f"  {escape(event['detail-type'])}: {escape(gist)}")


def _render_summaries(summaries: list[dict[str, str]]) -> None:
    """What the summary topic's subscribers got (the stack's SummaryTopicArn)."""
    for summary in summaries:
        console.print()
        console.print(f"[bold]summary[/] (SNS): {escape(summary['subject'])}")
        console.print(escape(summary["body"]), highlight=False)


def _render_metrics(documents: list[dict[str, Any]]) -> None:
    """Each metric the functions put in their logs (embedded metric format): its name,
    value and dimensions, as CloudWatch stores it."""
    console.print()
    console.print("[bold]metrics[/] (CloudWatch, embedded metric format):")
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        dimensions = [name for names in directive["Dimensions"] for name in names]
        shown = ", ".join(f"{name}={document[name]}" for name in dimensions)
        for metric in directive["Metrics"]:
            values = document[metric["Name"]]
            value = values[0] if isinstance(values, list) else values
            console.print(
                f"  {escape(directive['Namespace'])}/{escape(metric['Name'])} "
                f"{value:g} {escape(metric.get('Unit', ''))} ({escape(shown)})"
            )


@app.command()
def demo(
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "happy",
    events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="Also print the deployment events, summaries and metrics the deployer published.",
        ),
    ] = False,
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
        fail(
            f"unknown scenario '{scenario}'",
            as_json=as_json,
            error="UnknownScenario",
            details=list(SCENARIOS),
        )
    if not as_json:
        console.print(f"[bold]ECS Deployer demo[/]: {chosen.name} - {chosen.summary}")
    # The functions' JSON logs would drown the deployment: in AWS they go to CloudWatch
    # Logs, here nowhere.
    result = run(chosen, observer=None if as_json else _DemoView(), function_logs=None)
    if as_json:
        heard = (
            {"events": result.events, "summaries": result.summaries, "metrics": result.metrics}
            if events
            else {}
        )
        emit_json({**result.to_json(), **heard})
    else:
        _render(result)
        if events:
            _render_events(result.events)
            _render_summaries(result.summaries)
            _render_metrics(result.metrics)
    if not result.as_expected:
        raise typer.Exit(EXIT_FAILED)


# The benchmark measures a checkout (its layer build, handlers and template), so it lives
# there, beside the template, rather than in this package.
BENCH = TEMPLATE.parent / "benchmarks" / "bench.py"


@app.command()
def bench(
    parts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Parts to run (default: all): layer, cold-start, fleet, side-by-side, "
            "verdicts, dispatch, event-waits, scenarios."
        ),
    ] = None,
) -> None:
    """Measure the deployer on the local cloud: what `make bench` runs.

    Prints the layer's size, cold-start imports, API calls against the minimum, state
    transitions, the side by side with fabfuel's ecs-deploy and the AWS CLI sequence (on
    simulated time; it redraws docs/benchmarks.png) and each tool's verdicts, dispatch
    costs and the event-driven waits. Figures, not pass/fail: about an hour for all.

    Examples: [bold]ecs-deployer local bench[/], [bold]ecs-deployer local bench fleet[/]
    """
    if not BENCH.is_file():
        fail(
            f"the benchmark runs from a checkout of the repository: {BENCH} is missing",
            error="NoCheckout",
        )
    runpy.run_path(str(BENCH))["main"](parts or [])


def _scenario(name: str) -> Scenario:
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise typer.BadParameter(f"no scenario '{name}' (one of: {', '.join(SCENARIOS)})")
    return scenario


def _faults(text: str) -> EcsFaults:
    """`--faults`: the fields of `EcsFaults` as a JSON object; `services` and `tasks` map
    names to the fields of a `RolloutFault` and a `TaskFault`, outcomes by value."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not JSON: {error}") from error
    values = _fields_given(EcsFaults, document, "")
    for key, kind in (("services", RolloutFault), ("tasks", TaskFault)):
        by_name = values.get(key, {})
        if not isinstance(by_name, dict):
            raise typer.BadParameter(f"{key}: {json.dumps(by_name)} is not an object of names")
        values[key] = {
            name: _built(kind, _fields_given(kind, spec, f"{key}.{name}."), f"{key}.{name}: ")
            for name, spec in by_name.items()
        }
    return _built(EcsFaults, values, "")


def _fields_given(kind: type[Any], spec: object, where: str) -> dict[str, Any]:
    """The fields of dataclass `kind` that the JSON object `spec` gives. A field with a
    default must be of its default's type (an enum by its value; text where it is None)."""
    if not isinstance(spec, dict):
        raise typer.BadParameter(
            f"{where.rstrip('.') or 'faults'}: {json.dumps(spec)} is not an object"
        )
    fields = {field.name: field for field in dataclasses.fields(kind)}
    values: dict[str, Any] = {}
    for name, value in spec.items():
        field = fields.get(name)
        if field is None:
            raise typer.BadParameter(f"{where}{name}: no such field (one of: {', '.join(fields)})")
        has_default = field.default is not dataclasses.MISSING
        values[name] = _typed(value, field.default, f"{where}{name}") if has_default else value
    return values


def _typed(value: object, default: object, where: str) -> object:
    expected = str if default is None else type(default)
    if issubclass(expected, Enum):
        try:
            return expected(value)
        except ValueError:
            choices = ", ".join(str(member.value) for member in expected)
            raise typer.BadParameter(
                f"{where}: {json.dumps(value)} is not one of: {choices}"
            ) from None
    if expected is float and type(value) is int:
        return float(value)
    if expected is tuple and type(value) is list:  # JSON has lists, the faults tuples
        return tuple(value)
    if type(value) is not expected and not (default is None and value is None):
        raise typer.BadParameter(f"{where}: {json.dumps(value)} is not of type {expected.__name__}")
    return value


def _built(kind: type[_T], values: dict[str, Any], where: str) -> _T:
    try:
        return kind(**values)
    except ValueError as error:  # the dataclass's own checks (durations positive...)
        raise typer.BadParameter(f"{where}{error}") from error


def _require_free_port(host: str, port: int) -> None:
    """Exit 1 when another program serves on ``port``: before minutes of setup, and with
    the way out (werkzeug would print its own hint, which names no option of ours)."""
    if port == 0:
        return
    with socket.socket() as probe:
        # As the server binds: a port left in TIME_WAIT is free, one listened on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            fail(
                f"port {port} on {host} is in use ({error.strerror}): stop what serves there, "
                "or pass --port N (--port 0: any free port)",
                error="PortInUse",
            )


def serve_until_interrupted() -> None:
    """Block until Ctrl-C."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopping")


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
    *,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 4566,
    seed_demo: Annotated[bool, typer.Option(help="Seed the sample app first.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(help="ClusterNames (repeatable).")] = None,
    repository: Annotated[
        list[str] | None, typer.Option(help="RepositoryNames (repeatable).")
    ] = None,
    time_scale: Annotated[
        float, typer.Option(min=1, help="How much faster than the wall clock time runs.")
    ] = 1.0,
    scenario: Annotated[
        Scenario | None,
        typer.Option(
            parser=_scenario,
            metavar="NAME",
            help="A demo scenario's faults (ECS, Lambda crashes) and sample config; seeds the "
            f"sample app. One of: {', '.join(SCENARIOS)}.",
        ),
    ] = None,
    faults: Annotated[
        EcsFaults | None,
        typer.Option(
            parser=_faults,
            metavar="JSON",
            help="ECS faults: EcsFaults's fields as JSON, e.g. "
            '\'{"services": {"shop-web": {"outcome": "auto_rollback"}}}\'. '
            "See the README's Local cloud section.",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Print the Lambdas' JSON logs from INFO up (default: errors only)."
        ),
    ] = False,
) -> None:
    """Serve the local cloud with the stack deployed, until interrupted.

    Lambdas run in this process; any client can drive the emulator, e.g.
    [bold]aws --endpoint-url http://127.0.0.1:4566 ecr put-image ...[/]
    Time is virtual and follows the wall clock ([bold]--time-scale[/] times faster);
    [bold]POST /_localcloud/time/run-until-idle[/] runs every execution to its end at
    once, [bold]POST /_localcloud/time/advance?seconds=N[/] skips N seconds ahead.
    [bold]GET /_localcloud/calls[/] counts the AWS API calls per operation, the clients'
    and the Lambdas'; they are printed when the server stops. Everything lives in this
    process: stopping it loses it all.
    """
    if scenario is not None and faults is not None:
        raise typer.BadParameter(
            "give --scenario or --faults, not both", param_hint="'--scenario' / '--faults'"
        )
    _require_free_port(LOCAL_HOST, port)
    parameters = {
        **STACK_PARAMETERS,
        # The Lambdas log JSON to this terminal: only their errors, unless asked.
        "LogLevel": "INFO" if verbose else "ERROR",
        "ClusterNames": ",".join(cluster or [sample_app.CLUSTER]),
        "RepositoryNames": ",".join(repository or [sample_app.REPOSITORY]),
    }
    # A scenario's faults name the sample app's services and tasks.
    seed_demo = seed_demo or scenario is not None
    simulation = EcsSimulation(scenario.faults if scenario is not None else faults)
    with LocalCloud(TEMPLATE, extensions=[simulation], time_scale=time_scale) as cloud:
        if not verbose:
            cloud.runtime.output = FunctionOutput(sys.stdout)  # their logs, not their metrics
        simulation.throttling = False  # the setup is not under test
        if seed_demo:
            seeded = sample_app.seed(
                sample_app.Clients.of(cloud.client),
                CONFIG_PREFIX,
                **(scenario.config if scenario is not None else {}),
            )
            parameters |= seeded.network_parameters
        outputs = cloud.deploy_stack(parameters)
        simulation.throttling = True
        if scenario is not None and scenario.crash is not None:
            scenario.crash.inject(cloud)
        endpoint = cloud.start_server(port, LOCAL_HOST)
        console.print(f"endpoint: {endpoint}")
        console.print(
            "point clients here (any credentials do):\n"
            f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=x "
            f"AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION={cloud.region}"
        )
        for name, value in sorted(outputs.items()):
            console.print(f"output {name}: {escape(value)}")
        if seed_demo:
            console.print(f"sample app: {sample_app.APP}")
        if scenario is not None:
            console.print(f"scenario {scenario.name}: {scenario.summary}")
        console.print(
            "ready (Ctrl-C stops; the local cloud lives in this process: its state is lost "
            "when it stops)"
        )
        serve_until_interrupted()
        _print_calls(cloud)
