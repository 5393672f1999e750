"""The way back's data step: what the recovery region has been writing, snapshotted there and
copied home (`relight failback`, phase a; commands/failback.py runs the phases).

A data holder is whatever a stateful or launch parameter of a stack feeds (stateful.py): a
database restored from `SnapshotIdentifier` (an RDS instance: a DB snapshot; an Aurora cluster:
a cluster snapshot), a volume restored from `SnapshotId`, or an instance's or a launch
template's data volume (an EBS snapshot of one instance's volume at that device: the instance
that has served longest). Its snapshot goes home as the artifact the parameter names, so the
home stacks restore from it exactly as a failover restores from a copy.

Stopping writes first (the graceful mode) scales the recovery region's Auto Scaling groups to
zero and stops its fixed instances; the sizes it found are returned, so a failback that stops
half-way can say how to undo it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.aws.clients import Aws
from relight.aws.cloudformation import backoff
from relight.errors import AwsError
from relight.model.config import LoadedEnvironment
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan, StackPlan
from relight.model.stateful import _refs_under
from relight.steps.discovery import Artifact, Candidate
from relight.steps.replicate.replicator import Replicator

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
        template = json.loads(sp.body)
        for logical, resource in template.get("Resources", {}).items():
            props = resource.get("Properties", {})
            for parameter, artifact in fed.items():
                if parameter not in set(_refs_under(props)):
                    continue
                found = _holder(aws, region, sp, logical, resource, parameter, artifact, physical)
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
        instances = _fleet(aws, region, physical)
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


def _fleet(aws: Aws, region: str, physical: Mapping[str, str]) -> list[str]:
    """The in-service instances of the stack's Auto Scaling groups, longest-serving first."""
    groups = [p for logical, p in physical.items() if p and "AutoScalingGroup" in logical]
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


# stopping writes (graceful) -------------------------------------------------------------------


def fleets(aws: Aws, region: str, stack_names: list[str]) -> dict[str, list[str]]:
    """The Auto Scaling groups and fixed instances in the stacks: {"groups": [...],
    "instances": [...]} (physical ids)."""
    cfn = aws.client("cloudformation", region)
    found: dict[str, list[str]] = {"groups": [], "instances": []}
    for name in stack_names:
        try:
            pages = list(cfn.get_paginator("list_stack_resources").paginate(StackName=name))
        except (ClientError, BotoCoreError):  # a stack that is gone runs nothing
            continue
        for page in pages:
            for r in page["StackResourceSummaries"]:
                if not r.get("PhysicalResourceId"):
                    continue
                if r["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup":
                    found["groups"].append(r["PhysicalResourceId"])
                elif r["ResourceType"] == "AWS::EC2::Instance":
                    found["instances"].append(r["PhysicalResourceId"])
    return found


def stop_writes(
    aws: Aws,
    region: str,
    stack_names: list[str],
    *,
    keep: list[Holder] = [],  # noqa: B006 (read only)
    timeout: float = 900.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, dict[str, int]]:
    """Scale every Auto Scaling group of the stacks to zero and stop their fixed instances, and
    wait until none runs. The data volumes of `keep` (to be snapshotted next) are kept when
    their instance terminates (DeleteOnTermination false): the snapshot of a volume whose
    instance has shut down is consistent. Returns each group's sizes before ({name: {min,
    max, desired}}), so they can be restored."""
    found = fleets(aws, region, stack_names)
    autoscaling, ec2 = aws.client("autoscaling", region), aws.client("ec2", region)
    for holder in keep:
        if holder.instance and holder.device:
            ec2.modify_instance_attribute(
                InstanceId=holder.instance,
                BlockDeviceMappings=[
                    {"DeviceName": holder.device, "Ebs": {"DeleteOnTermination": False}}
                ],
            )
    before: dict[str, dict[str, int]] = {}
    if found["groups"]:
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=found["groups"])
        for g in groups["AutoScalingGroups"]:
            before[g["AutoScalingGroupName"]] = {
                "min": int(g["MinSize"]),
                "max": int(g["MaxSize"]),
                "desired": int(g["DesiredCapacity"]),
            }
            autoscaling.update_auto_scaling_group(
                AutoScalingGroupName=g["AutoScalingGroupName"], MinSize=0, DesiredCapacity=0
            )
    if found["instances"]:
        ec2.stop_instances(InstanceIds=found["instances"])
    started, delays = clock(), backoff(first=2.0, ceiling=15.0)
    while running := _still_running(aws, region, found):
        if clock() - started > timeout:
            raise AwsError(
                f"writes in {region} not stopped after {timeout:.0f} s: still running "
                f"{', '.join(running)}",
                hint="look at the instances in the EC2 console; rerun the failback to go on",
            )
        sleep(next(delays))
    return before


