"""The stand-in's story: a production world to fail over from, built once and then kept.

For an environment that runs on the stand-in, relight first makes the world a
real failover would find:

1. base artifacts in the home region for each artifact lookup (an image, a data snapshot,
   a database or Aurora cluster), or what already matches the lookup there (seeded by hand,
   or made by an earlier telling that failed), used as it is;
2. the environment itself, deployed in the home region from them by the same
   planning and deploy code a failover uses (purpose `home`);
3. its backups: an AMI of its instances, snapshots of their data volumes, a
   snapshot of its database or cluster, each named and tagged as its lookup asks;
4. copies of those backups in every recovery region, tagged with their lineage.

Some lookups ask for what the stand-in cannot hold (an EBS snapshot of a given volume id, an
image another account owns, an AWS Backup recovery point): before it makes anything, the
story names each such lookup, why, and what to do (seed it by hand, or what to change), and
stops. What a telling makes is found again by the next one, so a story that failed half-way
is simply told again.

A marker object in the stand-in's S3 records that the story ran, and for which lookups,
regions and keys, so it runs once per stand-in world (a restarted stand-in starts from
nothing again) and again only when the file changes those (`story_fingerprint`).
Two runs that start together on a fresh stand-in both find no marker: the
first to write a claim (a conditional write, If-None-Match "*", as the run
lock does) tells the story, the other waits for its marker. A claim whose
run has stopped (its process is gone) is taken over by the next run, with
If-Match on the claim's ETag. Only ever used against the stand-in.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relight.aws.bucket import create_bucket
from relight.aws.clients import Aws
from relight.aws.cloudformation import Stacks
from relight.errors import InputError, RelightError, StandInError
from relight.model.config import LoadedEnvironment
from relight.model.environment import ArtifactLookup, ArtifactRef, Environment
from relight.model.plan import Plan
from relight.model.shapes import tag_list
from relight.model.times import parse_time
from relight.steps.deploy import deploy
from relight.steps.discovery import (
    Artifact,
    Discovery,
    Lister,
    choose_zones,
    find_artifacts,
    root_volume,
)
from relight.steps.render import build_plan
from relight.steps.replicate import Replicator, replicate

MARKER_BUCKET = "relight-stand-in"
# How long a run waits for another run's story (it takes seconds to a minute); a claim this
# old without a marker was left by a run that stopped in the middle of the story.
STORY_WAIT_SECONDS = 600.0
# The tag that marks what the story makes as base artifacts, found again by a later telling.
BASE_TAG = "relight:stand-in"
Say = Callable[[str], None]


def _marker_key(env_name: str) -> str:
    return f"stories/{env_name}.json"


def _claim_key(env_name: str) -> str:
    return f"stories/{env_name}.claim.json"


def story_exists(aws: Aws, env_name: str, region: str, fingerprint: str | None = None) -> bool:
    """The story of `env_name` was told in this stand-in world; given `fingerprint`
    (`story_fingerprint`), for what the environment file asks today."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3", region)
    try:
        got = s3.get_object(Bucket=MARKER_BUCKET, Key=_marker_key(env_name))
    except ClientError:  # 404 or no bucket: no story yet
        return False
    if fingerprint is None:
        return True
    try:
        told = json.loads(got["Body"].read()).get("fingerprint")
    except ValueError:
        told = None
    return told in (None, fingerprint)  # a marker without one: told before they were kept


def story_fingerprint(env: Environment) -> str:
    """What the story made depends on: the artifact lookups, the regions and their keys. A
    file that changes them gets its story told again (reusing what is there)."""
    asked = {
        "home": env.home_region,
        "recovery": sorted(env.recovery_regions),
        "kms_keys": env.kms_keys,
        "artifacts": {name: lk.model_dump(mode="json") for name, lk in env.artifacts.items()},
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:16]


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d-%H%M%S")


# What the story can make for a lookup ---------------------------------------------------------

_NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ._"


