"""The local cloud end to end on the mini stack: handlers, events, accounting, server mode."""

from __future__ import annotations

import hashlib
import json
import urllib.request
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    manifest_digest,
    multi_platform_image,
)
from tests.localcloud.conftest import MINI_TEMPLATE
from tests.support import load_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def executions(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """Every execution of the stack's state machine, by name, with its parsed input."""
    sfn = cloud.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=cloud.state_machine_arn())["executions"]
    described = (sfn.describe_execution(executionArn=e["executionArn"]) for e in listed)
    return {d["name"]: {**d, "input": json.loads(d["input"])} for d in described}


def started_by(cloud: LocalCloud, action: Any) -> list[dict[str, Any]]:
    """The executions that `action()` started, and the children they started, finished."""
    before = set(executions(cloud))
    action()
    finished: dict[str, dict[str, Any]] = {}
    while new := {n: e for n, e in executions(cloud).items() if n not in before | set(finished)}:
        for name, execution in new.items():
            status = cloud.wait_for_execution(execution["executionArn"])["status"]
            finished[name] = {**execution, "status": status}
    return list(finished.values())


@pytest.fixture
def repository(cloud: LocalCloud) -> Iterator[str]:
    """A repository whose pushes the stack's rule matches (prefix "mini-")."""
    name = f"mini-{uuid.uuid4().hex[:8]}"
    cloud.client("ecr").create_repository(repositoryName=name)
    yield name
    cloud.client("ecr").delete_repository(repositoryName=name, force=True)


def test_manual_execution_runs_the_real_handlers_with_their_environment(cloud: LocalCloud) -> None:
    arn = cloud.start_execution({"name": "manual", "wait": 0})
    described = cloud.wait_for_execution(arn)

    assert described["status"] == "SUCCEEDED"
    result = json.loads(described["output"])
    assert result["input"] == {"name": "manual", "wait": 0}
    assert result["greeting"] == result["greeting_at_init"] == "bonjour"  # parameter override
    assert result["flaky_only"] is None  # another function's variable never leaks
    assert result["table"] == cloud.outputs["TableName"]
    assert result["context"]["function_name"] == cloud.stack_resources()["EchoFunction"]
    assert result["flaky"]["answer"] == {"ok": True, "greeting": None, "flaky_only": "yes"}
    item = cloud.client("dynamodb").get_item(
        TableName=result["table"],
        Key={"pk": {"S": f"REQUEST#{result['context']['aws_request_id']}"}, "sk": {"S": "echo"}},
    )
    assert "Item" in item


def test_api_calls_count_only_what_the_lambdas_call(cloud: LocalCloud) -> None:
    cloud.client("dynamodb").list_tables()  # the test's own call
    arn = cloud.start_execution({"name": "count", "wait": 0})
    cloud.wait_for_execution(arn)

    # Not the interpreter's Invoke calls, nor the test's describe/list calls.
    assert cloud.api_calls == {"dynamodb.PutItem": 1}
    assert cloud.api_recorder.counts("EchoFunction") == {"dynamodb.PutItem": 1}
    cloud.reset_api_calls()
    assert cloud.api_calls == {}


def test_retry_recovers_from_an_injected_crash(cloud: LocalCloud) -> None:
    cloud.lambda_faults.inject("EchoFunction", error_type="Runtime.ExitError")
    described = cloud.wait_for_execution(cloud.start_execution({"name": "crash", "wait": 0}))

    assert described["status"] == "SUCCEEDED"
    assert cloud.lambda_faults.pending("EchoFunction") == 0


def test_catch_sees_the_error_type(cloud: LocalCloud) -> None:
    arn = cloud.start_execution({"name": "boom", "wait": 0, "raise": "ValueError"})
    described = cloud.wait_for_execution(arn)

    assert (described["status"], described["error"]) == ("FAILED", "ValueError")
    assert json.loads(described["cause"])["errorMessage"] == "failed on purpose"


