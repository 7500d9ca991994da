"""``ecs-deployer taskdef``: task definitions, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ecs_deployer.domain.taskdef import registration_input, tagged_as_ours, with_image
from ecs_deployer.errors import ResourceNotFound
from ecs_deployer_tools.cli.common import JsonOption, ShowValuesOption, read_json_object
from ecs_deployer_tools.cli.masking import masked
from ecs_deployer_tools.cli.output import console, emit_json, fail

app = typer.Typer(help="Work with task definitions offline.", no_args_is_help=True)


def _parse_images(values: list[str]) -> dict[str, str]:
    images: dict[str, str] = {}
    for value in values:
        container, separator, image = value.partition("=")
        if not separator or not container or not image:
            raise typer.BadParameter(f"'{value}' is not CONTAINER=IMAGE", param_hint="--image")
        images[container] = image
    return images


def _described(path: Path, as_json: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = read_json_object(path, "a DescribeTaskDefinition response", as_json=as_json)
    # `aws ecs describe-task-definition` prints {"taskDefinition": ..., "tags": [...]};
    # a bare task definition is accepted too.
    task_definition = document.get("taskDefinition", document)
    if not isinstance(task_definition, dict) or "containerDefinitions" not in task_definition:
        fail(
            f"{path} has no taskDefinition with containerDefinitions",
            as_json=as_json,
            error="InvalidFile",
        )
    return task_definition, list(document.get("tags") or [])


@app.command()
def render(
    described: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="A DescribeTaskDefinition response (JSON)."),
    ],
    image: Annotated[
        list[str],
        typer.Option(help="CONTAINER=IMAGE; repeat for several containers."),
    ],
    show_values: ShowValuesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Print the RegisterTaskDefinition input the deployer would send.

    Indented and coloured for people; [bold]--json[/] prints it on one line for other tools.
    Environment values and secret references show as **** unless [bold]--show-values[/]:
    give it for an input to [bold]aws ecs register-task-definition --cli-input-json[/].

    Example: [bold]aws ecs describe-task-definition --task-definition web --include TAGS > web.json
    && ecs-deployer taskdef render --described web.json --image app=repo/app@sha256:...[/]
    """
    images = _parse_images(image)
    task_definition, tags = _described(described, as_json)
    # Tagged as the register step tags its clones (housekeeping prunes only those).
    registration = tagged_as_ours(registration_input(task_definition, tags))
    try:
        for container, uri in images.items():
            registration = with_image(registration, [container], uri, str(described))
    except ResourceNotFound as exc:
        fail(str(exc), as_json=as_json, error=exc.error_name)
    shown = registration if show_values else masked(registration)
    if as_json:
        emit_json(shown)
    else:
        console.print_json(data=shown, default=str)
