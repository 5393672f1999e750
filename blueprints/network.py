"""network: a VPC with public, private (app) and data tiers across 1-6 AZs.

The AZ names arrive as the `AvailabilityZones` Parameter, resolved by relight
from AZ IDs in the target region (never `Fn::GetAZs`, never assumed names).

CIDR plan: the VPC block is cut into four equal tier blocks (public, private,
data, and one spare for growth), and each tier block into eight AZ slots, so
a subnet's CIDR depends only on its tier and AZ position: adding an AZ or a
tier never renumbers the others. For a /16 that gives /21 subnets (2,043
usable addresses each). Explicit subnet CIDRs can be given instead; overlaps
and subnets outside the VPC are refused.

Routing: one route table per tier and AZ. Public subnets route to the internet
gateway; private subnets to a NAT gateway (`nat: single` shares the first
AZ's, `per-az` gives each AZ its own, `none` gives them no internet route);
data subnets never route to the internet. Gateway endpoints for S3 and
DynamoDB attach to every route table.

Flow logs (`flow_logs`) go to a log group named `/relight/flow-logs/<stack name>`,
delivered with the role given as the `FlowLogRoleArn` Parameter: the identity
stack's (blueprints/identity.py), made ahead of time, whose policy allows
writing under `/relight/flow-logs/`. This stack makes no IAM resource, since
IAM's control plane is in us-east-1, which a failover must not depend on.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator
from troposphere import GetAtt, Join, Output, Parameter, Ref, Select, Sub, Tags, Template, ec2
from troposphere import logs as cwlogs

from relight.blueprint import Options, blueprint, scan_skips

Tier = Literal["public", "private", "data"]
TIERS: tuple[Tier, ...] = ("public", "private", "data")
MAX_AZS = 6
SLOTS_PER_TIER = 8  # AZ slots reserved per tier block, so the plan is stable as AZs are added
SMALLEST_SUBNET = 28  # AWS refuses subnets smaller than /28
FLOW_LOG_GROUP = "/relight/flow-logs/${AWS::StackName}"  # identity's flow-log role writes here
ROLE_ARN = r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$"


class NetworkOptions(Options):
    cidr: str = Field(default="10.0.0.0/16", description="the VPC's IPv4 CIDR, /16 to /24")
    az_count: int = Field(default=2, ge=1, le=MAX_AZS, description="AZs to spread over")
    tiers: list[Tier] = Field(default_factory=lambda: list(TIERS))
    subnets: dict[Tier, list[str]] = Field(
        default_factory=dict, description="explicit subnet CIDRs per tier, one per AZ"
    )
    nat: Literal["none", "single", "per-az"] = "single"
    gateway_endpoints: list[Literal["s3", "dynamodb"]] = Field(default_factory=list)
    flow_logs: bool = Field(default=True, description="VPC flow logs to CloudWatch Logs")
    flow_log_retention_days: int = Field(default=365, ge=1)

    @field_validator("cidr")
    @classmethod
    def _valid_vpc_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not an IPv4 CIDR block like 10.0.0.0/16 ({exc})"
            ) from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value}: a VPC CIDR must be between /16 and /24 (AWS's limits)")
        return value

    @model_validator(mode="after")
    def _plan_fits(self) -> NetworkOptions:
        if "public" not in self.tiers and self.nat != "none":
            raise ValueError(f"nat: {self.nat} needs the public tier for its NAT gateways")
        if self.nat != "none" and "private" not in self.tiers:
            raise ValueError(f"nat: {self.nat} serves the private tier, which is not in tiers")
        plan = self.subnet_plan()  # raises on overlaps, strays and too-small blocks
        del plan
        return self

    def subnet_plan(self) -> dict[Tier, list[str]]:
        """tier → one CIDR per AZ; explicit subnets are checked, the rest computed."""
        vpc = ipaddress.IPv4Network(self.cidr)
        plan: dict[Tier, list[str]] = {}
        for index, tier in enumerate(TIERS):
            if tier not in self.tiers:
                continue
            if tier in self.subnets:
                plan[tier] = self.subnets[tier]
                continue
            slot_prefix = vpc.prefixlen + 2 + 3  # four tier blocks, eight AZ slots each
            if slot_prefix > SMALLEST_SUBNET:
                raise ValueError(
                    f"{self.cidr} is too small for the computed plan (/{slot_prefix} subnets; "
                    f"AWS's smallest is /{SMALLEST_SUBNET}): use a /23 or larger, or give "
                    "subnets explicitly"
                )
            block = list(vpc.subnets(prefixlen_diff=2))[index]
            slots = list(block.subnets(new_prefix=slot_prefix))
            plan[tier] = [str(s) for s in slots[: self.az_count]]
        self._check(vpc, plan)
        return plan

    def _check(self, vpc: ipaddress.IPv4Network, plan: dict[Tier, list[str]]) -> None:
        seen: list[tuple[str, ipaddress.IPv4Network]] = []
        for tier, cidrs in plan.items():
            if len(cidrs) != self.az_count:
                raise ValueError(
                    f"subnets.{tier}: {len(cidrs)} CIDR(s) given, az_count is {self.az_count}"
                )
            for cidr in cidrs:
                try:
                    net = ipaddress.IPv4Network(cidr, strict=True)
                except ValueError as exc:
                    raise ValueError(f"subnets.{tier}: {cidr!r} is not a CIDR ({exc})") from None
                if not net.subnet_of(vpc):
                    raise ValueError(f"subnets.{tier}: {cidr} is outside the VPC {self.cidr}")
                if net.prefixlen > SMALLEST_SUBNET:
                    raise ValueError(
                        f"subnets.{tier}: {cidr} is smaller than AWS's smallest subnet, "
                        f"/{SMALLEST_SUBNET}"
                    )
                for other_name, other in seen:
                    if net.overlaps(other):
                        raise ValueError(f"subnets.{tier}: {cidr} overlaps {other_name} {other}")
                seen.append((f"{tier}", net))


def _name(*parts: str) -> Join:
    return Join("-", [Ref("AWS::StackName"), *parts])


@blueprint(
    "network",
    sample={
        "cidr": "10.20.0.0/16",
        "az_count": 3,
        "nat": "per-az",
        "gateway_endpoints": ["s3", "dynamodb"],
    },
)
def network(options: NetworkOptions) -> Template:
    """VPC with public, private and data subnets per AZ, NAT, routes and gateway endpoints."""
    t = Template(Description="relight network: VPC, three subnet tiers, NAT, routes, endpoints")
    azs = t.add_parameter(
        Parameter(
            "AvailabilityZones",
            Type="CommaDelimitedList",
            Description=f"{options.az_count} AZ names, resolved from AZ IDs by relight",
        )
    )
    vpc = t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=options.cidr,
            EnableDnsSupport=True,
            EnableDnsHostnames=True,
            Tags=Tags(Name=Ref("AWS::StackName")),
        )
    )
    t.add_output(Output("VpcId", Value=Ref(vpc), Description="the VPC"))
    t.add_output(Output("VpcCidr", Value=options.cidr, Description="the VPC's CIDR block"))
    plan = options.subnet_plan()
    route_tables: dict[Tier, list[ec2.RouteTable]] = {}
    subnets: dict[Tier, list[ec2.Subnet]] = {}
    for tier, cidrs in plan.items():
        label = tier.capitalize()
        for az, cidr in enumerate(cidrs, start=1):
            subnet = t.add_resource(
                ec2.Subnet(
                    f"{label}Subnet{az}",
                    VpcId=Ref(vpc),
                    CidrBlock=cidr,
                    AvailabilityZone=Select(az - 1, Ref(azs)),
                    MapPublicIpOnLaunch=False,
                    Tags=Tags(Name=_name(tier, str(az)), Tier=tier),
                )
            )
            table = t.add_resource(
                ec2.RouteTable(
                    f"{label}RouteTable{az}", VpcId=Ref(vpc), Tags=Tags(Name=_name(tier, str(az)))
                )
            )
            t.add_resource(
                ec2.SubnetRouteTableAssociation(
                    f"{label}Subnet{az}Routes", SubnetId=Ref(subnet), RouteTableId=Ref(table)
                )
            )
            subnets.setdefault(tier, []).append(subnet)
            route_tables.setdefault(tier, []).append(table)
            t.add_output(Output(f"{label}RouteTable{az}Id", Value=Ref(table)))
        t.add_output(
            Output(
                f"{label}SubnetIds",
                Value=Join(",", [Ref(s) for s in subnets[tier]]),
                Description=f"{tier} subnets, in the order of AvailabilityZones",
            )
        )
        t.add_output(
            Output(f"{label}RouteTableIds", Value=Join(",", [Ref(r) for r in route_tables[tier]]))
        )

    if "public" in subnets:
        igw = t.add_resource(ec2.InternetGateway("InternetGateway", Tags=Tags(Name=_name("igw"))))
        attach = t.add_resource(
            ec2.VPCGatewayAttachment(
                "GatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)
            )
        )
        for az, table in enumerate(route_tables["public"], start=1):
            t.add_resource(
                ec2.Route(
                    f"PublicDefaultRoute{az}",
                    DependsOn=attach.title,
                    RouteTableId=Ref(table),
                    DestinationCidrBlock="0.0.0.0/0",
                    GatewayId=Ref(igw),
                )
            )
    if options.nat != "none":
        count = options.az_count if options.nat == "per-az" else 1
        nats = []
        for az in range(1, count + 1):
            # Both need the internet gateway attached first (Gateway.NotAttached otherwise),
            # and neither refers to the attachment: the order is declared.
            eip = t.add_resource(
                ec2.EIP(
                    f"NatAddress{az}",
                    DependsOn=attach.title,
                    Domain="vpc",
                    Tags=Tags(Name=_name("nat", str(az))),
                )
            )
            nats.append(
                t.add_resource(
                    ec2.NatGateway(
                        f"NatGateway{az}",
                        DependsOn=attach.title,
                        AllocationId=GetAtt(eip, "AllocationId"),
                        SubnetId=Ref(subnets["public"][az - 1]),
                        Tags=Tags(Name=_name("nat", str(az))),
                    )
                )
            )
        for az, table in enumerate(route_tables["private"], start=1):
            nat = nats[az - 1] if options.nat == "per-az" else nats[0]
            t.add_resource(
                ec2.Route(
                    f"PrivateDefaultRoute{az}",
                    RouteTableId=Ref(table),
                    DestinationCidrBlock="0.0.0.0/0",
                    NatGatewayId=Ref(nat),
                )
            )
        t.add_output(Output("NatGatewayIds", Value=Join(",", [Ref(n) for n in nats])))

    every_table = [Ref(table) for tables in route_tables.values() for table in tables]
    for service in options.gateway_endpoints:
        t.add_resource(
            ec2.VPCEndpoint(
                f"{'S3' if service == 's3' else 'DynamoDb'}Endpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Gateway",
                RouteTableIds=every_table,
            )
        )

    if options.flow_logs:
        role = t.add_parameter(
            Parameter(
                "FlowLogRoleArn",
                Type="String",
                AllowedPattern=ROLE_ARN,
                Description="the role flow logs deliver with, from the identity stack (made "
                "ahead of time: a failover creates no IAM resource)",
            )
        )
        log_group = t.add_resource(
            cwlogs.LogGroup(
                "FlowLogGroup",
                LogGroupName=Sub(FLOW_LOG_GROUP),
                RetentionInDays=options.flow_log_retention_days,
                Metadata=scan_skips(
                    {
                        "CKV_AWS_158": "flow logs are encrypted by CloudWatch Logs' own key; "
                        "a customer key is a choice for the account, not the network"
                    }
                ),
            )
        )
        t.add_resource(
            ec2.FlowLog(
                "FlowLog",
                ResourceId=Ref(vpc),
                ResourceType="VPC",
                TrafficType="ALL",
                LogDestinationType="cloud-watch-logs",
                LogGroupName=Ref(log_group),
                DeliverLogsPermissionArn=Ref(role),
            )
        )
    return t