def _still_running(aws: Aws, region: str, found: Mapping[str, list[str]]) -> list[str]:
    running: list[str] = []
    if found["groups"]:
        groups = aws.client("autoscaling", region).describe_auto_scaling_groups(
            AutoScalingGroupNames=list(found["groups"])
        )
        running += [
            i["InstanceId"]
            for g in groups["AutoScalingGroups"]
            for i in g.get("Instances", [])
            if i.get("LifecycleState") not in ("Terminated", "Terminating:Proceed")
            and not str(i.get("LifecycleState", "")).startswith("Terminating")
        ]
    if found["instances"]:
        reservations = aws.client("ec2", region).describe_instances(
            InstanceIds=list(found["instances"])
        )["Reservations"]
        running += [
            i["InstanceId"]
            for r in reservations
            for i in r["Instances"]
            if i["State"]["Name"] not in ("stopped", "terminated")
        ]
    return running


def restore_commands(region: str, before: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The commands that give the groups back the sizes `stop_writes` found."""
    return [
        f"aws autoscaling update-auto-scaling-group --region {region} --auto-scaling-group-name "
        f"{name} --min-size {sizes['min']} --desired-capacity {sizes['desired']}"
        for name, sizes in sorted(before.items())
    ]


# snapshots, and their copies home ---------------------------------------------------------------


def snapshot_name(env: str, artifact: str, run_id: str) -> str:
    """An RDS snapshot identifier: letters, digits, single hyphens, starting with a letter."""
    raw = f"{env}-failback-{artifact}-{run_id}"
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", raw)).strip("-")[:255]


def take_snapshot(
    loaded: LoadedEnvironment, aws: Aws, region: str, holder: Holder, run_id: str
) -> str:
    """Start the snapshot of a holder in `region`, tagged with the artifact's lookup tags (so
    the home region's discovery finds it later as it would a backup) and the failback run."""
    lookup = loaded.env.artifacts.get(holder.artifact)
    tags = {**(lookup.tags if lookup is not None else {}), FAILBACK_TAG: run_id}
    tags["relight:env"] = loaded.env.name
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    if holder.kind == "ebs_snapshot":
        answer = aws.client("ec2", region).create_snapshot(
            VolumeId=holder.resource,
            Description=f"relight failback {run_id}: {holder.describe}",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list}],
        )
        return str(answer["SnapshotId"])
    rds, name = aws.client("rds", region), snapshot_name(loaded.env.name, holder.artifact, run_id)
    if holder.kind == "rds_snapshot":
        rds.create_db_snapshot(
            DBSnapshotIdentifier=name, DBInstanceIdentifier=holder.resource, Tags=tag_list
        )
    else:
        rds.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=name, DBClusterIdentifier=holder.resource, Tags=tag_list
        )
    return name


