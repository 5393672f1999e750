"""EBS optimization only where the instance type supports it; a data volume no smaller than
the snapshot it is restored from.

An instance type is EBS-optimized by default, supports it when asked, or does not support it
(DescribeInstanceTypes `EbsInfo.EbsOptimizedSupport`: default, supported, unsupported); asking
for it on a type that does not support it is refused at launch. The blueprints ask only when
told (compute's `ebs_optimized` option): here every instance and launch template that asks is
checked against its type in the target region before anything is created.
"""

from __future__ import annotations

import json
from typing import Any

from relight.aws.failures import aws_failure, is_aws_failure, refused
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.steps.discovery import Discovery

LAUNCHERS = {
    "AWS::EC2::Instance": lambda props: props,
    "AWS::EC2::LaunchTemplate": lambda props: props.get("LaunchTemplateData", {}),
}


def _asking(plan: Plan) -> dict[str, list[str]]:
    """instance type → the stacks that launch it with EbsOptimized true."""
    wanted: dict[str, list[str]] = {}
    for key, sp in plan.stacks.items():
        for resource in json.loads(sp.body).get("Resources", {}).values():
            settings = LAUNCHERS.get(resource.get("Type", ""))
            if settings is None:
                continue
            data = settings(resource.get("Properties", {}))
            kind = data.get("InstanceType")
            if data.get("EbsOptimized") in (True, "true") and isinstance(kind, str):
                named = wanted.setdefault(kind, [])
                if key not in named:
                    named.append(key)
    return wanted


def ebs_optimization(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    """Problems for stacks that ask EBS optimization of a type that does not support it; a note
    when the types cannot be read (refused) or the stand-in is the target."""
    wanted = _asking(plan)
    if not wanted:
        return [], []
    if plan.stand_in:
        return [], ["EBS optimization support not checked on the stand-in"]
    ec2 = aws.client("ec2", plan.region)
    support: dict[str, str] = {}
    try:
        pages = ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=sorted(wanted))
        for page in pages:
            for kind in page["InstanceTypes"]:
                ebs = kind.get("EbsInfo", {})
                support[kind["InstanceType"]] = ebs.get("EbsOptimizedSupport", "")
    except Exception as exc:
        if refused(exc):  # EC2 said no (AccessDenied, say): a note, the run goes on
            return [], [f"EBS optimization support of {', '.join(sorted(wanted))} not read ({exc})"]
        if is_aws_failure(exc):
            raise aws_failure(exc, "cannot read the instance types", ec2) from exc
        raise
    problems = [
        f"stacks.{key}.params.ebs_optimized: true, but {kind} does not support EBS optimization "
        f"(DescribeInstanceTypes in {plan.region}: EbsOptimizedSupport unsupported), and "
        "RunInstances refuses such a launch: set ebs_optimized: false, or choose an instance "
        "type that supports it"
        for kind, stacks in sorted(wanted.items())
        if support.get(kind) == "unsupported"
        for key in stacks
    ]
    return problems, []


def _sized_from(node: Any) -> list[tuple[str, int]]:
    """(the Parameter a volume's SnapshotId takes, its VolumeSize) for each block device
    mapping below `node` that gives both (a size grows the restored volume)."""
    found: list[tuple[str, int]] = []
    if isinstance(node, list):
        for item in node:
            found += _sized_from(item)
    elif isinstance(node, dict):
        ebs = node.get("Ebs")
        if isinstance(ebs, dict) and isinstance(ebs.get("VolumeSize"), int):
            refs = [r for r in _refs(ebs.get("SnapshotId")) if r != "AWS::NoValue"]
            found += [(ref, ebs["VolumeSize"]) for ref in refs]
        for value in node.values():
            found += _sized_from(value)
    return found


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    if isinstance(node, dict):
        if isinstance(node.get("Ref"), str):
            return [node["Ref"]]
        return [r for value in node.values() for r in _refs(value)]
    return []


def data_volume_sizes(plan: Plan, discovery: Discovery) -> list[str]:
    """A volume restored from a snapshot with a size below the snapshot's is refused at launch
    (InvalidBlockDeviceMapping, E1): in the middle of a failover. Checked here against the
    snapshot discovery chose (its `size_gb`), before anything is created."""
    problems: list[str] = []
    for key, sp in plan.stacks.items():
        sized = _sized_from(json.loads(sp.body).get("Resources", {}))
        for parameter, size in dict.fromkeys(sized):
            value = sp.parameters.get(parameter)
            if not isinstance(value, ArtifactRef) or value.artifact not in discovery.artifacts:
                continue
            art = discovery.artifacts[value.artifact]
            snapshot = int(art.attributes.get("size_gb", 0))
            if size < snapshot:
                problems.append(
                    f"stacks.{key}.params.data_volume_size: {size} GiB is below the "
                    f"{snapshot} GiB of {art.id} ({value.artifact} in {plan.region}, "
                    f"its {parameter}), and EC2 refuses a volume smaller than its snapshot: "
                    f"set data_volume_size: {snapshot} or more"
                )
    return problems
