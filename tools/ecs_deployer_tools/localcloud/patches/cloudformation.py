"""CloudFormation: the template's resources and the stack's parameters as AWS creates and
shows them, where moto's CloudFormation falls short.

1. `AWS::StepFunctions::StateMachine`: moto reads only `DefinitionString` and always
   creates into the plain backend. AWS also accepts `Definition` (an object) and
   `DefinitionS3Location` (what `sam package` produces from `DefinitionUri`), applies
   `DefinitionSubstitutions`, and honours `StateMachineType`, `LoggingConfiguration` and
   `TracingConfiguration`. The state machine is created in the backend that serves the
   API (the ASL-executing parser backend under `execute_state_machine`), and
   `Fn::GetAtt <sm>.Arn` resolves.
2. `AWS::Lambda::LayerVersion`: moto ignores `LayerName` and `CompatibleArchitectures`
   and has no physical id, so `!Ref Layer` (the version ARN on AWS) yields an object.
3. `AWS::Lambda::Function`: moto drops `Layers`, `Architectures`, `Tags`,
   `TracingConfig`, `EphemeralStorage` and `LoggingConfig` (whose `LogGroup` is where
   Lambda writes the function's logs, instead of `/aws/lambda/NAME`).
4. `AWS::SQS::QueuePolicy` is unknown to moto (skipped with a warning): it sets the
   queues' `Policy` attribute, as on AWS.
5. `DescribeStacks` shows a list parameter (`CommaDelimitedList`) as CloudFormation
   does, `a,b`; moto shows its Python list, `['a', 'b']`.
6. `AWS::CloudWatch::Alarm` is unknown to moto (skipped with a warning): it creates the
   metric alarm, as on AWS (`!Ref` is its name).
7. `AWS::IAM::Role`: moto drops `ManagedPolicyArns`. The policies are attached, as on AWS;
   an AWS managed one comes from moto's copy of them (moto loads none unless told to), so
   the local cloud's IAM check evaluates every policy of a role.
8. `AWS::NoValue` in a list: moto keeps a `null` element where CloudFormation removes it
   (the "Pseudo parameters reference": "Removes the corresponding resource property when
   specified as a return value in the Fn::If intrinsic function"), e.g. a policy statement
   that `!If` leaves out.
9. `AWS::Logs::LogGroup`'s `Fn::GetAtt Arn` ends in `:*` on AWS (the resource's "Return
   values": `arn:aws:logs:us-west-1:123456789012:log-group:NAME:*`), which a policy on it
   needs to cover the group's streams; moto's has no `:*`.
10. A list parameter (`CommaDelimitedList`, `List<...>`) left to its `Default` is the list
   CloudFormation splits from it ("Parameters": a CommaDelimitedList is "an array of
   literal strings that are separated by commas"); moto keeps the default a string, which
   `Fn::Join` and `Fn::Sub` then take apart character by character.
11. `AWS::Events::EventBusPolicy` is unknown to moto (skipped with a warning): it adds its
   `Statement` to the bus's policy (`EventBusName`, by default the default bus) under its
   `StatementId`, as PutPermission does, and deleting it removes that statement.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from moto.awslambda.models import LambdaFunction, LayerVersion
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.models import Stack as CloudFormationStack
from moto.cloudwatch.models import cloudwatch_backends
from moto.events.models import EventBusPolicyStatement, events_backends
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, Role, iam_backends
from moto.logs.models import LogGroup
from moto.moto_api._internal import mock_random
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.utils import get_partition

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher


def install(patcher: Patcher) -> None:
    """Apply this module's patches."""
    patcher.replace(
        StateMachine, "create_from_cloudformation_json", classmethod(_state_machine_from_cfn)
    )
    patcher.replace(StateMachine, "has_cfn_attr", classmethod(_state_machine_has_attr))
    patcher.around(StateMachine, "get_cfn_attribute", _state_machine_attribute)
    patcher.replace(
        LayerVersion, "create_from_cloudformation_json", classmethod(_layer_version_from_cfn)
    )
    # LayerVersion has no physical_resource_id attribute to patch: create it.
    layer_arn = property(lambda layer: layer.arn)
    patcher.replace(LayerVersion, "physical_resource_id", layer_arn, create=True)
    patcher.wrap(LambdaFunction, "create_from_cloudformation_json", _function_from_cfn)
    patcher.around(cfn_parsing, "resource_class_from_type", _resource_class_from_type)
    patcher.replace(CloudFormationStack, "parameter_list", property(_parameter_list))
    patcher.wrap(Role, "create_from_cloudformation_json", _role_from_cfn)
    patcher.around(cfn_parsing, "clean_json", _clean_json)
    patcher.around(LogGroup, "get_cfn_attribute", _log_group_attribute)
    patcher.around(cfn_parsing.ResourceMap, "load_parameters", _split_list_defaults)


# --- 1. AWS::StepFunctions::StateMachine ------------------------------------------------


