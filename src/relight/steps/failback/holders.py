"""What has taken writes in the recovery region since the failover: its data holders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.aws.clients import Aws
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan, StackPlan
from relight.model.stateful import _refs_under

SNAPSHOT_KINDS = {
    "AWS::RDS::DBInstance": "rds_snapshot",
    "AWS::RDS::DBCluster": "rds_cluster_snapshot",
}
FAILBACK_TAG = "relight:failback"


@dataclass(frozen=True)
class Holder:
    """Something in the recovery region that has taken writes since the failover."""

    stack: str  # the stack's key in the environment file
    stack_name: str
    artifact: str  # the artifact its data goes home as
    kind: str  # rds_snapshot, rds_cluster_snapshot or ebs_snapshot
    resource: str  # DB instance id, cluster id or volume id
    describe: str  # for the plan: "database demo-database-x (stacks.database)"
    instance: str = ""  # a data volume's instance, and its device there
    device: str = ""


@dataclass(frozen=True)
class Taken:
    """A snapshot of a holder in the recovery region, and its copy at home (once made)."""

    artifact: str
    kind: str
    snapshot: str
    taken_at: str  # ISO 8601: the data's time
    copy: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "artifact": self.artifact,
            "kind": self.kind,
            "snapshot": self.snapshot,
            "taken_at": self.taken_at,
            "copy": self.copy,
        }


def _fed_artifacts(sp: StackPlan) -> dict[str, str]:
    """parameter → artifact, for the parameters of a stack that feed data."""
    fed = {}
    for parameter in (*sp.stateful_parameters, *sp.launch_parameters):
        value = sp.parameters.get(parameter)
        if isinstance(value, ArtifactRef) and value.attribute is None:
            fed[parameter] = value.artifact
    return fed


def data_holders(plan: Plan, aws: Aws, region: str) -> tuple[list[Holder], list[str]]:
    """Every data holder of the environment's stacks in `region` (the failover's plan there,
    its prepared stacks included), and notes on what could not be found (a stack gone, a
    fleet with no instance in service)."""
    import json

    cfn = aws.client("cloudformation", region)
    holders: list[Holder] = []
    notes: list[str] = []
    for sp in [*plan.stacks.values(), *plan.prepared.values()]:
        fed = _fed_artifacts(sp)
        if not fed:
            continue
        try:
            listed = [
                r
                for page in cfn.get_paginator("list_stack_resources").paginate(StackName=sp.name)
                for r in page["StackResourceSummaries"]
            ]
        except (ClientError, BotoCoreError) as exc:  # a stack gone holds nothing to bring
            notes.append(f"{sp.name} (stacks.{sp.key}): not read ({exc}); nothing taken from it")
            continue
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in listed}
        groups = [
            r["PhysicalResourceId"]
            for r in listed
            if r["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup"
            and r.get("PhysicalResourceId")
        ]
        template = json.loads(sp.body)
        for logical, resource in template.get("Resources", {}).items():
            props = resource.get("Properties", {})
            for parameter, artifact in fed.items():
                if parameter not in set(_refs_under(props)):
                    continue
                found = _holder(
                    aws, region, sp, logical, resource, parameter, artifact, physical, groups
                )
                if isinstance(found, str):
                    notes.append(found)
                elif found is not None:
                    holders.append(found)
    return holders, notes


def _holder(
    aws: Aws,
    region: str,
    sp: StackPlan,
    logical: str,
    resource: Mapping[str, Any],
    parameter: str,
    artifact: str,
    physical: Mapping[str, str],
    groups: list[str],
) -> Holder | str | None:
    kind = str(resource.get("Type", ""))
    where = f"in {sp.name}, stacks.{sp.key}"
    if kind in SNAPSHOT_KINDS:
        ident = physical.get(logical, "")
        if not ident:
            return f"{where}: {logical} has not been created; nothing taken from it"
        what = "database" if kind == "AWS::RDS::DBInstance" else "database cluster"
        return Holder(
            sp.key, sp.name, artifact, SNAPSHOT_KINDS[kind], ident, f"{what} {ident} ({where})"
        )
    if kind == "AWS::EC2::Volume":
        ident = physical.get(logical, "")
        if not ident:
            return f"{where}: {logical} has not been created; nothing taken from it"
        return Holder(sp.key, sp.name, artifact, "ebs_snapshot", ident, f"volume {ident} ({where})")
    device = _device_fed(resource, parameter)
    if device is None:
        return None
    if kind == "AWS::EC2::Instance":
        instances = [physical.get(logical, "")]
    elif kind == "AWS::EC2::LaunchTemplate":
        instances = _fleet(aws, region, groups)
    else:
        return None
    volume = _data_volume(aws, region, [i for i in instances if i], device)
    if volume is None:
        return f"{where}: no instance in service has a volume at {device}; nothing taken from it"
    instance, ident = volume
    return Holder(
        sp.key,
        sp.name,
        artifact,
        "ebs_snapshot",
        ident,
        f"data volume {ident} at {device} of {instance} ({where})",
        instance,
        device,
    )


def _device_fed(resource: Mapping[str, Any], parameter: str) -> str | None:
    """The device name of the block device mapping whose snapshot `parameter` feeds."""
    props = resource.get("Properties", {})
    mappings = props.get("BlockDeviceMappings") or props.get("LaunchTemplateData", {}).get(
        "BlockDeviceMappings", []
    )
    for mapping in mappings:
        if parameter in set(_refs_under({"SnapshotId": mapping.get("Ebs", {}).get("SnapshotId")})):
            name = mapping.get("DeviceName")
            return name if isinstance(name, str) else None
    return None


def _fleet(aws: Aws, region: str, groups: list[str]) -> list[str]:
    """The in-service instances of the stack's Auto Scaling groups, longest-serving first."""
    if not groups:
        return []
    answer = aws.client("autoscaling", region).describe_auto_scaling_groups(
        AutoScalingGroupNames=groups
    )
    ids = [
        i["InstanceId"]
        for g in answer["AutoScalingGroups"]
        for i in g.get("Instances", [])
        if i.get("LifecycleState") == "InService"
    ]
    if not ids:
        return []
    reservations = aws.client("ec2", region).describe_instances(InstanceIds=ids)["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    instances.sort(key=lambda i: i.get("LaunchTime") or datetime.max.replace(tzinfo=UTC))
    return [i["InstanceId"] for i in instances]


def _data_volume(
    aws: Aws, region: str, instances: list[str], device: str
) -> tuple[str, str] | None:
    if not instances:
        return None
    reservations = aws.client("ec2", region).describe_instances(InstanceIds=instances)
    by_id = {i["InstanceId"]: i for r in reservations["Reservations"] for i in r["Instances"]}
    for instance in instances:
        for mapping in by_id.get(instance, {}).get("BlockDeviceMappings", []):
            if mapping.get("DeviceName") == device and mapping.get("Ebs", {}).get("VolumeId"):
                return instance, str(mapping["Ebs"]["VolumeId"])
    return None


def holder_sources(aws: Aws, region: str, holders: list[Holder]) -> dict[str, Any]:
    """Each holder as replication sees a source (a `Candidate`): its key and option group, so
    what stops a copy home is found before anything is stopped or snapshotted."""
    from relight.steps.discovery import Candidate

    found: dict[str, Any] = {}
    now = datetime.now(UTC)
    for h in holders:
        if h.kind == "rds_snapshot":
            (db,) = aws.client("rds", region).describe_db_instances(
                DBInstanceIdentifier=h.resource
            )["DBInstances"]
            groups = [g.get("OptionGroupName", "") for g in db.get("OptionGroupMemberships", [])]
            found[h.artifact] = Candidate(
                h.kind, h.resource, now, {}, "", encrypted=bool(db.get("StorageEncrypted")),
                kms_key=db.get("KmsKeyId"), option_group=groups[0] if groups else "",
            )  # fmt: skip
        elif h.kind == "rds_cluster_snapshot":
            (cluster,) = aws.client("rds", region).describe_db_clusters(
                DBClusterIdentifier=h.resource
            )["DBClusters"]
            found[h.artifact] = Candidate(
                h.kind, h.resource, now, {}, "", encrypted=bool(cluster.get("StorageEncrypted")),
                kms_key=cluster.get("KmsKeyId"),
            )  # fmt: skip
        else:
            (volume,) = aws.client("ec2", region).describe_volumes(VolumeIds=[h.resource])[
                "Volumes"
            ]
            found[h.artifact] = Candidate(
                h.kind, h.resource, now, {}, "", encrypted=bool(volume.get("Encrypted")),
                kms_key=volume.get("KmsKeyId"),
            )  # fmt: skip
    return found