def test_an_ecr_push_starts_an_execution_with_the_ecr_event(
    cloud: LocalCloud, repository: str
) -> None:
    tag = f"v{uuid.uuid4().hex[:6]}"
    digests: list[str] = []

    (parent, child) = sorted(
        started_by(cloud, lambda: digests.append(cloud.push_image(repository, tag))),
        key=lambda e: e["name"].startswith("child-"),
    )

    event = parent["input"]
    reference = load_event("ecr_push")
    assert set(event) == set(reference)
    assert set(event["detail"]) == set(reference["detail"])
    assert {
        k: event[k] for k in ("version", "detail-type", "source", "account", "region", "resources")
    } == {
        "version": "0",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": cloud.account_id,
        "region": cloud.region,
        "resources": [],
    }
    assert event["time"].endswith("Z")
    assert event["detail"] | {"manifest-media-type": None, "artifact-media-type": None} == {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digests[0],
        "action-type": "PUSH",
        "image-tag": tag,
        "manifest-media-type": None,
        "artifact-media-type": None,
    }
    assert parent["status"] == "SUCCEEDED"
    # The mini machine dispatches to a child the way the deploy machine does.
    assert child["name"] == f"child-{tag}"
    assert child["input"] == {"name": tag, "digest": digests[0], "wait": 0}


def test_two_tags_are_two_events_with_one_digest(cloud: LocalCloud, repository: str) -> None:
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    )
    tags = [f"a{uuid.uuid4().hex[:6]}", f"b{uuid.uuid4().hex[:6]}"]

    started = started_by(cloud, lambda: cloud.push_image(repository, tags, manifest=manifest))

    pushes = [e["input"]["detail"] for e in started if "detail" in e["input"]]
    digest = f"sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"
    assert sorted(p["image-tag"] for p in pushes) == sorted(tags)
    assert {p["image-digest"] for p in pushes} == {digest}


def test_a_push_the_rule_does_not_match_starts_nothing(cloud: LocalCloud) -> None:
    cloud.client("ecr").create_repository(repositoryName="other-app")
    assert started_by(cloud, lambda: cloud.push_image("other-app", "v1")) == []


def test_a_disabled_rule_delivers_nothing(cloud: LocalCloud, repository: str) -> None:
    events = cloud.client("events")
    (rule,) = events.list_rules()["Rules"]
    events.disable_rule(Name=rule["Name"])
    try:
        assert started_by(cloud, lambda: cloud.push_image(repository, "disabled")) == []
    finally:
        events.enable_rule(Name=rule["Name"])


def test_put_events_feeds_state_machine_targets_their_input(cloud: LocalCloud) -> None:
    sfn, events = cloud.client("stepfunctions"), cloud.client("events")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(
        name="inputs", definition=definition, roleArn="arn:aws:iam::123456789012:role/r"
    )
    arn = machine["stateMachineArn"]
    events.put_rule(Name="inputs", EventPattern=json.dumps({"source": ["test.localcloud"]}))
    transformer = {
        "InputPathsMap": {"app": "$.detail.app"},
        "InputTemplate": '{"app": "<app>", "kind": "transformed"}',
    }
    events.put_targets(
        Rule="inputs",
        Targets=[
            {"Id": "whole", "Arn": arn},
            {"Id": "path", "Arn": arn, "InputPath": "$.detail"},
            {"Id": "constant", "Arn": arn, "Input": '{"kind": "constant"}'},
            {"Id": "transformer", "Arn": arn, "InputTransformer": transformer},
        ],
    )
    try:
        events.put_events(
            Entries=[
                {"Source": "test.localcloud", "DetailType": "Test", "Detail": '{"app": "shop"}'}
            ]
        )
        listed = sfn.list_executions(stateMachineArn=arn)["executions"]
        inputs = [
            json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
            for e in listed
        ]
    finally:
        events.remove_targets(Rule="inputs", Ids=["whole", "path", "constant", "transformer"])
        events.delete_rule(Name="inputs")

    (whole,) = [i for i in inputs if "detail-type" in i]
    assert whole["detail"] == {"app": "shop"}
    assert whole["source"] == "test.localcloud"
    assert {"app": "shop"} in inputs
    assert {"kind": "constant"} in inputs
    assert {"app": "shop", "kind": "transformed"} in inputs
    assert len(inputs) == 4


