"""app_tier: a security group and instances from an AMI, each with a data volume from a snapshot.

The AMI and the snapshot are CloudFormation Parameters filled by discovery, so
the template is the same for every failover; only the ids change.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator
from troposphere import Join, Output, Parameter, Ref, Select, Tags, Template, ec2

from relight.blueprint import Options, blueprint

ADMIN_PORTS = {22: "SSH", 3389: "RDP"}


class AppTierOptions(Options):
    instance_count: int = Field(default=2, ge=1, le=100)
    instance_type: str = Field(default="t3.micro", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    az_count: int = Field(default=2, ge=1, le=6, description="length of SubnetIds")
    app_port: int = Field(default=80, ge=1, le=65535)
    ingress_cidrs: list[str] = Field(default_factory=lambda: ["10.0.0.0/8"])
    root_device: str = Field(default="/dev/xvda", description="the AMI's root device name")
    root_volume_gb: int = Field(default=16, ge=8, le=16384)
    data_device: str = "/dev/sdf"
    delete_data_on_teardown: bool = Field(
        default=False, description="keep restored data volumes when the stack is deleted"
    )

    @field_validator("ingress_cidrs")
    @classmethod
    def _valid_cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a CIDR block ({exc})") from None
        return values

    @model_validator(mode="after")
    def _no_admin_port_open_to_world(self) -> AppTierOptions:
        world = {"0.0.0.0/0", "::/0"}
        if self.app_port in ADMIN_PORTS and world & set(self.ingress_cidrs):
            raise ValueError(
                f"app_port {self.app_port} ({ADMIN_PORTS[self.app_port]}) may not be open to "
                "the world; use Systems Manager Session Manager instead"
            )
        return self


@blueprint(
    "app_tier",
    sample={"instance_count": 3, "az_count": 3, "instance_type": "t3.small", "app_port": 8080},
)
def app_tier(options: AppTierOptions) -> Template:
    """Security group and instances from an AMI, with a data volume restored from a snapshot."""
    t = Template(Description="relight app tier: instances from an AMI with restored data volumes")
    image = t.add_parameter(
        Parameter("ImageId", Type="AWS::EC2::Image::Id", Description="AMI to launch from")
    )
    snapshot = t.add_parameter(
        Parameter(
            "DataSnapshotId",
            Type="String",
            AllowedPattern=r"^snap-[0-9a-f]+$",
            Description="EBS snapshot each instance's data volume is restored from",
        )
    )
    vpc = t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id"))
    subnets = t.add_parameter(
        Parameter(
            "SubnetIds",
            Type="List<AWS::EC2::Subnet::Id>",
            Description=f"{options.az_count} subnets, one per AZ; instances are spread over them",
        )
    )
    group = t.add_resource(
        ec2.SecurityGroup(
            "AppSecurityGroup",
            GroupDescription="relight app tier",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=options.app_port,
                    ToPort=options.app_port,
                    **{"CidrIpv6" if ":" in cidr else "CidrIp": cidr},
                    Description=f"application port from {cidr}",
                )
                for cidr in options.ingress_cidrs
            ],
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS out (package mirrors, AWS APIs)",
                )
            ],
            Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), "app"])),
        )
    )
    instances = []
    for index in range(options.instance_count):
        instances.append(
            t.add_resource(
                ec2.Instance(
                    f"Instance{index + 1}",
                    ImageId=Ref(image),
                    InstanceType=options.instance_type,
                    SubnetId=Select(index % options.az_count, Ref(subnets)),
                    SecurityGroupIds=[Ref(group)],
                    MetadataOptions=ec2.MetadataOptions(
                        HttpTokens="required", HttpEndpoint="enabled"
                    ),
                    BlockDeviceMappings=[
                        ec2.BlockDeviceMapping(
                            DeviceName=options.root_device,
                            Ebs=ec2.EbsBlockDevice(
                                VolumeType="gp3",
                                VolumeSize=options.root_volume_gb,
                                Encrypted=True,
                                DeleteOnTermination=True,
                            ),
                        ),
                        ec2.BlockDeviceMapping(
                            DeviceName=options.data_device,
                            Ebs=ec2.EbsBlockDevice(
                                SnapshotId=Ref(snapshot),
                                VolumeType="gp3",
                                Encrypted=True,
                                DeleteOnTermination=options.delete_data_on_teardown,
                            ),
                        ),
                    ],
                    Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), str(index + 1)])),
                )
            )
        )
    t.add_output(Output("SecurityGroupId", Value=Ref(group)))
    t.add_output(Output("InstanceIds", Value=Join(",", [Ref(i) for i in instances])))
    return t
