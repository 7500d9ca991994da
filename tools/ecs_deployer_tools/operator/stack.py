"""The deployed ECS Deployer stack: found by name, read through its outputs and parameters.

The stack name comes from ``--stack``, else from ./samconfig.toml (what ``sam deploy`` used),
else the default ``ecs-deployer``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, error_message
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.ecr import EcrGateway
from ecs_deployer.aws.ecs import EcsGateway
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.aws.stepfunctions import Executions
from ecs_deployer.domain.admission import AdmissionDeps
from ecs_deployer.domain.scope import StackScope
from ecs_deployer_tools.operator.aws import OperatorError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_cloudformation import CloudFormationClient

    from ecs_deployer_tools.operator.aws import Aws

DEFAULT_STACK_NAME = "ecs-deployer"
SAMCONFIG = Path("samconfig.toml")
# The samconfig.toml sections `sam deploy` takes the stack name from, in its order.
_SAMCONFIG_SECTIONS = ("deploy", "global")


def default_stack_name(samconfig: Path = SAMCONFIG) -> str:
    """``stack_name`` of samconfig.toml's [default.deploy.parameters] or
    [default.global.parameters], else ``ecs-deployer``."""
    if not samconfig.is_file():
        return DEFAULT_STACK_NAME
    try:
        document: dict[str, Any] = tomllib.loads(samconfig.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise OperatorError(f"{samconfig} is not valid TOML: {exc}") from exc
    environment = document.get("default")
    for section in _SAMCONFIG_SECTIONS:
        parameters = _table(_table(environment).get(section)).get("parameters")
        name = _table(parameters).get("stack_name")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_STACK_NAME


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class DeployerStack:
    name: str
    outputs: Mapping[str, str]
    parameters: Mapping[str, str]

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise OperatorError(
                f"stack '{self.name}' has no output {key}: is it an ECS Deployer stack?"
            )
        return value

    @property
    def state_machine_arn(self) -> str:
        return self.output("StateMachineArn")

    @property
    def config_prefix(self) -> str:
        return self.output("ConfigPrefix")

    @property
    def table_name(self) -> str:
        return self.output("DeploymentsTableName")

    @property
    def rule_name(self) -> str:
        return self.output("EcrPushRuleName")

    @property
    def scope(self) -> StackScope:
        """What the stack's parameters let its Lambdas touch."""
        return StackScope.from_parameters(self.parameters)


def describe_stack(cloudformation: CloudFormationClient, name: str) -> DeployerStack:
    try:
        response = cloudformation.describe_stacks(StackName=name)
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in error_message(exc):
            raise OperatorError(
                f"stack '{name}' not found: pass --stack, or check --region and --profile"
            ) from exc
        raise
    stack = response["Stacks"][0]
    return DeployerStack(
        name=name,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        },
    )


class Deployer:
    """The deployer as one command sees it: AWS clients, and the stack read when first needed."""

    def __init__(
        self, aws: Aws, stack_name: str | None = None, state_machine_arn: str | None = None
    ) -> None:
        self.aws = aws
        self.stack_name = stack_name or default_stack_name()
        self._state_machine_arn = state_machine_arn

    @cached_property
    def stack(self) -> DeployerStack:
        return describe_stack(self.aws.cloudformation, self.stack_name)

    @property
    def state_machine_arn(self) -> str:
        return self._state_machine_arn or self.stack.state_machine_arn

    @cached_property
    def configs(self) -> ConfigStore:
        return ConfigStore(self.stack.config_prefix, self.aws.ssm)

    @cached_property
    def table(self) -> DeploymentsTable:
        return DeploymentsTable(self.aws.dynamodb, self.stack.table_name)

    @cached_property
    def ecs(self) -> EcsGateway:
        return EcsGateway(self.aws.ecs)

    @cached_property
    def executions(self) -> Executions:
        return Executions(lambda: self.aws.sfn)

    def resolve_deps(self) -> AdmissionDeps:
        """What the Resolve Lambda works with, on the operator's credentials."""
        return AdmissionDeps(
            configs=self.configs,
            ecr=EcrGateway(self.aws.ecr),
            table=self.table,
            scope=self.stack.scope,
            executions=self.executions,
        )

    def actor(self) -> str:
        """Who runs this command (recorded as the deployment's actor)."""
        return self.aws.sts.get_caller_identity()["Arn"]
