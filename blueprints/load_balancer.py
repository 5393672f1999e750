"""load_balancer: an ALB (or NLB) across the public subnets, with a target group and listeners.

With a `CertificateArn`, an HTTPS listener (TLS 1.3 policy) serves the
traffic and the HTTP listener redirects to it; without one, HTTP forwards to
the target group. The certificate is a Parameter, so one template serves
both. Deletion protection follows relight's purpose: on for a failover, off
for a drill or a test copy. ALBs drop invalid header fields. The target group's
health check is the options' (protocol, port, path, interval, timeout, thresholds, matcher),
each refused when Elastic Load Balancing would refuse it (docs/aws-behaviours.md, L5, L6).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from troposphere import (
    GetAtt,
    If,
    Output,
    Parameter,
    Ref,
    Select,
    Tags,
    Template,
)
from troposphere import elasticloadbalancingv2 as elb

from relight.blueprint import (
    PROTECTED,
    Options,
    blueprint,
    optional_parameter,
    purpose_parameter,
    scan_skips,
)

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
PLAIN_HTTP = (
    "this HTTP listener redirects to HTTPS whenever CertificateArn is given; "
    "without a certificate the environment serves HTTP by choice"
)


# The HTTP codes a target group's matcher may hold (ELB API Reference, Matcher): an ALB's
# (HTTP/HTTPS target group) 200-499, an NLB's (TCP/TLS target group) 200-599.
MATCHER_RANGES = {"application": (200, 499), "network": (200, 599)}
DEFAULT_MATCHER = "200-399"


def default_timeout(kind: str) -> int:
    """AWS's health check timeout when none is given (CreateTargetGroup): 6 s for an HTTP
    target group (an ALB's), 10 s for a TCP one (an NLB's)."""
    return 6 if kind == "application" else 10


def _codes_within(matcher: str, low: int, high: int) -> bool:
    """`matcher` is "200", "200,202" or "200-299" (or a list of codes and ranges), every code
    between `low` and `high`."""
    for part in matcher.split(","):
        found = re.fullmatch(r"(\d{3})(?:-(\d{3}))?", part)
        if found is None:
            return False
        first, last = int(found[1]), int(found[2] or found[1])
        if not low <= first <= last <= high:
            return False
    return True


class LoadBalancerOptions(Options):
    type: Literal["application", "network"] = "application"
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    target_port: int = Field(default=8080, ge=1, le=65535)
    target_type: Literal["instance", "ip"] = "instance"
    health_check_path: str = Field(default="/health", pattern=r"^/")
    health_check_interval: int = Field(default=15, ge=5, le=300)
    # None: HTTP for an ALB, TCP for an NLB (the target group's own protocol)
    health_check_protocol: Literal["HTTP", "HTTPS", "TCP"] | None = None
    health_check_port: str = Field(default="traffic-port", pattern=r"^(traffic-port|[1-9][0-9]*)$")
    # None: AWS's default for the check (the target group's protocol decides it)
    health_check_timeout: int | None = Field(default=None, ge=2, le=120, validate_default=True)
    healthy_threshold: int = Field(default=3, ge=2, le=10)
    unhealthy_threshold: int = Field(default=3, ge=2, le=10)
    # HTTP codes a healthy target answers with; None: 200-399 for an HTTP(S) check
    health_check_matcher: str | None = Field(default=None, validate_default=True)
    deregistration_delay: int = Field(default=30, ge=0, le=3600)
    idle_timeout: int = Field(default=60, ge=1, le=4000)
    target_instance_count: int = Field(
        default=0, ge=0, le=100, description="fixed instances to register (TargetInstanceIds)"
    )

    @field_validator("health_check_protocol")
    @classmethod
    def _protocol_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "TCP" and info.data.get("type") == "application":
            raise ValueError(
                "an Application Load Balancer's target group (HTTP) takes an HTTP or HTTPS "
                'health check, not TCP (ELB: "The TCP protocol is not supported for health '
                'checks if the protocol of the target group is HTTP or HTTPS"): write HTTP or HTTPS'
            )
        return value

    @field_validator("health_check_port")
    @classmethod
    def _port_in_range(cls, value: str) -> str:
        if value != "traffic-port" and not 1 <= int(value) <= 65535:
            raise ValueError(f"{value} is not a port (1-65535) or traffic-port")
        return value

    @field_validator("health_check_timeout")
    @classmethod
    def _timeout_below_interval(cls, value: int | None, info: ValidationInfo) -> int | None:
        interval = info.data.get("health_check_interval")
        if interval is None:
            return value  # the interval itself was refused
        if value is None:
            default = default_timeout(info.data.get("type", "application"))
            if interval <= default:
                raise ValueError(
                    f"health_check_interval {interval} is not above AWS's default timeout for "
                    f'this target group ({default} s), and ELB refuses that ("Health check '
                    'interval must be greater than the timeout"): give health_check_timeout '
                    f"below {interval}, or a longer interval"
                )
        elif value >= interval:
            raise ValueError(
                f"{value} is not below health_check_interval {interval}, and ELB refuses that "
                '("Health check interval must be greater than the timeout"): give a timeout '
                f"below {interval}, or a longer interval"
            )
        return value

    @field_validator("health_check_matcher")
    @classmethod
    def _matcher_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type", "application")
        check = info.data.get("health_check_protocol") or (
            "HTTP" if kind == "application" else "TCP"
        )
        if check == "TCP":
            if value is not None:
                raise ValueError(
                    'a TCP health check takes no matcher (ELB: "Health check matchers are not '
                    'supported for TCP health checks"): remove it, or set health_check_protocol '
                    "to HTTP or HTTPS"
                )
            return None
        low, high = MATCHER_RANGES[kind]
        if value is not None and not _codes_within(value, low, high):
            raise ValueError(
                f"{value!r} is not HTTP codes between {low} and {high}, which a"
                f"{'n Application' if kind == 'application' else ' Network'} Load Balancer's "
                'target group takes: one code ("200"), a list ("200,202") or a range ("200-299")'
            )
        return value

    def fewest_zones(self) -> tuple[int, str] | None:
        if self.type != "application":
            return None  # a network load balancer takes subnets from one or more zones
        return 2, (
            "an Application Load Balancer takes subnets from at least two Availability Zones "
            '(CreateLoadBalancer: "You must specify subnets from at least two Availability '
            'Zones"; ELB refuses fewer)'
        )


@blueprint("load_balancer", sample={"type": "application", "target_port": 8080})
def load_balancer(options: LoadBalancerOptions) -> Template:
    """ALB or NLB across the public subnets, target group with health checks, HTTP(S) listeners."""
    alb = options.type == "application"
    t = Template(Description=f"relight {options.type} load balancer")
    purpose_parameter(t)
    vpc = t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id"))
    subnets = t.add_parameter(
        Parameter("SubnetIds", Type="List<AWS::EC2::Subnet::Id>", Description="public subnets")
    )
    group = t.add_parameter(
        Parameter("SecurityGroupId", Type="AWS::EC2::SecurityGroup::Id", Description="the LB's")
    )
    certificate = optional_parameter(
        t,
        "CertificateArn",
        "HasCertificate",
        "ACM certificate in the target region; empty for HTTP only",
    )
    logs_bucket = optional_parameter(
        t, "AccessLogsBucket", "HasAccessLogs", "S3 bucket for access logs; empty for none"
    )

    attributes: list[object] = [
        elb.LoadBalancerAttributes(
            Key="deletion_protection.enabled", Value=If(PROTECTED, "true", "false")
        ),
        elb.LoadBalancerAttributes(
            Key="access_logs.s3.enabled", Value=If("HasAccessLogs", "true", "false")
        ),
        # ELB refuses an empty bucket name: the attribute exists only when logs are on.
        If(
            "HasAccessLogs",
            elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=Ref(logs_bucket)),
            Ref("AWS::NoValue"),
        ),
    ]
    if alb:
        attributes += [
            elb.LoadBalancerAttributes(
                Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
            ),
            elb.LoadBalancerAttributes(
                Key="idle_timeout.timeout_seconds", Value=str(options.idle_timeout)
            ),
        ]
    balancer = t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Type=options.type,
            Scheme=options.scheme,
            Subnets=Ref(subnets),
            SecurityGroups=[Ref(group)],
            LoadBalancerAttributes=attributes,
            Tags=Tags(Name=Ref("AWS::StackName")),
            Metadata=scan_skips(
                {
                    "CKV_AWS_91": "access logs are on whenever AccessLogsBucket is given; "
                    "the log bucket is the account's choice"
                }
            ),
        )
    )
    target_protocol = "HTTP" if alb else "TCP"
    ids = None
    if options.target_instance_count:
        ids = t.add_parameter(
            Parameter(
                "TargetInstanceIds",
                Type="CommaDelimitedList",
                Description=f"{options.target_instance_count} instance ids to register",
            )
        )
    check = options.health_check_protocol or target_protocol
    group_props: dict[str, object] = {
        "VpcId": Ref(vpc),
        "Port": options.target_port,
        "Protocol": target_protocol,
        "TargetType": options.target_type,
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": check,
        "HealthCheckIntervalSeconds": options.health_check_interval,
        "HealthyThresholdCount": options.healthy_threshold,
        "UnhealthyThresholdCount": options.unhealthy_threshold,
        "TargetGroupAttributes": [
            elb.TargetGroupAttribute(
                Key="deregistration_delay.timeout_seconds", Value=str(options.deregistration_delay)
            )
        ],
    }
    if options.health_check_timeout is not None:
        group_props["HealthCheckTimeoutSeconds"] = options.health_check_timeout
    if options.health_check_port != "traffic-port":
        group_props["HealthCheckPort"] = options.health_check_port
    if check != "TCP":
        group_props["HealthCheckPath"] = options.health_check_path
        group_props["Matcher"] = elb.Matcher(
            HttpCode=options.health_check_matcher or DEFAULT_MATCHER
        )
    if ids is not None:
        group_props["Targets"] = [
            elb.TargetDescription(Id=Select(i, Ref(ids)))
            for i in range(options.target_instance_count)
        ]
    targets = t.add_resource(elb.TargetGroup("TargetGroup", **group_props))
    forward = elb.Action(Type="forward", TargetGroupArn=Ref(targets))
    if alb:
        redirect = elb.Action(
            Type="redirect",
            RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
        )
        plain = t.add_resource(
            elb.Listener(
                "HttpListener",
                LoadBalancerArn=Ref(balancer),
                Port=80,
                Protocol="HTTP",
                DefaultActions=[If("HasCertificate", redirect, forward)],
                Metadata=scan_skips(dict.fromkeys(("CKV_AWS_2", "CKV_AWS_103"), PLAIN_HTTP)),
            )
        )
    else:
        plain = t.add_resource(
            elb.Listener(
                "TcpListener",
                LoadBalancerArn=Ref(balancer),
                Port=80,
                Protocol="TCP",
                DefaultActions=[forward],
            )
        )
    t.add_resource(
        elb.Listener(
            "HttpsListener",
            Condition="HasCertificate",
            LoadBalancerArn=Ref(balancer),
            Port=443,
            Protocol="HTTPS" if alb else "TLS",
            SslPolicy=TLS_POLICY,
            Certificates=[elb.Certificate(CertificateArn=Ref(certificate))],
            DefaultActions=[forward],
        )
    )
    t.add_output(Output("LoadBalancerArn", Value=Ref(balancer)))
    t.add_output(Output("DNSName", Value=GetAtt(balancer, "DNSName")))
    t.add_output(Output("CanonicalHostedZoneId", Value=GetAtt(balancer, "CanonicalHostedZoneID")))
    t.add_output(Output("TargetGroupArn", Value=Ref(targets)))
    t.add_output(Output("ListenerArn", Value=Ref(plain)))
    return t
