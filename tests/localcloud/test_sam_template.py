"""Stack deployment: SAM packaging and transform, and what CloudFormation creates in moto."""

from __future__ import annotations

import io
import json
import zipfile

from ecs_deployer_tools.localcloud.cloud import ARTIFACTS_BUCKET, LocalCloud
from ecs_deployer_tools.localcloud.sam_template import load_template, package, sam_transform
from tests.localcloud.conftest import FIXTURES, MINI_TEMPLATE


def package_mini() -> tuple[dict[str, object], dict[str, bytes]]:
    uploads: dict[str, bytes] = {}

    def upload(key: str, content: bytes) -> str:
        uploads[key] = content
        return f"s3://bucket/{key}"

    packaged, _ = package(load_template(MINI_TEMPLATE), FIXTURES, upload)
    return packaged, uploads


def names_in(archive: bytes) -> list[str]:
    return sorted(zipfile.ZipFile(io.BytesIO(archive)).namelist())


def test_package_zips_code_and_points_the_template_at_s3() -> None:
    packaged, uploads = package_mini()
    resources = packaged["Resources"]
    assert isinstance(resources, dict)

    echo_uri = resources["EchoFunction"]["Properties"]["CodeUri"]
    layer_uri = resources["LibraryLayer"]["Properties"]["ContentUri"]
    definition_uri = resources["MiniStateMachine"]["Properties"]["DefinitionUri"]
    assert echo_uri.startswith("s3://bucket/EchoFunction/")
    assert names_in(uploads[echo_uri.removeprefix("s3://bucket/")]) == ["app.py"]
    # Lambda puts /opt/python on sys.path: the layer's package goes under python/.
    assert names_in(uploads[layer_uri.removeprefix("s3://bucket/")]) == [
        "python/minilib/__init__.py"
    ]
    definition = json.loads(uploads[definition_uri.removeprefix("s3://bucket/")])
    assert "${EchoFunctionArn}" in json.dumps(definition)


def test_packaging_is_deterministic() -> None:
    assert package_mini()[1] == package_mini()[1]


def test_sam_transform_resolves_globals_and_events() -> None:
    packaged, _ = package_mini()
    cfn = sam_transform(packaged, {"Greeting": "hi"}, region="eu-west-1", account_id="111122223333")

    types = {resource["Type"] for resource in cfn["Resources"].values()}
    assert "AWS::Serverless::Function" not in types
    assert {"AWS::Lambda::LayerVersion", "AWS::Events::Rule", "AWS::IAM::Role"} <= types
    echo = cfn["Resources"]["EchoFunction"]["Properties"]
    assert echo["Handler"] == "app.lambda_handler"
    assert echo["Architectures"] == ["arm64"]


def test_stack_creates_with_outputs_and_resources(mini_cloud: LocalCloud) -> None:
    cloud = mini_cloud
    outputs = cloud.outputs
    resources = cloud.stack_resources()

    assert outputs["StateMachineArn"] == resources["MiniStateMachine"]
    assert outputs["StateMachineName"] == outputs["StateMachineArn"].rsplit(":", 1)[-1]
    assert outputs["TableName"] == resources["Table"]
    assert outputs["LayerArn"].endswith(":layer:mini-library:1")

    function = cloud.client("lambda").get_function_configuration(
        FunctionName=resources["EchoFunction"]
    )
    assert function["Layers"][0]["Arn"] == outputs["LayerArn"]
    assert function["Architectures"] == ["arm64"]
    assert function["Environment"]["Variables"] == {
        "TABLE_NAME": outputs["TableName"],
        "GREETING": "bonjour",
    }
    assert (function["Handler"], function["MemorySize"], function["Timeout"]) == (
        "app.lambda_handler",
        256,
        30,
    )

    machine = cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"]
    )
    assert "${" not in machine["definition"]
    assert function["FunctionArn"] in machine["definition"]

    events = cloud.client("events")
    (rule,) = events.list_rules()["Rules"]
    assert json.loads(rule["EventPattern"])["detail"]["repository-name"] == [{"prefix": "mini-"}]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == outputs["StateMachineArn"]

    table = cloud.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    artifacts = cloud.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET)["Contents"]
    assert {item["Key"].split("/")[0] for item in artifacts} == {
        "EchoFunction",
        "FlakyFunction",
        "LibraryLayer",
        "MiniStateMachine",
    }
