"""ECS: moto's ECS behaves as the ECS simulation (`localcloud/ecs_sim/`) makes it.

An `EcsSimulation` installs these patches while it is installed, not `moto_patches`: a
scenario may go without it. Every replaced call runs under the simulation's lock, so Step
Functions worker threads and moto's threaded server may call ECS concurrently.

moto's ECS never progresses a deployment nor stops a task:

1. CreateService, UpdateService and DescribeServices go through the simulation's service
   rollouts (`ecs_sim/rollouts.py`): services are adopted as steady, UpdateService starts
   a deployment, which moves on with the clock (each call first brings ECS to the clock's
   time). A service a fault says was
   created before 2021 keeps a short ARN (`Service.arn`).
2. RunTask, DescribeTasks and StopTask go through its task lifecycle (`ecs_sim/tasks.py`):
   RunTask starts tasks PENDING, which then run and stop with the clock, StopTask stops
   it as ECS does. Services run tasks too: each deployment's, as its counts say, stopped
   when replaced or when DeleteService deletes the service. moto's own task state machine
   (`Task.advance`) leaves those tasks alone.

Where moto's answers differ from ECS's (also `ecs_sim/tasks.py`):

3. RunTask of a task definition sized only at task level (usual on Fargate): moto adds up
   the containers' memory to place a task and fails when a container names none; ECS
   accepts it.
4. RunTask's `awsvpcConfiguration` without `securityGroups`: optional in ECS (the VPC's
   default group), but moto raises KeyError without it.
5. RunTask honours `clientToken` (per cluster): a repeated token answers the first call's
   tasks, or ConflictException when the parameters differ.
6. DescribeTasks reports unknown tasks as `MISSING` failures, and so the tasks ECS does
   not show yet (just started) or any more (stopped an hour ago).
7. ListTasks defaults to `desiredStatus=RUNNING` and filters on `serviceName`; moto lists
   every task, and starts none for a service.

8. DescribeTaskDefinition of a family alone (no revision) answers its newest ACTIVE
   revision, and ClientException "Unable to describe task definition." when it has none
   (DescribeTaskDefinition API reference: "If a family is specified without a revision,
   the latest ACTIVE revision is used"); moto answers the newest of any status. RunTask and
   UpdateService read a family the same way.

10. Service deployments (`ecs_sim/service_deployments.py`), which moto lacks:
   ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment and
   ContinueServiceDeployment, and the `currentServiceDeployment` of DescribeServices and
   UpdateService.
11. CreateService keeps its `deploymentConfiguration` (moto drops it; UpdateService keeps
   it): a BLUE_GREEN, LINEAR or CANARY strategy deploys through lifecycle stages, with bake
   time and lifecycle hooks (`ecs_sim/strategies.py`). Both calls refuse what ECS documents
   it refuses there.

What goes wrong on purpose:

9. A seeded share of ECS API calls (`EcsFaults.throttle_rate`) answers
   `ThrottlingException: Rate exceeded` (HTTP 400), ECS's own wire answer.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import botocore.session
from botocore import xform_name
from moto.core.responses import ActionResult
from moto.ecs.exceptions import TaskDefinitionNotFoundException
from moto.ecs.models import EC2ContainerServiceBackend, Service, Task
from moto.ecs.responses import EC2ContainerServiceResponse

from ecs_deployer_tools.localcloud.ecs_sim import strategies
from ecs_deployer_tools.localcloud.ecs_sim.ids import short_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer_tools.localcloud.ecs_sim.rollouts import ServiceRollouts
    from ecs_deployer_tools.localcloud.ecs_sim.simulation import EcsSimulation
    from ecs_deployer_tools.localcloud.patches.patcher import Patcher

_THROTTLED: Final = (
    json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}),
    {
        "status": 400,
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amzn-Errortype": "ThrottlingException",
    },
)


def install(patcher: Patcher, simulation: EcsSimulation) -> None:
    """Apply this module's patches, routed to `simulation`."""
    locked, rollouts, tasks = simulation.locked, simulation.rollouts, simulation.task_lifecycle
    backend, response = EC2ContainerServiceBackend, EC2ContainerServiceResponse
    patcher.around(backend, "create_service", locked(rollouts.create_service))
    patcher.around(backend, "update_service", locked(rollouts.update_service))
    patcher.around(backend, "describe_services", locked(rollouts.describe_services))
    patcher.around(backend, "delete_service", locked(rollouts.delete_service))
    patcher.around(backend, "run_task", locked(tasks.run_task))
    patcher.around(backend, "describe_tasks", locked(tasks.describe_tasks))
    patcher.around(backend, "stop_task", locked(tasks.stop_task))
    patcher.around(backend, "list_tasks", locked(tasks.list_tasks))
    patcher.around(Task, "advance", locked(tasks.advance))
    patcher.around(backend, "describe_task_definition", _newest_active_revision)
    patcher.wrap(Service, "arn", lambda arn: property(functools.partial(rollouts.arn, arn.fget)))
    patcher.wrap(backend, "_calculate_task_resource_requirements", tasks.sized_at_task_level)
    patcher.around(response, "run_task", locked(tasks.run_task_idempotently))
    patcher.around(response, "describe_tasks", locked(tasks.report_missing))
    patcher.around(response, "create_service", locked(_create_service_configured))
    added = {
        "list_service_deployments": _list_service_deployments,
        "describe_service_deployments": _describe_service_deployments,
        "stop_service_deployment": _stop_service_deployment,
        "continue_service_deployment": _continue_service_deployment,
    }
    for name, handler in added.items():
        # `locked` makes a plain function: a method of the response class, given `response`.
        patcher.replace(response, name, locked(functools.partial(handler, rollouts)), create=True)
    # Throttling wraps every action last, so it answers before anything else runs.
    throttled = functools.partial(_throttled, simulation)
    for action in _ecs_actions():
        patcher.around(response, action, throttled)