@pytest.fixture
def ecr_events(cloud: LocalCloud) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every ECR event in the cloud's region, through a rule of our own to an SQS queue
    (moto's own delivery)."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    queue_url = sqs.create_queue(QueueName=f"ecr-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events.put_rule(Name="all-ecr", EventPattern=json.dumps({"source": ["aws.ecr"]}))
    target = {"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}
    events.put_targets(Rule="all-ecr", Targets=[target])

    def drain() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]

    yield drain
    events.remove_targets(Rule="all-ecr", Ids=["queue"])
    events.delete_rule(Name="all-ecr")


def test_batch_delete_image_emits_delete_events(
    cloud: LocalCloud, repository: str, ecr_events: Callable[[], list[dict[str, Any]]]
) -> None:
    pushed: list[str] = []
    started_by(cloud, lambda: pushed.append(cloud.push_image(repository, "to-delete")))
    ecr_events()
    ecr = cloud.client("ecr")

    started = started_by(
        cloud,
        lambda: ecr.batch_delete_image(
            repositoryName=repository, imageIds=[{"imageTag": "to-delete"}]
        ),
    )

    assert started == []  # the stack's rule wants pushes only
    assert [event["detail"] for event in ecr_events()] == [
        {
            "result": "SUCCESS",
            "repository-name": repository,
            "image-digest": pushed[0],
            "action-type": "DELETE",
            "image-tag": "to-delete",
        }
    ]


def test_moving_a_tag_to_a_new_image_emits_a_push_and_leaves_the_old_image_untagged(
    cloud: LocalCloud, repository: str, ecr_events: Callable[[], list[dict[str, Any]]]
) -> None:
    pushed: list[str] = []
    started_by(cloud, lambda: pushed.append(cloud.push_image(repository, "moving")))
    started_by(cloud, lambda: pushed.append(cloud.push_image(repository, "moving")))

    assert [event["detail"]["action-type"] for event in ecr_events()] == ["PUSH", "PUSH"]
    described = cloud.client("ecr").describe_images(
        repositoryName=repository, imageIds=[{"imageDigest": digest} for digest in pushed]
    )["imageDetails"]
    tags = {image["imageDigest"]: image.get("imageTags", []) for image in described}
    assert tags == {pushed[0]: [], pushed[1]: ["moving"]}


def _manifest(config: str, layer: str = "1") -> str:
    """A Docker image manifest whose config and layer digests repeat the given hex digit."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7,
                "digest": f"sha256:{config * 64}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 9,
                    "digest": f"sha256:{layer * 64}",
                }
            ],
        }
    )


def test_a_digest_is_the_sha256_of_the_manifest_as_pushed(
    cloud: LocalCloud, repository: str
) -> None:
    ecr = cloud.client("ecr")
    # Two images with the same layers and different configs are two images.
    manifests = [_manifest(config="a"), _manifest(config="b")]
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        }
    )
    digests: list[str] = []

    def push() -> None:
        for number, manifest in enumerate([*manifests, index]):
            answer = ecr.put_image(
                repositoryName=repository, imageManifest=manifest, imageTag=f"t{number}"
            )
            digests.append(answer["image"]["imageId"]["imageDigest"])

    started_by(cloud, push)

    assert digests == [
        f"sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"
        for manifest in [*manifests, index]
    ]
    with pytest.raises(ClientError, match="ImageDigestDoesNotMatchException"):
        ecr.put_image(
            repositoryName=repository,
            imageManifest=_manifest(config="c"),
            imageTag="wrong",
            imageDigest=digests[0],
        )


def test_an_untagged_push_emits_its_event_without_a_tag_or_with_an_empty_one(
    cloud: LocalCloud, repository: str, ecr_events: Callable[[], list[dict[str, Any]]]
) -> None:
    ecr = cloud.client("ecr")
    manifests = [_manifest(config="d"), _manifest(config="e")]

    def push() -> None:
        for manifest in manifests:
            ecr.put_image(repositoryName=repository, imageManifest=manifest)

    started_by(cloud, push)

    details = [event["detail"] for event in ecr_events()]
    assert [detail["image-digest"] for detail in details] == [manifest_digest(m) for m in manifests]
    assert {detail.get("image-tag", "(absent)") for detail in details} == {"(absent)", ""}
    # The same image pushed again without a new tag changes nothing: ECR refuses it.
    with pytest.raises(ClientError, match="ImageAlreadyExistsException"):
        ecr.put_image(repositoryName=repository, imageManifest=manifests[0])


def test_an_index_needs_its_manifests_in_the_repository(cloud: LocalCloud, repository: str) -> None:
    child = _manifest(config="f")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "size": len(child),
                    "digest": manifest_digest(child),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    )
    ecr = cloud.client("ecr")
    with pytest.raises(ClientError, match="ReferencedImagesNotFoundException"):
        ecr.put_image(repositoryName=repository, imageManifest=index, imageTag="early")

    def push() -> None:
        ecr.put_image(repositoryName=repository, imageManifest=child)
        ecr.put_image(repositoryName=repository, imageManifest=index, imageTag="late")

    started_by(cloud, push)


def test_a_multi_platform_push_is_what_buildx_pushes(
    cloud: LocalCloud, repository: str, ecr_events: Callable[[], list[dict[str, Any]]]
) -> None:
    image = multi_platform_image(["linux/amd64", "linux/arm64/v8"])
    pushed: list[str] = []

    started_by(cloud, lambda: pushed.append(cloud.push_multiplatform(repository, "v1", image)))

    details = [event["detail"] for event in ecr_events()]
    # Each platform's manifest and attestation by digest, untagged, then the tagged index.
    assert [d["image-digest"] for d in details] == [
        *(manifest_digest(manifest) for manifest in image.untagged),
        pushed[0],
    ]
    assert pushed == [manifest_digest(image.index)]
    assert [d.get("image-tag") for d in details][-1] == "v1"
    assert {d.get("image-tag") or None for d in details[:-1]} == {None}
    assert [d["manifest-media-type"] for d in details] == [OCI_MANIFEST] * 4 + [OCI_INDEX]
    listed = json.loads(image.index)["manifests"]
    assert [entry.get("platform") for entry in listed] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
        {"architecture": "unknown", "os": "unknown"},
        {"architecture": "unknown", "os": "unknown"},
    ]
    assert [entry.get("annotations") for entry in listed[2:]] == [
        {
            "vnd.docker.reference.digest": manifest_digest(manifest),
            "vnd.docker.reference.type": "attestation-manifest",
        }
        for manifest in image.manifests
    ]
    # Pushed again with another tag: the manifests are there already; only the index's
    # new tag is an event.
    started_by(cloud, lambda: cloud.push_multiplatform(repository, "v1-again", image))
    assert [(e["detail"]["image-digest"], e["detail"]["image-tag"]) for e in ecr_events()] == [
        (pushed[0], "v1-again")
    ]


def test_a_replicated_push_arrives_as_a_replication_action_in_the_destination_region(
    cloud: LocalCloud, ecr_events: Callable[[], list[dict[str, Any]]]
) -> None:
    source = "us-west-2"
    name = f"mini-{uuid.uuid4().hex[:8]}"  # no repository of that name here yet
    west = boto3.session.Session(region_name=source).client("ecr")
    here = cloud.client("ecr")
    west.create_repository(repositoryName=name)
    west.put_replication_configuration(
        replicationConfiguration={
            "rules": [
                {
                    "destinations": [{"region": cloud.region, "registryId": cloud.account_id}],
                    "repositoryFilters": [{"filter": "mini-", "filterType": "PREFIX_MATCH"}],
                }
            ]
        }
    )
    try:
        manifest = _manifest(config="9")
        pushed = west.put_image(repositoryName=name, imageManifest=manifest, imageTag="v1")
        digest = pushed["image"]["imageId"]["imageDigest"]
        [event] = ecr_events()  # no PUSH here: the push happened in us-west-2
        [image] = here.describe_images(repositoryName=name)["imageDetails"]
    finally:
        west.put_replication_configuration(replicationConfiguration={"rules": []})
        west.delete_repository(repositoryName=name, force=True)
        here.delete_repository(repositoryName=name, force=True)

    assert (image["imageDigest"], image["imageTags"]) == (digest, ["v1"])
    assert (event["detail-type"], event["region"]) == ("ECR Replication Action", cloud.region)
    assert event["resources"] == [
        f"arn:aws:ecr:{cloud.region}:{cloud.account_id}:repository/{name}"
    ]
    assert event["detail"] == {
        "result": "SUCCESS",
        "repository-name": name,
        "image-digest": digest,
        "source-account": cloud.account_id,
        "action-type": "REPLICATE",
        "source-region": source,
        "image-tag": "v1",
    }


def test_execution_history_follows_a_running_execution(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    arn = cloud.start_execution({"name": "follow", "wait": 1})
    seen: list[tuple[str, str]] = []
    for event in cloud.execution_history(arn):
        seen.append((event["type"], sfn.describe_execution(executionArn=arn)["status"]))

    types = [t for t, _ in seen]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert "WaitStateEntered" in types
    assert seen[0][1] == "RUNNING"  # events arrive while the execution runs


def test_server_mode_serves_the_same_state_over_http(cloud: LocalCloud, repository: str) -> None:
    endpoint = cloud.start_server(port=0)
    session = boto3.session.Session(
        aws_access_key_id="any", aws_secret_access_key="any", region_name=cloud.region
    )
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    ecr = session.client("ecr", endpoint_url=endpoint)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)

    (stack,) = cloudformation.describe_stacks(StackName="mini")["Stacks"]
    assert {o["OutputKey"] for o in stack["Outputs"]} >= {"StateMachineArn", "TableName"}
    arn = sfn.start_execution(
        stateMachineArn=cloud.state_machine_arn(), input=json.dumps({"name": "http", "wait": 0})
    )["executionArn"]
    assert json.loads(cloud.wait_for_execution(arn)["output"])["greeting"] == "bonjour"
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"

    tag = f"http{uuid.uuid4().hex[:6]}"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "tag": tag,
        }
    )
    pushed: list[str] = []
    started = started_by(
        cloud,
        lambda: pushed.append(
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)["image"][
                "imageId"
            ]["imageDigest"]
        ),
    )
    assert f"child-{tag}" in {e["name"] for e in started}
    assert pushed == [manifest_digest(manifest)]  # any client's push: the digest ECR would compute

    # Virtual time over HTTP: an hour-long wait ends at once when a client asks.
    arn = sfn.start_execution(
        stateMachineArn=cloud.state_machine_arn(), input=json.dumps({"name": "t", "wait": 3600})
    )["executionArn"]
    assert _post(f"{endpoint}/_localcloud/time/run-until-idle")["running"] == []
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    before = datetime.fromisoformat(_get(f"{endpoint}/_localcloud/time")["now"])
    after = datetime.fromisoformat(_post(f"{endpoint}/_localcloud/time/advance?seconds=600")["now"])
    assert after - before >= timedelta(seconds=600)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url) as response:
        return json.load(response)


def _post(url: str) -> Any:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_one_local_cloud_at_a_time(cloud: LocalCloud) -> None:
    with pytest.raises(RuntimeError, match="already active"), LocalCloud(MINI_TEMPLATE):
        pass


def test_a_list_parameter_left_to_its_default_is_a_list(cloud: LocalCloud) -> None:
    assert cloud.outputs["ColorArns"] == "arn:color:red|arn:color:green"


@pytest.mark.filterwarnings("error::UserWarning")
def test_another_accounts_registry_is_read_through_its_repository_policy(
    cloud: LocalCloud,
) -> None:
    central_account = "333333333333"
    name = f"mini-{uuid.uuid4().hex[:8]}"
    central = cloud.client("ecr", account=central_account)
    here = cloud.client("ecr")
    central.create_repository(repositoryName=name)
    pushed = central.put_image(repositoryName=name, imageManifest=_manifest(config="7"))
    digest = pushed["image"]["imageId"]["imageDigest"]

    def read() -> tuple[str, str]:
        [repository] = here.describe_repositories(
            repositoryNames=[name], registryId=central_account
        )["repositories"]
        [image] = here.describe_images(
            repositoryName=name, registryId=central_account, imageIds=[{"imageDigest": digest}]
        )["imageDetails"]
        return repository["repositoryUri"], image["imageDigest"]

    try:
        with pytest.raises(ClientError) as denied:
            read()
        central.set_repository_policy(
            repositoryName=name,
            policyText=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{cloud.account_id}:root"},
                            "Action": ["ecr:DescribeImages", "ecr:DescribeRepositories"],
                        }
                    ],
                }
            ),
        )
        uri, found = read()
    finally:
        central.delete_repository(repositoryName=name, force=True)

    # ECR's model has no AccessDeniedException; it is AWS's common error (400, a message).
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "is not authorized to perform: ecr:DescribeRepositories" in str(denied.value)
    assert uri == f"{central_account}.dkr.ecr.{cloud.region}.amazonaws.com/{name}"
    assert found == digest
    # Without a registryId the caller reads its own registry, which has no such repository.
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        here.describe_repositories(repositoryNames=[name])


def test_an_explicit_deny_in_a_repository_policy_refuses_what_another_statement_allows(
    cloud: LocalCloud,
) -> None:
    central_account = "333333333333"
    name = f"mini-{uuid.uuid4().hex[:8]}"
    central = cloud.client("ecr", account=central_account)
    here = cloud.client("ecr")
    central.create_repository(repositoryName=name)
    reader = {"AWS": f"arn:aws:iam::{cloud.account_id}:root"}
    statements = [
        {"Effect": "Allow", "Principal": reader, "Action": "ecr:*"},
        {"Effect": "Deny", "Principal": reader, "Action": "ecr:DescribeImages"},
    ]
    central.set_repository_policy(
        repositoryName=name,
        policyText=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    try:
        here.describe_repositories(repositoryNames=[name], registryId=central_account)
        with pytest.raises(ClientError) as denied:
            here.describe_images(repositoryName=name, registryId=central_account)
    finally:
        central.delete_repository(repositoryName=name, force=True)

    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "ecr:DescribeImages" in str(denied.value)
    assert "with an explicit deny in a resource-based policy" in str(denied.value)


_CENTRAL_ACCOUNT = "333333333333"


@dataclass(frozen=True)
class _Forwarding:
    """The central account's ECR pushes forwarded to this account's default bus, where a
    rule of this account's matches them and puts them in a queue."""

    bus: str  # this account's default bus
    repository: str  # the central account's
    push: Callable[[str], str]  # a new image of that config, tagged v1: its digest
    received: Callable[[], list[dict[str, Any]]]  # the queue's new events
    allow: Callable[[list[dict[str, Any]]], None]  # the bus policy's statements


@pytest.fixture
def forwarding(cloud: LocalCloud) -> Iterator[_Forwarding]:
    name = f"central-{uuid.uuid4().hex[:8]}"  # no rule of the stack matches it
    central_ecr = cloud.client("ecr", account=_CENTRAL_ACCOUNT)
    central_events = cloud.client("events", account=_CENTRAL_ACCOUNT)
    here, sqs = cloud.client("events"), cloud.client("sqs")
    # Here, a rule that matches the central account's ECR events only.
    queue_url = sqs.create_queue(QueueName=f"central-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    pattern = {"source": ["aws.ecr"], "account": [_CENTRAL_ACCOUNT]}
    here.put_rule(Name="from-central", EventPattern=json.dumps(pattern))
    here.put_targets(
        Rule="from-central", Targets=[{"Id": "q", "Arn": queue["Attributes"]["QueueArn"]}]
    )
    bus = f"arn:aws:events:{cloud.region}:{cloud.account_id}:event-bus/default"
    role = f"arn:aws:iam::{_CENTRAL_ACCOUNT}:role/forward"
    central_ecr.create_repository(repositoryName=name)
    central_events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["aws.ecr"]}))
    central_events.put_targets(Rule="forward", Targets=[{"Id": "d", "Arn": bus, "RoleArn": role}])

    def push(config: str) -> str:
        manifest = _manifest(config=config)
        pushed = central_ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v1")
        return str(pushed["image"]["imageId"]["imageDigest"])

    def received() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]

    def allow(statements: list[dict[str, Any]]) -> None:
        policy = {"Version": "2012-10-17", "Statement": statements}
        here.put_permission(Policy=json.dumps(policy))

    try:
        yield _Forwarding(bus, name, push, received, allow)
    finally:
        with suppress(ClientError):  # a test that set no policy
            here.remove_permission(RemoveAllPermissions=True)
        here.remove_targets(Rule="from-central", Ids=["q"])
        here.delete_rule(Name="from-central")
        central_events.remove_targets(Rule="forward", Ids=["d"])
        central_events.delete_rule(Name="forward")
        central_ecr.delete_repository(repositoryName=name, force=True)


