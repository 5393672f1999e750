"""The stand-in's story for an environment of the user's own: it makes what each lookup finds
(or uses what already matches), names what it cannot make and how to seed it, and a story
that failed half-way, or whose run was killed, is told again by the next run."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, make_instance_profile
from relight.aws.clients import Aws, AwsTarget
from relight.errors import InputError
from relight.model.config import LoadedEnvironment, load_environment
from relight.model.environment import ArtifactLookup
from relight.standin.story import (
    Story,
    ensure_story,
    marker_bucket,
    story_exists,
    unseedable,
)
from relight.steps.discovery import Lister, find_artifacts

ACCOUNT = "123456789012"
HOME, RECOVERY = "us-east-1", "us-west-2"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLAIM = "stories/shop.claim.json"
MARKER = marker_bucket("123456789012")  # moto's default account
TELLS = "stand-in story for shop:"

# MINIMAL's stacks (a network, its security groups, two web instances restored from an AMI and a
# data snapshot), with lookups of every kind the story makes, each selected its own way.
OWN_LOOKUPS = """\
artifacts:
  web_ami: {kind: ami, name: app-server-*, tags: {Role: web, Team: shop}}
  web_data: {kind: ebs_snapshot, tags: {Role: web-data}}
  orders: {kind: rds_snapshot, db_instance: shop-orders}
  reports_db: {kind: rds_cluster_snapshot, db_cluster: shop-reports, tags: {Data: reports}}
  audit_db: {kind: rds_snapshot, tags: {Data: audit}}
