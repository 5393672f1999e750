"""dns: a Route53 alias record to the load balancer, by failover routing or by simple cutover.

`failover` mode writes this region's half of a PRIMARY/SECONDARY pair: the
record, a health check on the load balancer, and the routing role (the
recovery region is normally SECONDARY, prepared ahead of time; the home
region's stack holds PRIMARY). Route53 sends traffic here as soon as the
primary's health check fails.

It does not send it back by itself (`failback_latch`, on by default): a home
region that answers again after an outage may still be missing data written
here since, so failing back is a decision, not a health check's. The SECONDARY
stack holds the latch, the CloudWatch alarm `FailbackLatchAlarm`, named
`<this stack's name>-failback-latch` (a recreated SECONDARY keeps the name the
PRIMARY refers to), on the metric `Relight/FailedOver` with the dimension
`Stack=<this stack's name>`; a failover publishes 1 to it. The PRIMARY stack,
given that alarm's name and region as `LatchAlarmName` and `LatchAlarmRegion`
(the SECONDARY stack's outputs `FailbackLatchAlarm` and `FailbackLatchRegion`),
checks the home endpoint with a CALCULATED health check that is healthy only
while both the endpoint answers and the latch check is healthy.

Route 53 reads the alarm's data stream, not the alarm's state: once the single
FailedOver=1 point is older than the alarm's period the stream has insufficient
data, whatever the alarm's TreatMissingData. So the latch check's
InsufficientDataHealthStatus is `LastKnownStatus`: unhealthy after the failover's
1, it stays unhealthy until a 0 arrives; a check that never had data counts as
healthy (AWS's default for a new check), so nothing changes before a disaster.
Failing back is deliberate: publish FailedOver=0 with the stack's dimension in
the recovery region (a CloudWatch data-plane call there); the latch check turns
healthy, and stays so, and the primary is healthy again once its endpoint is.
The alarm keeps TreatMissingData `ignore` so that its own state, shown on the
console, says the same as the check.

`cutover` mode writes one plain alias record. CloudFormation cannot take over
a record another stack or a person created, so cutover is for a name that does
not exist yet; failover routing is the way to move an existing name.

The zone is the `HostedZoneName` Parameter (e.g. `example.com.`); the record
name is the `RecordName` Parameter. In a drill or a test copy relight fills the
reserved `RelightNamespace` Parameter, and the record becomes
`<namespace>.<RecordName>`: production's record is never touched, whatever
RecordName is given as.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from troposphere import (
    And,
    Equals,
    If,
    Join,
    Not,
    Or,
    Output,
    Parameter,
    Ref,
    Sub,
    Tags,
    Template,
    cloudwatch,
    route53,
)

from relight.blueprint import NAMESPACED, Options, blueprint, namespace_parameter

LATCH_NAMESPACE = "Relight"
LATCH_METRIC = "FailedOver"
HAS_LATCH = "HasLatch"


class DnsOptions(Options):
    mode: Literal["failover", "cutover"] = "failover"
    failover_role: Literal["PRIMARY", "SECONDARY"] = "SECONDARY"
    failback_latch: bool = Field(
        default=True, description="failover: traffic stays in the recovery region until told"
    )
    health_check_protocol: Literal["HTTP", "HTTPS"] = "HTTPS"
    health_check_path: str = Field(default="/health", pattern=r"^/")
    health_check_interval: Literal[10, 30] = 30
    failure_threshold: int = Field(default=3, ge=1, le=10)
    record_type: Literal["A", "AAAA"] = "A"


def _latch_alarm(t: Template) -> None:
    """SECONDARY: the alarm a failover sets (FailedOver=1) and only a person clears."""
    alarm = t.add_resource(
        cloudwatch.Alarm(
            "FailbackLatchAlarm",
            AlarmName=Sub("${AWS::StackName}-failback-latch"),
            AlarmDescription="relight failback latch: in ALARM once this region took over; "
            "publish Relight/FailedOver=0 for this stack to let the home region back",
            Namespace=LATCH_NAMESPACE,
            MetricName=LATCH_METRIC,
            Dimensions=[cloudwatch.MetricDimension(Name="Stack", Value=Ref("AWS::StackName"))],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="ignore",  # keep the state: the latch holds until cleared
        )
    )
    t.add_output(
        Output(
            "FailbackLatchAlarm",
            Value=Ref(alarm),
            Description="for the PRIMARY stack's LatchAlarmName",
        )
    )
    t.add_output(
        Output(
            "FailbackLatchRegion",
            Value=Ref("AWS::Region"),
            Description="for the PRIMARY stack's LatchAlarmRegion",
        )
    )


def _latched_check(t: Template, endpoint: route53.HealthCheck) -> route53.HealthCheck:
    """PRIMARY: healthy while the endpoint is and the recovery side's latch alarm is not set."""
    name = t.add_parameter(
        Parameter(
            "LatchAlarmName",
            Type="String",
            Default="",
            Description="the SECONDARY stack's FailbackLatchAlarm; empty for no latch",
        )
    )
    region = t.add_parameter(
        Parameter(
            "LatchAlarmRegion",
            Type="String",
            Default="",
            AllowedPattern=r"^([a-z]{2}(-[a-z]+)+-\d)?$",
            Description="the SECONDARY stack's FailbackLatchRegion; empty for no latch",
        )
    )
    given = [Not(Equals(Ref(name), "")), Not(Equals(Ref(region), ""))]
    t.add_condition(HAS_LATCH, And(*given))
    t.add_rule(
        "LatchAlarmWhole",
        {
            "Assertions": [
                {
                    "Assert": Or(And(*given), And(*(Not(g) for g in given))),
                    "AssertDescription": "give both LatchAlarmName and LatchAlarmRegion, "
                    "or neither",
                }
            ]
        },
    )
    latch = t.add_resource(
        route53.HealthCheck(
            "LatchHealthCheck",
            Condition=HAS_LATCH,
            HealthCheckConfig=route53.HealthCheckConfig(
                Type="CLOUDWATCH_METRIC",
                AlarmIdentifier=route53.AlarmIdentifier(Name=Ref(name), Region=Ref(region)),
                # Route 53 reads the alarm's data stream: when the failover's point ages out,
                # the last known status (unhealthy) holds; a check never set is healthy.
                InsufficientDataHealthStatus="LastKnownStatus",
            ),
            HealthCheckTags=Tags(Name=Sub("${AWS::StackName}-latch")),
        )
    )
    return t.add_resource(
        route53.HealthCheck(
            "LatchedHealthCheck",
            Condition=HAS_LATCH,
            HealthCheckConfig=route53.HealthCheckConfig(
                Type="CALCULATED",
                ChildHealthChecks=[Ref(endpoint), Ref(latch)],
                HealthThreshold=2,
            ),
            HealthCheckTags=Tags(Name=Sub("${AWS::StackName}-latched")),
        )
    )


