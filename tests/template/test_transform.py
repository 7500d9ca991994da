"""template.yaml transforms into the stack docs/architecture.md describes."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest

from ecs_deployer.domain import measures
from tests.template.cfn import FUNCTION_DIRS, STACK_NAME, STEP_FUNCTION_DIRS, Resolver

PARAMETERS = {
    "ClusterNames": "blue,green",
    "RepositoryNames": "shop",
    "TaskFamilyPrefixes": "shop-",
    "PassRoleArns": "arn:aws:iam::123456789012:role/shop-task",
    "AllowedSubnets": "subnet-0a1b,subnet-2c3d",
}


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_transform_yields_every_function(transformed: dict[str, Any]) -> None:
    functions = resources_of_type(transformed, "AWS::Lambda::Function")

    assert set(functions) == set(FUNCTION_DIRS)


@pytest.mark.parametrize("logical_id", sorted(FUNCTION_DIRS))
def test_function_runtime_and_observability(transformed: dict[str, Any], logical_id: str) -> None:
    resolved = Resolver(transformed, PARAMETERS | {"LogLevel": "DEBUG"}).resolve(
        transformed["Resources"][logical_id]["Properties"]
    )
    layers = resources_of_type(transformed, "AWS::Lambda::LayerVersion")

    assert resolved["Runtime"] == "python3.13"
    assert resolved["Architectures"] == ["arm64"]
    assert resolved["Handler"] == "app.lambda_handler"
    assert resolved["TracingConfig"] == {"Mode": "Active"}
    assert resolved["LoggingConfig"]["LogFormat"] == "JSON"
    assert resolved["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    assert resolved["LoggingConfig"]["LogGroup"] == f"<Ref {logical_id}LogGroup>"
    assert resolved["Layers"] == [f"<Ref {layer}>" for layer in layers]
    assert 128 <= resolved["MemorySize"] <= 1024
    assert 30 <= resolved["Timeout"] <= 120


@pytest.mark.parametrize("logical_id", sorted(FUNCTION_DIRS))
def test_function_environment_matches_settings(
    transformed: dict[str, Any], logical_id: str
) -> None:
    environment = Resolver(transformed, PARAMETERS).resolve(
        transformed["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
    )

    assert environment == {
        "POWERTOOLS_SERVICE_NAME": "ecs-deployer",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_PARAMETERS_MAX_AGE": "60",
        "CONFIG_PREFIX": "/ecs-deployer/apps",
        "DEPLOYMENTS_TABLE": "<Ref DeploymentsTable>",
        "ALLOWED_CLUSTERS": "blue,green",
        "TASK_FAMILY_PREFIXES": "shop-",
        "ALLOWED_SUBNETS": "subnet-0a1b,subnet-2c3d",
        "ALLOWED_SECURITY_GROUPS": "",
        "ALLOW_PUBLIC_IP": "false",
        "TASK_LOG_GROUP_PREFIXES": "/ecs/",
        "CODEDEPLOY_DEPLOYMENT_GROUPS": "",
        "EVENT_BUS_NAME": "default",
        "SUMMARY_TOPIC_ARN": "",
        "TARGET_ACCOUNT_ROLE_ARNS": "",
        "TARGET_ROLE_EXTERNAL_ID": "",
    }


@pytest.mark.parametrize("days", [None, 7, 3653])
def test_each_function_has_a_log_group_kept_for_the_retention_parameter(
    transformed: dict[str, Any], days: int | None
) -> None:
    parameters = PARAMETERS if days is None else PARAMETERS | {"LogRetentionInDays": days}
    resolver = Resolver(transformed, parameters)
    groups = {
        logical_id: resolver.resolve(resource)
        for logical_id, resource in resources_of_type(transformed, "AWS::Logs::LogGroup").items()
        if logical_id != "StateMachineLogGroup"
    }

    assert set(groups) == {f"{function}LogGroup" for function in FUNCTION_DIRS}
    names = {group["Properties"]["LogGroupName"] for group in groups.values()}
    assert len(names) == len(FUNCTION_DIRS)
    assert all(name.startswith(f"/aws/lambda/{STACK_NAME}/") for name in names)
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == (days or 30)
        # Recreated with the stack, never left behind under a name a new stack would reuse.
        assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Delete"


def test_log_retention_takes_only_what_cloudwatch_logs_accepts(
    sam_template: dict[str, Any],
) -> None:
    parameter = sam_template["Parameters"]["LogRetentionInDays"]

    assert parameter["Default"] == 30
    # PutRetentionPolicy's retentionInDays, from botocore's service model.
    documented = botocore.session.get_session().get_service_model("logs").shape_for("Days")
    accepted = {int(days) for days in re.findall(r"\b\d+\b", documented.documentation)}
    assert set(parameter["AllowedValues"]) == accepted


def test_sam_functions_point_at_their_dirs(sam_template: dict[str, Any]) -> None:
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")

    assert {
        logical_id: function["Properties"]["CodeUri"] for logical_id, function in functions.items()
    } == {logical_id: f"functions/{folder}/" for logical_id, folder in FUNCTION_DIRS.items()}
    # The makefile build: no python3.13 needed on the build machine.
    assert all(
        function["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "functions"}
        for function in functions.values()
    )


def test_layer_targets_python313_arm64(sam_template: dict[str, Any]) -> None:
    (layer,) = resources_of_type(sam_template, "AWS::Serverless::LayerVersion").values()

    assert layer["Properties"]["ContentUri"] == "layers/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"


def test_deployments_table(transformed: dict[str, Any]) -> None:
    table = transformed["Resources"]["DeploymentsTable"]
    properties = table["Properties"]

    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_state_machine(transformed: dict[str, Any]) -> None:
    (logical_id,) = resources_of_type(transformed, "AWS::StepFunctions::StateMachine")
    machine = Resolver(transformed, PARAMETERS).resolve(
        transformed["Resources"][logical_id]["Properties"]
    )

    assert machine["StateMachineName"] == f"{STACK_NAME}-deploy"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ERROR"
    # Execution data holds app configs: it must never reach the logs.
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert machine["LoggingConfiguration"]["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": "<StateMachineLogGroup.Arn>"}}
    ]
    assert machine["DefinitionSubstitutions"] == {
        "Partition": "aws",
        **{f"{function}Arn": f"<{function}.Arn>" for function in STEP_FUNCTION_DIRS},
    }


def test_outputs(transformed: dict[str, Any]) -> None:
    outputs = Resolver(transformed, PARAMETERS).resolve(transformed["Outputs"])
    values = {name: output["Value"] for name, output in outputs.items()}
    (layer,) = resources_of_type(transformed, "AWS::Lambda::LayerVersion")

    assert values == {
        "StateMachineArn": "<Ref DeployStateMachine>",
        "StateMachineName": "<DeployStateMachine.Name>",
        "ConfigPrefix": "/ecs-deployer/apps",
        "DeploymentsTableName": "<Ref DeploymentsTable>",
        "EcrPushRuleName": "<Ref DeployStateMachineEcrPush>",
        "EcrPushDeadLetterQueueUrl": "<Ref EcrPushDeadLetterQueue>",
        "EcrPushDeadLetterAlarmName": "<Ref EcrPushDeadLetterAlarm>",
        "DashboardName": "<Ref Dashboard>",
        "LayerArn": f"<Ref {layer}>",
        "ReadOnlyPolicyArn": "<Ref ReadOnlyPolicy>",
        "OperatorPolicyArn": "<Ref OperatorPolicy>",
        "ApproverPolicyArn": "<Ref ApproverPolicy>",
        # What the deploy roles in other accounts trust: the roles of the functions in ECS.
        "EcsFunctionRoleArns": ",".join(
            f"<{function}Role.Arn>"
            for function in (
                "RegisterTaskDefinitionsFunction",
                "RunTasksFunction",
                "CheckTasksFunction",
                "UpdateServicesFunction",
                "CheckServicesFunction",
                "FinalizeFunction",
                "CloseExecutionFunction",
            )
        ),
    }
    # Every output refers to a resource the transform really creates.
    for value in values.values():
        if value.startswith("<"):
            name = value.strip("<>").removeprefix("Ref ").split(".")[0]
            assert name in transformed["Resources"]


def test_ecr_rule_retries_into_a_dead_letter_queue(transformed: dict[str, Any]) -> None:
    rule = transformed["Resources"]["DeployStateMachineEcrPush"]
    (target,) = rule["Properties"]["Targets"]
    queue = transformed["Resources"]["EcrPushDeadLetterQueue"]
    policy = Resolver(transformed, PARAMETERS).resolve(
        transformed["Resources"]["EcrPushDeadLetterQueuePolicy"]["Properties"]
    )

    assert target["Arn"] == {"Ref": "DeployStateMachine"}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EcrPushDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    # Only this rule may drop messages into the queue.
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "<DeployStateMachineEcrPush.Arn>"}
    }


@pytest.mark.parametrize("topic", ["", "arn:aws:sns:us-east-1:123456789012:platform-alarms"])
def test_an_undelivered_push_raises_an_alarm(transformed: dict[str, Any], topic: str) -> None:
    alarm = Resolver(transformed, PARAMETERS | {"AlarmTopicArn": topic}).resolve(
        transformed["Resources"]["EcrPushDeadLetterAlarm"]["Properties"]
    )

    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": "<EcrPushDeadLetterQueue.QueueName>"}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm.get("AlarmActions") == ([topic] if topic else None)


def test_the_dashboard_draws_the_metrics_finalize_emits(transformed: dict[str, Any]) -> None:
    body = Resolver(transformed, PARAMETERS).resolve(
        transformed["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    )
    widgets = json.loads(body)["widgets"]
    drawn = json.dumps(widgets)

    assert {widget["properties"]["title"] for widget in widgets} >= {
        "Deployments by status",
        "Failure rate (%)",
        "Deployment duration (s): p50, p90, p99",
        "Undelivered push events (dead-letter queue)",
        "Service rollout duration (s): p90 by how it ended",
        "One-off task duration (s): p90 by phase and how it ended",
    }
    for name in (
        measures.DEPLOYMENTS,
        measures.FAILURES,
        measures.DURATION,
        measures.ROLLOUT_DURATION,
        measures.TASK_DURATION,
    ):
        assert f'MetricName=\\"{name}\\"' in drawn
    # The dimension sets Finalize emits them with (tests/e2e/test_metrics.py).
    for dimensions in ("Status", "State", "Phase,State"):
        assert f"{{{measures.NAMESPACE},{dimensions},service}}" in drawn
    assert "<EcrPushDeadLetterQueue.QueueName>" in drawn


def test_the_dashboard_draws_a_line_for_every_status_a_deployment_ends_with(
    transformed: dict[str, Any],
) -> None:
    """One SEARCH over the Status dimension, no status named: every status Finalize counts
    (outcome.DeploymentStatus, REJECTED since approvals; tests/unit/test_measures.py) gets
    its line, and a status added there needs no change here."""
    body = Resolver(transformed, PARAMETERS).resolve(
        transformed["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    )
    [widget] = [
        widget
        for widget in json.loads(body)["widgets"]
        if widget["properties"]["title"] == "Deployments by status"
    ]
    [[series]] = widget["properties"]["metrics"]
    assert series["expression"] == (
        f"SEARCH('{{{measures.NAMESPACE},Status,service}} "
        f"MetricName=\"{measures.DEPLOYMENTS}\"', 'Sum', 3600)"
    )


def test_the_roles_and_families_a_config_may_reach_are_always_named(
    sam_template: dict[str, Any],
) -> None:
    """No account-wide default: `sam deploy --guided` asks for them."""
    parameters = sam_template["Parameters"]
    assert "Default" not in parameters["PassRoleArns"]
    assert "Default" not in parameters["TaskFamilyPrefixes"]
    assert parameters["AllowPublicIp"]["Default"] == "false"


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("ConfigPrefix", "/ecs-deployer/apps", True),
        ("ConfigPrefix", "/team/prod/apps", True),
        ("ConfigPrefix", "ecs-deployer/apps", False),
        ("ConfigPrefix", "/ecs-deployer/apps/", False),
        ("ConfigPrefix", "/", False),
        ("ConfigPrefix", "/a//b", False),
        # Cluster and repository names end up inside ARNs built by Split/Join: no "/*"
        # or "," may sneak a wider pattern in.
        ("ClusterNames", "prod-blue_2", True),
        ("ClusterNames", "*", False),
        ("ClusterNames", "blue/*", False),
        ("ClusterNames", "", False),
        ("RepositoryNames", "team/shop-api", True),
        ("RepositoryNames", "shop*", False),
        ("TagPrefix", "", True),
        ("TagPrefix", "release-", True),
        ("TagPrefix", "v1 ", False),
        ("PassRoleArns", "", False),
        ("PassRoleArns", "arn:aws:iam::123456789012:role/app/*", True),
        ("PassRoleArns", "arn:aws:iam::123456789012:role/shop-*", True),
        ("PassRoleArns", "arn:aws:iam::123456789012:role/*", False),
        ("PassRoleArns", "*", False),
        ("TaskFamilyPrefixes", "shop-", True),
        ("TaskFamilyPrefixes", "*", False),
        ("TaskFamilyPrefixes", "", False),
        ("AllowedSubnets", "", True),
        ("AllowedSubnets", "subnet-0a1b2c3d", True),
        ("AllowedSubnets", "*", False),
        ("AllowedSecurityGroups", "sg-0a1b2c3d", True),
        ("AllowedSecurityGroups", "subnet-0a1b2c3d", False),
    ],
)
def test_parameter_patterns(
    sam_template: dict[str, Any], parameter: str, value: str, accepted: bool
) -> None:
    pattern = sam_template["Parameters"][parameter]["AllowedPattern"]

    assert (re.fullmatch(pattern, value) is not None) is accepted
