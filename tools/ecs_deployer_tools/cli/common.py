"""What every command that talks to AWS shares: its options, and how errors end it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ecs_deployer.errors import DeployerError
from ecs_deployer_tools.cli.output import fail
from ecs_deployer_tools.operator.aws import Aws, AwsTarget, OperatorError
from ecs_deployer_tools.operator.stack import Deployer

_AWS = "AWS"

ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", help="AWS profile (default: boto3's credential chain).", rich_help_panel=_AWS
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: the profile's).", rich_help_panel=_AWS),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="AWS endpoint, e.g. `ecs-deployer local up`'s (default: AWS_ENDPOINT_URL, else AWS).",
        rich_help_panel=_AWS,
    ),
]
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        help="The deployer's CloudFormation stack (default: stack_name in ./samconfig.toml, "
        "else ecs-deployer).",
        rich_help_panel=_AWS,
    ),
]
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
DigestOption = Annotated[
    str | None, typer.Option("--digest", help="Image digest, sha256:<64 hex> (pins the image).")
]
RepositoryOption = Annotated[
    str | None,
    typer.Option("--repository", help="ECR repository (default: the one the app's trigger names)."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (the last line on stdout).")
]


def require_image(tag: str | None, digest: str | None) -> None:
    if tag is None and digest is None:
        raise typer.BadParameter("give --tag or --digest", param_hint="'--tag' / '--digest'")


def connect(
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    stack: str | None,
    state_machine_arn: str | None = None,
) -> Deployer:
    return Deployer(Aws(AwsTarget(profile, region, endpoint_url)), stack, state_machine_arn)


@contextmanager
def user_errors() -> Iterator[None]:
    """What the operator can fix ends the command with a message and exit 1, no traceback."""
    try:
        yield
    except (OperatorError, DeployerError) as exc:
        fail(str(exc))
    except NoCredentialsError:
        fail("no AWS credentials found: pass --profile, or configure boto3's credential chain")
    except NoRegionError:
        fail("no AWS region: pass --region, or set AWS_DEFAULT_REGION")
    except (ClientError, BotoCoreError) as exc:
        fail(str(exc))
