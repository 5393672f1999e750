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
DynamoDB attach to every route table, or to the route tables of the tiers
`endpoint_tiers` names for the service.

Subnets map a public IPv4 address at launch only in the tiers
`public_ip_on_launch` names (none by default).

Network ACLs: a tier named in `network_acls` gets a NACL of its own, with
exactly the rules given (AWS evaluates them lowest number first; a packet no
rule matches is denied), associated with every subnet of the tier; the other
tiers keep the VPC's default NACL, which allows all traffic.

Flow logs (`flow_logs`) go to a log group named `/relight/flow-logs/<stack name>`,
delivered with the role given as the `FlowLogRoleArn` Parameter: the identity
stack's (blueprints/identity.py), made ahead of time, whose policy allows
writing under `/relight/flow-logs/`. This stack makes no IAM resource, since
IAM's control plane is in us-east-1, which a failover must not depend on.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Literal

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
Service = Literal["s3", "dynamodb"]
# NACL protocols by name; any other IANA protocol number (0-255) is given as a number.
PROTOCOLS = {"all": -1, "-1": -1, "icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
PORTED = (6, 17)  # AWS::EC2::NetworkAclEntry: PortRange is required for TCP and UDP
Port = Annotated[int, Field(ge=0, le=65535)]
IcmpValue = Annotated[int, Field(ge=-1, le=255)]


class AclRule(Options):
    """One NACL entry: `{rule: 100, protocol: tcp, action: allow, cidr: 0.0.0.0/0, port: 443}`."""

    rule: int = Field(ge=1, le=32766, description="rule number; AWS evaluates lowest first")
    protocol: str | int = Field(description="all, tcp, udp, icmp, icmpv6 or a number 0-255")
    action: Literal["allow", "deny"]
    cidr: str | None = Field(default=None, description="an IPv4 CIDR block")
    ipv6_cidr: str | None = Field(default=None, description="an IPv6 CIDR block")
    port: Port | None = None
    port_range: tuple[Port, Port] | None = None
    icmp_type: IcmpValue | None = Field(default=None, description="-1 for every type")
    icmp_code: IcmpValue | None = Field(default=None, description="-1 for every code")

    @model_validator(mode="after")
    def _whole(self) -> AclRule:
        number = self.number()  # raises on an unknown protocol
        self._one_block()
        ports = sum(x is not None for x in (self.port, self.port_range))
        if number in PORTED and ports != 1:
            raise ValueError(
                f"protocol {self.protocol} needs the ports it applies to: give port or "
                "port_range (AWS requires a port range for TCP and UDP)"
            )
        if number not in PORTED and ports:
            raise ValueError(
                f"protocol {self.protocol} has no ports: remove port/port_range (only tcp and "
                "udp take them)"
            )
        if self.port_range is not None and self.port_range[0] > self.port_range[1]:
            low, high = self.port_range
            raise ValueError(f"port_range [{low}, {high}]: the low end is above the high end")
        icmp = [x for x in (self.icmp_type, self.icmp_code) if x is not None]
        if (number == 1 and len(icmp) != 2) or (number == 58 and len(icmp) == 1):
            raise ValueError(
                f"protocol {self.protocol} needs icmp_type and icmp_code (-1 for all; AWS "
                "requires them for icmp)"
            )
        if number not in (1, 58) and icmp:
            raise ValueError(
                f"protocol {self.protocol} has no ICMP type or code: remove icmp_type/icmp_code"
            )
        return self

    def _one_block(self) -> None:
        if (self.cidr is None) == (self.ipv6_cidr is None):
            raise ValueError("a rule names exactly one of cidr (IPv4) or ipv6_cidr (IPv6)")
        key, kind = ("cidr", IPv4Network) if self.cidr else ("ipv6_cidr", IPv6Network)
        try:
            kind(getattr(self, key), strict=True)
        except ValueError as exc:
            block = getattr(self, key)
            raise ValueError(
                f"{key} {block!r} is not an {kind.__name__[:4]} CIDR ({exc})"
            ) from None

    def number(self) -> int:
        """The protocol as CloudFormation takes it: a number, -1 for all."""
        text = str(self.protocol).strip().lower()
        if text in PROTOCOLS:
            return PROTOCOLS[text]
        if text.isdigit() and 0 <= int(text) <= 255:
            return int(text)
        raise ValueError(
            f"protocol {self.protocol!r} is not one of all, tcp, udp, icmp, icmpv6 or an "
            "IANA protocol number 0-255"
        )


class TierAcl(Options):
    ingress: list[AclRule] = Field(default_factory=list)
    egress: list[AclRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_numbers(self) -> TierAcl:
        for direction in ("ingress", "egress"):
            seen: set[int] = set()
            for index, rule in enumerate(getattr(self, direction)):
                if rule.rule in seen:
                    raise ValueError(
                        f"{direction}.{index}: rule number {rule.rule} is used twice in "
                        f"{direction} (AWS takes each number once per direction): renumber one"
                    )
                seen.add(rule.rule)
        return self


class NetworkOptions(Options):
    cidr: str = Field(default="10.0.0.0/16", description="the VPC's IPv4 CIDR, /16 to /24")
    az_count: int = Field(default=2, ge=1, le=MAX_AZS, description="AZs to spread over")
    tiers: list[Tier] = Field(default_factory=lambda: list(TIERS))
    subnets: dict[Tier, list[str]] = Field(
        default_factory=dict, description="explicit subnet CIDRs per tier, one per AZ"
    )
    nat: Literal["none", "single", "per-az"] = "single"
    gateway_endpoints: list[Service] = Field(default_factory=list)
    endpoint_tiers: dict[Service, list[Tier]] = Field(
        default_factory=dict,
        description="the tiers whose route tables a gateway endpoint is on (default: every tier)",
    )
    public_ip_on_launch: list[Tier] = Field(
        default_factory=list, description="tiers whose subnets map a public IPv4 at launch"
    )
    network_acls: dict[Tier, TierAcl] = Field(
        default_factory=dict, description="a NACL of its own per tier (default: the VPC's)"
    )
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
        self._tiers_named()
        return self

    def _tiers_named(self) -> None:
        named = {
            "public_ip_on_launch": list(self.public_ip_on_launch),
            "network_acls": list(self.network_acls),
            **{f"endpoint_tiers.{s}": list(t) for s, t in self.endpoint_tiers.items()},
        }
        for key, tiers in named.items():
            missing = [t for t in tiers if t not in self.tiers]
            if missing:
                raise ValueError(
                    f"{key}: {', '.join(missing)} is not in tiers ({', '.join(self.tiers)})"
                )
        for service, tiers in self.endpoint_tiers.items():
            if service not in self.gateway_endpoints:
                raise ValueError(
                    f"endpoint_tiers.{service}: no {service} gateway endpoint; add {service} to "
                    "gateway_endpoints or remove the key"
                )
            if not tiers:
                raise ValueError(
                    f"endpoint_tiers.{service}: name at least one tier, or remove {service} "
                    "from gateway_endpoints"
                )

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
                    MapPublicIpOnLaunch=tier in options.public_ip_on_launch,
                    Tags=Tags(Name=_name(tier, str(az)), Tier=tier),
                    **_public_ip_reason(tier in options.public_ip_on_launch),
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

    _network_acls(t, options, vpc, subnets)
    for service in options.gateway_endpoints:
        served = options.endpoint_tiers.get(service, list(route_tables))
        t.add_resource(
            ec2.VPCEndpoint(
                f"{'S3' if service == 's3' else 'DynamoDb'}Endpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Gateway",
                RouteTableIds=[
                    Ref(r) for tier in route_tables if tier in served for r in route_tables[tier]
                ],
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


def _public_ip_reason(maps: bool) -> dict[str, object]:
    if not maps:
        return {}
    return {
        "Metadata": scan_skips(
            {"CKV_AWS_130": "public_ip_on_launch: production's subnets of this tier map one"}
        )
    }


def _network_acls(
    t: Template, options: NetworkOptions, vpc: ec2.VPC, subnets: dict[Tier, list[ec2.Subnet]]
) -> None:
    """A NACL per tier in `network_acls`, its entries, and its subnets' associations."""
    for tier, acl in options.network_acls.items():
        label = tier.capitalize()
        nacl = t.add_resource(
            ec2.NetworkAcl(f"{label}NetworkAcl", VpcId=Ref(vpc), Tags=Tags(Name=_name(tier)))
        )
        for egress, rules in ((False, acl.ingress), (True, acl.egress)):
            for rule in sorted(rules, key=lambda r: r.rule):
                t.add_resource(
                    _entry(f"{label}Acl{'Out' if egress else 'In'}{rule.rule}", nacl, rule, egress)
                )
        for az, subnet in enumerate(subnets[tier], start=1):
            t.add_resource(
                ec2.SubnetNetworkAclAssociation(
                    f"{label}Subnet{az}Acl", SubnetId=Ref(subnet), NetworkAclId=Ref(nacl)
                )
            )
        t.add_output(Output(f"{label}NetworkAclId", Value=Ref(nacl)))


def _entry(title: str, nacl: ec2.NetworkAcl, rule: AclRule, egress: bool) -> ec2.NetworkAclEntry:
    extra: dict[str, object] = {}
    if rule.cidr is not None:
        extra["CidrBlock"] = rule.cidr
    else:
        extra["Ipv6CidrBlock"] = rule.ipv6_cidr
    low_high = (rule.port, rule.port) if rule.port is not None else rule.port_range
    if low_high is not None:
        extra["PortRange"] = ec2.PortRange(From=low_high[0], To=low_high[1])
    if rule.icmp_type is not None and rule.icmp_code is not None:
        extra["Icmp"] = ec2.ICMP(Type=rule.icmp_type, Code=rule.icmp_code)
    return ec2.NetworkAclEntry(
        title,
        NetworkAclId=Ref(nacl),
        RuleNumber=rule.rule,
        Protocol=rule.number(),
        RuleAction=rule.action,
        Egress=egress,
        **extra,
    )