def _glob_example(pattern: str, fill: str) -> str:
    """A name `pattern` (an fnmatch glob) matches: `*` becomes `fill`, `?` an x, `[...]` a
    character the class allows. It may not match (a class nothing fits): callers check."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        end = pattern.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append(fill)
        elif char == "?":
            out.append("x")
        elif end > 0:
            members = pattern[i : end + 1]
            choices = pattern[i + 1 : end].lstrip("!") + _NAME_CHARACTERS
            out.append(next((c for c in choices if fnmatch.fnmatchcase(c, members)), ""))
            i = end
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _image_name(lookup: ArtifactLookup, fallback: str, now: datetime) -> str:
    return _glob_example(lookup.name or f"{fallback}-*", _stamp(now))


@dataclass(frozen=True)
class Unseeded:
    """A lookup the story cannot make a match for: why, and what its user can do."""

    artifact: str
    lookup: ArtifactLookup
    why: str
    how: str

    def __str__(self) -> str:
        return f"artifacts.{self.artifact} ({self.lookup.describe()}): {self.why}; {self.how}"


def unseedable(
    name: str,
    lookup: ArtifactLookup,
    *,
    home: str,
    endpoint: str,
    unlisted: str | None = None,
) -> Unseeded | None:
    """Why the story cannot make what `lookup` finds, and how its user seeds it (None: it can).

    `unlisted` is why the stand-in could not list that kind, when it could not.
    """
    if lookup.kind == "backup_recovery_point":
        listing = f", and the stand-in cannot list them ({unlisted})" if unlisted else ""
        return Unseeded(
            name, lookup,
            f"the story makes no AWS Backup recovery points{listing}",
            "run this environment on AWS (--aws); on the stand-in, rehearse a copy of the "
            "file that finds that data with an ami or ebs_snapshot lookup instead",
        )  # fmt: skip
    if "self" not in lookup.owners:
        return Unseeded(
            name, lookup,
            f"it is owned by {', '.join(lookup.owners)}, and the stand-in plays one account, "
            "which sees nothing another account shares",
            "run this environment on AWS (--aws), or let the lookup find its own account's "
            f"too while rehearsing (owners: [self, {', '.join(lookup.owners)}])",
        )  # fmt: skip
    if lookup.kind == "ebs_snapshot" and lookup.source_volume:
        return Unseeded(
            name, lookup,
            f"the stand-in names its volumes itself, so no snapshot there is of "
            f"{lookup.source_volume}",
            "run this environment on AWS (--aws), or find that snapshot by its tags instead "
            "of source_volume while rehearsing",
        )  # fmt: skip
    if lookup.kind == "ami" and lookup.name:
        example = _glob_example(lookup.name, "1")
        if not fnmatch.fnmatchcase(example, lookup.name):
            aws = f"aws --endpoint-url {endpoint} --region {home}"
            tags = ",".join(f"{{Key={k},Value={v}}}" for k, v in sorted(lookup.tags.items()))
            tagging = f" --tag-specifications 'ResourceType=image,Tags=[{tags}]'" if tags else ""
            return Unseeded(
                name, lookup,
                f"the story cannot make up a name that matches {lookup.name}",
                f"seed one: {aws} ec2 register-image --name NAME --root-device-name /dev/xvda "
                "--block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=8}' "
                f"--virtualization-type hvm{tagging} (NAME matching {lookup.name}), and "
                f"rerun: the story uses what matches in {home}",
            )  # fmt: skip
    return None


class Story:
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
        """An AMI's root device and size, read back as discovery reads them."""
        if kind != "ami":
            return {}
        return root_volume(self.ec2.describe_images(ImageIds=[ident])["Images"][0])

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

    # 4. copies in the recovery regions, by the same code as `relight replicate` --------------

    def kms_keys(self) -> None:
        """The KMS keys the environment names for its regions exist in production."""
        from botocore.exceptions import ClientError

        for region, key in self.env.kms_keys.items():
            kms = self.aws.client("kms", region)
            try:
                kms.describe_key(KeyId=key)
            except ClientError:  # NotFoundException: make it
                made = kms.create_key(Description=f"relight stand-in: {key}")["KeyMetadata"]
                if key.startswith("alias/"):
                    kms.create_alias(AliasName=key, TargetKeyId=made["KeyId"])

    def copy(self) -> None:
        if not self.recovery:
            return
        account = self.aws.account_id(self.home)
        replicator = Replicator(
            self.loaded, self.aws, self.aws, source_account=account, target_account=account
        )
        try:
            results = replicate(replicator, self.home, self.recovery)
        except InputError as exc:  # what `relight replicate` would refuse on AWS too
            raise StandInError(
                f"story: copying the backups to {', '.join(self.recovery)}: {exc.message}",
                hint=f"relight replicate would refuse this on AWS too: fix {self.loaded.path} "
                "and rerun (the story is told again, and uses what it made so far)",
            ) from exc
        failed = [r for r in results if r.action == "failed"]
        if failed:
            raise StandInError(
                "story: copying the backups failed: "
                + "; ".join(f"{r.artifact} to {r.region}: {r.reason}" for r in failed)
            )

    # the whole story --------------------------------------------------------------------------

    def run(self, now: datetime, run_id: str) -> None:
        zones, _, _ = choose_zones(self.aws, self.home, self.env.zones)
        found, unlisted = self.existing()
        self.check_seedable(found, unlisted)
        if found:
            self.say(
                f"stand-in story for {self.env.name}: already in {self.home}, used as they are: "
                + ", ".join(f"{name} {art.id}" for name, art in sorted(found.items()))
            )
        if len(found) < len(self.env.artifacts):
            self.say(f"stand-in story for {self.env.name}: base images and data in {self.home}")
        base = {
            name: found.get(name)
            or self._made(name, lookup, self.base_artifact(name, lookup, zones[0].name, now), now)
            for name, lookup in self.env.artifacts.items()
        }
        self.hosted_zones()
        plan = build_plan(self.loaded, self.home, purpose="home", stand_in=True)
        inputs = Discovery(region=self.home, at=now, zones=zones, artifacts=base)
        self.say(f"stand-in story: building {self.env.name} in its home region {self.home}")
        stacks = Stacks(self.aws.client("cloudformation", self.home), timeout=120)
        outcome = deploy(stacks, plan, inputs, run_id=run_id)
        if not outcome.ok:
            reasons = "; ".join(f"{r.name}: {r.reason}" for r in outcome.failed())
            raise StandInError(
                f"story: the home build in {self.home} failed: {reasons}",
                hint="fix the cause and rerun: the story is told again, using what it made",
            )
        regions = ", ".join(self.recovery)
        self.say(f"stand-in story: backing up and copying the backups to {regions or '(none)'}")
        for name, lookup in self.env.artifacts.items():
            if name not in found:
                self.back_up(plan, name, lookup, base[name].id, now)
        self.check_backups()
        self.kms_keys()
        self.copy()
        self.prepare(now, run_id)

    def _made(self, name: str, lookup: ArtifactLookup, ident: str, now: datetime) -> Artifact:
        return Artifact(
            name, lookup.kind, ident, self.home, now, 1,
            attributes=self._attributes(lookup.kind, ident),
        )  # fmt: skip

    def prepare(self, now: datetime, run_id: str) -> None:
        """What `relight prepare` does before a disaster, in each recovery region at the
        file's strategy: relight's bucket configured, the rung's standing stacks deployed."""
        from relight.aws.bucket import TemplateBucket
        from relight.steps.discovery import discover
        from relight.steps.preflight import instance_types

        account = self.aws.account_id(self.home)
        for region in self.recovery:
            plan = build_plan(self.loaded, region, stand_in=True, phase="prepare")
            TemplateBucket(self.aws.client("s3", region), region, account).configure()
            if not plan.stacks:
                continue
            self.say(
                f"stand-in story: preparing {region} ({plan.strategy}): {', '.join(plan.stacks)}"
            )
            found = discover(
                self.aws,
                self.env,
                region,
                account_id=account,
                now=lambda: now,
                instance_types=instance_types(plan),
            )
            stacks = Stacks(self.aws.client("cloudformation", region), timeout=120)
            outcome = deploy(stacks, plan, found, run_id=run_id)
            if not outcome.ok:
                reasons = "; ".join(f"{r.name}: {r.reason}" for r in outcome.failed())
                raise StandInError(f"story: preparing {region} failed: {reasons}")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_LOST = ("PreconditionFailed", "ConditionalRequestConflict")


