"""The ECS adapter batches to the API's limits: never one call per service or task."""

from __future__ import annotations

from typing import Any

from ecs_deployer.aws.ecs import EcsGateway


class RecordingEcs:
    """Answers DescribeServices/DescribeTasks for whatever is asked, recording each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        self.calls.append(("DescribeServices", len(services)))
        return {
            "services": [
                {
                    "serviceName": name,
                    "serviceArn": f"arn:aws:ecs:::service/{cluster}/{name}",
                    "deployments": [],
                }
                for name in services
                if name != "gone"
            ],
            "failures": [{"arn": f"arn:aws:ecs:::service/{cluster}/gone", "reason": "MISSING"}]
            if "gone" in services
            else [],
        }

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        self.calls.append(("DescribeTasks", len(tasks)))
        return {
            "tasks": [{"taskArn": arn, "lastStatus": "RUNNING", "containers": []} for arn in tasks],
            "failures": [],
        }


def test_describe_services_asks_ten_at_a_time() -> None:
    client = RecordingEcs()
    names = [f"svc-{index}" for index in range(24)] + ["gone"]
    found, missing = EcsGateway(client).describe_services("prod", names)  # type: ignore[arg-type]
    assert client.calls == [
        ("DescribeServices", 10),
        ("DescribeServices", 10),
        ("DescribeServices", 5),
    ]
    assert len(found) == 24
    assert missing == ["gone"]


def test_describe_tasks_asks_a_hundred_at_a_time() -> None:
    client = RecordingEcs()
    arns = [f"arn:aws:ecs:::task/prod/{index}" for index in range(250)]
    found, missing = EcsGateway(client).describe_tasks("prod", arns)  # type: ignore[arg-type]
    assert client.calls == [("DescribeTasks", 100), ("DescribeTasks", 100), ("DescribeTasks", 50)]
    assert (len(found), missing) == (250, [])
