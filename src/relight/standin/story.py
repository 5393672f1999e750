"""The stand-in's story: a production world to fail over from, built once and then kept.

For an environment that runs on the stand-in, relight first makes the world a
real failover would find:

1. base artifacts in the home region (an image, a data snapshot, a database);
2. the environment itself, deployed in the home region from them by the same
   planning and deploy code a failover uses (purpose `home`);
3. its backups: an AMI of its instances, snapshots of their data volumes, a
   snapshot of its database, each tagged as the environment's lookups expect;
4. copies of those backups in every recovery region, tagged with their lineage.

A marker object in the stand-in's S3 records that the story ran, so it runs
once per stand-in world (a restarted stand-in starts from nothing again).
Two runs that start together on a fresh stand-in both find no marker: the
first to write a claim (a conditional write, If-None-Match "*", as the run
lock does) tells the story, the other waits for its marker. Only ever used
against the stand-in.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from relight.aws import Aws, tag_list
from relight.bucket import create_bucket
from relight.cloudformation import Stacks
from relight.config import LoadedEnvironment
from relight.deploy import deploy
from relight.discovery import Artifact, Discovery, choose_zones, root_volume
from relight.environment import ArtifactLookup, ArtifactRef
from relight.errors import StandInError
from relight.render import Plan, build_plan
from relight.replicate import Replicator, replicate
from relight.times import parse_time

MARKER_BUCKET = "relight-stand-in"
# How long a run waits for another run's story (it takes seconds to a minute); a claim this
# old without a marker was left by a run that stopped in the middle of the story.
STORY_WAIT_SECONDS = 600.0
Say = Callable[[str], None]


def _marker_key(env_name: str) -> str:
    return f"stories/{env_name}.json"


def _claim_key(env_name: str) -> str:
    return f"stories/{env_name}.claim.json"


def story_exists(aws: Aws, env_name: str, region: str) -> bool:
    from botocore.exceptions import ClientError

    s3 = aws.client("s3", region)
    try:
        s3.head_object(Bucket=MARKER_BUCKET, Key=_marker_key(env_name))
    except ClientError:  # 404 or no bucket: no story yet
        return False
    return True


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d-%H%M%S")


def _image_name(lookup: ArtifactLookup, fallback: str, now: datetime) -> str:
    pattern = lookup.name or f"{fallback}-*"
    return pattern.replace("*", _stamp(now)).replace("?", "x")


class Story:
    def __init__(self, aws: Aws, loaded: LoadedEnvironment, say: Say) -> None:
        self.aws = aws
        self.loaded = loaded
        self.env = loaded.env
        self.home = loaded.env.home_region
        self.ec2 = aws.client("ec2", self.home)
        self.rds = aws.client("rds", self.home)
        self.say = say

    # 1. base artifacts -----------------------------------------------------------------------

    def base_artifacts(self, zone: str, now: datetime) -> dict[str, str]:
        base: dict[str, str] = {}
        for name, lookup in self.env.artifacts.items():
            marker = {"relight:stand-in": "base", "Name": f"{self.env.name}-{name}-base"}
            if lookup.kind == "ami":
                base[name] = self.ec2.register_image(
                    Name=f"{self.env.name}-{name}-base-{_stamp(now)}",
                    RootDeviceName="/dev/xvda",
                    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
                    VirtualizationType="hvm",
                    Architecture="x86_64",
                    TagSpecifications=[{"ResourceType": "image", "Tags": tag_list(marker)}],
                )["ImageId"]
            elif lookup.kind == "ebs_snapshot":
                volume = self.ec2.create_volume(AvailabilityZone=zone, Size=10, Encrypted=True)
                base[name] = self.ec2.create_snapshot(
                    VolumeId=volume["VolumeId"],
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(marker)}],
                )["SnapshotId"]
            elif lookup.kind == "rds_snapshot":
                identifier = lookup.db_instance or f"{self.env.name}-{name}"
                self.rds.create_db_instance(
                    DBInstanceIdentifier=identifier,
                    Engine="postgres",
                    DBInstanceClass="db.t3.micro",
                    AllocatedStorage=20,
                    MasterUsername="relight",
                    MasterUserPassword=secrets.token_urlsafe(24),  # never shown, never stored
                    StorageEncrypted=True,
                    Tags=tag_list(marker),
                )
                base[name] = identifier
            else:
                raise StandInError(
                    f"artifacts.{name}: the stand-in's story cannot make a {lookup.kind} "
                    "(it makes AMIs, EBS snapshots and RDS instance snapshots)",
                    hint="run this environment with --aws, or drop that lookup for the stand-in",
                )
        return base

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
        tags = {**lookup.tags, "Name": f"{self.env.name}-{name}-backup"}
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
            volumes = self.ec2.describe_volumes(
                Filters=[{"Name": "snapshot-id", "Values": [base_id]}]
            )["Volumes"]
            attached = [v for v in volumes if v.get("Attachments")] or volumes
            if not attached:
                raise StandInError(f"story: no volume was restored from {base_id} in {self.home}")
            return str(
                self.ec2.create_snapshot(
                    VolumeId=attached[0]["VolumeId"],
                    Description=f"backup of {attached[0]['VolumeId']}",
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}],
                )["SnapshotId"]
            )
        snapshot = self.rds.create_db_snapshot(
            DBInstanceIdentifier=base_id,
            DBSnapshotIdentifier=f"{base_id}-{_stamp(now)}",
            Tags=tag_list(tags),
        )["DBSnapshot"]
        return str(snapshot["DBSnapshotArn"])

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
        regions = [r for r in self.env.recovery_regions if r != self.home]
        if not regions:
            return
        account = self.aws.account_id(self.home)
        replicator = Replicator(
            self.loaded, self.aws, self.aws, source_account=account, target_account=account
        )
        results = replicate(replicator, self.home, regions)
        failed = [r for r in results if r.action == "failed"]
        if failed:
            raise StandInError(
                "story: copying the backups failed: "
                + "; ".join(f"{r.artifact} to {r.region}: {r.reason}" for r in failed)
            )

    # the whole story --------------------------------------------------------------------------

    def run(self, now: datetime, run_id: str) -> None:
        zones, _, _ = choose_zones(self.aws, self.home, self.env.zones)
        self.say(f"stand-in story for {self.env.name}: base images and data in {self.home}")
        base = self.base_artifacts(zones[0].name, now)
        self.hosted_zones()
        plan = build_plan(self.loaded, self.home, purpose="home", stand_in=True)
        inputs = Discovery(
            region=self.home,
            at=now,
            zones=zones,
            artifacts={
                name: Artifact(
                    name,
                    lookup.kind,
                    base[name],
                    self.home,
                    now,
                    1,
                    attributes=self._attributes(lookup.kind, base[name]),
                )
                for name, lookup in self.env.artifacts.items()
            },
        )
        self.say(f"stand-in story: building {self.env.name} in its home region {self.home}")
        stacks = Stacks(self.aws.client("cloudformation", self.home), timeout=120)
        outcome = deploy(stacks, plan, inputs, run_id=run_id)
        if not outcome.ok:
            reasons = "; ".join(f"{r.name}: {r.reason}" for r in outcome.failed())
            raise StandInError(f"story: the home build in {self.home} failed: {reasons}")
        regions = ", ".join(r for r in self.env.recovery_regions if r != self.home)
        self.say(f"stand-in story: backing up and copying the backups to {regions or '(none)'}")
        for name, lookup in self.env.artifacts.items():
            self.back_up(plan, name, lookup, base[name], now)
        self.kms_keys()
        self.copy()
        self.prepare(now, run_id)

    def prepare(self, now: datetime, run_id: str) -> None:
        """What `relight prepare` does before a disaster, in each recovery region at the
        file's strategy: relight's bucket configured, the rung's standing stacks deployed."""
        from relight.bucket import TemplateBucket
        from relight.discovery import discover
        from relight.preflight import instance_types

        account = self.aws.account_id(self.home)
        for region in (r for r in self.env.recovery_regions if r != self.home):
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