def _bus_statement(effect: str, bus: str) -> dict[str, Any]:
    return {
        "Sid": effect.lower(),
        "Effect": effect,
        "Principal": {"AWS": [_CENTRAL_ACCOUNT]},
        "Action": "events:PutEvents",
        "Resource": bus,
    }


def test_a_forwarded_push_arrives_as_its_accounts_when_the_bus_policy_allows_it(
    forwarding: _Forwarding,
) -> None:
    forwarding.push("5")
    before_policy = forwarding.received()
    forwarding.allow([_bus_statement("Allow", forwarding.bus)])
    digest = forwarding.push("6")
    [event] = forwarding.received()

    assert before_policy == []
    assert event["detail-type"] == "ECR Image Action"
    assert event["detail"]["repository-name"] == forwarding.repository
    assert event["detail"]["image-digest"] == digest
    assert event["detail"]["image-tag"] == "v1"


def test_an_explicit_deny_in_the_bus_policy_drops_what_another_statement_allows(
    forwarding: _Forwarding,
) -> None:
    forwarding.allow([_bus_statement(e, forwarding.bus) for e in ("Allow", "Deny")])
    forwarding.push("8")

    assert forwarding.received() == []
    # The Allow alone lets it through: the Deny dropped it, nothing else.
    forwarding.allow([_bus_statement("Allow", forwarding.bus)])
    forwarding.push("9")

    assert len(forwarding.received()) == 1


