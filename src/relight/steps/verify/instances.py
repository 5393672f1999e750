"""The instances a stack holds, its own and its Auto Scaling groups' members: running, made
from the expected AMI, status checks passed, in the security groups the stack was given and no
other, their volumes made from the expected snapshot; and each group at its desired capacity."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from relight.steps.verify.common import (
    _SECURITY_GROUP,
    FAILED,
    GROUP_NAMES_PER_CALL,
    INSTANCE_IDS_PER_CALL,
    NOT_LOCAL,
    PASSED,
    PENDING,
    VOLUME_IDS_PER_CALL,
    Probe,
    Reading,
    VerifierBase,
    _counted,
    batched,
)

_GONE = {"stopping", "stopped", "shutting-down", "terminated"}
_LEAVING = ("Terminating", "Terminated", "Detaching", "Detached")  # group lifecycle prefixes
_STATUS_ORDER = ("impaired", "insufficient-data", "initializing", "not-applicable")
_FLEET = {"AWS::EC2::Instance", "AWS::AutoScaling::AutoScalingGroup"}
_GROUP_PARAMETER_TYPES = {"AWS::EC2::SecurityGroup::Id", "List<AWS::EC2::SecurityGroup::Id>"}
_GROUP_ID = re.compile(r"sg-[0-9a-zA-Z]+")
_MOST_LISTED = 5  # instances or rules named in a failed check's detail; the rest are counted


class InstanceChecks(VerifierBase):
    """The checks of a stack's instances, and of its Auto Scaling groups' capacity."""

    def _declared_groups(self, key: str, resources: dict[str, list[str]]) -> set[str] | None:
        """The security groups the stack's instances may be in: the values of its
        security-group Parameters and the groups it makes; None when it names none (or has no
        instances to check)."""
        if not _FLEET & resources.keys():
            return None
        parameters = self._template(key).get("Parameters", {})
        names = [n for n, p in parameters.items() if p.get("Type") in _GROUP_PARAMETER_TYPES]
        groups = set(resources.get(_SECURITY_GROUP, []))
        if names:
            given = self._given(key)
            groups |= {g for n in names for g in _GROUP_ID.findall(given.get(n, ""))}
        return groups or None

    def _fleet(
        self,
        resources: dict[str, list[str]],
        expected: dict[str, str],
        security_groups: set[str] | None = None,
    ) -> Probe:
        """The stack's instances (its own and its groups' members, read afresh each time: a
        group launches and replaces them while it is watched) and its groups' capacity."""
        fixed = list(resources.get("AWS::EC2::Instance", []))
        names = list(resources.get("AWS::AutoScaling::AutoScalingGroup", []))

        def read() -> list[Reading]:
            groups = (
                batched(
                    self.client("autoscaling").describe_auto_scaling_groups,
                    "AutoScalingGroupNames",
                    names,
                    GROUP_NAMES_PER_CALL,
                    "AutoScalingGroups",
                )
                if names
                else []
            )
            members = [
                i["InstanceId"]
                for g in groups
                for i in g.get("Instances", [])
                if not i["LifecycleState"].startswith(_LEAVING)
            ]
            ids = fixed + members
            readings = self._instances(ids, expected, security_groups) if ids else []
            return readings + [_capacity(group) for group in groups]

        return read

    def _instances(
        self, ids: list[str], expected: dict[str, str], groups: set[str] | None = None
    ) -> list[Reading]:
        try:
            reservations = batched(
                self.client("ec2").describe_instances,
                "InstanceIds",
                ids,
                INSTANCE_IDS_PER_CALL,
                "Reservations",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidInstanceID.NotFound":
                raise
            return [  # EC2 is eventually consistent: a new instance can be unknown for a while
                Reading(
                    "instances running",
                    PENDING,
                    f"0 of {len(ids)} known to DescribeInstances",
                    "some not visible yet",
                )
            ]
        instances = [i for r in reservations for i in r["Instances"]]
        readings = [_running(ids, instances)]
        if "ami" in expected:
            readings.append(_made_from(instances, expected["ami"]))
        readings.append(self._status_checks(ids))
        if groups is not None:
            readings.append(_in_groups(instances, groups))
        if "ebs_snapshot" in expected:
            readings.append(self._volumes(instances, expected["ebs_snapshot"]))
        return readings

    def _status_checks(self, ids: list[str]) -> Reading:
        if self.stand_in:
            return Reading("instance status checks", NOT_LOCAL, "moto reports every check ok")
        statuses = batched(
            self.client("ec2").describe_instance_status,
            "InstanceIds",
            ids,
            INSTANCE_IDS_PER_CALL,
            "InstanceStatuses",
            IncludeAllInstances=True,
        )
        found = {s["InstanceId"]: _status(s) for s in statuses}
        words = [found.get(i, "not reported yet") for i in ids]
        ok = words.count("ok")
        detail = f"{ok} of {len(ids)} status checks ok"
        if ok == len(ids):
            return Reading("instance status checks passed", PASSED, detail)
        return Reading(
            "instance status checks passed",
            PENDING,
            detail,
            _counted(w for w in words if w != "ok"),
            "see why with aws ec2 describe-instance-status --instance-ids ID and "
            "aws ec2 get-console-output --instance-id ID",
        )

    def _volumes(self, instances: list[dict[str, Any]], snapshot: str) -> Reading:
        check = "data volumes from the expected snapshot"
        volume_ids = [
            m["Ebs"]["VolumeId"]
            for i in instances
            for m in i.get("BlockDeviceMappings", [])
            if "Ebs" in m
        ]
        volumes = (
            batched(
                self.client("ec2").describe_volumes,
                "VolumeIds",
                volume_ids,
                VOLUME_IDS_PER_CALL,
                "Volumes",
            )
            if volume_ids
            else []
        )
        restored = [v for v in volumes if v.get("SnapshotId") == snapshot]
        detail = f"{len(restored)} volume(s) from {snapshot} for {len(instances)} instance(s)"
        if len(restored) >= len(instances):
            return Reading(check, PASSED, detail)
        starting = sum(1 for i in instances if i["State"]["Name"] == "pending")
        if starting:  # volumes are attached as an instance starts
            return Reading(check, PENDING, detail, f"{starting} instance(s) starting")
        return Reading(check, FAILED, detail)


def _status(entry: dict[str, Any]) -> str:
    """An instance's status checks in one word: ok, or the worst of its two checks."""
    found = {entry["SystemStatus"]["Status"], entry["InstanceStatus"]["Status"]}
    if found == {"ok"}:
        return "ok"
    worst = next((s for s in _STATUS_ORDER if s in found), sorted(found - {"ok"})[0])
    return "not running yet" if worst == "not-applicable" else worst


def _running(ids: list[str], instances: list[dict[str, Any]]) -> Reading:
    states = {i["InstanceId"]: i["State"]["Name"] for i in instances}
    running = sum(1 for state in states.values() if state == "running")
    detail = f"{running} of {len(ids)}"
    gone = sorted(f"{i} {state}" for i, state in states.items() if state in _GONE)
    if gone:
        return Reading("instances running", FAILED, f"{detail}; {', '.join(gone)}")
    if running == len(ids):
        return Reading("instances running", PASSED, detail)
    waiting = _counted(s for s in states.values() if s != "running") or "not described"
    return Reading("instances running", PENDING, f"{detail} running", waiting)


def _made_from(instances: list[dict[str, Any]], ami: str) -> Reading:
    wrong = sorted({i["ImageId"] for i in instances} - {ami})
    return Reading(
        "instances made from the expected AMI",
        FAILED if wrong else PASSED,
        f"expected {ami}" + (f", found {', '.join(wrong)}" if wrong else ""),
    )


def _in_groups(instances: list[dict[str, Any]], declared: set[str]) -> Reading:
    """Every instance is in some of the declared groups and in no other."""
    wrong = []
    for instance in instances:
        found = sorted(g["GroupId"] for g in instance.get("SecurityGroups", []))
        if not found or not set(found) <= declared:
            wrong.append(f"{instance['InstanceId']} in {', '.join(found) or 'no group'}")
    detail = f"{len(instances) - len(wrong)} of {len(instances)} in {', '.join(sorted(declared))}"
    if not wrong:
        return Reading("instances in the declared security groups", PASSED, detail)
    return Reading(
        "instances in the declared security groups", FAILED, f"{detail}; {_listed(wrong)}"
    )


def _listed(items: list[str]) -> str:
    shown = "; ".join(items[:_MOST_LISTED])
    more = len(items) - _MOST_LISTED
    return f"{shown}; and {more} more" if more > 0 else shown


def _capacity(group: dict[str, Any]) -> Reading:
    check = "auto scaling group at desired capacity"
    name = group["AutoScalingGroupName"]
    members = group.get("Instances", [])
    serving = sum(1 for i in members if i["LifecycleState"] == "InService")
    desired = group["DesiredCapacity"]
    detail = f"{name}: {serving} in service of {desired} desired"
    if serving >= desired:
        return Reading(check, PASSED, detail)
    waiting = _counted(i["LifecycleState"] for i in members if i["LifecycleState"] != "InService")
    return Reading(
        check,
        PENDING,
        detail,
        waiting or "no instance launched",
        "see why with aws autoscaling describe-scaling-activities "
        f"--auto-scaling-group-name {name}",
    )
