"""dns: a Route53 alias record to the load balancer, by failover routing or by simple cutover.

`failover` mode writes this region's half of a PRIMARY/SECONDARY pair: the
record, a health check on the load balancer, and the routing role (the
recovery region is normally SECONDARY; the home region's stack holds
PRIMARY). Route53 then sends traffic here as soon as the primary's health
check fails, and back when it recovers. `cutover` mode writes one plain alias
record. CloudFormation cannot take over a record another stack or a person
created, so cutover is for a name that does not exist yet; failover routing is
the way to move an existing name.

The zone is the `HostedZoneName` Parameter (e.g. `example.com.`); the record
name is the `RecordName` Parameter. In a drill or a test copy relight fills the
reserved `RelightNamespace` Parameter, and the record becomes
`<namespace>.<RecordName>`: production's record is never touched, whatever
RecordName is given as.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from troposphere import If, Join, Output, Parameter, Ref, Sub, Tags, Template, route53

from relight.blueprint import NAMESPACED, Options, blueprint, namespace_parameter


class DnsOptions(Options):
    mode: Literal["failover", "cutover"] = "failover"
    failover_role: Literal["PRIMARY", "SECONDARY"] = "SECONDARY"
    health_check_protocol: Literal["HTTP", "HTTPS"] = "HTTPS"
    health_check_path: str = Field(default="/health", pattern=r"^/")
    health_check_interval: Literal[10, 30] = 30
    failure_threshold: int = Field(default=3, ge=1, le=10)
    record_type: Literal["A", "AAAA"] = "A"


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
        record.update(
            Failover=options.failover_role,
            SetIdentifier=Sub("${AWS::StackName}-${AWS::Region}"),
            HealthCheckId=Ref(check),
        )
        t.add_output(Output("HealthCheckId", Value=Ref(check)))
    t.add_resource(route53.RecordSetType("Record", **record))
    t.add_output(Output("RecordName", Value=record_name))
    return t
