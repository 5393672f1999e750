"""The story in the home region: what already matches each lookup there, or why it cannot be
made; the base artifacts the environment is built from; and, once it runs, its backups, named
and tagged as each lookup asks."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime

from relight.aws.clients import Aws
from relight.errors import InputError, RelightError, StandInError
from relight.model.config import LoadedEnvironment
from relight.model.environment import ArtifactLookup, ArtifactRef
from relight.model.plan import Plan
from relight.model.shapes import tag_list
from relight.standin.story.common import Say, _code, _stamp
from relight.standin.story.lookups import _image_name, unseedable
from relight.steps.discovery import (
    Artifact,
    Lister,
    find_artifacts,
    rds_restore_keeps,
    root_volume,
)

# The tag that marks what the story makes as base artifacts, found again by a later telling.
BASE_TAG = "relight:stand-in"


class HomeBuild:
    """The story in the home region (`Story` goes on in the recovery regions): what is there
    already, the base artifacts, the hosted zones, and the backups of the running environment."""

    def __init__(self, aws: Aws, loaded: LoadedEnvironment, say: Say) -> None:
        self.aws = aws
        self.loaded = loaded
        self.env = loaded.env
        self.home = loaded.env.home_region
        self.recovery = [r for r in loaded.env.recovery_regions if r != self.home]
        self.ec2 = aws.client("ec2", self.home)
        self.rds = aws.client("rds", self.home)
        self.say = say
        # Encrypted as production's would be copied: relight copies an encrypted backup only
        # into a region whose key the file names (kms_keys).
        self.encrypted = all(region in self.env.kms_keys for region in self.recovery)

    # 0. what is there already, and what cannot be made ----------------------------------------

    def existing(self) -> tuple[dict[str, Artifact], dict[str, str]]:
        """What already matches each lookup in the home region (seeded by hand, or made by an
        earlier telling), and, per kind the stand-in cannot list, why."""
        lister = Lister(self.aws, self.home)
        account = self.aws.account_id(self.home)
        found: dict[str, Artifact] = {}
        unlisted: dict[str, str] = {}
        for kind in sorted({lookup.kind for lookup in self.env.artifacts.values()}):
            lookups = {n: lk for n, lk in self.env.artifacts.items() if lk.kind == kind}
            try:
                found.update(find_artifacts(lister, lookups, account)[0])
            except RelightError as exc:
                unlisted[kind] = exc.message
        return found, unlisted

    def check_seedable(self, found: Mapping[str, Artifact], unlisted: Mapping[str, str]) -> None:
        """Refuse, before anything is made, when a lookup neither matches in the home region
        nor can be made there: each such lookup, why, and how its user seeds it."""
        endpoint = self.aws.target.endpoint_url or "URL"
        cannot = [
            problem
            for name, lookup in self.env.artifacts.items()
            if name not in found
            and (
                problem := unseedable(
                    name,
                    lookup,
                    home=self.home,
                    endpoint=endpoint,
                    unlisted=unlisted.get(lookup.kind),
                )
            )
        ]
        if cannot:
            raise InputError(
                f"the stand-in's story for {self.env.name} cannot make what "
                f"{'this lookup finds' if len(cannot) == 1 else 'these lookups find'} in "
                f"{self.home}, so a failover there would have nothing to restore from:\n  "
                + "\n  ".join(str(c) for c in cannot),
                hint=f"nothing was made; seed or change those lookups and rerun: the story "
                f"uses what already matches in {self.home}",
            )

    # 1. base artifacts -----------------------------------------------------------------------

    def _base_tags(self, name: str) -> dict[str, str]:
        return {BASE_TAG: "base", "Name": f"{self.env.name}-{name}-base"}

    def _earlier_base(self, name: str, lookup: ArtifactLookup) -> str | None:
        """The base artifact an earlier telling made for `name`, if it made one."""
        from botocore.exceptions import ClientError

        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in self._base_tags(name).items()]
        if lookup.kind == "ami":
            images = self.ec2.describe_images(Owners=["self"], Filters=filters)["Images"]
            return max(images, key=lambda i: i["CreationDate"])["ImageId"] if images else None
        if lookup.kind == "ebs_snapshot":
            snaps = self.ec2.describe_snapshots(OwnerIds=["self"], Filters=filters)["Snapshots"]
            return max(snaps, key=lambda s: s["StartTime"])["SnapshotId"] if snaps else None
        snapshot = self._base_snapshot(name, lookup)
        try:
            if lookup.kind == "rds_snapshot":
                self.rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)
            else:
                self.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)
        except ClientError:  # DBSnapshotNotFound, DBClusterSnapshotNotFoundFault: not made yet
            return None
        return snapshot

    def _base_snapshot(self, name: str, lookup: ArtifactLookup) -> str:
        """The snapshot of the base database that the home build restores from."""
        return f"{self._database(name, lookup)}-base"

    def _database(self, name: str, lookup: ArtifactLookup) -> str:
        """The DB instance or cluster the lookup names, else one named after the artifact
        (letters, digits and single hyphens, as RDS requires)."""
        made = re.sub(r"[^a-z0-9]+", "-", f"{self.env.name}-{name}".lower()).strip("-")
        return lookup.db_instance or lookup.db_cluster or made

    def base_artifact(self, name: str, lookup: ArtifactLookup, zone: str, now: datetime) -> str:
        """Make the base `name` is built from at home (or find the one an earlier telling made)."""
        earlier = self._earlier_base(name, lookup)
        if earlier:
            return earlier
        marker = tag_list(self._base_tags(name))
        if lookup.kind == "ami":
            image = self.ec2.register_image(
                Name=f"{self.env.name}-{name}-base-{_stamp(now)}",
                RootDeviceName="/dev/xvda",
                BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
                VirtualizationType="hvm",
                Architecture="x86_64",
            )["ImageId"]
            self.ec2.create_tags(Resources=[image], Tags=marker)  # moto drops TagSpecifications
            return str(image)
        if lookup.kind == "ebs_snapshot":
            volume = self.ec2.create_volume(
                AvailabilityZone=zone, Size=10, Encrypted=self.encrypted
            )
            return str(
                self.ec2.create_snapshot(
                    VolumeId=volume["VolumeId"],
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": marker}],
                )["SnapshotId"]
            )
        identifier = self._database(name, lookup)
        database = {
            "MasterUsername": "relight",
            "MasterUserPassword": secrets.token_urlsafe(24),  # never shown, never stored
            "StorageEncrypted": self.encrypted,
            "Tags": marker,
        }
        snapshot = self._base_snapshot(name, lookup)
        if lookup.kind == "rds_snapshot":
            self._ensure(
                lambda: self.rds.create_db_instance(
                    DBInstanceIdentifier=identifier,
                    Engine="postgres",
                    DBInstanceClass="db.t3.micro",
                    AllocatedStorage=20,
                    **database,
                )
            )
            self.rds.create_db_snapshot(
                DBInstanceIdentifier=identifier, DBSnapshotIdentifier=snapshot, Tags=marker
            )
        else:
            self._ensure(
                lambda: self.rds.create_db_cluster(
                    DBClusterIdentifier=identifier, Engine="aurora-postgresql", **database
                )
            )
            self.rds.create_db_cluster_snapshot(
                DBClusterIdentifier=identifier, DBClusterSnapshotIdentifier=snapshot, Tags=marker
            )
        return snapshot

    @staticmethod
    def _ensure(create: Callable[[], object]) -> None:
        """Create a base database unless an earlier telling made it already."""
        from botocore.exceptions import ClientError

        try:
            create()
        except ClientError as exc:
            if _code(exc) not in ("DBInstanceAlreadyExists", "DBClusterAlreadyExistsFault"):
                raise

    def _attributes(self, kind: str, ident: str) -> dict[str, str]:
        """An AMI's root device and size, or what a restore keeps of a DB (cluster) snapshot
        (its port, storage type, ...), read back as discovery reads them."""
        if kind == "ami":
            return root_volume(self.ec2.describe_images(ImageIds=[ident])["Images"][0])
        if kind == "rds_snapshot":
            found = self.rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"]
        elif kind == "rds_cluster_snapshot":
            found = self.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)[
                "DBClusterSnapshots"
            ]
        else:
            return {}
        return rds_restore_keeps(found[0])

    # 3. backups of the running home environment ---------------------------------------------

    def _stacks_using(self, plan: Plan, artifact: str) -> list[str]:
        return [
            sp.name
            for sp in plan.stacks.values()
            if ArtifactRef(artifact=artifact) in sp.parameters.values()
        ]

    def _instances_of(self, stack_names: list[str]) -> list[str]:
        """Instance ids the stacks made, directly or through their Auto Scaling groups."""
        cfn = self.aws.client("cloudformation", self.home)
        instances: list[str] = []
        groups: list[str] = []
        for name in stack_names:
            for resource in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::EC2::Instance":
                    instances.append(resource["PhysicalResourceId"])
                elif resource["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup":
                    groups.append(resource["PhysicalResourceId"])
        if groups:
            asg = self.aws.client("autoscaling", self.home)
            for group in asg.describe_auto_scaling_groups(AutoScalingGroupNames=groups)[
                "AutoScalingGroups"
            ]:
                instances += [i["InstanceId"] for i in group["Instances"]]
        return sorted(instances)

    def hosted_zones(self) -> None:
        """The hosted zones the stacks name (HostedZoneName params) exist in production."""
        route53 = self.aws.client("route53", self.home)
        existing = {z["Name"] for z in route53.list_hosted_zones()["HostedZones"]}
        for spec in self.env.stacks.values():
            zone = spec.params.get("HostedZoneName")
            if isinstance(zone, str) and zone not in existing:
                route53.create_hosted_zone(Name=zone, CallerReference=f"relight-{zone}")
                existing.add(zone)

    def back_up(
        self, plan: Plan, name: str, lookup: ArtifactLookup, base_id: str, now: datetime
    ) -> str:
        tags = {"Name": f"{self.env.name}-{name}-backup", **lookup.tags}
        if lookup.kind == "ami":
            instances = self._instances_of(self._stacks_using(plan, name))
            image_name = _image_name(lookup, f"{self.env.name}-{name}", now)
            if instances:
                image = self.ec2.create_image(
                    InstanceId=instances[0], Name=image_name, NoReboot=True
                )["ImageId"]
            else:
                image = self.ec2.copy_image(
                    SourceImageId=base_id, SourceRegion=self.home, Name=image_name
                )["ImageId"]
            self.ec2.create_tags(Resources=[image], Tags=tag_list(tags))
            return str(image)
        if lookup.kind == "ebs_snapshot":
            volume = self._data_volume(base_id)
            return str(
                self.ec2.create_snapshot(
                    VolumeId=volume,
                    Description=f"backup of {volume}",
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}],
                )["SnapshotId"]
            )
        database = self._database(name, lookup)  # backed up: the base database itself
        if lookup.kind == "rds_cluster_snapshot":
            cluster_snapshot = self.rds.create_db_cluster_snapshot(
                DBClusterIdentifier=database,
                DBClusterSnapshotIdentifier=f"{database}-{_stamp(now)}",
                Tags=tag_list(tags),
            )["DBClusterSnapshot"]
            return str(cluster_snapshot["DBClusterSnapshotArn"])
        snapshot = self.rds.create_db_snapshot(
            DBInstanceIdentifier=database,
            DBSnapshotIdentifier=f"{database}-{_stamp(now)}",
            Tags=tag_list(tags),
        )["DBSnapshot"]
        return str(snapshot["DBSnapshotArn"])

    def _data_volume(self, base_id: str) -> str:
        """The volume to back up: one an instance uses that was restored from the base
        snapshot; else (no stack on the stand-in restores it) the volume the base was of."""
        volumes = self.ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [base_id]}])[
            "Volumes"
        ]
        attached = [v for v in volumes if v.get("Attachments")] or volumes
        if attached:
            return str(attached[0]["VolumeId"])
        base = self.ec2.describe_snapshots(SnapshotIds=[base_id])["Snapshots"][0]
        return str(base["VolumeId"])

    def check_backups(self) -> None:
        """Every lookup finds a backup in the home region now, or the story says which not."""
        found, unlisted = self.existing()
        missing = [
            f"artifacts.{name}: no {lookup.describe()} in {self.home}"
            + (f" ({unlisted[lookup.kind]})" if lookup.kind in unlisted else "")
            for name, lookup in self.env.artifacts.items()
            if name not in found
        ]
        if missing:
            raise StandInError(
                "story: what the story made in the home region is not what these lookups "
                "find:\n  " + "\n  ".join(missing),
                hint=f"seed a match by hand in {self.home} (aws --endpoint-url "
                f"{self.aws.target.endpoint_url} ...) and rerun: the story uses what matches "
                "there",
            )
