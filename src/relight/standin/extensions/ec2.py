"""EC2 and Auto Scaling as AWS plays them, where moto 5.2.5 does not (see extensions/__init__.py).

What was measured against moto 5.2.5 with the blueprints' own templates (compute in both
modes, network, security), before these additions:

- fixed instances (`AWS::EC2::Instance`) got no security group: `SecurityGroupIds` was ignored;
- every instance reported `HttpTokens: optional`, whatever `MetadataOptions` the instance or its
  launch template declared;
- an Auto Scaling group put every instance in the first subnet of `VPCZoneIdentifier`;
- a security group kept AWS's default allow-all egress next to the egress it declared, and an
  `AWS::EC2::SecurityGroupEgress` resource was skipped with a warning;
- DescribeRouteTables listed no association made by `AWS::EC2::SubnetRouteTableAssociation`;
- an `AWS::EC2::Volume` ignored `SnapshotId`, `VolumeType`, `Iops`, `Encrypted` and `KmsKeyId`.

Already right, and left alone: block devices of instances and launch templates (the data volume
restored from its `SnapshotId`, gp3, encrypted with the given or the account's default key);
the security groups of Auto Scaling instances (from the launch template); fixed instances'
subnets (each its own `SubnetId`).

Each CloudFormation addition below subclasses moto's model and lists `CloudFormationModel` among
its bases, so defining it (importing this module) is what makes moto's CloudFormation find it;
`install()` patches the two backend functions and makes moto build its resource map afresh.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup, InstanceState
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import Volume
from moto.ec2.models.instances import Instance, InstanceBackend
from moto.ec2.models.security_groups import SecurityGroup
from moto.ec2.models.subnets import SubnetRouteTableAssociation

from relight.standin.extensions.common import template_flag as _flag

_installed: list[bool] = []


def _backend(account_id: str, region_name: str) -> Any:
    return ec2_backends[account_id][region_name]


class StandInInstance(Instance, CloudFormationModel):
    """AWS::EC2::Instance with its security groups and its instance metadata options.

    AWS launches the instance in the groups named by `SecurityGroupIds` (or `SecurityGroups`),
    and with the `MetadataOptions` given (`HttpTokens: required` is IMDSv2 only):
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    moto's own model passes neither on to RunInstances, so instances land in no group and
    answer IMDSv1. Everything else is launched as moto's model does. Written against moto 5.2.5.
    """

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Instance:
        properties = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        reservation = backend.run_instances(
            image_id=properties["ImageId"],
            user_data=properties.get("UserData"),
            count=1,
            security_group_names=list(properties.get("SecurityGroups", [])),
            security_group_ids=list(properties.get("SecurityGroupIds", [])),
            metadata_options=dict(properties.get("MetadataOptions", {})),
            instance_type=properties.get("InstanceType", "m1.small"),
            is_instance_type_default=not properties.get("InstanceType"),
            subnet_id=properties.get("SubnetId"),
            key_name=properties.get("KeyName"),
            private_ip=properties.get("PrivateIpAddress"),
            block_device_mappings=properties.get("BlockDeviceMappings", {}),
        )
        instance: Instance = reservation.instances[0]
        for tag in properties.get("Tags", []):
            instance.add_tag(tag["Key"], tag["Value"])
        if properties.get("IamInstanceProfile"):
            backend.associate_iam_instance_profile(
                instance_id=instance.id,
                iam_instance_profile_name=properties["IamInstanceProfile"],
            )
        return instance


def _launch_template_metadata(run_instances: Any) -> Any:
    """RunInstances from a launch template takes the template's `MetadataOptions` unless the
    request gives its own: "any parameters that you specify in RunInstances override the same
    parameters in the launch template"
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html, LaunchTemplate).

    moto's `InstanceBackend.run_instances` takes the template's image, type, user data, groups
    and block devices, but not its metadata options, so every Auto Scaling instance answered
    IMDSv1. Patched there, the narrowest place both Auto Scaling and RunInstances go through.
    Written against moto 5.2.5.
    """

    @functools.wraps(run_instances)
    def run(
        self: Any,
        image_id: str,
        count: int,
        user_data: Any,
        security_group_names: list[str],
        **kwargs: Any,
    ) -> Any:
        data = (
            self._get_template_from_args(kwargs["launch_template"]).data
            if kwargs.get("launch_template")
            else {}
        )
        if data.get("MetadataOptions") and not kwargs.get("metadata_options"):
            kwargs["metadata_options"] = dict(data["MetadataOptions"])
        made = run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
        _tag_volumes(self, made, data)
        return made

    return run


def _tag_volumes(backend: Any, reservation: Any, data: dict[str, Any]) -> None:
    """A launch template's `TagSpecifications` for `volume` tag the volumes of each instance it
    launches: "The tags to apply to the resources that are created during instance launch.
    ... volume" (EC2 API Reference, LaunchTemplateTagSpecificationRequest). moto tagged only
    the instances, so a stack's data volumes, kept after their instances (DeleteOnTermination
    false), could not be found by the stack's name."""
    tags = {
        t["Key"]: t["Value"]
        for spec in data.get("TagSpecifications", [])
        if spec.get("ResourceType") == "volume"
        for t in spec.get("Tags", [])
    }
    if not tags:
        return
    volumes = [
        block.volume_id
        for instance in reservation.instances
        for _, block in instance.get_block_device_mapping
    ]
    if volumes:
        backend.create_tags(volumes, tags)