@blueprint("dns", sample={"mode": "failover", "failover_role": "SECONDARY"})
def dns(options: DnsOptions) -> Template:
    """Route53 alias to the load balancer: failover routing with a health check, or cutover."""
    t = Template(Description=f"relight DNS ({options.mode})")
    zone = t.add_parameter(
        Parameter(
            "HostedZoneName",
            Type="String",
            AllowedPattern=r"^[a-zA-Z0-9.-]+\.$",
            Description="the hosted zone, with its trailing dot, e.g. example.com.",
        )
    )
    name = t.add_parameter(
        Parameter(
            "RecordName",
            Type="String",
            AllowedPattern=r"^[a-zA-Z0-9.*-]+\.$",
            Description="the record, with its trailing dot, e.g. www.example.com.",
        )
    )
    target = t.add_parameter(
        Parameter("LoadBalancerDNSName", Type="String", Description="the LB's DNS name")
    )
    target_zone = t.add_parameter(
        Parameter(
            "LoadBalancerHostedZoneId",
            Type="String",
            Description="the LB's canonical hosted zone id",
        )
    )
    namespace = namespace_parameter(t)
    record_name = If(NAMESPACED, Join(".", [Ref(namespace), Ref(name)]), Ref(name))
    alias = route53.AliasTarget(
        DNSName=Ref(target), HostedZoneId=Ref(target_zone), EvaluateTargetHealth=True
    )
    record: dict[str, object] = {
        "HostedZoneName": Ref(zone),
        "Name": record_name,
        "Type": options.record_type,
        "AliasTarget": alias,
    }
    if options.mode == "failover":
        check = t.add_resource(
            route53.HealthCheck(
                "HealthCheck",
                HealthCheckConfig=route53.HealthCheckConfig(
                    Type=options.health_check_protocol,
                    FullyQualifiedDomainName=Ref(target),
                    Port=443 if options.health_check_protocol == "HTTPS" else 80,
                    ResourcePath=options.health_check_path,
                    RequestInterval=options.health_check_interval,
                    FailureThreshold=options.failure_threshold,
                ),
                HealthCheckTags=Tags(Name=Ref("AWS::StackName")),
            )
        )
        check_id: object = Ref(check)
        if options.failback_latch and options.failover_role == "SECONDARY":
            _latch_alarm(t)
        elif options.failback_latch:
            latched = _latched_check(t, check)
            check_id = If(HAS_LATCH, Ref(latched), Ref(check))
        record.update(
            Failover=options.failover_role,
            SetIdentifier=Sub("${AWS::StackName}-${AWS::Region}"),
            HealthCheckId=check_id,
        )
        t.add_output(Output("HealthCheckId", Value=check_id))
    t.add_resource(route53.RecordSetType("Record", **record))
    t.add_output(Output("RecordName", Value=record_name))
    return t