stacks:
"""
OWN = (
    MINIMAL.split("artifacts:\n")[0]
    + "kms_keys: {us-west-2: alias/shop-dr}\n"
    + OWN_LOOKUPS
    + MINIMAL.split("stacks:\n", 1)[1]
)


@pytest.fixture
def world(write_env: Callable[[str], Path]) -> Iterator[Callable[[str], LoadedEnvironment]]:
    """Inside moto: load an environment file's text (MINIMAL's instance profile exists)."""
    with mock_aws():
        make_instance_profile(boto3.client("iam", HOME))
        yield lambda text: load_environment(str(write_env(text)), RECOVERY)


def _aws() -> Aws:
    return Aws(AwsTarget())


def _found(loaded: LoadedEnvironment, region: str) -> dict[str, str]:
    found, _ = find_artifacts(Lister(_aws(), region), loaded.env.artifacts, ACCOUNT)
    return {name: art.id for name, art in found.items()}


def _tell(loaded: LoadedEnvironment, said: list[str] | None = None) -> None:
    Story(_aws(), loaded, (said if said is not None else []).append).run(NOW, "run-a")


# what it makes ---------------------------------------------------------------------------------


def test_every_lookup_of_a_users_own_file_finds_a_copy_in_the_recovery_region(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(OWN)
    _tell(loaded)
    home, recovery = _found(loaded, HOME), _found(loaded, RECOVERY)
    assert set(home) == set(recovery) == set(loaded.env.artifacts)
    ec2 = boto3.client("ec2", HOME)
    backup = ec2.describe_images(ImageIds=[home["web_ami"]])["Images"][0]
    assert backup["Name"].startswith("app-server-"), "named as the lookup's pattern asks"
    rds = boto3.client("rds", HOME)
    snapshots = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    # the base the home build restored from, and the backup that was copied
    [cluster] = [s for s in snapshots if not s["DBClusterSnapshotIdentifier"].endswith("-base")]
    assert cluster["DBClusterIdentifier"] == "shop-reports"
    assert {"Key": "Data", "Value": "reports"} in cluster["TagList"]
    # A lookup by tags alone gets a DB named after its artifact, as RDS allows (no "_").
    assert rds.describe_db_instances(DBInstanceIdentifier="shop-audit-db")["DBInstances"]


def test_an_image_and_data_no_stack_uses_on_the_stand_in_are_still_backed_up(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    text = OWN.replace(
        "    blueprint: compute\n", "    blueprint: compute\n    stand_in_skip: true\n"
    )
    loaded = world(text)
    _tell(loaded)
    assert set(_found(loaded, RECOVERY)) == set(loaded.env.artifacts)


def test_what_already_matches_in_the_home_region_is_used_as_it_is(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(OWN)
    ec2 = boto3.client("ec2", HOME)
    seeded = ec2.register_image(
        Name="app-server-golden",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    tags = [{"Key": "Role", "Value": "web"}, {"Key": "Team", "Value": "shop"}]
    ec2.create_tags(Resources=[seeded], Tags=tags)
    said: list[str] = []
    _tell(loaded, said)
    assert f"web_ami {seeded}" in said[0], said
    images = ec2.describe_images(Owners=["self"])["Images"]
    assert [i["ImageId"] for i in images] == [seeded], "no base image and no backup made"
    copy = _found(loaded, RECOVERY)["web_ami"]
    [image] = boto3.client("ec2", RECOVERY).describe_images(ImageIds=[copy])["Images"]
    assert {"Key": "relight:source-id", "Value": seeded} in image["Tags"]


# what it cannot make ---------------------------------------------------------------------------


def test_lookups_the_stand_in_cannot_hold_are_each_named_with_what_to_do_and_nothing_is_made(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    text = OWN.replace(
        "  web_data: {kind: ebs_snapshot, tags: {Role: web-data}}",
        "  web_data: {kind: ebs_snapshot, source_volume: vol-0123456789abcdef0}\n"
        "  files: {kind: backup_recovery_point, vault: shop-vault, resource: vol-0fedcba98}\n"
        "  vendor_ami: {kind: ami, tags: {Role: vendor}, owners: ['111122223333']}",
    )
    loaded = world(text)
    with pytest.raises(InputError) as caught:
        _tell(loaded)
    message = str(caught.value)
    lines = {line.split()[0]: line for line in message.splitlines()[1:] if "artifacts." in line}
    assert "so no snapshot there is of vol-0123456789abcdef0" in lines["artifacts.web_data"]
    assert "find that snapshot by its tags instead of source_volume" in lines["artifacts.web_data"]
    assert "makes no AWS Backup recovery points" in lines["artifacts.files"]
    assert "owners: [self, 111122223333]" in lines["artifacts.vendor_ami"]
    assert "--aws" in lines["artifacts.files"]
    assert not any(k.startswith("artifacts.web_ami") for k in lines), "it makes the others"
    assert "nothing was made" in message
    assert caught.value.exit_code == 2
    assert boto3.client("ec2", HOME).describe_images(Owners=["self"])["Images"] == []
    assert boto3.client("rds", HOME).describe_db_instances()["DBInstances"] == []


def test_an_image_name_the_story_cannot_make_up_comes_with_the_command_that_seeds_one() -> None:
    lookup = ArtifactLookup(kind="ami", name="web-[!a-zA-Z0-9._-]*", tags={"Role": "web"})
    problem = unseedable("web_ami", lookup, home=HOME, endpoint="http://127.0.0.1:5000")
    assert problem is not None
    assert "cannot make up a name that matches web-[!a-zA-Z0-9._-]*" in problem.why
    assert problem.how.startswith(
        "seed one: aws --endpoint-url http://127.0.0.1:5000 --region us-east-1 ec2 "
        "register-image --name NAME"
    )
    assert "Tags=[{Key=Role,Value=web}]" in problem.how


@pytest.mark.parametrize(
    "lookup",
    [
        ArtifactLookup(kind="ami", name="web-[0-9]?-*", tags={"Role": "web"}),
        ArtifactLookup(kind="ebs_snapshot", tags={"Role": "data"}),
        ArtifactLookup(kind="rds_snapshot", db_instance="orders"),
        ArtifactLookup(kind="rds_cluster_snapshot", db_cluster="reports"),
        ArtifactLookup(kind="ami", tags={"Role": "web"}, owners=["self", "111122223333"]),
    ],
)
def test_the_story_makes_every_other_lookup(lookup: ArtifactLookup) -> None:
    assert unseedable("a", lookup, home=HOME, endpoint="http://x") is None


# told again ------------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def test_a_story_that_failed_half_way_is_told_again_by_the_next_run_from_what_it_made(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(OWN)

    def fail_at_the_backups(line: str) -> None:
        if "backing up" in line:
            raise Interrupted("the run failed after the home build")

    with pytest.raises(Interrupted):
        ensure_story(_aws(), loaded, run_id="run-a", say=fail_at_the_backups)
    assert not story_exists(_aws(), "shop", HOME)
    said: list[str] = []
    assert ensure_story(_aws(), loaded, run_id="run-b", say=said.append)
    assert story_exists(_aws(), "shop", HOME)
    assert set(_found(loaded, RECOVERY)) == set(loaded.env.artifacts)
    # The base image, data and databases the first telling made were used again, not made twice.
    ec2 = boto3.client("ec2", HOME)
    base = [{"Name": "tag:relight:stand-in", "Values": ["base"]}]
    assert len(ec2.describe_images(Owners=["self"], Filters=base)["Images"]) == 1
    assert len(ec2.describe_snapshots(OwnerIds=["self"], Filters=base)["Snapshots"]) == 1
    rds = boto3.client("rds", HOME)
    assert len(rds.describe_db_instances()["DBInstances"]) == 2
    assert len(rds.describe_db_clusters()["DBClusters"]) == 1


def _claim_of(run: str, at: datetime, **more: Any) -> bytes:
    return json.dumps({"env": "shop", "run": run, "at": at.isoformat(), **more}).encode()


def _left_claim(body: bytes) -> None:
    s3 = boto3.client("s3", HOME)
    s3.create_bucket(Bucket=MARKER)
    s3.put_object(Bucket=MARKER, Key=CLAIM, Body=body)


def test_a_claim_whose_run_was_killed_is_taken_over_at_once(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(MINIMAL)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _left_claim(_claim_of("run-a", NOW, pid=gone.pid, host=socket.gethostname()))
    said: list[str] = []
    waits: list[float] = []
    told: list[str] = []
    assert ensure_story(
        _aws(), loaded, run_id="run-b", say=said.append, tell=lambda: told.append("b"),
        now=lambda: NOW + timedelta(seconds=5), sleep=waits.append,
    )  # fmt: skip
    assert told == ["b"] and waits == [], "no waiting for a run that is gone"
    assert said == [f"{TELLS} run run-a (process {gone.pid}) stopped; telling it again"]
    assert story_exists(_aws(), "shop", HOME)


def test_a_claim_that_cannot_be_checked_is_taken_over_once_it_is_older_than_the_wait(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(MINIMAL)
    _left_claim(_claim_of("run-a", NOW, pid=1, host="another-machine"))
    clock = [NOW]

    def wait(seconds: float) -> None:
        clock[0] += timedelta(seconds=100)

    told: list[str] = []
    said: list[str] = []
    assert ensure_story(
        _aws(), loaded, run_id="run-b", say=said.append, tell=lambda: told.append("b"),
        now=lambda: clock[0], sleep=wait, wait_seconds=300,
    )  # fmt: skip
    assert told == ["b"]
    assert said[0] == f"{TELLS} run run-a (process 1) is setting it up; waiting"
    assert said[-1] == f"{TELLS} run run-a (process 1) did not finish in 400 s; telling it again"


def test_a_failed_story_removes_only_its_own_claim(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(MINIMAL)
    s3 = boto3.client("s3", HOME)

    def taken_over_then_failed() -> None:  # another run took the claim over meanwhile
        s3.put_object(Bucket=MARKER, Key=CLAIM, Body=_claim_of("run-b", NOW))
        raise Interrupted

    with pytest.raises(Interrupted):
        ensure_story(
            _aws(), loaded, run_id="run-a", say=lambda _: None, tell=taken_over_then_failed
        )
    claim = s3.get_object(Bucket=MARKER, Key=CLAIM)["Body"].read()
    assert json.loads(claim)["run"] == "run-b"


def test_a_file_whose_lookups_changed_since_its_story_gets_it_told_again(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    loaded = world(OWN)
    assert ensure_story(_aws(), loaded, run_id="run-a", say=lambda _: None)
    assert not ensure_story(_aws(), loaded, run_id="run-b", say=lambda _: None)
    more = OWN.replace(
        "stacks:\n", "  logs: {kind: ebs_snapshot, tags: {Role: logs}}\nstacks:\n", 1
    )
    loaded.path.write_text(more)
    changed = load_environment(str(loaded.path), RECOVERY)
    said: list[str] = []
    assert ensure_story(_aws(), changed, run_id="run-c", say=said.append)
    assert said[0].startswith(f"{TELLS} the file's artifacts, regions or keys changed")
    assert set(_found(changed, RECOVERY)) == set(changed.env.artifacts)
    assert not ensure_story(_aws(), changed, run_id="run-d", say=lambda _: None)


def test_the_storys_calls_are_not_counted_as_the_runs(
    world: Callable[[str], LoadedEnvironment], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The story builds the simulated production on a run's first contact with the stand-in:
    its calls (Route 53's hosted zone, the home build) are not the run's, whose summary
    counts what the run itself sent."""
    from relight import standin
    from relight.commands import connection

    loaded = world(MINIMAL)
    running = standin.StandIn(
        pid=1, port=1, endpoint="http://127.0.0.1:1", started_at="x", idle_timeout=1.0,
        moto_version="x", state_file=tmp_path / "standin.json",
    )  # fmt: skip
    told: list[Aws] = []
    monkeypatch.setattr(standin, "ensure_running", lambda directory: running)
    monkeypatch.setattr(connection, "check_account", lambda *a, **k: "123456789012")
    monkeypatch.setattr(connection, "send_faults", lambda *a, **k: None)
    monkeypatch.setattr("relight.standin.story.ensure_story", lambda aws, *a, **k: told.append(aws))
    conn = connection.connect(loaded, "us-west-2", use_stand_in=True, state_dir=tmp_path)
    (story_aws,) = told
    assert story_aws is not conn.aws, "the story counts its calls apart"
    assert story_aws.target.command == "stand-in story", "its calls are logged as the story's"
    story_target = dataclasses.replace(story_aws.target, command=conn.aws.target.command)
    assert story_target == conn.aws.target, "on the same stand-in"


def test_a_captured_production_standing_at_home_is_not_built_again_beside_it(
    world: Callable[[str], LoadedEnvironment],
) -> None:
    """A file `relight capture` wrote names production (`production:`): when every lookup
    finds its backup there, the story copies and prepares without building a relight copy of
    production in the home region, which `capture --tag` and drift would then have to tell
    from production."""
    ec2 = boto3.client("ec2", HOME)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    image = ec2.register_image(
        Name="web-golden",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    ec2.create_tags(Resources=[image], Tags=[{"Key": "Role", "Value": "web"}])
    volume = ec2.create_volume(AvailabilityZone=f"{HOME}a", Size=8)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "Role", "Value": "web-data"}])
    captured = MINIMAL.replace("stacks:\n", f"production: {{vpc: {vpc}}}\nstacks:\n", 1)
    loaded = world(captured)
    said: list[str] = []
    _tell(loaded, said)
    assert any("production stands in us-east-1" in line for line in said), said
    assert boto3.client("cloudformation", HOME).describe_stacks()["Stacks"] == []
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == [vpc]
    assert set(_found(loaded, RECOVERY)) == {"web_ami", "web_data"}, "copied all the same"
