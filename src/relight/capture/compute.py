"""Capture: the compute stacks (Auto Scaling groups, fixed instances, their AMI lookups,
instance roles). Their data volumes are read in `volumes`, the groups' settings, scheduled
actions and lifecycle hooks in `fleet`."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.capture.common import TIERS, Client, Note, _call, _Found, _key, _pages, _Section, _tags
from relight.capture.fleet import (
    _group_settings,
    _lifecycle_hooks,
    _scaling_policies,
    _scheduled_actions,
)
from relight.capture.forced import metadata_comment
from relight.capture.volumes import _data_volume


def _name_pattern(name: str) -> str:
    """`web-2024-06-01-1234` → `web-*`: the stable prefix, with a wildcard suffix."""
    match = re.match(r"^(.*?[-_.])\d", name)
    return f"{match.group(1)}*" if match else f"{name}*"


def _asgs(
    client: Client, ec2: Any, subnet_tier: dict[str, str]
) -> tuple[list[tuple[Any, dict[str, Any]]], set[str]]:
    """The Auto Scaling groups in the VPC's subnets, with their launch template's data; and
    their instances (not captured again as fixed instances)."""
    autoscaling = client("autoscaling")
    found: list[tuple[Any, dict[str, Any]]] = []
    members: set[str] = set()
    for g in _pages(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups"):
        subnets = [s for s in g.get("VPCZoneIdentifier", "").split(",") if s]
        if not subnets or not all(s in subnet_tier for s in subnets):
            continue
        members.update(i["InstanceId"] for i in g.get("Instances", []))
        data: dict[str, Any] = {"subnets": subnets, "notes": []}
        spec = g.get("LaunchTemplate") or (g.get("MixedInstancesPolicy") or {}).get(
            "LaunchTemplate", {}
        ).get("LaunchTemplateSpecification")
        if spec:
            ident = {
                k: v for k, v in spec.items() if k in ("LaunchTemplateId", "LaunchTemplateName")
            }
            version = spec.get("Version", "$Default")
            versions = _call(
                "launch template",
                ec2.describe_launch_template_versions,
                Versions=[version],
                **ident,
            )["LaunchTemplateVersions"]
            data["lt"] = versions[0]["LaunchTemplateData"] if versions else {}
        else:
            data["notes"].append(
                Note(
                    g["AutoScalingGroupName"],
                    "LaunchConfigurationName",
                    "launch configurations are not read: set instance_type and "
                    "the AMI lookup by hand",
                )
            )
            data["lt"] = {}
        found.append((g, data))
    return found, members


def _image_lookup(
    ec2: Any, image_id: str, key: str, artifacts: dict[str, Any], notes: list[Note]
) -> dict[str, Any] | None:
    """An AMI lookup by the image's tags, else by a name pattern: never its id. The image
    read, or None when it is not found."""
    images = _call(f"AMI {image_id}", ec2.describe_images, ImageIds=[image_id])["Images"]
    if not images:
        notes.append(Note(image_id, "ImageId", "image not found: add the lookup by hand"))
        return None
    image: dict[str, Any] = images[0]
    lookup: dict[str, Any] = {"kind": "ami"}
    tags = _tags(image.get("Tags"))
    if tags:
        lookup["tags"] = tags
    else:
        lookup["name"] = _name_pattern(image.get("Name", key))
    artifacts[f"{key}_ami"] = lookup
    return image


def _compute(
    asg: Any, data: dict[str, Any], found: _Found, target_groups: dict[str, str]
) -> _Section:
    name = asg["AutoScalingGroupName"]
    key = _key(_tags(asg.get("Tags")).get("Role") or name, found.taken)
    lt = data["lt"]
    section = _Section(key, {"blueprint": "compute"}, notes=data["notes"], source=name)
    tier = sorted({found.subnet_tier[s] for s in data["subnets"]}, key=TIERS.index)[0]
    if len(data["subnets"]) != found.az_count:
        section.notes.append(
            Note(
                name,
                "VPCZoneIdentifier",
                f"{len(data['subnets'])} subnets; the stack uses all {found.az_count} AZs",
            )
        )
    params: dict[str, Any] = {
        "mode": "asg",
        "instance_type": lt.get("InstanceType", "t3.micro"),
        "az_count": found.az_count,
        "min_size": asg["MinSize"],
        "max_size": asg["MaxSize"],
        "desired": asg["DesiredCapacity"],
    }
    _group_settings(asg, params, section.notes)
    section.comments.extend(metadata_comment(lt.get("MetadataOptions")))
    groups = lt.get("SecurityGroupIds") or [
        g for ni in lt.get("NetworkInterfaces", []) for g in ni.get("Groups", [])
    ]
    _common(
        params,
        section,
        found,
        image_id=lt.get("ImageId"),
        mappings=lt.get("BlockDeviceMappings", []),
        groups=groups,
        profile=lt.get("IamInstanceProfile") or {},
        tier=tier,
        instances=[i["InstanceId"] for i in asg.get("Instances", [])],
    )
    autoscaling = found.client("autoscaling")
    _scheduled_actions(autoscaling, name, params, section.notes)
    _lifecycle_hooks(autoscaling, name, section.notes)
    _scaling_policies(autoscaling, name, section.notes)
    arns = asg.get("TargetGroupARNs", [])
    wired = next((arn for arn in arns if arn in target_groups), None)
    if wired is not None:  # the load balancer stack whose target group replaces it
        params["TargetGroupArn"] = {"output": target_groups[wired]}
    for other in arns:
        if other != wired:
            section.notes.append(Note(name, "TargetGroupARNs", f"{other} not registered"))
    return section


def _common(
    params: dict[str, Any],
    section: _Section,
    found: _Found,
    *,
    image_id: str | None,
    mappings: list[Any],
    groups: list[str],
    profile: dict[str, Any],
    tier: str,
    instances: list[str],
) -> None:
    """What ASGs and fixed instances share: AMI and data snapshot lookups, subnets, group,
    instance role."""
    key, where = section.key, section.source
    image = (
        _image_lookup(found.ec2, image_id, key, found.artifacts, section.notes)
        if image_id
        else None
    )
    if image is None:
        section.notes.append(Note(where, "ImageId", "no AMI read: add the lookup by hand"))
        found.artifacts[f"{key}_ami"] = {"kind": "ami", "name": f"{key}-*"}
    params["ImageId"] = {"artifact": f"{key}_ami"}
    roots = {"/dev/xvda", "/dev/sda1"}
    if image and image.get("RootDeviceName"):
        roots.add(image["RootDeviceName"])
    _data_volume(
        found,
        params,
        section.notes,
        key=key,
        where=where,
        mappings=mappings,
        roots=roots,
        instances=instances,
    )
    section.notes.append(
        Note(
            where,
            "UserData",
            "not captured: the blueprint's web.sh.j2 runs instead; give user_data or "
            "user_data_command for yours",
        )
    )
    params["SubnetIds"] = {"output": f"network.{tier.capitalize()}SubnetIds"}
    known = [found.sg_keys[g] for g in groups if g in found.sg_keys]
    if known:
        params["SecurityGroupId"] = {"output": f"security.{known[0].capitalize()}SecurityGroupId"}
    else:
        section.notes.append(Note(where, "SecurityGroupIds", "none captured: give one by hand"))
    for extra in known[1:]:
        section.notes.append(
            Note(where, "SecurityGroupIds", f"{extra}: the blueprint attaches one group")
        )
    policies = _policies(found.client, profile, section.notes)
    found.roles[key] = {"managed_policies": policies}
    params["InstanceProfileArn"] = {"output": f"identity.{_camel(key)}InstanceProfileArn"}
    section.body["params"] = params


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _policies(client: Client, profile: dict[str, Any], notes: list[Note]) -> list[str]:
    """The instance role's AWS managed policies the identity blueprint accepts; the rest are
    notes."""
    ref = profile.get("Name") or (profile.get("Arn") or "").rsplit("/", 1)[-1]
    if not ref:
        return []
    iam = client("iam")
    try:
        roles = iam.get_instance_profile(InstanceProfileName=ref)["InstanceProfile"]["Roles"]
        names: list[str] = []
        for role in roles:
            for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]:
                if p["PolicyArn"].startswith("arn:aws:iam::aws:policy/") and not (
                    p["PolicyName"].endswith("FullAccess")
                    or p["PolicyName"] in ("AdministratorAccess", "PowerUserAccess")
                    or p["PolicyName"] == "AmazonSSMManagedInstanceCore"
                ):
                    names.append(p["PolicyName"])
                elif p["PolicyName"] != "AmazonSSMManagedInstanceCore":
                    notes.append(Note(ref, f"policy {p['PolicyName']}", "not reproduced"))
            for inline in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                notes.append(Note(ref, f"inline policy {inline}", "not reproduced"))
        return names
    except (ClientError, BotoCoreError) as exc:
        notes.append(
            Note(ref, "IamInstanceProfile", f"not read ({exc}): policies not reproduced", True)
        )
        return []


def _fixed_instances(found: _Found, vpc_id: str, in_asgs: set[str]) -> list[_Section]:
    """Instances outside Auto Scaling groups, grouped by their Role (or Name) tag."""
    reservations = _pages(
        found.ec2,
        "describe_instances",
        "Reservations",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
        ],
    )
    by_label: dict[str, list[Any]] = {}
    for r in reservations:
        for i in r["Instances"]:
            raw = {t["Key"] for t in i.get("Tags", [])}
            if i["InstanceId"] in in_asgs or "aws:autoscaling:groupName" in raw:
                continue
            tags = _tags(i.get("Tags"))
            by_label.setdefault(tags.get("Role") or tags.get("Name") or "server", []).append(i)
    sections: list[_Section] = []
    for label, instances in by_label.items():
        first = instances[0]
        section = _Section(
            _key(label, found.taken),
            {"blueprint": "compute"},
            source=first["InstanceId"],
            instances=sorted(i["InstanceId"] for i in instances),
        )
        for i in instances:
            for comment in metadata_comment(i.get("MetadataOptions")):
                if comment not in section.comments:
                    section.comments.append(comment)
        for other in instances[1:]:
            if (
                other["InstanceType"] != first["InstanceType"]
                or other["ImageId"] != first["ImageId"]
            ):
                section.notes.append(
                    Note(
                        other["InstanceId"],
                        "InstanceType/ImageId",
                        f"differs from {first['InstanceId']}'s; the stack makes them all alike",
                    )
                )
        params: dict[str, Any] = {
            "mode": "instances",
            "instance_type": first["InstanceType"],
            "az_count": found.az_count,
            "count": len(instances),
        }
        mappings = [
            {"DeviceName": m["DeviceName"], "Ebs": ebs}
            for m in first.get("BlockDeviceMappings", [])
            if m["DeviceName"] != first.get("RootDeviceName")
            and (ebs := _volume_as_mapping(found.ec2, m))
        ]
        _common(
            params,
            section,
            found,
            image_id=first["ImageId"],
            mappings=mappings,
            groups=[g["GroupId"] for g in first.get("SecurityGroups", [])],
            profile=first.get("IamInstanceProfile") or {},
            tier=found.subnet_tier.get(first.get("SubnetId", ""), "private"),
            instances=[i["InstanceId"] for i in instances],
        )
        sections.append(section)
    return sections


def _volume_as_mapping(ec2: Any, mapping: dict[str, Any]) -> dict[str, Any] | None:
    """A fixed instance's attached volume, as a launch's mapping would give it."""
    volume = (mapping.get("Ebs") or {}).get("VolumeId")
    if not volume:
        return None
    found = _call(f"volume {volume}", ec2.describe_volumes, VolumeIds=[volume])["Volumes"]
    if not found:
        return None
    v = found[0]
    ebs = {
        "SnapshotId": v.get("SnapshotId") or None,
        "VolumeSize": v.get("Size"),
        "VolumeType": v.get("VolumeType"),
        "Iops": v.get("Iops"),
        "Throughput": v.get("Throughput"),
        "Encrypted": v.get("Encrypted"),
        "KmsKeyId": v.get("KmsKeyId"),
        "DeleteOnTermination": (mapping.get("Ebs") or {}).get("DeleteOnTermination"),
    }
    return {k: value for k, value in ebs.items() if value is not None}
