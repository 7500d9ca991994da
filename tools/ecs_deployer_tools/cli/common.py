"""What commands share: the AWS options and the deployer they name, how errors end a command
that talks to AWS, and the options and files several commands take."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ecs_deployer.aws.clients import error_code
from ecs_deployer.errors import ConfigError, DeployerError, InputError
from ecs_deployer.image import ImageRef
from ecs_deployer_tools.cli.output import fail
from ecs_deployer_tools.operator.aws import Aws, AwsTarget, OperatorError
from ecs_deployer_tools.operator.stack import Deployer

_AWS = "AWS"


@dataclass
class AwsOptions:
    """Where the command line's AWS calls go. Declared once, here: the root takes these options
    before the command's name, each command that talks to AWS after its arguments too."""

    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="AWS profile (default: boto3's credential chain).",
            rich_help_panel=_AWS,
        ),
    ] = None
    region: Annotated[
        str | None,
        typer.Option("--region", help="AWS region (default: the profile's).", rich_help_panel=_AWS),
    ] = None
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            help="AWS endpoint, e.g. `ecs-deployer local up`'s (default: AWS_ENDPOINT_URL, "
            "else AWS); plain http only to this machine.",
            rich_help_panel=_AWS,
        ),
    ] = None
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            help="The deployer's CloudFormation stack (default: stack_name in ./samconfig.toml, "
            "else ecs-deployer).",
            rich_help_panel=_AWS,
        ),
    ] = None

    def connect(self, state_machine_arn: str | None = None) -> Deployer:
        target = AwsTarget(self.profile, self.region, self.endpoint_url)
        return Deployer(Aws(target), self.stack, state_machine_arn)


# The fields of AwsOptions as parameters a command's signature can end with.
_AWS_PARAMETERS = [
    parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
    for parameter in inspect.signature(AwsOptions, eval_str=True).parameters.values()
]


def takes_aws_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` (whose first parameter is ``ctx: typer.Context``) taking the AWS options
    too, as Typer reads its signature. Those given go to the command line's AwsOptions, a
    value given after the command's arguments winning over one given before its name."""
    signature = inspect.signature(command, eval_str=True)

    @functools.wraps(command)
    def with_aws_options(ctx: typer.Context, **params: Any) -> None:
        options = ctx.ensure_object(AwsOptions)
        for parameter in _AWS_PARAMETERS:
            value = params.pop(parameter.name)
            if value is not None:
                setattr(options, parameter.name, value)
        command(ctx, **params)

    # Typer builds a command's options from inspect.signature, which reads __signature__.
    with_aws_options.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *_AWS_PARAMETERS]
    )
    return with_aws_options


@contextmanager
def connected(ctx: typer.Context, state_machine_arn: str | None = None) -> Iterator[Deployer]:
    """The deployer the AWS options name, for the block's AWS calls. Only commands that need
    AWS connect, so the others run with none configured. What the operator can fix ends the
    command with a message and exit 1, no traceback (and its JSON document, given --json)."""
    as_json = bool(ctx.params.get(JSON_PARAMETER))
    try:
        yield ctx.ensure_object(AwsOptions).connect(state_machine_arn)
    except (InputError, ConfigError) as exc:
        fail(str(exc), as_json=as_json, error=exc.error_name, fields=exc.errors)
    except (OperatorError, DeployerError) as exc:
        fail(str(exc), as_json=as_json, error=exc.error_name)
    except NoCredentialsError:
        fail(
            "no AWS credentials found: pass --profile, or configure boto3's credential chain",
            as_json=as_json,
            error="NoCredentialsError",
        )
    except NoRegionError:
        fail(
            "no AWS region: pass --region, or set AWS_DEFAULT_REGION",
            as_json=as_json,
            error="NoRegionError",
        )
    except ClientError as exc:
        fail(str(exc), as_json=as_json, error=error_code(exc) or type(exc).__name__)
    except BotoCoreError as exc:
        fail(str(exc), as_json=as_json, error=type(exc).__name__)


StateMachineOption = Annotated[
    str | None,
    typer.Option(
        "--state-machine-arn",
        help="Start this state machine instead of the stack's.",
        rich_help_panel=_AWS,
    ),
]
AppArgument = Annotated[str, typer.Argument(help="The app (its config's name).")]
TagOption = Annotated[str | None, typer.Option("--tag", help="Image tag (resolved to its digest).")]
EnvironmentOption = Annotated[
    str | None,
    typer.Option(
        "--environment",
        "-e",
        help="Of an app with environments: which one (a deployment's success promotes on).",
    ),
]
DigestOption = Annotated[
    str | None, typer.Option("--digest", help="Image digest, sha256:<64 hex> (pins the image).")
]
RepositoryOption = Annotated[
    str | None,
    typer.Option("--repository", help="ECR repository (default: the one the app's trigger names)."),
]
# The parameter of every command's --json option, as_json: connected() reads it.
JSON_PARAMETER = "as_json"
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document (the last line on stdout); on failure "
        '{"error", "message", "fields"}.',
    ),
]
ShowValuesOption = Annotated[
    bool,
    typer.Option(
        "--show-values",
        help="Show containers' environment values and secret references (masked as **** "
        "otherwise; their names always show).",
    ),
]


ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image",
        help="The image's full URI, REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST "
        "(instead of --tag or --digest, and --repository).",
    ),
]


@dataclass(frozen=True)
class ImageChoice:
    """The image a command line names: a tag or a digest (and a repository), or a URI."""

    tag: str | None
    digest: str | None
    repository: str | None
    registry: str | None = None  # given with --image: the stack's ECR registry, or refused

    def check_registry(self, deployed: str) -> None:
        """Refuse a URI of another registry than the one the deployer deploys from."""
        if self.registry is not None and self.registry != deployed:
            raise OperatorError(
                f"--image: registry '{self.registry}' is not {deployed}, where the deployer "
                f"finds repository '{self.repository}'"
            )


def chosen_image(
    tag: str | None, digest: str | None, repository: str | None, image: str | None
) -> ImageChoice:
    """--tag or --digest (and --repository), or --image alone; else exit 2."""
    if image is None:
        if tag is None and digest is None:
            raise typer.BadParameter(
                "give --tag, --digest or --image", param_hint="'--tag' / '--digest' / '--image'"
            )
        return ImageChoice(tag, digest, repository)
    if tag is not None or digest is not None or repository is not None:
        raise typer.BadParameter(
            "give --image alone, or --tag or --digest (and --repository)", param_hint="'--image'"
        )
    ref = ImageRef.from_uri(image)
    if "/" not in image or not ref.repository:
        raise typer.BadParameter(
            f"'{image}' is not a full image URI: REGISTRY/REPOSITORY:TAG or "
            "REGISTRY/REPOSITORY@sha256:DIGEST",
            param_hint="'--image'",
        )
    return ImageChoice(None if ref.digest else ref.tag, ref.digest, ref.repository, ref.registry)


def read_json_object(path: Path, what: str, *, as_json: bool) -> dict[str, Any]:
    """The JSON object in ``path``, or exit 1 saying it is not JSON, or not ``what``."""
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}", as_json=as_json, error="InvalidFile")
    if not isinstance(document, dict):
        fail(f"{path} is not {what}", as_json=as_json, error="InvalidFile")
    return document