def _state_machine_from_cfn(
    _cls: type[StateMachine],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **_kwargs: Any,
) -> StateMachine:
    properties = cloudformation_json["Properties"]
    definition = _definition(properties, account_id, region_name)
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        definition = definition.replace(f"${{{key}}}", text)
    return sfn_backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=definition,
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=_camel_keys(properties.get("LoggingConfiguration")),
        tracingConfiguration=_camel_keys(properties.get("TracingConfiguration")),
        sm_type=properties.get("StateMachineType"),
    )


def _definition(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    if "DefinitionString" in properties:
        return str(properties["DefinitionString"])
    if "Definition" in properties:
        return json.dumps(properties["Definition"])
    location = properties["DefinitionS3Location"]
    backend = s3_backends[account_id][get_partition(region_name)]
    key = backend.get_object(location["Bucket"], location["Key"], location.get("Version"))
    if key is None:
        raise ValueError(f"no state machine definition at {location}")
    return key.value.decode()


def _camel_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property → the API's camelCase shape."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def _state_machine_has_attr(_cls: type[StateMachine], /, attr: str) -> bool:
    return attr in {"Arn", "Name", "DefinitionString", "RoleArn", "StateMachineName", "Tags"}


def _state_machine_attribute(
    original: Callable[[StateMachine, str], Any], state_machine: StateMachine, attribute_name: str
) -> Any:
    if attribute_name == "Arn":
        return state_machine.arn
    return original(state_machine, attribute_name)


# --- 2. AWS::Lambda::LayerVersion and 3. AWS::Lambda::Function -------------------------


def _layer_version_from_cfn(
    _cls: type[LayerVersion],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **_kwargs: Any,
) -> LayerVersion:
    properties = cloudformation_json["Properties"]
    spec = {"Content": properties["Content"], "LayerName": properties.get("LayerName")}
    spec["LayerName"] = spec["LayerName"] or resource_name
    optional = ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo")
    spec.update({name: properties[name] for name in optional if name in properties})
    return lambda_backend(account_id, region_name).publish_layer_version(spec)


_FUNCTION_PROPERTIES = (
    "Description",
    "MemorySize",
    "Publish",
    "Timeout",
    "VpcConfig",
    "Environment",
    "ReservedConcurrentExecutions",
    "Layers",
    "Architectures",
    "TracingConfig",
    "EphemeralStorage",
    "LoggingConfig",
)


def _function_from_cfn(original: Callable[..., LambdaFunction]) -> object:
    def create_from_cloudformation_json(
        _cls: type[LambdaFunction],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaFunction:
        properties = cloudformation_json["Properties"]
        if "ZipFile" in properties["Code"]:  # moto's inline-code conversion stays moto's
            return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        spec = {
            "Code": properties["Code"],
            "FunctionName": resource_name,
            "Handler": properties.get("Handler"),
            "Role": properties["Role"],
            "Runtime": properties.get("Runtime"),
        }
        spec.update({name: properties[name] for name in _FUNCTION_PROPERTIES if name in properties})
        if "Tags" in properties:
            spec["Tags"] = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
        function = lambda_backend(account_id, region_name).create_function(spec)
        # Where Lambda writes the function's logs: the LoggingConfig's group, else its own.
        log_group = properties.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            function.logs_group_name = log_group
        return function

    return classmethod(create_from_cloudformation_json)


# --- 4. AWS::SQS::QueuePolicy ----------------------------------------------------------


class _UnknownToMoto:
    """moto's model interface for a resource type it does not know: created as soon as
    ``create_from_cloudformation_json`` returns. Not a CloudFormationModel subclass: those
    join moto's registry for good, and a patch must come off."""

    def __init__(self, physical_resource_id: str) -> None:
        self.physical_resource_id = physical_resource_id

    def is_created(self) -> bool:
        return True


class _QueuePolicy(_UnknownToMoto):
    """AWS::SQS::QueuePolicy."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> _QueuePolicy:
        properties = cloudformation_json["Properties"]
        policy = json.dumps(properties["PolicyDocument"])
        backend = sqs_backends[account_id][region_name]
        for queue_url in properties["Queues"]:
            backend.set_queue_attributes(queue_url.rsplit("/", 1)[-1], {"Policy": policy})
        return cls(resource_name)


# --- 6. AWS::CloudWatch::Alarm -------------------------------------------------------


class _MetricAlarm(_UnknownToMoto):
    """AWS::CloudWatch::Alarm."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> _MetricAlarm:
        properties = cloudformation_json["Properties"]
        # Without AlarmName, AWS adds the stack's name and a suffix to the logical id.
        name = properties.get("AlarmName", resource_name)
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=properties["Namespace"],
            metric_name=properties["MetricName"],
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties["Period"]),
            threshold=float(properties["Threshold"]),
            statistic=properties["Statistic"],
            description=properties.get("AlarmDescription", ""),
            dimensions=properties.get("Dimensions", []),
            alarm_actions=properties.get("AlarmActions", []),
            treat_missing_data=properties.get("TreatMissingData"),
        )
        return cls(name)


