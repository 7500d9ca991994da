"""What AWS evaluates for one API call: its action(s), resource ARN(s) and condition context.

Actions and ARN formats come from the Service Authorization Reference (`reference.py`); what
is ours is which request parameter names the resource, per operation (`_MODELS`), and the
extra authorizations AWS makes for some calls:

* `iam:PassRole` (to ecs-tasks.amazonaws.com) for every task and execution role a call
  hands to ECS: RegisterTaskDefinition's, RunTask's (its task definition's, or its
  overrides'), and UpdateService's when it names a task definition (AWS answers
  AccessDenied on iam:PassRole then; public reports: keidarcy/e1s#429,
  aws/serverless-application-model#2247);
* `ecs:TagResource` on the new resource, with `ecs:CreateAction`, when RegisterTaskDefinition
  or RunTask carries tags (ECS developer guide, "Grant permission to tag resources on
  creation");
* `codedeploy:GetDeploymentConfig` on the deployment's configuration (its own, else its
  group's) and `codedeploy:RegisterApplicationRevision` on its application for every
  CreateDeployment, which registers the revision it deploys (the minimal permissions of
  aws-actions/amazon-ecs-deploy-task-definition's README, "AWS CodeDeploy Support", which
  itself calls neither; CodeDeploy User Guide, identity-based policy examples).

A resource is named as AWS names it: a service keeps the ARN ECS gave it (a service created
before 2021 has the short `service/NAME` form, which policies scoped to `service/CLUSTER/*`
do not match), a task definition named by family is its latest ACTIVE revision.

An operation without a model raises `NotImplementedError` unless the reference lists no
resource type and no service condition key for it (then "*" is all AWS evaluates): an
unmodelled call never passes unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from ecs_deployer_tools.localcloud.iam import reference
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest, ContextValue

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

ECS_TASKS = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class Call:
    """One API call: the service's IAM prefix (botocore's signing name), the operation and
    its parameters, where it is made."""

    service: str
    operation: str
    params: Mapping[str, Any]
    partition: str
    region: str
    account: str
    ecs: EcsState  # the account's ECS, for the resources a call names indirectly
    codedeploy: CodeDeployState  # the account's CodeDeploy, likewise

    @property
    def reference(self) -> reference.ActionReference:
        return reference.action(self.service, self.operation)

    def arn(self, service: str, operation: str, resource_type: str, **names: str) -> str:
        return reference.arn(
            reference.action(service, operation),
            resource_type,
            partition=self.partition,
            region=self.region,
            account=self.account,
            **names,
        )

    def request(
        self,
        resource: str,
        context: Mapping[str, ContextValue] | None = None,
        *,
        action: str | None = None,
    ) -> AuthorizationRequest:
        """A request of this call (of `action`, default the call's own) on `resource`."""
        return AuthorizationRequest(
            action or self.reference.action,
            resource,
            {"aws:RequestedRegion": self.region, **(context or {})},
        )


@dataclass(frozen=True)
class TaskRoles:
    """A task definition's roles, each of which ECS is handed to assume."""

    task: str | None = None
    execution: str | None = None

    def __iter__(self) -> Iterator[str]:
        return iter([role for role in (self.task, self.execution) if role])


class EcsState(Protocol):
    """What the account's ECS holds, as far as authorizing a call needs it."""

    def task_definition_arn(self, reference: str) -> str | None:
        """The ARN of a task definition named by family, family:revision or ARN."""

    def task_definition_roles(self, reference: str) -> TaskRoles:
        """Its task and execution roles (none if it does not exist)."""

    def next_revision(self, family: str) -> int:
        """The revision RegisterTaskDefinition would create in `family`."""

    def service_arn(self, cluster: str, service: str) -> str | None:
        """The ARN ECS gave the service, if it exists."""


class CodeDeployState(Protocol):
    """What the account's CodeDeploy holds, as far as authorizing a call needs it."""

    def deployment_group(self, deployment_id: str) -> tuple[str, str] | None:
        """The (application, deployment group) of a deployment, if it exists."""

    def deployment_config(self, application: str, deployment_group: str) -> str | None:
        """The deployment configuration a deployment group uses, if it exists."""


def requests(call: Call) -> list[AuthorizationRequest]:
    """Every authorization AWS makes for `call`, the call's own action first."""
    model = _MODELS.get(f"{call.service}:{call.operation}")
    if model is not None:
        return model(call)
    action = call.reference
    own_keys = [key for key in action.condition_keys if not key.startswith("aws:")]
    if action.resource_types or own_keys:
        raise NotImplementedError(
            f"no authorization model for {action.action} (resource types "
            f"{list(action.resource_types)}, condition keys {own_keys}): add one to "
            f"{__name__}"
        )
    return [call.request("*")]


# -- ECS --------------------------------------------------------------------------------


def _name(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1]


def _cluster_arn(call: Call) -> str:
    cluster = call.params.get("cluster") or "default"
    if cluster.startswith("arn:"):
        return str(cluster)
    return call.arn("ecs", "DescribeClusters", "cluster", ClusterName=cluster)


def _service_arn(call: Call, service: str) -> str:
    cluster = _name(_cluster_arn(call))
    known = call.ecs.service_arn(cluster, _name(service))
    if known is not None:
        return known
    return call.arn(
        "ecs", "UpdateService", "service", ClusterName=cluster, ServiceName=_name(service)
    )


def _task_definition_arn(call: Call, task_definition: str) -> str:
    known = call.ecs.task_definition_arn(task_definition)
    if known is not None:
        return known
    family, _, revision = _name(task_definition).partition(":")
    return call.arn(
        "ecs",
        "RunTask",
        "task-definition",
        TaskDefinitionFamilyName=family,
        TaskDefinitionRevisionNumber=revision or "*",
    )


def _pass_roles(call: Call, roles: Iterable[str]) -> list[AuthorizationRequest]:
    return [
        call.request(role, {"iam:PassedToService": ECS_TASKS}, action="iam:PassRole")
        for role in dict.fromkeys(roles)  # each role once, in order
    ]


def _tag_context(call: Call) -> dict[str, ContextValue]:
    tags = call.params.get("tags") or []
    if not tags:
        return {}
    context: dict[str, ContextValue] = {f"aws:RequestTag/{t['key']}": t["value"] for t in tags}
    context["aws:TagKeys"] = tuple(t["key"] for t in tags)
    return context


def _tag_on_create(call: Call, resource: str) -> list[AuthorizationRequest]:
    context = _tag_context(call)
    if not context:
        return []
    return [
        call.request(
            resource, {**context, "ecs:CreateAction": call.operation}, action="ecs:TagResource"
        )
    ]


def _describe_clusters(call: Call) -> list[AuthorizationRequest]:
    clusters = call.params.get("clusters") or ["default"]
    return [
        call.request(
            cluster
            if cluster.startswith("arn:")
            else call.arn("ecs", "DescribeClusters", "cluster", ClusterName=cluster)
        )
        for cluster in clusters
    ]


def _describe_services(call: Call) -> list[AuthorizationRequest]:
    cluster = _cluster_arn(call)
    return [
        call.request(_service_arn(call, service), {"ecs:cluster": cluster})
        for service in call.params["services"]
    ]


def _update_service(call: Call) -> list[AuthorizationRequest]:
    cluster = _cluster_arn(call)
    context: dict[str, ContextValue] = {"ecs:cluster": cluster}
    task_definition = call.params.get("taskDefinition")
    roles = TaskRoles()
    if task_definition:
        context["ecs:task-definition"] = _task_definition_arn(call, task_definition)
        roles = call.ecs.task_definition_roles(task_definition)
    service = _service_arn(call, call.params["service"])
    return [call.request(service, context), *_pass_roles(call, roles)]


def _register_task_definition(call: Call) -> list[AuthorizationRequest]:
    family = call.params["family"]
    created = call.arn(
        "ecs",
        "RegisterTaskDefinition",
        "task-definition",
        TaskDefinitionFamilyName=family,
        TaskDefinitionRevisionNumber=str(call.ecs.next_revision(family)),
    )
    roles = TaskRoles(call.params.get("taskRoleArn"), call.params.get("executionRoleArn"))
    return [
        call.request(created, _tag_context(call)),
        *_tag_on_create(call, created),
        *_pass_roles(call, roles),
    ]


def _run_task(call: Call) -> list[AuthorizationRequest]:
    reference_ = call.params["taskDefinition"]
    task_definition = _task_definition_arn(call, reference_)
    overrides = call.params.get("overrides") or {}
    defined = call.ecs.task_definition_roles(reference_)
    # An override replaces the task definition's role of that kind.
    roles = TaskRoles(
        task=overrides.get("taskRoleArn") or defined.task,
        execution=overrides.get("executionRoleArn") or defined.execution,
    )
    context = {"ecs:cluster": _cluster_arn(call), **_tag_context(call)}
    return [
        call.request(task_definition, context),
        *_tag_on_create(call, task_definition),
        *_pass_roles(call, roles),
    ]


def _tasks(call: Call) -> list[AuthorizationRequest]:
    cluster = _cluster_arn(call)
    tasks = call.params.get("tasks") or [call.params["task"]]
    return [
        call.request(
            task
            if task.startswith("arn:")
            else call.arn("ecs", "DescribeTasks", "task", ClusterName=_name(cluster), TaskId=task),
            {"ecs:cluster": cluster},
        )
        for task in tasks
    ]


def _service_deployments(call: Call) -> list[AuthorizationRequest]:
    """A call on service deployments is authorized on each one's ARN
    (service-deployment/CLUSTER/SERVICE/ID), in its cluster."""
    arns = call.params.get("serviceDeploymentArns") or [call.params["serviceDeploymentArn"]]
    requests = []
    for arn in arns:
        prefix, _, path = str(arn).partition(":service-deployment/")
        cluster = f"{prefix}:cluster/{path.split('/', 1)[0]}"
        requests.append(call.request(str(arn), {"ecs:cluster": cluster}))
    return requests


def _list_services(call: Call) -> list[AuthorizationRequest]:
    return [call.request("*", {"ecs:cluster": _cluster_arn(call)})]


# -- ECR, SSM, DynamoDB, Step Functions, EventBridge, CloudWatch Logs -------------------------


def _repositories(call: Call) -> list[AuthorizationRequest]:
    names = call.params.get("repositoryNames") or [call.params["repositoryName"]]
    account = call.params.get("registryId") or call.account
    return [
        call.request(
            reference.arn(
                call.reference,
                "repository",
                partition=call.partition,
                region=call.region,
                account=account,
                RepositoryName=name,
            )
        )
        for name in names
    ]


def _parameter(call: Call) -> list[AuthorizationRequest]:
    name = call.params.get("Name") or call.params["Path"]
    context: dict[str, ContextValue] = {}
    if "Path" in call.params:
        context["ssm:Recursive"] = str(bool(call.params.get("Recursive"))).lower()
    if name.startswith("arn:"):
        return [call.request(name, context)]
    parameter = call.arn(
        "ssm", call.operation, "parameter", ParameterNameWithoutLeadingSlash=name.lstrip("/")
    )
    return [call.request(parameter, context)]


def _parameters(call: Call) -> list[AuthorizationRequest]:
    """GetParameters: one request per named parameter (each is authorized on its own)."""
    return [
        call.request(
            name
            if name.startswith("arn:")
            else call.arn(
                "ssm",
                call.operation,
                "parameter",
                ParameterNameWithoutLeadingSlash=name.lstrip("/"),
            )
        )
        for name in call.params["Names"]
    ]


def _table(call: Call) -> list[AuthorizationRequest]:
    table = call.params["TableName"]
    if table.startswith("arn:"):
        table_arn = table
    else:
        table_arn = call.arn("dynamodb", "GetItem", "table", TableName=table)
    index = call.params.get("IndexName")
    return [call.request(f"{table_arn}/index/{index}" if index else table_arn)]


def _batch_write(call: Call) -> list[AuthorizationRequest]:
    """BatchWriteItem: one request per table it writes (its RequestItems' keys)."""
    return [
        request
        for table in call.params["RequestItems"]
        for request in _table(replace(call, params={"TableName": table}))
    ]


def _execution(call: Call) -> list[AuthorizationRequest]:
    return [call.request(call.params["executionArn"])]


def _put_events(call: Call) -> list[AuthorizationRequest]:
    found: dict[tuple[str, str, str], AuthorizationRequest] = {}
    for entry in call.params["Entries"]:
        bus = entry.get("EventBusName") or "default"
        bus_arn = (
            bus
            if bus.startswith("arn:")
            else call.arn("events", "PutEvents", "event-bus", EventBusName=bus)
        )
        key = (bus_arn, entry.get("Source", ""), entry.get("DetailType", ""))
        found[key] = call.request(bus_arn, {"events:source": key[1], "events:detail-type": key[2]})
    return list(found.values())


def _log_stream(call: Call) -> list[AuthorizationRequest]:
    group = call.params.get("logGroupName") or _name(call.params["logGroupIdentifier"])
    return [
        call.request(
            call.arn(
                "logs",
                call.operation,
                "log-stream",
                LogGroupName=group,
                LogStreamName=call.params["logStreamName"],
            )
        )
    ]


def _topic(call: Call) -> list[AuthorizationRequest]:
    return [call.request(call.params["TopicArn"])]


# -- STS --------------------------------------------------------------------------------


def _assume_role(call: Call) -> list[AuthorizationRequest]:
    context = {
        key: call.params[name]
        for key, name in (
            ("sts:ExternalId", "ExternalId"),
            ("sts:RoleSessionName", "RoleSessionName"),
        )
        if name in call.params
    }
    return [call.request(call.params["RoleArn"], context)]


# -- CodeDeploy -------------------------------------------------------------------------------


def _deployment_group_arn(call: Call, application: str, deployment_group: str) -> str:
    return call.arn(
        "codedeploy",
        "CreateDeployment",
        "deploymentgroup",
        ApplicationName=application,
        DeploymentGroupName=deployment_group,
    )


def _create_deployment(call: Call) -> list[AuthorizationRequest]:
    application, group = call.params["applicationName"], call.params["deploymentGroupName"]
    config = call.params.get("deploymentConfigName") or call.codedeploy.deployment_config(
        application, group
    )
    found = [call.request(_deployment_group_arn(call, application, group))]
    if config is not None:
        config_arn = call.arn(
            "codedeploy",
            "GetDeploymentConfig",
            "deploymentconfig",
            DeploymentConfigurationName=config,
        )
        found.append(call.request(config_arn, action="codedeploy:GetDeploymentConfig"))
    application_arn = call.arn(
        "codedeploy", "RegisterApplicationRevision", "application", ApplicationName=application
    )
    found.append(call.request(application_arn, action="codedeploy:RegisterApplicationRevision"))
    return found


def _list_deployments(call: Call) -> list[AuthorizationRequest]:
    group = call.params.get("applicationName", "*"), call.params.get("deploymentGroupName", "*")
    return [call.request(_deployment_group_arn(call, *group))]


def _deployments(call: Call) -> list[AuthorizationRequest]:
    """A call on deployments is authorized on each one's deployment group (one it does not
    know: on the account's every group, which a policy naming groups does not match)."""
    ids = call.params.get("deploymentIds") or [call.params["deploymentId"]]
    found: dict[str, AuthorizationRequest] = {}
    for deployment_id in ids:
        group = call.codedeploy.deployment_group(deployment_id)
        arn = (
            _deployment_group_arn(call, *group) if group else _deployment_group_arn(call, "*", "*")
        )
        found.setdefault(arn, call.request(arn))
    return list(found.values())


_Model = Callable[[Call], list[AuthorizationRequest]]
_MODELS: dict[str, _Model] = {
    "ecs:DescribeClusters": _describe_clusters,
    "ecs:DescribeServices": _describe_services,
    "ecs:UpdateService": _update_service,
    "ecs:DescribeServiceDeployments": _service_deployments,
    "ecs:StopServiceDeployment": _service_deployments,
    "ecs:ContinueServiceDeployment": _service_deployments,
    "ecs:RegisterTaskDefinition": _register_task_definition,
    "ecs:RunTask": _run_task,
    "ecs:DescribeTasks": _tasks,
    "ecs:StopTask": _tasks,
    "ecs:ListServices": _list_services,
    "codedeploy:CreateDeployment": _create_deployment,
    "codedeploy:BatchGetDeployments": _deployments,
    "codedeploy:ListDeployments": _list_deployments,
    "codedeploy:GetDeployment": _deployments,
    "ecr:DescribeRepositories": _repositories,
    "ecr:DescribeImages": _repositories,
    "ssm:GetParameter": _parameter,
    "ssm:GetParametersByPath": _parameter,
    "ssm:GetParameters": _parameters,
    **{
        f"dynamodb:{operation}": _table
        for operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")
    },
    "dynamodb:BatchWriteItem": _batch_write,
    "states:DescribeExecution": _execution,
    "events:PutEvents": _put_events,
    "logs:GetLogEvents": _log_stream,
    "sns:Publish": _topic,
    "sts:AssumeRole": _assume_role,
}