def test_an_event_forwarded_to_a_bus_that_does_not_exist_is_dropped_not_raised(
    cloud: LocalCloud,
) -> None:
    sender = cloud.client("events", account="333333333333")
    missing = f"arn:aws:events:{cloud.region}:{cloud.account_id}:event-bus/no-such-bus"
    rule = f"forward-{uuid.uuid4().hex[:8]}"
    sender.put_rule(Name=rule, EventPattern=json.dumps({"source": ["local.test"]}))
    sender.put_targets(Rule=rule, Targets=[{"Id": "d", "Arn": missing}])
    try:
        entry = {"Source": "local.test", "DetailType": "t", "Detail": "{}"}
        answer = sender.put_events(Entries=[entry])
    finally:
        sender.remove_targets(Rule=rule, Ids=["d"])
        sender.delete_rule(Name=rule)

    # EventBridge drops what it cannot deliver; the sender's PutEvents succeeded.
    assert answer["FailedEntryCount"] == 0


def test_an_event_bus_policy_resource_adds_its_statement_to_the_bus(cloud: LocalCloud) -> None:
    bus = f"arn:aws:events:{cloud.region}:{cloud.account_id}:event-bus/default"
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": ["333333333333"]},
        "Action": "events:PutEvents",
        "Resource": bus,
    }
    # Two resources for one account (as the stack's ECR and ECS sources may be): each keeps
    # its own statement.
    template = {
        "Resources": {
            sid: {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {"StatementId": sid, "Statement": statement},
            }
            for sid in ("ecr-sources", "ecs-sources")
        }
    }
    cloudformation, events = cloud.client("cloudformation"), cloud.client("events")
    name = f"bus-policy-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    policy = json.loads(events.describe_event_bus(Name="default")["Policy"])
    cloudformation.delete_stack(StackName=name)

    assert sorted(policy["Statement"], key=lambda s: s["Sid"]) == [
        {"Sid": "ecr-sources", **statement},
        {"Sid": "ecs-sources", **statement},
    ]
    assert "Policy" not in events.describe_event_bus(Name="default")
