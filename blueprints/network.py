"""network: a VPC with one public subnet per availability zone, an internet gateway and routes.

The AZ names arrive as the `AvailabilityZones` Parameter, resolved by relight
from AZ IDs in the target region (never `Fn::GetAZs`, never assumed names).
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator
from troposphere import Join, Output, Parameter, Ref, Select, Tags, Template, ec2

from relight.blueprint import Options, blueprint


class NetworkOptions(Options):
    cidr: str = Field(default="10.0.0.0/16", description="the VPC's IPv4 CIDR, /16 to /24")
    az_count: int = Field(default=2, ge=1, le=6, description="subnets to make, one per AZ")
    subnet_prefix: int = Field(default=24, ge=16, le=28, description="prefix length per subnet")

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
    def _subnets_fit(self) -> NetworkOptions:
        vpc = ipaddress.IPv4Network(self.cidr)
        if self.subnet_prefix < vpc.prefixlen:
            raise ValueError(
                f"subnet_prefix /{self.subnet_prefix} is larger than the VPC {self.cidr}"
            )
        room = 2 ** (self.subnet_prefix - vpc.prefixlen)
        if room < self.az_count:
            raise ValueError(
                f"{self.cidr} holds only {room} subnet(s) of /{self.subnet_prefix}, "
                f"{self.az_count} needed; use a larger cidr or a longer subnet_prefix"
            )
        return self

    def subnet_cidrs(self) -> list[str]:
        subnets = ipaddress.IPv4Network(self.cidr).subnets(new_prefix=self.subnet_prefix)
        return [str(next(subnets)) for _ in range(self.az_count)]


@blueprint("network", sample={"cidr": "10.20.0.0/16", "az_count": 3})
def network(options: NetworkOptions) -> Template:
    """VPC, public subnets across AZs passed in by name, internet gateway and routes."""
    t = Template(Description="relight network: VPC, public subnets, internet gateway, routes")
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
    igw = t.add_resource(ec2.InternetGateway("InternetGateway"))
    attach = t.add_resource(
        ec2.VPCGatewayAttachment("GatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw))
    )
    public_rt = t.add_resource(
        ec2.RouteTable(
            "PublicRouteTable",
            VpcId=Ref(vpc),
            Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), "public"])),
        )
    )
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=attach.title,
            RouteTableId=Ref(public_rt),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        )
    )
    subnets = []
    for index, cidr in enumerate(options.subnet_cidrs()):
        subnet = t.add_resource(
            ec2.Subnet(
                f"PublicSubnet{index + 1}",
                VpcId=Ref(vpc),
                CidrBlock=cidr,
                AvailabilityZone=Select(index, Ref(azs)),
                MapPublicIpOnLaunch=False,
                Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), f"public-{index + 1}"])),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{index + 1}Routes", SubnetId=Ref(subnet), RouteTableId=Ref(public_rt)
            )
        )
        subnets.append(subnet)

    t.add_output(Output("VpcId", Value=Ref(vpc), Description="the VPC"))
    t.add_output(Output("VpcCidr", Value=options.cidr, Description="the VPC's CIDR block"))
    t.add_output(
        Output(
            "PublicSubnetIds",
            Value=Join(",", [Ref(s) for s in subnets]),
            Description="public subnets, in the order of AvailabilityZones",
        )
    )
    t.add_output(Output("PublicRouteTableId", Value=Ref(public_rt)))
    return t
