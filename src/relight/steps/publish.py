"""Readiness verdicts as CloudWatch metrics in the recovery region (`--publish`).

`relight readiness --publish` and `relight estate readiness --publish` write each verdict
with PutMetricData, a data-plane call of CloudWatch's regional endpoint
(`monitoring.<region>.amazonaws.com`) in the region the verdict is about, so on-call's
alarms page on "not ready" (docs/aws-behaviours.md, W1 to W3):

- namespace `Relight` (the failback latch's `FailedOver` lives there too, by `Stack`);
- `Ready`: 1 ready, 0 not; `ForecastRtoSeconds`: the RTO forecast on AWS;
  `WorstArtifactAgeSeconds`: the age of the oldest data among the newest copies a failover
  would restore (not published when no copy was found: `Ready` is 0 then and says why);
- one dimension, `Environment` (the environment's name); an estate's own verdict has
  `Estate` instead. No `Region` dimension: a CloudWatch metric lives in the region it is
  published to, which is the region the verdict is about, and an alarm must name every
  dimension of the metric it watches (a dimension more is another metric).

The alarm to create (`ready_alarm`, `alarm_command`) pages when two hourly periods in a row
are `Ready < 1` or without a verdict (2 out of 2, `TreatMissingData: breaching`): a readiness
job that stopped running is not ready either, while an hourly job whose run drifts across an
hour boundary (10:59:50, then 12:00:05) leaves one empty hour between two good ones, which
does not page (docs/aws-behaviours.md, W3).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NAMESPACE = "Relight"
READY, FORECAST, WORST_AGE = "Ready", "ForecastRtoSeconds", "WorstArtifactAgeSeconds"
ENVIRONMENT, ESTATE = "Environment", "Estate"
# The alarm's period: readiness runs at least once in it (hourly, docs/scheduling.md); a
# period without a verdict is breaching, and the alarm pages on two such periods in a row
# (M out of N: 2 of 2), so one hour a drifting schedule skips does not page.
ALARM_PERIOD = 3600
ALARM_PERIODS = 2
# PutMetricData takes at most 1,000 metrics a request; an estate's verdicts are sent in
# batches well under it.
BATCH = 150


@dataclass(frozen=True)
class Verdict:
    """One readiness verdict as it is published: `name` is the environment's (dimension
    `Environment`) or, with `dimension=ESTATE`, the estate's."""

    name: str
    ready: bool
    forecast_seconds: float | None = None
    worst_artifact_age_seconds: float | None = None
    dimension: str = ENVIRONMENT

    def data(self, at: datetime) -> list[dict[str, Any]]:
        """The MetricData entries of this verdict, stamped `at` (when it was evaluated)."""
        dims = [{"Name": self.dimension, "Value": self.name}]
        data: list[dict[str, Any]] = [
            {
                "MetricName": READY,
                "Dimensions": dims,
                "Timestamp": at,
                "Value": 1.0 if self.ready else 0.0,
                "Unit": "None",
            }
        ]
        for metric, value in (
            (FORECAST, self.forecast_seconds),
            (WORST_AGE, self.worst_artifact_age_seconds),
        ):
            if value is not None:
                data.append(
                    {
                        "MetricName": metric,
                        "Dimensions": dims,
                        "Timestamp": at,
                        "Value": round(float(value), 3),
                        "Unit": "Seconds",
                    }
                )
        return data


@dataclass(frozen=True)
class Published:
    """What was published where: the region, and per verdict the metrics written."""

    region: str
    metrics: dict[str, list[str]]
    dimension: str = ENVIRONMENT

    def line(self) -> str:
        names = ", ".join(f"{self.dimension}={name}" for name in sorted(self.metrics))
        return (
            f"published to CloudWatch in {self.region} (namespace {NAMESPACE}): "
            f"{', '.join(sorted({m for ms in self.metrics.values() for m in ms}))} for {names}"
        )


def publish(cloudwatch: Any, region: str, verdicts: Sequence[Verdict], at: datetime) -> Published:
    """PutMetricData of every verdict with `cloudwatch`, a client in `region` (the region the
    verdicts are about). A refusal is raised as relight's AwsError naming what to grant."""
    from botocore.exceptions import BotoCoreError, ClientError

    from relight.errors import AwsError

    data = [d for v in verdicts for d in v.data(at)]
    try:
        for start in range(0, len(data), BATCH):
            cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + BATCH])
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"the readiness verdict could not be published to CloudWatch in {region}: {exc}",
            hint="grant cloudwatch:PutMetricData in that region (relight policy --for "
            "readiness); until a verdict lands, the Ready alarm (TreatMissingData breaching) "
            "pages",
        ) from exc
    return Published(
        region,
        {v.name: [d["MetricName"] for d in v.data(at)] for v in verdicts},
        verdicts[0].dimension if verdicts else ENVIRONMENT,  # one kind a call: envs, or an estate
    )


def publish_in(aws: Any, region: str, verdicts: Sequence[Verdict], at: datetime) -> Published:
    """`publish` with a CloudWatch client of `aws` (relight.aws.clients.Aws: the account the
    verdicts' environment lives in) in `region`."""
    return publish(aws.client("cloudwatch", region), region, verdicts, at)


def ready_alarm(name: str, *, dimension: str = ENVIRONMENT) -> dict[str, Any]:
    """The alarm that pages when `name` is not ready, or no verdict came, for two periods in
    a row (a not-ready verdict still not ready an hour later; the readiness job stopped):
    PutMetricAlarm's parameters, AlarmActions aside."""
    return {
        "AlarmName": f"relight-{name}-not-ready",
        "Namespace": NAMESPACE,
        "MetricName": READY,
        "Dimensions": [{"Name": dimension, "Value": name}],
        "Statistic": "Minimum",
        "Period": ALARM_PERIOD,
        "EvaluationPeriods": ALARM_PERIODS,
        "DatapointsToAlarm": ALARM_PERIODS,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
    }


def alarm_command(region: str, name: str, *, dimension: str = ENVIRONMENT) -> str:
    """`aws cloudwatch put-metric-alarm` for `ready_alarm`, in the recovery region, paging
    the SNS topic on-call already has (TOPIC-ARN)."""
    alarm = ready_alarm(name, dimension=dimension)
    parts = [
        "aws cloudwatch put-metric-alarm",
        f"--region {region}",
        f"--alarm-name {shlex.quote(alarm['AlarmName'])}",
        f"--namespace {NAMESPACE} --metric-name {READY}",
        f"--dimensions Name={dimension},Value={shlex.quote(name)}",
        f"--statistic {alarm['Statistic']} --period {alarm['Period']}",
        f"--evaluation-periods {alarm['EvaluationPeriods']}",
        f"--datapoints-to-alarm {alarm['DatapointsToAlarm']}",
        f"--threshold {alarm['Threshold']:g}",
        f"--comparison-operator {alarm['ComparisonOperator']}",
        f"--treat-missing-data {alarm['TreatMissingData']}",
        "--alarm-actions TOPIC-ARN",
    ]
    return " ".join(parts)
