"""CloudWatch metrics in the embedded metric format: one log line per measure, which
CloudWatch Logs turns into metrics (no PutMetricData call, no extra permission)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ecs_deployer.domain.measures import NAMESPACE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ecs_deployer.domain.measures import Measure


def emit(measures: Iterable[Measure]) -> None:
    for measure in measures:
        with single_metric(
            name=measure.name,
            unit=MetricUnit[measure.unit],
            value=measure.value,
            namespace=NAMESPACE,
            default_dimensions=measure.dimensions,
        ) as metric:
            for key, value in measure.properties.items():
                metric.add_metadata(key, value)
