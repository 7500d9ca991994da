"""A failed task's last log lines, for its failure cause (domain/task_logs.py)."""

from __future__ import annotations

from ecs_deployer.domain.task_logs import (
    EXCERPT_LINES,
    LogStream,
    awslogs_stream,
    clear_values,
    excerpt,
)

TASK = "arn:aws:ecs:us-east-1:123456789012:task/shop-demo/0f1e2d3c4b5a"


def _container(**options: str) -> dict[str, object]:
    return {
        "name": "app",
        "environment": [{"name": "DB_PASSWORD", "value": "hunter22"}, {"name": "X", "value": "1"}],
        "logConfiguration": {"logDriver": "awslogs", "options": options},
    }


def test_the_awslogs_stream_is_prefix_container_task_id() -> None:
    container = _container(**{"awslogs-group": "/ecs/shop", "awslogs-stream-prefix": "shop"})
    assert awslogs_stream(container, TASK) == LogStream(
        group="/ecs/shop", stream="shop/app/0f1e2d3c4b5a", region=None
    )


def test_without_a_stream_prefix_or_awslogs_there_is_no_stream_to_read() -> None:
    assert awslogs_stream(_container(**{"awslogs-group": "/ecs/shop"}), TASK) is None
    assert awslogs_stream({"name": "app"}, TASK) is None
    splunk = {"name": "app", "logConfiguration": {"logDriver": "splunk", "options": {}}}
    assert awslogs_stream(splunk, TASK) is None


def test_the_excerpt_keeps_the_last_lines_capped_and_masks_clear_values() -> None:
    lines = [f"line {index}" for index in range(30)]
    lines += ["connecting with password hunter22 ...", "x" * 500]
    shown = excerpt(lines, clear_values(_container())).split(" | ")
    assert len(shown) == EXCERPT_LINES
    assert shown[-2] == "connecting with password **** ..."
    assert len(shown[-1]) == 200
    assert shown[-1].endswith("…")
    # A value too short to mask ("1") leaves ordinary text alone.
    assert shown[0] == "line 22"
