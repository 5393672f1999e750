"""The network's subnets and network ACLs as AWS plays them under CloudFormation, where moto
5.2.5 does not (see extensions/__init__.py).

Measured against moto 5.2.5 with the network blueprint's own template, before these additions:

- an `AWS::EC2::Subnet` ignored `MapPublicIpOnLaunch`: every subnet reported false;
- `AWS::EC2::NetworkAcl`, `AWS::EC2::NetworkAclEntry` and `AWS::EC2::SubnetNetworkAclAssociation`
  were skipped with a warning: every subnet stayed on the VPC's default NACL, which allows all.

As in extensions/ec2.py, each addition subclasses moto's model (or `CloudFormationModel`) and
lists `CloudFormationModel` among its bases, so moto's CloudFormation finds it.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ec2.models.network_acls import NetworkAcl
from moto.ec2.models.subnets import Subnet
from moto.ec2.utils import random_network_acl_id

from relight.standin.extensions.common import template_flag as _flag


def _backend(account_id: str, region_name: str) -> Any:
    return ec2_backends[account_id][region_name]


class StandInSubnet(Subnet, CloudFormationModel):
    """AWS::EC2::Subnet with `MapPublicIpOnLaunch`: whether instances launched in the subnet
    receive a public IPv4 address (docs/aws-behaviours.md E32).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-subnet.html
    moto's model makes the subnet without it. Written against moto 5.2.5."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Subnet:
        subnet: Subnet = super().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        maps = cloudformation_json["Properties"].get("MapPublicIpOnLaunch", False)
        subnet.map_public_ip_on_launch = _flag(maps)
        return subnet


class StandInNetworkAcl(NetworkAcl, CloudFormationModel):
    """AWS::EC2::NetworkAcl: a NACL in the VPC, with no rule of its own (AWS's `*` rule denies
    everything until entries are added: E31); `Ref` gives its ID.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-networkacl.html
    moto 5.2.5 has no CloudFormation model for it. Written against moto 5.2.5."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::NetworkAcl"

    @property
    def physical_resource_id(self) -> str:
        return str(self.id)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StandInNetworkAcl:
        properties = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        backend.get_vpc(properties["VpcId"])  # InvalidVpcID.NotFound, as AWS answers
        acl = cls(backend, random_network_acl_id(), properties["VpcId"])
        for tag in properties.get("Tags", []):
            acl.add_tag(tag["Key"], tag["Value"])
        backend.network_acls[acl.id] = acl  # the backend's own, so describe calls list it
        return acl

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).network_acls.pop(self.id, None)


class StandInNetworkAclEntry(CloudFormationModel):
    """AWS::EC2::NetworkAclEntry: one numbered rule of a NACL, ingress or egress (E30); deleting
    the resource removes the rule.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-networkaclentry.html
    moto 5.2.5 has no CloudFormation model for it. Written against moto 5.2.5."""

    def __init__(self, acl_id: str, rule_number: int, egress: bool) -> None:
        self.acl_id, self.rule_number, self.egress = acl_id, rule_number, egress

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::NetworkAclEntry"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.acl_id}-{'egress' if self.egress else 'ingress'}-{self.rule_number}"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StandInNetworkAclEntry:
        p = cloudformation_json["Properties"]
        ports, icmp = p.get("PortRange") or {}, p.get("Icmp") or {}
        egress = _flag(p.get("Egress", False))
        _backend(account_id, region_name).create_network_acl_entry(
            network_acl_id=p["NetworkAclId"],
            rule_number=int(p["RuleNumber"]),
            protocol=str(p["Protocol"]),
            rule_action=p["RuleAction"],
            egress=egress,
            cidr_block=p.get("CidrBlock"),
            icmp_code=icmp.get("Code"),
            icmp_type=icmp.get("Type"),
            port_range_from=ports.get("From"),
            port_range_to=ports.get("To"),
            ipv6_cidr_block=p.get("Ipv6CidrBlock"),
        )
        return cls(p["NetworkAclId"], int(p["RuleNumber"]), egress)

    def delete(self, account_id: str, region_name: str) -> None:
        acl = _backend(account_id, region_name).network_acls.get(self.acl_id)
        if acl is not None:
            acl.network_acl_entries = [
                e
                for e in acl.network_acl_entries
                if (e.rule_number, e.egress) != (self.rule_number, self.egress)
            ]


class StandInSubnetNetworkAclAssociation(CloudFormationModel):
    """AWS::EC2::SubnetNetworkAclAssociation: the subnet leaves the NACL it was on (a subnet is
    on exactly one: E31) for this one; `Ref` gives the association's ID; deleting it puts the
    subnet back on the VPC's default NACL.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-subnetnetworkaclassociation.html
    moto 5.2.5 has no CloudFormation model for it. Written against moto 5.2.5."""

    def __init__(self, association_id: str, subnet_id: str) -> None:
        self.association_id, self.subnet_id = association_id, subnet_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SubnetNetworkAclAssociation"

    @property
    def physical_resource_id(self) -> str:
        return self.association_id

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StandInSubnetNetworkAclAssociation:
        p = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        current = next(
            key
            for acl in backend.network_acls.values()
            for key, association in acl._associations.items()
            if association.subnet_id == p["SubnetId"]
        )
        made = backend.replace_network_acl_association(current, p["NetworkAclId"])
        return cls(made.id, p["SubnetId"])

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        for acl in backend.network_acls.values():
            if acl._associations.pop(self.association_id, None) is not None:
                backend.associate_default_network_acl_with_subnet(self.subnet_id, acl.vpc_id)
                return


def install() -> None:
    """Have moto's CloudFormation look its resource types up again, so the models above are
    found even where a template was parsed before."""
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
