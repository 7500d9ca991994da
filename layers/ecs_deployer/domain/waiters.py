"""Event-driven waits: what a waiting deployment awaits, and what an ECS event wakes.

A wait in the state machine is a task-token wait whose timeout is the safety poll. Its
token is stored under a key for every ECS resource the deployment still awaits; an ECS
event names the keys it wakes. The key is one string both sides derive here:

* a service's, ``SERVICE#<cluster>/<service>``: a deployment event's resource is the
  service's ARN (``arn:...:service/<cluster>/<service>``), the document names the cluster
  (by its name, however the config gives it) and the service;
* a task's, ``TASK#<task ARN>``: a task event's resource is the task's ARN, which the
  document keeps;
* an app's approval gate, ``APPROVAL#<app>``: the operator's ``approve`` or ``reject`` ends
  that wait, never an ECS event (a PAUSE hook's wait is its service's: the hook's
  "ECS Hook State Change" wakes it, and the check announces the pause).

Waking is only a hint: the check steps stay the only judges of done (``judge_rollout``), so a
wake that learns nothing (another account's service of the same names, an event of an
earlier deployment) costs one check, and a lost event costs one safety poll.

The safety poll backs off (``safety_poll_seconds``): twice the app's ``poll_seconds`` first,
then each wait as long as the wait so far plus that (each doubles), at most
``LONGEST_SAFETY_POLL_SECONDS``. Events end nearly every wait, so the checks a rollout of R
seconds costs grow with log2(R) rather than with R, and one shorter than the first safety
poll costs a single check, its event's (a first safety poll of ``poll_seconds`` would add one
to every rollout between one and two polls long, the most common length). A lost event is
noticed at most as late again as the wait had lasted plus the first safety poll, and never
more than the longest safety poll late. No safety poll outlasts the first deadline of what
the wait awaits (a rollout's wait budget, a task's `max_wait`): a rollout that never
stabilises is judged timed out when its budget runs out, not at the next doubling.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from ecs_deployer.document import Deployment


# The ECS events that wake a wait: the notifier's rules (template.yaml) and the forwarding
# template's let exactly these through (tests/template/test_event_forwarding.py).
DEPLOYMENT_ENDS = frozenset({"SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"})
HOOK_AWAITING_ANSWER = "HOOK_AWAITING_ACTION"  # a PAUSE hook's: only a PAUSE hook awaits
# How late a lost event may be noticed, at worst (once a wait has lasted this long).
LONGEST_SAFETY_POLL_SECONDS = 600


def safety_poll_seconds(poll_seconds: int, waited: float, until_deadline: float | None) -> int:
    """The next wait's timeout, the wait having lasted `waited` seconds so far: each
    doubles from twice `poll_seconds`, up to the longest safety poll (or that first one, if
    longer); never past the first deadline of what the wait awaits (`until_deadline`
    seconds away, at least a second), when its check finds it timed out."""
    first = 2 * poll_seconds
    backing_off = min(first + waited, max(first, LONGEST_SAFETY_POLL_SECONDS))
    if until_deadline is not None:
        backing_off = min(backing_off, max(1.0, math.ceil(until_deadline)))
    return int(backing_off)


def approval_key(app: str) -> str:
    """The key of an app's pending approval: ``ecs-deployer approve APP`` answers it. No ECS
    event wakes it; an app holds one at a time, as only the lock's holder asks."""
    return f"APPROVAL#{app}"


def service_key(cluster: str, service: str) -> str:
    return f"SERVICE#{cluster}/{service}"


def task_key(task_arn: str) -> str:
    return f"TASK#{task_arn}"


def awaited_keys(deployment: Deployment) -> list[str]:
    """The keys of the services whose rollout or rollback is not judged over yet, and of the
    tasks not yet seen stopped."""
    keys = [
        service_key(deployment.config.cluster_name, rollout.name)
        for rollout in deployment.services
        if rollout.ended_at is None
        or (rollout.rollback is not None and rollout.rollback.state == "IN_PROGRESS")
    ]
    for run in (*deployment.pre_tasks, *deployment.post_tasks):
        final = {result.task_arn for result in run.results if result.final}
        keys += [task_key(arn) for arn in run.task_arns if arn not in final]
    return list(dict.fromkeys(keys))


def woken_keys(event: Mapping[str, Any], clusters: Collection[str]) -> list[str]:
    """The keys an ECS event of one of `clusters` wakes: a service deployment's end
    (completed, or failed: the circuit breaker's rollback starts with it), a PAUSE hook
    awaiting its answer (the check announces it to the operators), a task's stop (the only
    change of a task the checks judge). A deployment starting is what the deployer itself
    did (or the rollback a failed event already announced): it wakes none."""
    resources: list[str] = event.get("resources", [])
    detail: Mapping[str, Any] = event.get("detail", {})
    match event.get("detail-type"):
        case "ECS Deployment State Change" if detail.get("eventName") in DEPLOYMENT_ENDS:
            return [
                service_key(cluster, service)
                for cluster, service in map(_cluster_and_name, resources)
                if cluster in clusters
            ]
        case "ECS Hook State Change" if detail.get("eventName") == HOOK_AWAITING_ANSWER:
            # Its resource is the service deployment; `serviceArn` names the service.
            cluster, service = _cluster_and_name(detail.get("serviceArn", ""))
            return [service_key(cluster, service)] if cluster in clusters else []
        case "ECS Task State Change" if detail.get("lastStatus") == "STOPPED":
            return [task_key(arn) for arn in resources if _cluster_and_name(arn)[0] in clusters]
    return []


def _cluster_and_name(arn: str) -> tuple[str, str]:
    """The cluster and name of a service or task ARN of the long format
    (``...:service/<cluster>/<name>``); no cluster for the short, old one, which does not
    name it."""
    _, _, rest = arn.rpartition(":")[2].partition("/")
    cluster, _, name = rest.partition("/")
    return (cluster, name) if name else ("", rest)