@dataclass(frozen=True)
class Claim:
    """Who is telling the story: the run, its process on this machine, since when."""

    run: str
    at: datetime
    pid: int | None = None
    host: str | None = None
    etag: str = ""

    def stopped(self) -> bool:
        """The run's process is known to be gone (on this machine; elsewhere: not known)."""
        if self.pid is None or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's live process
            return False
        return False

    def who(self) -> str:
        return f"run {self.run}" + (f" (process {self.pid})" if self.pid else "")


def _claim(s3: Any, env_name: str, run_id: str, now: datetime, **condition: str) -> str | None:
    """Write this run's claim under `condition` (If-None-Match "*": nobody's; If-Match: take
    over that claim); its ETag, or None when another run's write won."""
    from botocore.exceptions import ClientError

    body: dict[str, Any] = {"env": env_name, "run": run_id, "at": now.isoformat()}
    body.update(pid=os.getpid(), host=socket.gethostname())
    try:
        put = s3.put_object(
            Bucket=MARKER_BUCKET, Key=_claim_key(env_name), Body=json.dumps(body), **condition
        )
    except ClientError as exc:
        if _code(exc) in _LOST:
            return None
        raise
    return str(put["ETag"])


def _claimed(s3: Any, env_name: str) -> Claim | None:
    """The claim that stands, or None when none does."""
    from botocore.exceptions import ClientError

    try:
        got = s3.get_object(Bucket=MARKER_BUCKET, Key=_claim_key(env_name))
    except ClientError:
        return None
    try:
        data = json.loads(got["Body"].read())
    except ValueError:
        data = {}
    at = parse_time(data.get("at")) or parse_time(got.get("LastModified")) or datetime.now(UTC)
    pid = data.get("pid")
    return Claim(
        run=str(data.get("run", "unknown")),
        at=at,
        pid=pid if isinstance(pid, int) else None,
        host=data.get("host"),
        etag=str(got.get("ETag", "")),
    )