def _list_service_deployments(rollouts: ServiceRollouts, response: Any) -> ActionResult:
    created = response._get_param("createdAt") or {}
    found = rollouts.list_service_deployments(
        response.ecs_backend,
        response._get_param("cluster") or "default",
        response._get_param("service"),
        statuses=response._get_param("status") or [],
        created_after=_timestamp(created.get("after")),
        created_before=_timestamp(created.get("before")),
    )
    return ActionResult({"serviceDeployments": found})


def _describe_service_deployments(rollouts: ServiceRollouts, response: Any) -> ActionResult:
    arns = response._get_param("serviceDeploymentArns") or []
    found, failures = rollouts.describe_service_deployments(response.ecs_backend, arns)
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _stop_service_deployment(rollouts: ServiceRollouts, response: Any) -> ActionResult:
    arn = rollouts.stop_service_deployment(
        response.ecs_backend,
        response._get_param("serviceDeploymentArn"),
        response._get_param("stopType") or "ROLLBACK",
    )
    return ActionResult({"serviceDeploymentArn": arn})


def _continue_service_deployment(rollouts: ServiceRollouts, response: Any) -> ActionResult:
    arn = rollouts.continue_service_deployment(
        response.ecs_backend,
        response._get_param("serviceDeploymentArn"),
        response._get_param("hookId"),
        response._get_param("action") or "CONTINUE",  # the documented default
    )
    return ActionResult({"serviceDeploymentArn": arn})


def _create_service_configured(original: Callable[[Any], Any], response: Any) -> Any:
    """CreateService, keeping its deploymentConfiguration on the service it created."""
    configuration = response._get_param("deploymentConfiguration")
    strategies.validate(configuration)
    created = original(response)
    if configuration is not None:
        cluster = short_name(response._get_param("cluster") or "default")
        service = response.ecs_backend.services[f"{cluster}:{response._get_param('serviceName')}"]
        service.deployment_configuration = configuration
    return created


def _timestamp(value: datetime | None) -> datetime | None:
    """A request's timestamp, which moto parses to a naive datetime in UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _newest_active_revision(
    original: Callable[..., Any], backend: Any, task_definition_str: str
) -> Any:
    # The parameter's name is moto's: its callers pass it by keyword.
    family = task_definition_str.rsplit("/", 1)[-1]
    if ":" in family:
        return original(backend, task_definition_str)
    revisions = backend.task_definitions.get(family, {})
    active = [number for number, revision in revisions.items() if revision.status == "ACTIVE"]
    if not active:
        raise TaskDefinitionNotFoundException
    return original(backend, f"{family}:{max(active)}")


def _throttled(simulation: EcsSimulation, original: Callable[[Any], Any], response: Any) -> Any:
    # The wire answer of ECS itself. Not an exception: ECS's model lacks the shape, and
    # moto warns on every unmodelled error code it serializes.
    if simulation.throttles():
        body, headers = _THROTTLED
        return body, dict(headers)
    return original(response)


def _ecs_actions() -> list[str]:
    """Names of the ECS operations moto implements, as methods of its response class."""
    operations = botocore.session.get_session().get_service_model("ecs").operation_names
    names = (xform_name(operation) for operation in operations)
    return [name for name in names if name in EC2ContainerServiceResponse.__dict__]
