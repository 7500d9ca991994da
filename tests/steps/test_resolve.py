from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID as ACCOUNT_ID
from moto.ecr.models import ecr_backends
from msgspec.structs import replace

from ecs_deployer.aws.ecr import EcrGateway
from ecs_deployer.config.models import app_config
from ecs_deployer.document import Deployment
from ecs_deployer.domain.admission import Rejected
from ecs_deployer.domain.dispatch import Dispatch, Ignored, child_execution_name
from ecs_deployer.errors import TransientAwsError
from ecs_deployer.history import RecordUpdate, iso
from ecs_deployer.payloads import ExecutionContext
from ecs_deployer.steps.resolve import resolve
from ecs_deployer.structs import encode
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.operator.configs import push_config
from tests.aws_fixtures import PREFIX, STARTED, context, push
from tests.support import load_event

if TYPE_CHECKING:
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer.outcome import FinalStatus, RecordStatus


def _push_event(tag: str | None, digest: str, repository: str = "shop") -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("ecr_push"))
    event["detail"].update({"repository-name": repository, "image-digest": digest})
    if tag is None:
        event["detail"].pop("image-tag")
    else:
        event["detail"]["image-tag"] = tag
    return event


def test_manual_tag_becomes_a_deployment_pinned_by_digest(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    config = sample_app.app_config(seeded.subnet, seeded.security_group)
    slower = replace(config, poll_seconds=15)  # not the default
    push_config(boto3.client("ssm"), PREFIX, "shop", slower)
    digest = push("v2.0.0")
    result = resolve({"app": "shop", "image_tag": "v2.0.0"}, context(), deps, STARTED)
    assert isinstance(result, Deployment)
    assert result.image.uri == f"{seeded.registry}/shop@{digest}"
    assert result.image.tag == "v2.0.0"
    assert [s.name for s in result.services] == ["shop-web", "shop-worker"]
    assert [run.family for run in result.pre_tasks] == ["shop-migrate"]
    assert [run.family for run in result.post_tasks] == ["shop-smoke-test"]
    assert result.options.poll_seconds == 15  # from the app config
    assert result.requested_at == STARTED
    [record] = table.history("shop")
    assert (record.status, record.image, record.trigger) == ("QUEUED", result.image.uri, "manual")


def test_the_configs_approval_gate_is_carried_as_one_field_the_state_machine_reads(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    config = sample_app.app_config(seeded.subnet, seeded.security_group)
    gated = replace(config, approval="required", approval_timeout=45)
    push_config(boto3.client("ssm"), PREFIX, "shop", gated)
    push("v2.0.0")
    result = resolve({"app": "shop", "image_tag": "v2.0.0"}, context(), deps, STARTED)
    assert isinstance(result, Deployment)
    assert (result.approval_required, result.approval_timeout_minutes) == (True, 45)
    ref = result.ref(STARTED)
    assert (ref.approval_required, ref.approval_timeout_seconds) == (True, 45 * 60)


def test_manual_options_and_skips(seeded: sample_app.SeededApp, deps: AdmissionDeps) -> None:
    digest = push("v2.0.0")
    result = resolve(
        {
            "app": "shop",
            "image_digest": digest,
            "skip_pre_tasks": True,
            "skip_post_tasks": True,
            "force": True,
            "poll_seconds": 7,
        },
        context(),
        deps,
        STARTED,
    )
    assert isinstance(result, Deployment)
    assert (result.pre_tasks, result.post_tasks) == ([], [])
    assert all(service.force for service in result.services)
    assert result.options.poll_seconds == 7
    assert result.image.tag is None


@pytest.mark.parametrize(
    ("request_", "error", "fragment"),
    [
        ({"app": "nope", "image_tag": "v1.0.0"}, "ConfigError", "no config for app 'nope'"),
        ({"app": "shop", "image_tag": "v9.9.9"}, "ImageNotFound", "tag 'v9.9.9' not found"),
        (
            {"app": "shop", "image_tag": "v1.0.0", "repository": "other"},
            "InputError",
            "repository: 'other' is not a trigger repository of app 'shop' (shop)",
        ),
        ({"app": "shop", "image_tag": "v1.0.0", "extra": 1}, "InputError", "extra: unknown field"),
    ],
)
def test_bad_requests_are_rejected_and_recorded(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    table: DeploymentsTable,
    request_: dict[str, Any],
    error: str,
    fragment: str,
) -> None:
    result = resolve(request_, context(), deps, STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == error
    assert fragment in json.loads(result.outcome.cause or "")["message"]
    if error != "InputError":  # an unparsable request names no app to file it under
        [record] = table.history(request_["app"])
        assert (record.status, record.error) == ("FAILED", error)


def test_an_image_from_another_apps_repository_is_refused(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="billing")
    ecr.put_image(
        repositoryName="billing", imageManifest=sample_app.image_manifest("b1"), imageTag="v1.0.0"
    )
    request = {"app": "shop", "image_tag": "v1.0.0", "repository": "billing"}
    result = resolve(request, context(), deps, STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == "InputError"
    assert "repository: 'billing' is not a trigger repository of app 'shop'" in (
        result.outcome.cause or ""
    )
    [record] = table.history("shop")
    assert (record.status, record.error) == ("FAILED", "InputError")


def test_a_claimed_push_time_after_the_execution_started_jumps_no_queue(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    """A manual input can claim any trigger; a push time later than the execution's own
    start (which Step Functions sets) would place it after every real push for ever."""
    digest = push("v2.0.0")
    claimed = {"kind": "ecr-push", "event_id": "forged", "pushed_at": "2099-01-01T00:00:00Z"}
    request = {"app": "shop", "image_digest": digest, "trigger": claimed}
    result = resolve(request, context(), deps, STARTED)
    assert isinstance(result, Deployment)
    assert result.requested_at == STARTED
    assert result.order.split("#")[0] <= iso(STARTED)


def test_cluster_outside_the_stack_is_a_config_error(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    subnet = boto3.client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    push_config(
        boto3.client("ssm"),
        PREFIX,
        "shop",
        sample_app.app_config(subnet, "sg-1", cluster="payments"),
    )
    result = resolve({"app": "shop", "image_tag": "v1.0.0"}, context(), deps, STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == "ConfigError"
    assert (
        "cluster: 'payments' is not a cluster this stack may deploy to (ClusterNames: shop-demo)"
        in (result.outcome.cause or "")
    )


def test_a_task_family_outside_the_stack_is_refused_and_recorded(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    """A config writer may not have any family of the account cloned and run (with its
    task role): only those under TaskFamilyPrefixes."""
    boto3.client("ecs").register_task_definition(
        family="admin-tools",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 128}],
    )
    tasks = {"pre": [{"family": "admin-tools", "containers": ["app"]}]}
    config = sample_app.app_config(seeded.subnet, seeded.security_group, tasks=tasks)
    push_config(boto3.client("ssm"), PREFIX, "shop", config)
    result = resolve({"app": "shop", "image_tag": "v1.0.0"}, context(), deps, STARTED)
    assert isinstance(result, Rejected)
    assert result.outcome.error == "ConfigError"
    assert "tasks.pre[0].family: task definition family 'admin-tools' is not one" in (
        result.outcome.cause or ""
    )
    [record] = table.history("shop")
    assert (record.status, record.error) == ("FAILED", "ConfigError")


class _Dispatchers:
    """Step Functions as Resolve reads it: the inputs of dispatcher executions."""

    def __init__(self, inputs: dict[str, Any]) -> None:
        self._inputs = inputs

    def input_of(self, execution_arn: str) -> Any:
        return self._inputs.get(execution_arn)


def _as_child(deps: AdmissionDeps, target: Any, parent_input: dict[str, Any] | None = None) -> Any:
    """Resolve a dispatched target as its child execution does: started, just after the
    push, by the dispatcher execution whose input was that push (or ``parent_input``)."""
    trigger = target.input["trigger"]
    event = _push_event(
        target.input.get("image_tag"), target.input["image_digest"], target.input["repository"]
    )
    event.update({"id": trigger["event_id"], "time": trigger["pushed_at"]})
    dispatcher = context(f"dispatch-{trigger['event_id']}").Id
    started = datetime.fromisoformat(trigger["pushed_at"]) + timedelta(seconds=1)
    child = ExecutionContext(
        Id=context(target.execution_name).Id, Name=target.execution_name, StartTime=started
    )
    reader = _Dispatchers({dispatcher: parent_input or event})
    child_input = {**target.input, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": dispatcher}
    return resolve(child_input, child, dataclasses.replace(deps, executions=reader), STARTED)


def test_push_is_dispatched_to_the_app_with_a_deterministic_name(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    digest = push("v2.0.0")
    result = resolve(_push_event("v2.0.0", digest), context("from-event"), deps, STARTED)
    assert isinstance(result, Dispatch)
    [target] = result.targets
    assert target.app == "shop"
    assert target.execution_name == child_execution_name("shop", digest) == f"shop-{digest[7:39]}"
    assert target.input["image_digest"] == digest
    assert target.input["image_tag"] == "v2.0.0"
    assert target.input["trigger"]["kind"] == "ecr-push"
    # The child's input is a valid manual request that deploys exactly this digest.
    child = _as_child(deps, target)
    assert isinstance(child, Deployment)
    assert child.image.digest == digest
    assert child.requested_at.isoformat().startswith("2026-11-22T10:15:30")


def test_a_push_trigger_stands_only_if_its_dispatcher_received_that_push(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    """Anyone may start an execution claiming to be a push (its kind, event id and time
    end up in the history and the lock order); only the dispatcher's children are one."""
    digest = push("v2.0.0")
    dispatched = resolve(_push_event("v2.0.0", digest), context("from-event"), deps, STARTED)
    assert isinstance(dispatched, Dispatch)
    [target] = dispatched.targets
    genuine = _as_child(deps, target)
    assert isinstance(genuine, Deployment)
    assert (genuine.trigger.kind, genuine.trigger.event_id) == (
        "ecr-push",
        target.input["trigger"]["event_id"],
    )

    another_push = {**_push_event("v2.0.1", digest), "id": "another-event"}
    relabelled = _as_child(deps, target, parent_input=another_push)
    forged = resolve(target.input, context("forged"), deps, STARTED)  # no dispatcher at all
    for claimed in (relabelled, forged):
        assert isinstance(claimed, Deployment)
        assert (claimed.trigger.kind, claimed.trigger.event_id) == ("manual", None)
    assert {record.trigger for record in table.history("shop")} == {"ecr-push", "manual"}


class _Unreadable:
    """Step Functions refusing DescribeExecution, as IAM does outside this state machine."""

    def input_of(self, execution_arn: str) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": execution_arn}},
            "DescribeExecution",
        )


@pytest.mark.parametrize(
    "started_by",
    [
        "arn:aws:states:us-east-1:123456789012:execution:billing-pipeline:run-1",
        "not an ARN",
    ],
)
def test_a_claimed_dispatcher_elsewhere_is_not_read_and_the_request_is_manual(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, started_by: str
) -> None:
    digest = push("v2.0.0")
    dispatched = resolve(_push_event("v2.0.0", digest), context("from-event"), deps, STARTED)
    assert isinstance(dispatched, Dispatch)
    [target] = dispatched.targets
    claimed = {**target.input, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": started_by}
    unreadable = dataclasses.replace(deps, executions=_Unreadable())
    result = resolve(claimed, context("claimed"), unreadable, STARTED)
    assert isinstance(result, Deployment)
    assert (result.trigger.kind, result.trigger.event_id) == ("manual", None)


def test_two_tags_of_one_digest_dispatch_under_one_name(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    digest = push("v2.0.0")
    first = resolve(_push_event("v2.0.0", digest), context("e1"), deps, STARTED)
    second = resolve(_push_event("v2.0.1", digest), context("e2"), deps, STARTED)
    assert isinstance(first, Dispatch)
    assert isinstance(second, Dispatch)
    assert first.targets[0].execution_name == second.targets[0].execution_name


def _dispatch_at(deps: AdmissionDeps, digest: str, time: str, event_id: str) -> Dispatch | Ignored:
    event = _push_event("v2.0.0", digest)
    event.update({"time": time, "id": event_id})
    result = resolve(event, context(f"dispatch-{event_id}"), deps, STARTED)
    assert isinstance(result, Dispatch | Ignored)
    return result


def _deploy_and_end(
    deps: AdmissionDeps, table: DeploymentsTable, target: Any, status: RecordStatus
) -> None:
    child = _as_child(deps, target)
    assert isinstance(child, Deployment)
    ended = "2026-11-22T10:20:00.000Z"
    table.update_record(child, RecordUpdate(updated_at=ended, status=status, finished_at=ended))


@pytest.mark.parametrize("status", ["FAILED", "ROLLED_BACK", "ROLLBACK_FAILED", "SUPERSEDED"])
def test_a_repush_after_a_failure_deploys_again_under_the_next_attempt(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable, status: FinalStatus
) -> None:
    digest = push("v2.0.0")
    first = _dispatch_at(deps, digest, "2026-11-22T10:15:30Z", "e1")
    assert isinstance(first, Dispatch)
    [target] = first.targets
    assert target.reason == "first deployment of this digest"
    _deploy_and_end(deps, table, target, status)
    # EventBridge redelivers the original event: it predates the failure, so a duplicate.
    again = _dispatch_at(deps, digest, "2026-11-22T10:15:30Z", "e1")
    assert isinstance(again, Ignored)
    assert f"duplicate of deployment {target.execution_name} ({status})" in again.reason
    # Pushed again after the failure ended: a retry, under a name of its own.
    retry = _dispatch_at(deps, digest, "2026-11-22T10:25:00Z", "e2")
    assert isinstance(retry, Dispatch)
    [second] = retry.targets
    assert second.execution_name == child_execution_name("shop", digest, 2)
    assert second.execution_name == f"{target.execution_name}-2"
    assert second.reason.startswith(f"retry: deployment {target.execution_name} of this digest")
    # The retry's other tag event names the same execution: one deployment.
    tag_event = _dispatch_at(deps, digest, "2026-11-22T10:25:01Z", "e3")
    assert isinstance(tag_event, Dispatch)
    assert tag_event.targets[0].execution_name == second.execution_name
    _deploy_and_end(deps, table, second, "FAILED")
    third = _dispatch_at(deps, digest, "2026-11-22T10:30:00Z", "e4")
    assert isinstance(third, Dispatch)
    assert third.targets[0].execution_name == f"{target.execution_name}-3"


def test_a_push_of_a_digest_that_succeeded_or_still_runs_is_a_duplicate(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    digest = push("v2.0.0")
    first = _dispatch_at(deps, digest, "2026-11-22T10:15:30Z", "e1")
    assert isinstance(first, Dispatch)
    [target] = first.targets
    child = _as_child(deps, target)
    assert isinstance(child, Deployment)
    running = _dispatch_at(deps, digest, "2026-11-22T10:30:00Z", "e2")
    assert isinstance(running, Ignored)
    assert f"duplicate of deployment {target.execution_name} (QUEUED, still running)" in (
        running.reason
    )
    _deploy_and_end(deps, table, target, "SUCCEEDED")
    done = _dispatch_at(deps, digest, "2026-11-22T10:30:00Z", "e3")
    assert isinstance(done, Ignored)
    assert f"duplicate of deployment {target.execution_name} (SUCCEEDED)" in done.reason


def test_pushes_of_one_second_are_recorded_in_deployment_order_not_by_digest(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    # Two images pushed in the same second (moto's push times are whole seconds too): the
    # event id breaks the tie. The history follows that order, never the digests' order.
    digests = sorted([push("v2.0.0"), push("v2.0.1")], reverse=True)
    for image in ecr_backends[ACCOUNT_ID]["us-east-1"].repositories["shop"].images:
        image.image_pushed_at = 1_795_350_930  # the same second, whatever the machine did
    for index, digest in enumerate(digests):
        dispatched = _dispatch_at(deps, digest, "2026-11-22T10:15:30Z", f"e{index}")
        assert isinstance(dispatched, Dispatch)
        [target] = dispatched.targets
        child = _as_child(deps, target)
        assert isinstance(child, Deployment)
    newest_first = [record.digest for record in table.history("shop")]
    assert newest_first == list(reversed(digests)) == sorted(digests)


def test_pushes_of_one_event_second_are_ordered_by_ecrs_push_time(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    """ECR's imagePushedAt has milliseconds: within the event's whole second it decides,
    before the event ids (here in the opposite order)."""
    first, second = push("v2.0.0"), push("v2.0.1")
    pushed_at = {first: 1_795_350_930.100, second: 1_795_350_930.900}
    for image in ecr_backends[ACCOUNT_ID]["us-east-1"].repositories["shop"].images:
        # moto declares whole seconds; ECR (and the local cloud's patch) keep milliseconds.
        image.image_pushed_at = pushed_at.get(image.get_image_digest(), image.image_pushed_at)  # type: ignore[assignment]
    for digest, event_id in ((second, "e1"), (first, "e2")):
        dispatched = _dispatch_at(deps, digest, "2026-11-22T10:15:30Z", event_id)
        assert isinstance(dispatched, Dispatch)
        [target] = dispatched.targets
        assert isinstance(_as_child(deps, target), Deployment)
    assert [record.digest for record in table.history("shop")] == [second, first]


@pytest.mark.parametrize(
    ("tag", "repository", "reason"),
    [
        ("main-1234", "shop", "app 'shop' deploys tags matching v*; 'main-1234' does not match"),
        (None, "shop", f"shop@sha256:{'1' * 64}: untagged: a platform's manifest"),
        ("v2.0.0", "books", "no app config under /ecs-deployer/apps deploys books"),
    ],
)
def test_pushes_nobody_wants_are_ignored_with_a_reason(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, tag: str | None, repository: str, reason: str
) -> None:
    result = resolve(_push_event(tag, "sha256:" + "1" * 64, repository), context(), deps, STARTED)
    assert isinstance(result, Ignored)
    assert reason in result.reason


def test_a_push_no_tag_filter_wants_names_each_filter_as_written(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    subnet = boto3.client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    trigger = {"repositories": ["shop"], "tags": ["v*", {"regex": "release-[0-9]+"}]}
    config = sample_app.app_config(subnet, "sg-1", trigger=trigger)
    push_config(boto3.client("ssm"), PREFIX, "shop", config)
    result = resolve(_push_event("main-1", "sha256:" + "1" * 64), context(), deps, STARTED)
    assert isinstance(result, Ignored)
    assert "deploys tags matching v*, /release-[0-9]+/; 'main-1' does not match" in result.reason


def _deploy_every_tag() -> None:
    """The sample app, with no tag filter: every tag of its repository deploys."""
    subnet = boto3.client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    config = sample_app.app_config(subnet, "sg-1", trigger={"repositories": ["shop"]})
    push_config(boto3.client("ssm"), PREFIX, "shop", config)


@pytest.mark.parametrize("tag", [None, ""], ids=["without image-tag", "empty image-tag"])
def test_an_untagged_push_deploys_nothing_even_where_every_tag_deploys(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, tag: str | None
) -> None:
    # What `docker buildx` pushes before the tagged index: each platform's manifest and
    # its attestation manifest, untagged. Deploying one would run one platform only.
    _deploy_every_tag()
    digest = push("v2.0.0")
    result = resolve(_push_event(tag, digest), context(), deps, STARTED)
    assert isinstance(result, Ignored)
    assert result.reason.startswith(f"shop@{digest}: untagged: ")
    assert "a platform's manifest or an attestation of a multi-platform image" in result.reason


def test_a_replica_deploys_as_its_push_would(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    digest = push("v2.0.0")
    replica = copy.deepcopy(load_event("ecr_replication"))
    replica["detail"].update({"image-digest": digest, "image-tag": "v2.0.0"})
    result = resolve(replica, context("from-replica"), deps, STARTED)
    assert isinstance(result, Dispatch)
    [target] = result.targets
    # The same deployment as the push's: one digest deploys once, however it arrived.
    assert target.execution_name == child_execution_name("shop", digest)
    assert (target.input["image_digest"], target.input["image_tag"]) == (digest, "v2.0.0")
    child = _as_child(deps, target)
    assert isinstance(child, Deployment)
    assert child.image.digest == digest


@pytest.mark.parametrize("name", ["ecr_delete", "ecr_push_failed"])
def test_deletes_and_failures_are_ignored(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, name: str
) -> None:
    result = resolve(load_event(name), context(), deps, STARTED)
    assert isinstance(result, Ignored)
    assert "not a successful push" in result.reason


def test_broken_config_that_wants_the_repository_is_reported_not_skipped(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/books",
        Type="String",
        Value=json.dumps(
            {
                "version": "v1",
                "cluster": "shop-demo",
                "trigger": {"repositories": ["shop"]},
                "services": [],
            }
        ),
    )
    digest = push("v2.0.0")
    result = resolve(_push_event("v2.0.0", digest), context(), deps, STARTED)
    assert isinstance(result, Dispatch)
    assert [target.app for target in result.targets] == ["shop"]
    [error] = result.errors
    assert "app 'books'" in error
    assert "services: expected `array` of length >= 1" in error


@pytest.mark.parametrize("name", ["my.app", "a" * 41])
def test_a_parameter_no_app_can_be_named_after_blocks_no_other_app(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, name: str
) -> None:
    """A parameter under the prefix whose name is no valid app name (a dot, over 40
    characters) and that wants the push is reported; every other app still gets it."""
    config = sample_app.app_config(seeded.subnet, seeded.security_group)
    document = encode(replace(config, app=None))
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/{name}", Type="String", Value=json.dumps(document)
    )
    digest = push("v2.0.0")
    result = resolve(_push_event("v2.0.0", digest), context(), deps, STARTED)
    assert isinstance(result, Dispatch)
    assert [target.app for target in result.targets] == ["shop"]
    [error] = result.errors
    assert f"{PREFIX}/{name}" in error
    assert "is not a valid app name" in error


def test_a_broken_config_that_wants_the_push_is_filed_in_its_history(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    broken = {"version": "v1", "cluster": "shop-demo", "trigger": {"repositories": ["shop"]}}
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/books", Type="String", Value=json.dumps({**broken, "services": []})
    )
    digest = push("v2.0.0")
    dispatched = context("dispatch-1")
    result = resolve(_push_event("v2.0.0", digest), dispatched, deps, STARTED)
    assert isinstance(result, Dispatch)
    [record] = table.history("books")
    assert (record.deployment_id, record.status, record.error) == (
        "dispatch-1",
        "FAILED",
        "ConfigError",
    )
    assert (record.repository, record.digest, record.tag) == ("shop", digest, "v2.0.0")
    assert "services: expected `array` of length >= 1" in (record.cause or "")
    assert table.history("shop") == []  # its deployment is recorded by its own execution


def test_malformed_event_is_rejected() -> None:
    event = load_event("ecr_push")
    del event["detail"]["repository-name"]
    result = resolve(event, context(), None, STARTED)  # type: ignore[arg-type]  # never reaches AWS
    assert isinstance(result, Rejected)
    assert result.outcome.error == "InputError"
    assert "detail.repository-name: required field is missing" in (result.outcome.cause or "")


class _ThrottledEcr:
    """An ECR client whose every call is still throttled after botocore's retries."""

    def __getattr__(self, operation: str) -> Any:
        def throttled(**_: object) -> None:
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, operation)  # type: ignore[arg-type]

        return throttled


def test_a_throttled_call_is_retried_not_recorded_as_a_rejection(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    throttled = dataclasses.replace(deps, ecr=EcrGateway(_ThrottledEcr()))  # type: ignore[arg-type]
    with pytest.raises(TransientAwsError, match="ThrottlingException"):
        resolve({"app": "shop", "image_tag": "v1.0.0"}, context(), throttled, STARTED)
    assert table.history("shop") == []


@pytest.mark.parametrize("tag", ["v" * 129, "release 1", ".hidden", "x" * 300])
def test_a_tag_ecr_accepts_but_docker_cannot_is_ignored_with_a_reason_not_a_crash(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, tag: str
) -> None:
    _deploy_every_tag()
    digest = push("v2.0.0")
    result = resolve(_push_event(tag, digest), context(), deps, STARTED)
    assert isinstance(result, Ignored)
    assert f"shop@{digest}: the tag '{tag[:40]}" in result.reason
    assert "is not a Docker tag" in result.reason


def test_a_codedeploy_group_outside_the_stack_is_refused_before_anything_runs(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    """Without this, the pre tasks would run and IAM would deny CreateDeployment after."""
    config = sample_app.app_config(seeded.subnet, seeded.security_group, blue_green=True)
    document = encode(config)
    document["services"][0]["codedeploy"]["deployment_group"] = "shop-admin"
    push_config(boto3.client("ssm"), PREFIX, "shop", app_config(document))

    result = resolve({"app": "shop", "image_tag": "v1.0.0"}, context(), deps, STARTED)

    assert isinstance(result, Rejected)
    assert result.outcome.error == "ConfigError"
    assert (
        "services[0].codedeploy.deployment_group: 'shop/shop-admin' is not a CodeDeploy "
        "deployment group this stack may deploy through (CodeDeployDeploymentGroups: "
        "shop/shop-web)" in (result.outcome.cause or "")
    )


CENTRAL_REGISTRY = "333333333333"


def test_an_app_deploys_the_pushes_of_the_registry_its_trigger_names(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    config = sample_app.app_config(seeded.subnet, seeded.security_group)
    assert config.trigger is not None
    central = replace(config, trigger=replace(config.trigger, registry=CENTRAL_REGISTRY))
    push_config(boto3.client("ssm"), PREFIX, "shop", central)
    digest = "sha256:" + "c" * 64
    from_central = _push_event("v2.0.0", digest) | {"account": CENTRAL_REGISTRY}

    dispatched = resolve(from_central, context("from-central"), deps, STARTED)
    home = resolve(_push_event("v2.0.0", digest), context("from-home"), deps, STARTED)

    assert isinstance(dispatched, Dispatch)
    assert [target.app for target in dispatched.targets] == ["shop"]
    assert isinstance(home, Ignored)
    assert home.reason == (
        f"shop:v2.0.0: app 'shop' deploys shop of the registry in account {CENTRAL_REGISTRY}; "
        f"this push is in account {ACCOUNT_ID}"
    )


def test_an_app_without_a_registry_ignores_another_accounts_push(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    digest = push("v2.0.0")
    event = _push_event("v2.0.0", digest) | {"account": CENTRAL_REGISTRY}

    result = resolve(event, context("from-elsewhere"), deps, STARTED)

    assert isinstance(result, Ignored)
    assert f"registry in account {ACCOUNT_ID}; this push is in account {CENTRAL_REGISTRY}" in (
        result.reason
    )
