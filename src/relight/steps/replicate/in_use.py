"""What a region's running stacks still restore or launch from: copies `--prune` must keep.

A copy beyond the newest N may still be in use: a stack restored from it keeps it as its
parameter (a database kept across reruns, a fixed instance's data volume), and an Auto
Scaling group launches every new instance from the AMI and snapshots of its launch
template's version. Deleting it would make the stack's next update, or the group's next
launch, fail (`InvalidSnapshot.NotFound`, an AMI that no longer exists). So before a prune
relight reads, in the target region only:

- the parameters of every stack relight made there (tagged `relight:env`: production,
  prepared stacks, drills and test copies alike);
- the image and snapshots of what each Auto Scaling group there launches with: its launch
  template version, those a MixedInstancesPolicy names (its own and each override's), or
  its launch configuration.

Read-only, regional calls. A copy named by any is kept, and the prune says by what. While a
relight stack there is mid-operation nothing is pruned in that region (`Busy`). A group
whose launch template or configuration no longer exists launches nothing, and is passed
over; one that cannot be read for another reason (access denied) stops the prune there.
"""

from __future__ import annotations

from typing import Any

from relight.model.shapes import parameter_dict, tag_dict


class Busy(Exception):
    """A relight stack in the region is in the middle of an operation: no prune now."""


def copies_in_use(aws: Any, region: str) -> dict[str, str]:
    """id (AMI, EBS snapshot, DB or cluster snapshot) → what uses it, in `region`. `Busy`
    while a relight stack there is mid-operation: its parameters may already name the new
    copies while a rollback would need the old ones (and a deploy may not have reached the
    stack that will name the copy it chose)."""
    used: dict[str, str] = {}
    cfn = aws.client("cloudformation", region)
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            if "relight:env" not in tag_dict(stack.get("Tags")):
                continue
            if stack["StackStatus"].endswith("_IN_PROGRESS"):
                raise Busy(f"stack {stack['StackName']} is {stack['StackStatus']}")
            for key, value in parameter_dict(stack).items():
                for item in str(value).split(","):
                    used.setdefault(item.strip(), f"stack {stack['StackName']} ({key})")
    autoscaling = aws.client("autoscaling", region)
    ec2 = aws.client("ec2", region)
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            name = group["AutoScalingGroupName"]
            for where, data in _launches(autoscaling, ec2, group):
                ids = [data.get("ImageId")] + [
                    m.get("Ebs", {}).get("SnapshotId") for m in data.get("BlockDeviceMappings", [])
                ]
                for found in filter(None, ids):
                    used.setdefault(found, f"Auto Scaling group {name} ({where})")
    return used


def _launches(autoscaling: Any, ec2: Any, group: dict[str, Any]) -> list[tuple[str, Any]]:
    """(what, its launch data: ImageId and BlockDeviceMappings) for everything the group may
    launch from: its launch template version, a MixedInstancesPolicy's template and each
    override's, or its launch configuration. Gone (deleted since): nothing."""
    from botocore.exceptions import ClientError

    mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    specs = [group.get("LaunchTemplate"), mixed.get("LaunchTemplateSpecification")]
    specs += [o.get("LaunchTemplateSpecification") for o in mixed.get("Overrides", [])]
    found: list[tuple[str, Any]] = []
    try:
        for spec in filter(None, specs):
            for version in _launch_template_versions(ec2, spec):
                where = (
                    f"launch template {version.get('LaunchTemplateName', '?')} version "
                    f"{version.get('VersionNumber', '?')}"
                )
                found.append((where, version.get("LaunchTemplateData", {})))
        if group.get("LaunchConfigurationName"):
            configs = autoscaling.describe_launch_configurations(
                LaunchConfigurationNames=[group["LaunchConfigurationName"]]
            )["LaunchConfigurations"]
            found += [(f"launch configuration {c['LaunchConfigurationName']}", c) for c in configs]
    except ClientError as exc:
        if "NotFound" in str(exc.response.get("Error", {}).get("Code", "")):
            return found  # a template deleted since: the group launches nothing from it
        raise
    return found


def _launch_template_versions(ec2: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The launch template version a specification names ($Default and $Latest resolved)."""
    ask = {"Versions": [str(spec.get("Version") or "$Default")]}
    if spec.get("LaunchTemplateId"):
        ask["LaunchTemplateId"] = spec["LaunchTemplateId"]
    else:
        ask["LaunchTemplateName"] = spec["LaunchTemplateName"]
    answer = ec2.describe_launch_template_versions(**ask)
    return list(answer.get("LaunchTemplateVersions", []))