def _spread_over_zones(launch: Any) -> Any:
    """An Auto Scaling group launches into the Availability Zone with the fewest of its
    instances, so they spread evenly over its subnets' zones: "Amazon EC2 Auto Scaling attempts
    to distribute instances evenly between the Availability Zones that are enabled for your
    Auto Scaling group"
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/auto-scaling-benefits.html,
    Instance distribution).

    moto's `FakeAutoScalingGroup.replace_autoscaling_group_instances` puts every instance in the
    first subnet of `VPCZoneIdentifier` ("to make things easier"). Replaced with the same launch
    made once per subnet, each subnet taking its share, from the launch template version the group
    names (moto's own launch takes the template's default version: a group updated to a newer
    version kept launching the old one); a group with no subnet is launched by moto's own.
    Written against moto 5.2.5.
    """

    @functools.wraps(launch)
    def spread(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        subnets = self.vpc_zone_identifier.split(",") if self.vpc_zone_identifier else []
        if not subnets:
            return launch(self, count_needed, propagated_tags)  # type: ignore[no-any-return]
        ec2 = self.autoscaling_backend.ec2_backend
        zone_of = {s.id: s.availability_zone for s in ec2.describe_subnets(subnet_ids=subnets)}
        in_zone = Counter(state.instance.placement.zone for state in self.active_instances())
        share: Counter[str] = Counter()
        for _ in range(count_needed):
            # the emptiest zone; between equals, the subnet listed first
            subnet = min(subnets, key=lambda s: (in_zone[zone_of[s]], subnets.index(s)))
            in_zone[zone_of[subnet]] += 1
            share[subnet] += 1
        tags = {**propagated_tags, ASG_NAME_TAG: self.name, **self.instance_tags}
        template = None
        if self.ec2_launch_template:
            template = (
                {"LaunchTemplateId": self.ec2_launch_template.id}
                if self.ec2_launch_template.id
                else {"LaunchTemplateName": self.ec2_launch_template.name}
            )
            # the version the group names (moto's own launch takes the template's default)
            template["Version"] = str(self.launch_template_version or "$Default")
        public_ip = self.launch_config.associate_public_ip_address if self.launch_config else None
        for subnet in subnets:
            if not share[subnet]:
                continue
            reservation = ec2.run_instances(
                self.image_id,
                share[subnet],
                self.user_data,
                self.security_groups,
                instance_type=self.instance_type,
                tags={"instance": dict(tags)},
                placement=zone_of[subnet],
                launch_config=self.launch_config,
                launch_template=template,
                is_instance_type_default=False,
                associate_public_ip=public_ip,
                subnet_id=subnet,
            )
            for instance in reservation.instances:
                instance.autoscaling_group = self
                self.instance_states.append(
                    InstanceState(
                        instance,
                        protected_from_scale_in=self.new_instances_protected_from_scale_in,
                    )
                )
        return None

    return spread


def _rule_peer(rule: dict[str, Any]) -> dict[str, Any]:
    """authorize_security_group_egress's arguments for a template rule's destination."""
    description = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        return {"ip_ranges": [{"CidrIp": rule["CidrIp"], **description}]}
    if rule.get("CidrIpv6"):
        return {"ip_ranges": [{"CidrIpv6": rule["CidrIpv6"], **description}]}
    if rule.get("DestinationSecurityGroupId"):
        group = {"GroupId": rule["DestinationSecurityGroupId"], **description}
        return {"ip_ranges": [], "source_groups": [group]}
    if rule.get("DestinationPrefixListId"):
        prefix = {"PrefixListId": rule["DestinationPrefixListId"], **description}
        return {"ip_ranges": [], "prefix_list_ids": [prefix]}
    return {}  # no destination: AWS creates the stack and adds no rule


def _authorize_egress(backend: Any, group: SecurityGroup, rule: dict[str, Any]) -> list[Any]:
    """Add one template egress rule to `group`; the rules added (none without a destination)."""
    peer = _rule_peer(rule)
    if not peer:
        return []
    protocol = str(rule["IpProtocol"])
    added, _ = backend.authorize_security_group_egress(
        group_name_or_id=group.id,
        ip_protocol=protocol,
        from_port=rule.get("FromPort", -1),
        to_port=rule.get("ToPort", -1),
        vpc_id=group.vpc_id,
        **peer,
    )
    return list(added)


class StandInSecurityGroup(SecurityGroup, CloudFormationModel):
    """AWS::EC2::SecurityGroup whose egress is exactly what it declares.

    "When you create a security group, if you do not add egress rules, we add egress rules that
    allow all outbound IPv4 and IPv6 traffic. Otherwise, we do not add them."
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html)
    moto's model ignores `SecurityGroupEgress` and keeps the allow-all rules. Here a group that
    declares egress loses the default rules and gets its own (CIDR, IPv6 CIDR, group or prefix
    list, with descriptions). Ingress and the rest are moto's. Written against moto 5.2.5.
    """

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SecurityGroup:
        group: SecurityGroup = super().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        declared = cloudformation_json["Properties"].get("SecurityGroupEgress")
        if declared:
            backend = _backend(account_id, region_name)
            group.egress_rules = []  # the defaults: AWS does not add them
            for rule in declared:
                _authorize_egress(backend, group, rule)
        return group


class StandInSecurityGroupEgress(CloudFormationModel):
    """AWS::EC2::SecurityGroupEgress: one egress rule added to an existing group; `Ref` gives
    the rule's ID; deleting the resource revokes the rule. A group's default allow-all rule is
    not removed by it (only the group's own `SecurityGroupEgress` does that).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroupegress.html
    moto 5.2.5 has no model for it: the rule was skipped with a warning. Written against moto 5.2.5.
    """

    def __init__(self, backend: Any, group_id: str, rule_ids: list[str]) -> None:
        self.backend = backend
        self.group_id = group_id
        self.rule_ids = rule_ids

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SecurityGroupEgress"

    @property
    def physical_resource_id(self) -> str:
        return self.rule_ids[0] if self.rule_ids else self.group_id

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StandInSecurityGroupEgress:
        properties = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        group = backend.describe_security_groups(group_ids=[properties["GroupId"]])[0]
        added = _authorize_egress(backend, group, properties)
        return cls(backend, group.id, [rule.id for rule in added])

    def delete(self, account_id: str, region_name: str) -> None:
        group = self.backend.get_security_group_from_id(self.group_id)
        if group is not None:
            group.egress_rules = [r for r in group.egress_rules if r.id not in self.rule_ids]


class StandInSubnetRouteTableAssociation(SubnetRouteTableAssociation, CloudFormationModel):
    """AWS::EC2::SubnetRouteTableAssociation as a real association: DescribeRouteTables lists
    it under the route table's Associations, `Ref` gives its ID (rtbassoc-...), and deleting
    the resource disassociates the subnet.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-subnetroutetableassociation.html
    moto's model only records the pair aside, so no route table showed the subnets it serves
    and its `Ref` gave the route table's ID. Written against moto 5.2.5.
    """

    def __init__(self, route_table_id: str, subnet_id: str, association_id: str) -> None:
        super().__init__(route_table_id, subnet_id)
        self.association_id = association_id

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
    ) -> StandInSubnetRouteTableAssociation:
        properties = cloudformation_json["Properties"]
        table, subnet = properties["RouteTableId"], properties["SubnetId"]
        backend = _backend(account_id, region_name)
        association = backend.associate_route_table(table, subnet_id=subnet)
        return cls(table, subnet, association)

    def delete(self, account_id: str, region_name: str) -> None:
        table = _backend(account_id, region_name).route_tables.get(self.route_table_id)
        if table is not None:
            table._associations.pop(self.association_id, None)


