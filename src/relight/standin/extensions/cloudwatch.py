"""The stand-in's CloudWatch: `AWS::CloudWatch::Alarm` under CloudFormation, and statistics
over periods that start on the minute.

moto 5.2.5's CloudFormation has no model for it (a template that declares one gets nothing,
and its outputs are missing), so the `dns` blueprint's failback latch did not exist locally.
AWS: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-alarm.html
(Ref returns the alarm's name; the name is generated when AlarmName is not given). The alarm
is made through moto's own PutMetricAlarm, so DescribeAlarms and PutMetricData see it; moto
does not evaluate alarms against the data published (no state change). Written against
moto 5.2.5.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel


def _backend(account_id: str, region_name: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id][region_name]


class StackAlarm(CloudFormationModel):
    """An alarm a stack declares (metric alarms; composite ones are not played)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False  # Fn::GetAtt Arn is not played: relight's blueprints use Ref

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StackAlarm:
        p = cloudformation_json.get("Properties", {})
        _backend(account_id, region_name).put_metric_alarm(
            name=resource_name,
            namespace=p.get("Namespace", ""),
            metric_name=p.get("MetricName", ""),
            comparison_operator=p.get("ComparisonOperator", ""),
            evaluation_periods=int(p.get("EvaluationPeriods", 1)),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic", ""),
            description=p.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            treat_missing_data=p.get("TreatMissingData"),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            unit=p.get("Unit"),
        )
        return cls(resource_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: StackAlarm,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> StackAlarm:
        _backend(account_id, region_name).delete_alarms([original_resource.name])
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        _backend(account_id, region_name).delete_alarms([resource_name])

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_alarms([self.name])


def _aligned_statistics(
    self: Any,
    namespace: str,
    metric_name: str,
    start_time: Any,
    end_time: Any,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None = None,
) -> list[Any]:
    """GetMetricStatistics with its periods on the clock: "Start time less than 15 days ago -
    Round down to the nearest whole minute. For example, 12:32:34 is rounded down to
    12:32:00." (CloudWatch API Reference, GetMetricStatistics, StartTime), each period then
    following from there. moto 5.2.5 started its first period at the first data point's
    time, so a 0 published a minute after a 1 could share its period (and its Maximum): the
    failback latch read as still set. Filtering as moto does; written against moto 5.2.5."""
    from datetime import timedelta

    from moto.cloudwatch.exceptions import InvalidParameterValue
    from moto.cloudwatch.models import Statistics

    start = start_time.replace(second=0, microsecond=0)
    end = end_time.replace(microsecond=0)
    if start >= end:
        raise InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime."
        )
    step = timedelta(seconds=period)
    windows: dict[int, Any] = {}
    for datum in sorted(self.get_all_metrics(), key=lambda d: d.timestamp):
        if datum.namespace != namespace or datum.name != metric_name:
            continue
        if not start <= datum.timestamp < end or (unit and datum.unit != unit):
            continue
        if dimensions and not datum.filter(None, None, dimensions):
            continue
        k = (datum.timestamp - start) // step
        if k not in windows:
            windows[k] = Statistics(stats, start + k * step)
        windows[k].metric_data.append(datum)
        windows[k].unit = datum.unit
    return [windows[k] for k in sorted(windows)]


def install() -> None:
    """GetMetricStatistics with its periods on the clock (`_aligned_statistics`); StackAlarm
    needs no patch: defining it registers it in moto's model map (ec2.install(), run before
    this by the package's install(), clears that map's cache)."""
    from moto.cloudwatch.models import CloudWatchBackend

    CloudWatchBackend.get_metric_statistics = _aligned_statistics  # type: ignore[method-assign]
