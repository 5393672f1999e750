"""load_balancer: an ALB (or NLB) across the public subnets, with a target group and listeners.

With a `CertificateArn`, an HTTPS listener (TLS 1.3 policy) serves the
traffic and the HTTP listener redirects to it; without one, HTTP forwards to
the target group. The certificate is a Parameter, so one template serves
both. Deletion protection follows relight's purpose: on for a failover, off
for a drill or a test copy. ALBs drop invalid header fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
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


class LoadBalancerOptions(Options):
    type: Literal["application", "network"] = "application"
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    target_port: int = Field(default=8080, ge=1, le=65535)
    target_type: Literal["instance", "ip"] = "instance"
    health_check_path: str = Field(default="/health", pattern=r"^/")
    health_check_interval: int = Field(default=15, ge=5, le=300)
    deregistration_delay: int = Field(default=30, ge=0, le=3600)
    idle_timeout: int = Field(default=60, ge=1, le=4000)
    target_instance_count: int = Field(
        default=0, ge=0, le=100, description="fixed instances to register (TargetInstanceIds)"
    )

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
    group_props: dict[str, object] = {
        "VpcId": Ref(vpc),
        "Port": options.target_port,
        "Protocol": target_protocol,
        "TargetType": options.target_type,
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": target_protocol,
        "HealthCheckIntervalSeconds": options.health_check_interval,
        "HealthyThresholdCount": 3,
        "UnhealthyThresholdCount": 3,
        "TargetGroupAttributes": [
            elb.TargetGroupAttribute(
                Key="deregistration_delay.timeout_seconds", Value=str(options.deregistration_delay)
            )
        ],
    }
    if alb:
        group_props["HealthCheckPath"] = options.health_check_path
        group_props["Matcher"] = elb.Matcher(HttpCode="200-399")
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
