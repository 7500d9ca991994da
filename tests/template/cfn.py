"""Load, transform and evaluate template.yaml the way CloudFormation would, offline.

* `transform()` runs the SAM transform (the local cloud's, aws-sam-translator's public
  Translator with an explicit region) after pointing every local code/definition path at
  a dummy S3 object: `sam package` does the same before CloudFormation sees the template,
  and the translator only accepts S3 locations.
* `Resolver` evaluates the intrinsic functions the template uses for concrete parameter
  values, so tests can assert on the policies and the event pattern an account would get.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from ecs_deployer_tools.localcloud.sam_template import load_template, sam_transform

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ASL_PATH = REPO_ROOT / "statemachine" / "deploy.asl.json"

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "ecs-deployer"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/0f1e2d3c-4b5a"
# The parameters without a default: a stack cannot be created without them.
REQUIRED_PARAMETERS = {
    "ClusterNames": "blue",
    "RepositoryNames": "shop",
    "TaskFamilyPrefixes": "shop-",
    "PassRoleArns": f"arn:aws:iam::{ACCOUNT_ID}:role/shop-task",
}

# The state machine's steps, each invoked by it.
STEP_FUNCTION_DIRS = {
    "ResolveFunction": "resolve",
    "LockFunction": "lock",
    "RegisterTaskDefinitionsFunction": "register_task_definitions",
    "RunTasksFunction": "run_tasks",
    "CheckTasksFunction": "check_tasks",
    "UpdateServicesFunction": "update_services",
    "CheckServicesFunction": "check_services",
    "FinalizeFunction": "finalize",
    "RegisterWaiterFunction": "register_waiter",
}
# Every function: the steps, the one an ended execution's status-change event invokes, and
# the one that keeps the config index current.
FUNCTION_DIRS = {
    **STEP_FUNCTION_DIRS,
    "CloseExecutionFunction": "close_execution",
    "IndexConfigsFunction": "index_configs",
    "NotifyWaitersFunction": "notify_waiters",
}

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def load_sam_template() -> dict[str, Any]:
    """template.yaml as a dict, short-form tags (!Ref, !Sub...) in their long form."""
    return load_template(TEMPLATE_PATH)


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of the template with local paths replaced by S3 locations, as after packaging."""
    result = copy.deepcopy(template)
    for logical_id, resource in result["Resources"].items():
        properties = resource.get("Properties", {})
        key = {
            "AWS::Serverless::Function": "CodeUri",
            "AWS::Serverless::LayerVersion": "ContentUri",
            "AWS::Serverless::StateMachine": "DefinitionUri",
        }.get(resource["Type"])
        if key is not None:
            properties[key] = f"s3://packaged-artifacts/{logical_id}"
    return result


def transform(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plain CloudFormation template that the AWS::Serverless transform produces: the
    local cloud's own transform, so the tests and the emulator see the same template."""
    source = packaged(template if template is not None else load_sam_template())
    return sam_transform(source, {}, region=REGION, account_id=ACCOUNT_ID)


class NoValue:
    """AWS::NoValue: the key or list item holding it disappears."""


NO_VALUE = NoValue()


class Resolver:
    """Evaluates the intrinsic functions of a (transformed) template for parameter values.

    Resource references cannot be known before deployment, so they become readable
    placeholders: `{"Ref": "Table"}` -> "<Ref Table>", `Fn::GetAtt Table.Arn` ->
    "<Table.Arn>". Parameters take the given value or their default; list parameters
    take lists.
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any]) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": STACK_ID,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        for name, declaration in template.get("Parameters", {}).items():
            if name in parameters:
                value = parameters[name]
            elif "Default" in declaration:
                value = declaration["Default"]
            else:
                msg = f"parameter {name} has no default: give it a value"
                raise KeyError(msg)
            if declaration["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.values[name] = value
        unknown = set(parameters) - set(template.get("Parameters", {}))
        if unknown:
            msg = f"unknown parameters: {sorted(unknown)}"
            raise KeyError(msg)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            # {"Condition": "Name"} is a function only with a string: a policy statement's
            # Condition block is a mapping.
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.template["Resources"]:
            return f"<Ref {name}>"
        msg = f"Ref to unknown name {name}"
        raise KeyError(msg)

    def sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return f"<{name}>"
            return str(self.ref(name))

        substituted = _SUB_VARIABLE.sub(replace, text)
        # "${!Literal}" is how a template writes a literal "${Literal}".
        return substituted.replace("${!", "${")


def _get_att(resolver: Resolver, argument: Any) -> str:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    return f"<{argument[0]}.{argument[1]}>"


def _if(resolver: Resolver, argument: Any) -> Any:
    name, when_true, when_false = argument
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _join(resolver: Resolver, argument: Any) -> str:
    delimiter, items = argument
    return str(delimiter).join(str(item) for item in resolver.resolve(items))


def _split(resolver: Resolver, argument: Any) -> list[str]:
    delimiter, text = argument
    return str(resolver.resolve(text)).split(delimiter)


def _select(resolver: Resolver, argument: Any) -> Any:
    index, items = argument
    return resolver.resolve(items)[int(resolver.resolve(index))]


_FUNCTIONS: dict[str, Any] = {
    "Ref": lambda resolver, name: resolver.ref(name),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda resolver, argument: resolver.sub(argument),
    "Fn::If": _if,
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
    "Fn::Equals": lambda resolver, pair: resolver.resolve(pair[0]) == resolver.resolve(pair[1]),
    "Fn::Not": lambda resolver, items: not resolver.resolve(items[0]),
    "Fn::And": lambda resolver, items: all(resolver.resolve(items)),
    "Fn::Or": lambda resolver, items: any(resolver.resolve(items)),
}