# --- 11. AWS::Events::EventBusPolicy -------------------------------------------------


class _EventBusPolicy(_UnknownToMoto):
    """AWS::Events::EventBusPolicy (its ``Statement`` form)."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> _EventBusPolicy:
        properties = cloudformation_json["Properties"]
        statement_id = properties["StatementId"]
        bus = events_backends[account_id][region_name].describe_event_bus(
            properties.get("EventBusName", "default")
        )
        # Its own statement, under its id, as PutPermission's StatementId is: moto's policy
        # form would first drop every statement of the same principal.
        bus._statements[statement_id] = EventBusPolicyStatement.from_dict(
            {"Sid": statement_id, **properties["Statement"]}
        )
        return cls(statement_id)

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        properties = cloudformation_json["Properties"]
        events_backends[account_id][region_name].remove_permission(
            properties.get("EventBusName", "default"), properties["StatementId"], False
        )


_UNKNOWN_TO_MOTO: dict[str, type[_UnknownToMoto]] = {
    "AWS::SQS::QueuePolicy": _QueuePolicy,
    "AWS::CloudWatch::Alarm": _MetricAlarm,
    "AWS::Events::EventBusPolicy": _EventBusPolicy,
}


def _resource_class_from_type(original: Callable[[str], Any], resource_type: str) -> Any:
    return _UNKNOWN_TO_MOTO.get(resource_type) or original(resource_type)


# --- 5. List parameters -----------------------------------------------------------------


def _parameter_list(stack: CloudFormationStack) -> list[dict[str, Any]]:
    hidden = stack.resource_map.no_echo_parameter_keys
    return [
        {
            "ParameterKey": key,
            "ParameterValue": "****"
            if key in hidden
            else ",".join(value)
            if isinstance(value, list)
            else value,
        }
        for key, value in stack.resource_map.resolved_parameters.items()
    ]


# --- 7. AWS::IAM::Role ManagedPolicyArns -------------------------------------------------

_AWS_MANAGED_PREFIX = ":iam::aws:policy/"


def _role_from_cfn(original: Callable[..., Role]) -> object:
    def create_from_cloudformation_json(
        _cls: type[Role],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Role:
        role = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for policy_arn in cloudformation_json["Properties"].get("ManagedPolicyArns", []):
            if policy_arn not in backend.managed_policies and _AWS_MANAGED_PREFIX in policy_arn:
                backend.managed_policies[policy_arn] = _aws_managed_policy(
                    policy_arn, account_id, region_name
                )
            backend.attach_role_policy(policy_arn, role.name)  # unknown: NoSuchEntity, as AWS
        return role

    return classmethod(create_from_cloudformation_json)


def _aws_managed_policy(policy_arn: str, account_id: str, region_name: str) -> AWSManagedPolicy:
    name = policy_arn.rsplit("/", 1)[-1]
    policies = json.loads(aws_managed_policies_data)
    if name not in policies:
        raise KeyError(f"moto has no copy of the AWS managed policy {policy_arn}")
    # Its policy id is drawn from moto's seeded random: the stack's other ids stay as they
    # were before these policies were attached (AWS made the id long ago).
    state = mock_random.getstate()
    try:
        policy = AWSManagedPolicy.from_data(name, account_id, region_name, policies[name])
    finally:
        mock_random.setstate(state)
    if policy.arn != policy_arn:
        raise KeyError(f"{policy_arn} is {policy.arn} in moto's copy")
    return policy


# --- 8. AWS::NoValue in a list --------------------------------------------------------------


def _clean_json(original: Callable[..., Any], resource_json: Any, resources_map: Any) -> Any:
    if not isinstance(resource_json, list):
        return original(resource_json, resources_map)
    # Through the module's (patched) name, so that nested lists are cleaned alike.
    cleaned = (cfn_parsing.clean_json(item, resources_map) for item in resource_json)
    return [item for item in cleaned if item is not None]


# --- 9. AWS::Logs::LogGroup Arn ---------------------------------------------------------------


def _log_group_attribute(original: Callable[..., Any], group: LogGroup, attribute: str) -> Any:
    value = original(group, attribute)
    return f"{value}:*" if attribute == "Arn" else value


# --- 10. A list parameter's Default ----------------------------------------------------------


def _split_list_defaults(original: Callable[[Any], None], resource_map: Any) -> None:
    original(resource_map)
    for name, slot in resource_map._template.get("Parameters", {}).items():
        kind = str(slot.get("Type", ""))
        value = resource_map.resolved_parameters.get(name)
        if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(value, str):
            resource_map.resolved_parameters[name] = value.split(",")
            resource_map._parsed_resources[name] = value.split(",")