def _claim(s3: Any, env_name: str, run_id: str, now: datetime) -> bool:
    """Claim the telling of the story: True for the one run whose conditional write won."""
    from botocore.exceptions import ClientError

    body = json.dumps({"env": env_name, "run": run_id, "at": now.isoformat()}).encode()
    try:
        s3.put_object(Bucket=MARKER_BUCKET, Key=_claim_key(env_name), Body=body, IfNoneMatch="*")
    except ClientError as exc:
        if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise
    return True


def _claimed(s3: Any, env_name: str) -> tuple[str, datetime] | None:
    """The run that claimed the story and when, or None when no claim stands."""
    from botocore.exceptions import ClientError

    try:
        got = s3.get_object(Bucket=MARKER_BUCKET, Key=_claim_key(env_name))
        data = json.loads(got["Body"].read())
    except ClientError:
        return None
    except ValueError:
        data = {}
    at = parse_time(data.get("at")) or parse_time(got.get("LastModified")) or datetime.now(UTC)
    return str(data.get("run", "unknown")), at


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
    the Story by default); the others wait for its marker, up to `wait_seconds` after the
    claim was made. A story that fails gives its claim up, so a later run tells it again.
    """
    env_name, home = loaded.env.name, loaded.env.home_region
    if story_exists(aws, env_name, home):
        return False
    s3 = aws.client("s3", home)
    create_bucket(s3, MARKER_BUCKET, home)
    said = False
    while not story_exists(aws, env_name, home):
        if _claim(s3, env_name, run_id, now()):
            if story_exists(aws, env_name, home):
                return False  # told by a run whose claim was given up just before ours
            try:
                (tell or (lambda: Story(aws, loaded, say).run(now(), run_id)))()
            except BaseException:  # failed or interrupted: let a later run tell it
                s3.delete_object(Bucket=MARKER_BUCKET, Key=_claim_key(env_name))
                raise
            s3.put_object(
                Bucket=MARKER_BUCKET,
                Key=_marker_key(env_name),
                Body=json.dumps({"env": env_name, "at": now().isoformat(), "run": run_id}),
            )
            return True
        claim = _claimed(s3, env_name)
        if claim is None:
            continue  # given up by the run that made it: claim it again
        by, since = claim
        waited = (now() - since).total_seconds()
        if waited > wait_seconds:
            raise StandInError(
                f"the stand-in's first-run setup for {env_name} was started by run {by} "
                f"{waited:.0f} s ago and never finished: that run was stopped in the middle",
                hint="relight local stop, then rerun: the stand-in starts from nothing and "
                "sets itself up again",
            )
        if not said:
            say(f"stand-in story for {env_name}: run {by} is setting it up; waiting for it")
            said = True
        sleep(1.0)
    return False
