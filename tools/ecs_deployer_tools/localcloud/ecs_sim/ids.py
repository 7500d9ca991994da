"""Ids in the simulated ECS: the ones it makes, seeded so that runs repeat, and names read
from the ARNs it is given."""

from __future__ import annotations

import random
import string
import uuid


class SeededIds:
    """Deployment, task and event ids shaped like ECS's, from one seeded generator: rollouts
    and tasks draw from it in turn, so a run's ids follow from the seed and the calls."""

    def __init__(self, seed: int) -> None:
        # Simulations are not secrets: seeded, repeatable pseudo-randomness is the point.
        self._rng = random.Random(f"ecs-sim-ids:{seed}")  # noqa: S311
        # Its own generator: the ids above stay what they were before service deployments.
        self._service_deployment_rng = random.Random(f"ecs-sim-sd-ids:{seed}")  # noqa: S311
        self._hook_rng = random.Random(f"ecs-sim-hook-ids:{seed}")  # noqa: S311

    def deployment_id(self) -> str:
        return f"ecs-svc/{self._rng.randrange(10**18, 10**19)}"

    def service_deployment_id(self) -> str:
        """21 characters of the URL-safe alphabet, as ECS's service deployment ids."""
        alphabet = string.ascii_letters + string.digits + "-_"
        return "".join(self._service_deployment_rng.choice(alphabet) for _ in range(21))

    def hook_id(self, target_type: str) -> str:
        """A lifecycle hook run's id: ECS's documented example is `ecs-pause-` and 43
        URL-safe characters; an AWS_LAMBDA hook's is shaped alike (`ecs-lambda-`)."""
        alphabet = string.ascii_letters + string.digits + "-_"
        kind = "pause" if target_type == "PAUSE" else "lambda"
        return f"ecs-{kind}-" + "".join(self._hook_rng.choice(alphabet) for _ in range(43))

    def task_id(self) -> str:
        return self.uuid4().hex

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def short_name(name_or_arn: str) -> str:
    """The name (or id) in a cluster's, service's or task's name or ARN."""
    return name_or_arn.rsplit("/", maxsplit=1)[-1]