def candidate(aws: Aws, region: str, kind: str, ident: str) -> Candidate:
    """What replication needs to know of a snapshot (replicate's copy path takes it)."""
    if kind == "ebs_snapshot":
        snap = aws.client("ec2", region).describe_snapshots(SnapshotIds=[ident])["Snapshots"][0]
        return Candidate(
            kind,
            ident,
            snap["StartTime"],
            {t["Key"]: t["Value"] for t in snap.get("Tags", [])},
            str(snap.get("OwnerId", "")),
            encrypted=bool(snap.get("Encrypted")),
            kms_key=snap.get("KmsKeyId"),
            volume=str(snap.get("VolumeId", "")),
        )
    rds = aws.client("rds", region)
    if kind == "rds_snapshot":
        snap = rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]
        arn, owner = snap.get("DBSnapshotArn", ""), snap.get("DBSnapshotArn", "::::").split(":")[4]
        created = snap.get("SnapshotCreateTime") or datetime.now(UTC)
        tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"] if arn else []
        return Candidate(
            kind,
            ident,
            created,
            {t["Key"]: t["Value"] for t in tags},
            owner,
            db_instance=str(snap.get("DBInstanceIdentifier", "")),
            encrypted=bool(snap.get("Encrypted")),
            kms_key=snap.get("KmsKeyId"),
            arn=arn,
        )
    snap = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)[
        "DBClusterSnapshots"
    ][0]
    arn = snap.get("DBClusterSnapshotArn", "")
    tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"] if arn else []
    return Candidate(
        kind,
        ident,
        snap.get("SnapshotCreateTime") or datetime.now(UTC),
        {t["Key"]: t["Value"] for t in tags},
        arn.split(":")[4] if arn.count(":") >= 4 else "",
        db_cluster=str(snap.get("DBClusterIdentifier", "")),
        encrypted=bool(snap.get("StorageEncrypted")),
        kms_key=snap.get("KmsKeyId"),
        arn=arn,
    )


def wait_ready(
    aws: Aws,
    region: str,
    kind: str,
    ident: str,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Candidate:
    """Wait until a snapshot is usable (available / completed); AwsError when it fails."""
    started, delays = clock(), backoff(first=2.0, ceiling=30.0)
    while True:
        found = candidate(aws, region, kind, ident)
        state = _state(aws, region, kind, ident)
        if state in ("available", "completed"):
            return found
        if state in ("failed", "error"):
            raise AwsError(f"snapshot {ident} in {region} ended {state}")
        if clock() - started > timeout:
            raise AwsError(
                f"snapshot {ident} in {region} still {state} after {timeout:.0f} s",
                hint="rerun the failback: it waits for the same snapshot",
            )
        sleep(next(delays))


def _state(aws: Aws, region: str, kind: str, ident: str) -> str:
    if kind == "ebs_snapshot":
        snaps = aws.client("ec2", region).describe_snapshots(SnapshotIds=[ident])["Snapshots"]
        return str(snaps[0]["State"])
    rds = aws.client("rds", region)
    if kind == "rds_snapshot":
        return str(
            rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]["Status"]
        )
    found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)
    return str(found["DBClusterSnapshots"][0]["Status"])


def copy_home(
    replicator: Replicator, taken: Taken, source: Candidate, recovery: str, home: str
) -> str:
    """Copy a failback snapshot home (encrypted with the home region's key of the file) and
    wait for it; the copy's id. Replication's own path: shared first across accounts."""
    result = replicator.copy_one(taken.artifact, source, recovery, home, wait=True)
    if result.action == "failed":
        raise AwsError(
            f"the copy of {taken.snapshot} ({taken.artifact}) from {recovery} to {home} "
            f"failed: {result.reason}",
            hint="check the home region's key (kms_keys) allows this account, and rerun the "
            "failback: it copies the same snapshot again",
        )
    return result.copy_id


def home_artifact(taken: Taken, recovery: str, home: str) -> Artifact:
    """The copy at home as discovery would have found it: its data's time is the snapshot's."""
    return Artifact(
        taken.artifact,
        taken.kind,
        taken.copy,
        home,
        datetime.now(UTC),
        1,
        source_id=taken.snapshot,
        source_region=recovery,
        source_time=datetime.fromisoformat(taken.taken_at),
        encrypted=True,
    )