def _give_up(s3: Any, env_name: str, etag: str) -> None:
    """Remove this run's claim (only its own: If-Match), so a later run tells the story."""
    from botocore.exceptions import ClientError

    try:
        s3.delete_object(Bucket=MARKER_BUCKET, Key=_claim_key(env_name), IfMatch=etag)
    except ClientError as exc:
        if _code(exc) not in (*_LOST, "NoSuchKey"):
            raise


def ensure_story(
    aws: Aws,
    loaded: LoadedEnvironment,
    *,
    run_id: str,
    say: Say,
    tell: Callable[[], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    wait_seconds: float = STORY_WAIT_SECONDS,
) -> bool:
    """Run the story once per stand-in world; True if this run told it.

    Of runs that start together, the one whose claim is written first tells it (`tell`,
    the Story by default); the others wait for its marker. A story that fails gives its
    claim up, so a later run tells it again. A claim whose run stopped without giving it up
    (killed: its process is gone) is taken over at once; one older than `wait_seconds`
    whose process cannot be checked (another machine's) is taken over then. Only a run still
    alive after `wait_seconds` is reported instead.
    """
    env_name, home = loaded.env.name, loaded.env.home_region
    fingerprint = story_fingerprint(loaded.env)
    if story_exists(aws, env_name, home, fingerprint):
        return False
    if story_exists(aws, env_name, home):
        say(
            f"stand-in story for {env_name}: the file's artifacts, regions or keys changed since "
            "it was told; telling it again (what is there is used as it is)"
        )
    s3 = aws.client("s3", home)
    create_bucket(s3, MARKER_BUCKET, home)
    said = False
    while not story_exists(aws, env_name, home, fingerprint):
        etag = _claim(s3, env_name, run_id, now(), IfNoneMatch="*")
        if etag is None:
            claim = _claimed(s3, env_name)
            if claim is None:
                continue  # given up by the run that made it: claim it again
            waited = (now() - claim.at).total_seconds()
            alive = not claim.stopped()
            if alive and waited <= wait_seconds:
                if not said:
                    say(f"stand-in story for {env_name}: {claim.who()} is setting it up; waiting")
                    said = True
                sleep(1.0)
                continue
            if alive and claim.pid is not None and claim.host == socket.gethostname():
                raise StandInError(
                    f"the stand-in's first-run setup for {env_name} was started by run "
                    f"{claim.run} {waited:.0f} s ago and has not finished: its process "
                    f"{claim.pid} is still running",
                    hint="wait for it, or stop that run and rerun: the next run tells the "
                    "story again, reusing what it made; relight local stop starts the "
                    "stand-in from nothing",
                )
            etag = _claim(s3, env_name, run_id, now(), IfMatch=claim.etag)
            if etag is None:
                continue  # another waiting run took it over first
            why = "stopped" if not alive else f"did not finish in {waited:.0f} s"
            say(f"stand-in story for {env_name}: {claim.who()} {why}; telling it again")
        if story_exists(aws, env_name, home, fingerprint):
            _give_up(s3, env_name, etag)
            return False  # told by a run whose claim was given up just before ours
        try:
            (tell or (lambda: Story(aws, loaded, say).run(now(), run_id)))()
        except BaseException:  # failed or interrupted: let a later run tell it
            _give_up(s3, env_name, etag)
            raise
        told = {"env": env_name, "at": now().isoformat(), "run": run_id}
        s3.put_object(
            Bucket=MARKER_BUCKET,
            Key=_marker_key(env_name),
            Body=json.dumps({**told, "fingerprint": fingerprint}),
        )
        _give_up(s3, env_name, etag)  # told: the claim is done with
        return True
    return False
