"""The stand-in's CloudWatch under CloudFormation: `AWS::CloudWatch::Alarm`.

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


def install() -> None:
    """Nothing to patch: defining StackAlarm registers it in moto's model map (ec2.install(),
    run before this by the package's install(), clears that map's cache)."""