class StandInVolume(Volume, CloudFormationModel):
    """AWS::EC2::Volume restored from `SnapshotId` (its size the snapshot's when `Size` is not
    given), with the given `VolumeType`, `Iops`, `Throughput`, `Encrypted`, `KmsKeyId` and tags.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-volume.html
    moto's model passes only `Size` and `AvailabilityZone` on, so a restored volume came out
    blank, unencrypted and without a size when the template relied on the snapshot's.
    Written against moto 5.2.5.
    """

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Volume:
        properties = cloudformation_json["Properties"]
        numbers = {
            name: int(properties[key])
            for name, key in (("size", "Size"), ("iops", "Iops"), ("throughput", "Throughput"))
            if properties.get(key) not in (None, "")
        }
        volume: Volume = _backend(account_id, region_name).create_volume(
            size=numbers.pop("size", None),
            zone_name=properties.get("AvailabilityZone"),
            snapshot_id=properties.get("SnapshotId") or None,
            encrypted=_flag(properties.get("Encrypted", False)),
            kms_key_id=properties.get("KmsKeyId") or None,
            volume_type=properties.get("VolumeType"),
            **numbers,
        )
        for tag in properties.get("Tags", []):
            volume.add_tag(tag["Key"], tag["Value"])
        return volume


def install() -> None:
    """Patch the backend functions above (once per process) and have moto's CloudFormation
    look its resource types up again, so the models above replace moto's even where a template
    was parsed before."""
    if _installed:
        return
    InstanceBackend.run_instances = _launch_template_metadata(  # type: ignore[method-assign]
        InstanceBackend.run_instances
    )
    FakeAutoScalingGroup.replace_autoscaling_group_instances = (  # type: ignore[method-assign]
        _spread_over_zones(FakeAutoScalingGroup.replace_autoscaling_group_instances)
    )
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    _installed.append(True)
