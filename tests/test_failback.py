"""`relight failback`: the way home, on a private stand-in, as an on-call engineer runs it.

The steps run in order and share one stand-in: what failback refuses (and that it changed
nothing), then a whole incident at warm_standby (prepare, a newer backup arrives, failover
restores it, prepare is refused, failback brings home back, us-west-2 returns to its rung),
then a failback that stops half-way and is rerun. Each step looks at the simulated world
through boto3 to check what was built, from what, and what was left.

A newer backup on the stand-in: a manual snapshot of the story's production database in the
home region (`demo-orders`, which the `orders_db` lookup names), then `relight replicate`
copies it to the recovery region, as a backup schedule and replication would.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from conftest import REPO, relight
from relight import standin
from relight.errors import AwsError, PreflightError

pytestmark = pytest.mark.e2e
ACCOUNT = "123456789012"
HOME, R = "us-east-1", "us-west-2"
BUCKET = f"relight-templates-{ACCOUNT}-{R}"


def client(world: dict[str, Any], service: str, region: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, region, endpoint_url=found.endpoint)


def objects(world: dict[str, Any], prefix: str) -> list[str]:
    listed = client(world, "s3", R).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def params(world: dict[str, Any], region: str, stack: str) -> dict[str, str]:
    (found,) = client(world, "cloudformation", region).describe_stacks(StackName=stack)["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in found.get("Parameters", [])}


def group(world: dict[str, Any], region: str) -> dict[str, Any]:
    cfn = client(world, "cloudformation", region)
    resources = cfn.list_stack_resources(StackName="demo-web")["StackResourceSummaries"]
    name = next(
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup"
    )
    (found,) = client(world, "autoscaling", region).describe_auto_scaling_groups(
        AutoScalingGroupNames=[name]
    )["AutoScalingGroups"]
    return dict(found)


def status(world: dict[str, Any]) -> dict[str, Any]:
    run = relight(world, "status", "--env", "demo", "--json")
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def said(run: Any) -> str:
    return " ".join((run.stdout + run.stderr).split())


def test_a_failback_with_no_failover_recorded_is_refused_and_changes_nothing(
    world: dict[str, Any],
) -> None:
    before = status(world)
    assert before["serves"] == HOME
    run = relight(world, "failback", "--env", "demo", "--from", R, "--yes")
    assert run.returncode == 2, said(run)
    assert "stacks/demo.yaml: no failover of demo into us-west-2 is recorded" in said(run)
    assert "nothing was changed" in said(run)
    assert "relight status --env demo" in said(run), "says how to see which region serves"
    assert objects(world, "relight/failback/") == [], "no progress record was written"
    after = status(world)
    assert [r.get("stacks") for r in after["regions"]] == [
        r.get("stacks") for r in before["regions"]
    ]


@pytest.mark.parametrize(
    ("region", "why"),
    [
        (HOME, "--from us-east-1 is demo's home_region"),
        ("eu-central-1", "--from eu-central-1 is not one of recovery_regions"),
    ],
)
def test_failback_from_a_region_that_cannot_serve_is_refused(
    world: dict[str, Any], region: str, why: str
) -> None:
    run = relight(world, "failback", "--env", "demo", "--from", region, "--yes")
    assert run.returncode == 2, said(run)
    assert "stacks/demo.yaml" in said(run) and why in said(run)


def test_an_incident_start_to_finish_at_warm_standby(world: dict[str, Any]) -> None:
    warm = ("--strategy", "warm_standby")
    prepared = relight(world, "prepare", "--env", "demo", "--region", R, *warm, "--yes")
    assert prepared.returncode == 0, said(prepared)
    assert group(world, R)["DesiredCapacity"] == 1, "the standby runs one instance"

    # A newer backup arrives at home and is replicated.
    rds_home = client(world, "rds", HOME)
    rds_home.create_db_snapshot(
        DBInstanceIdentifier="demo-orders", DBSnapshotIdentifier="demo-orders-newer"
    )
    copied = relight(world, "replicate", "--env", "demo", "--from", HOME, "--to", R)
    assert copied.returncode == 0, said(copied)
    rds = client(world, "rds", R)
    newest = [
        s["DBSnapshotIdentifier"]
        for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        if "demo-orders-newer" in s["DBSnapshotIdentifier"]
    ]
    assert len(newest) == 1, "replicate copied the newer backup"

    run = relight(world, "failover", "--env", "demo", "--region", R, *warm, "--yes", "--json")
    assert run.returncode == 0, said(run)
    assert params(world, R, "demo-database")["SnapshotIdentifier"] == newest[0]
    assert group(world, R)["DesiredCapacity"] == 3
    serving = status(world)
    assert serving["serves"] == R and serving["latched"] is True

    # prepare in the region that serves: refused, nothing changes.
    again = relight(world, "prepare", "--env", "demo", "--region", R, *warm, "--yes")
    assert again.returncode == 2, said(again)
    assert "demo serves from us-west-2 since" in said(again)
    assert group(world, R)["DesiredCapacity"] == 3, "the serving fleet was not scaled down"

    # The plan first: the phases, and nothing changed.
    shown = relight(world, "failback", "--env", "demo", "--from", R, "--dry-run", "--json")
    assert shown.returncode == 0, said(shown)
    plan = json.loads(shown.stdout)
    assert [p["phase"] for p in plan["phases"]] == [
        "stop", "snapshot", "home", "verify", "release", "return"
    ]  # fmt: skip
    assert plan["graceful"] is True and "nothing is lost" in plan["data"]
    holders = " ".join(plan["holders"])
    assert "database demo-database-" in holders and "data volume vol-" in holders
    assert objects(world, "relight/failback/") == [], "a dry run records nothing"
    assert group(world, R)["DesiredCapacity"] == 3

    back = relight(world, "failback", "--env", "demo", "--from", R, "--yes", "--json")
    assert back.returncode == 0, said(back)
    result = json.loads(back.stdout)
    assert result["ok"] is True
    assert result["done"] == ["stop", "snapshot", "home", "verify", "release", "return"]

    # Home restored from what us-west-2 had been writing: the failback snapshots' copies.
    ec2_r, ec2_home = client(world, "ec2", R), client(world, "ec2", HOME)
    (taken_db,) = [
        s
        for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        if "-failback-orders-db-" in s["DBSnapshotIdentifier"]
    ]
    home_db = params(world, HOME, "demo-database")["SnapshotIdentifier"]
    (copy,) = rds_home.describe_db_snapshots(DBSnapshotIdentifier=home_db)["DBSnapshots"]
    lineage = {
        t["Key"]: t["Value"]
        for t in rds_home.list_tags_for_resource(ResourceName=copy["DBSnapshotArn"])["TagList"]
    }
    assert lineage["relight:source-id"] == taken_db["DBSnapshotIdentifier"]
    assert lineage["relight:source-region"] == R
    (taken_volume,) = ec2_r.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag-key", "Values": ["relight:failback"]}]
    )["Snapshots"]
    home_data = params(world, HOME, "demo-web")["DataSnapshotId"]
    (data_copy,) = ec2_home.describe_snapshots(SnapshotIds=[home_data])["Snapshots"]
    assert {t["Key"]: t["Value"] for t in data_copy["Tags"]}["relight:source-id"] == (
        taken_volume["SnapshotId"]
    )
    fleet = [i["InstanceId"] for i in group(world, HOME)["Instances"]]
    volumes = ec2_home.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": fleet}]
    )["Volumes"]
    assert sorted(v.get("SnapshotId") for v in volumes if v.get("SnapshotId")) == [home_data] * len(
        fleet
    ), "the home fleet rolled onto the data brought home"

    # Home's own database from before the incident was kept, by name, before it was replaced.
    before = [
        s
        for s in rds_home.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        if "-database-before-failback-" in s["DBSnapshotIdentifier"]
    ]
    assert len(before) == 1 and before[0]["DBSnapshotIdentifier"] in " ".join(result["notes"])

    # The latch released, us-west-2 no longer serves, and it is back at its rung.
    home_again = status(world)
    assert home_again["serves"] == HOME and home_again.get("failback_in_progress") is None
    (west,) = [r for r in home_again["regions"] if r["region"] == R]
    assert west["serving"] is None and west["latches"]["demo-dns"].startswith("released")
    # prepare's record of Auto Scaling's role and grants stays: the role and grants stay too
    assert objects(world, "relight/") == [
        "relight/configured.json",
        "relight/prepared/demo/autoscaling.json",
    ], "the serving marker and the failback record gone"
    stacks = {
        s["StackName"] for s in client(world, "cloudformation", R).describe_stacks()["Stacks"]
    }
    assert "demo-database" not in stacks and {"demo-web", "demo-dns"} <= stacks
    assert group(world, R)["DesiredCapacity"] == 1, "the standby is back at standby_params"
    finals = [
        s["DBSnapshotIdentifier"]
        for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        if "-final-" in s["DBSnapshotIdentifier"]
    ]
    assert finals and any(f in " ".join(result["notes"]) for f in finals), (
        "the deleted database left a final snapshot, and the failback named it"
    )

    rerun = relight(world, "failback", "--env", "demo", "--from", R, "--yes")
    assert rerun.returncode == 2 and "nothing to fail back" in said(rerun)


def test_a_failback_that_stops_half_way_goes_on_when_rerun(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ungraceful: us-west-2 serves throughout; (b) fails once; the rerun goes on from (b)
    with the snapshots already taken, never taking them again."""
    from relight.commands.connection import connect
    from relight.commands.failback import failback, plan_failback, running
    from relight.model.config import load_environment

    warm = ("--strategy", "warm_standby")
    run = relight(world, "failover", "--env", "demo", "--region", R, *warm, "--yes")
    assert run.returncode == 0, said(run)
    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), R)
    recovery = connect(loaded, R, use_stand_in=True, state_dir=world["state"])
    home = connect(loaded, HOME, use_stand_in=True, state_dir=world["state"])

    def plan() -> Any:
        return plan_failback(loaded, recovery, home, graceful=False, teardown=False, stand_in=True)

    def broken(*_: Any) -> Any:
        raise AwsError("us-east-1 throttled the change set", hint="rerun")

    with monkeypatch.context() as patched:
        patched.setattr(running, "_home_phase", broken)
        first = failback(plan(), recovery, home, sleep=lambda _: None)
    assert not first.ok and first.failed == "home"
    assert "us-east-1 throttled the change set" in first.reason
    assert first.done == ["snapshot"], "ungraceful: no stop; the snapshot phase finished"
    assert group(world, R)["DesiredCapacity"] == 3, "us-west-2 still serves"
    record = json.loads(
        client(world, "s3", R)
        .get_object(Bucket=BUCKET, Key="relight/failback/demo.json")["Body"]
        .read()
    )
    assert record["done"] == ["snapshot"] and len(record["taken"]) == 2
    shown = plan()
    assert [p.key for p in shown.phases if p.done] == ["snapshot"]
    assert status(world)["failback_in_progress"]["done"] == ["snapshot"]

    second = failback(shown, recovery, home, sleep=lambda _: None)
    assert second.ok, second.reason
    assert second.done == ["home", "verify", "release", "return"]
    taken = client(world, "ec2", R).describe_snapshots(
        OwnerIds=["self"],
        Filters=[{"Name": "tag:relight:failback", "Values": [record["run_id"]]}],
    )["Snapshots"]
    assert len(taken) == 1, "the rerun did not snapshot the data volume again"
    assert params(world, HOME, "demo-web")["DataSnapshotId"] == next(
        t["copy"] for t in record["taken"] if t["kind"] == "ebs_snapshot"
    )


def test_the_latch_is_released_only_after_the_minute_it_was_set_in() -> None:
    from relight.commands.failback.running import past_latch_minute

    waited: list[float] = []
    set_at = datetime(2026, 12, 6, 10, 15, 40, tzinfo=UTC)
    assert past_latch_minute(set_at.isoformat(), set_at + timedelta(seconds=5), waited.append)
    assert waited == [16.0], "until 10:16:00, and a second more"
    assert past_latch_minute(set_at.isoformat(), set_at + timedelta(seconds=19), waited.append)
    assert past_latch_minute(set_at.isoformat(), set_at + timedelta(seconds=20), waited.append) == 0
    assert past_latch_minute(set_at.isoformat(), set_at + timedelta(hours=5), waited.append) == 0
    assert past_latch_minute("?", set_at, waited.append) == 0
    assert waited == [16.0, 2.0]


def test_a_drill_with_failback_rehearses_the_way_back_and_deletes_what_it_made(
    world: dict[str, Any], tmp_path: Any
) -> None:
    before_home = {s["SnapshotId"] for s in client(world, "ec2", HOME).describe_snapshots(
        OwnerIds=["self"])["Snapshots"]}  # fmt: skip
    run = relight(
        world, "drill", "--env", "demo", "--region", R, "--drill-id", "fb1", "--with-failback",
        "--reports", str(tmp_path), "--json",
    )  # fmt: skip
    assert run.returncode == 0, said(run)
    report = json.loads(run.stdout)
    assert report["ok"] is True
    failback = report["failback"]
    assert failback["ok"] is True and failback["home"] == HOME
    assert list(failback["phases"]) == ["snapshot", "home", "verify"]
    assert failback["rto_seconds"] > 0 and len(failback["brought_home"]) == 2
    events = [e["event"] for e in report["events"]]
    assert events.index("failback verify done") > events.index("us-west-2 verified")
    deleted = " ".join(report["teardown"]["deleted"])
    for what in ("-final-", "vol-", "snap-", "-failback-orders-db-"):
        assert f"{what}" in deleted
    assert "(us-east-1)" in deleted and "(us-west-2)" in deleted, "in both regions"
    for region in (R, HOME):
        cfn = client(world, "cloudformation", region)
        assert not [s for s in cfn.describe_stacks()["Stacks"] if "-drill-fb1-" in s["StackName"]]
        volumes = client(world, "ec2", region).describe_volumes(
            Filters=[{"Name": "tag:Name", "Values": ["demo-drill-fb1-web"]}]
        )["Volumes"]
        assert volumes == [], f"the drill's data volumes in {region} are gone"
        snapshots = client(world, "rds", region).describe_db_snapshots(SnapshotType="manual")
        assert not [
            s for s in snapshots["DBSnapshots"] if "drill-fb1" in s["DBSnapshotIdentifier"]
        ], "no final snapshot of the drill's databases is left"
    after_home = {s["SnapshotId"] for s in client(world, "ec2", HOME).describe_snapshots(
        OwnerIds=["self"])["Snapshots"]}  # fmt: skip
    assert after_home == before_home, "the copies brought home were deleted"
    assert objects(world, "relight/failback/") == []


def test_a_graceful_stop_keeps_traffic_in_r_behind_a_maintenance_page(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Route 53 answers with the PRIMARY when both records are unhealthy: taking R's fleet
    away would send users to home's old stack. So R's listeners answer Route 53's check and
    503 for everything else until the failback is done; a failback that stops says how to
    reopen R, and the rerun removes the page."""
    from relight.commands.connection import connect
    from relight.commands.failback import failback, plan_failback, running
    from relight.model.config import load_environment

    warm = ("--strategy", "warm_standby")
    prepared = relight(world, "prepare", "--env", "demo", "--region", R, *warm, "--yes")
    assert prepared.returncode == 0, said(prepared)
    run = relight(world, "failover", "--env", "demo", "--region", R, *warm, "--yes")
    assert run.returncode == 0, said(run)
    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), R)
    recovery = connect(loaded, R, use_stand_in=True, state_dir=world["state"])
    home = connect(loaded, HOME, use_stand_in=True, state_dir=world["state"])
    elbv2 = client(world, "elbv2", R)
    (balancer,) = [
        b
        for b in elbv2.describe_load_balancers()["LoadBalancers"]
        if "demo" in b["LoadBalancerName"]
    ]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]

    def rules() -> list[tuple[str, list[str], str]]:
        found = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        return sorted(
            (
                r["Priority"],
                [v for c in r.get("Conditions", []) for v in c.get("Values", [])],
                r["Actions"][0].get("FixedResponseConfig", {}).get("StatusCode", ""),
            )
            for r in found
            if not r.get("IsDefault")
        )

    def broken(*_: Any) -> Any:
        raise AwsError("us-east-1 throttled the change set")

    # What would stop the copies home stops the failback before anything changes.
    keyless = replace(loaded, env=loaded.env.model_copy(update={"kms_keys": {R: "alias/x"}}))
    with pytest.raises(PreflightError) as refused:
        plan_failback(keyless, recovery, home, graceful=True, teardown=False, stand_in=True)
    assert "stacks/demo.yaml: kms_keys.us-east-1: orders_db, web_data in us-west-2 are " in (
        " ".join(str(refused.value).split())
    )
    assert refused.value.exit_code == 2 and objects(world, "relight/failback/") == []

    plan = plan_failback(loaded, recovery, home, graceful=True, teardown=False, stand_in=True)
    assert plan.paths == ["/health"], "the SECONDARY's health check path, read from its stack"
    with monkeypatch.context() as patched:
        patched.setattr(running, "_home_phase", broken)
        first = failback(plan, recovery, home, sleep=lambda _: None)
    assert first.failed == "home" and first.done == ["stop", "snapshot"]
    assert rules() == [("1", ["/health"], "200"), ("2", ["/*"], "503")]
    reopen = " ".join(first.notes)
    assert "us-west-2 answers 503 (the graceful stop's maintenance page)" in reopen
    assert "aws elbv2 delete-rule --region us-west-2 --rule-arn arn:" in reopen
    assert group(world, R)["DesiredCapacity"] == 3, "the fleet keeps running: its data stays"

    second = failback(
        plan_failback(loaded, recovery, home, graceful=True, teardown=False, stand_in=True),
        recovery,
        home,
        sleep=lambda _: None,
    )
    assert second.ok, second.reason
    assert rules() == [], "the maintenance page is gone with the failback"


def test_a_copy_home_is_recorded_as_it_starts_and_a_rerun_waits_for_the_same_one() -> None:
    """A failback stopped while its copy runs (a timeout, a Ctrl-C) must not start another
    one, nor be refused by RDS's DBSnapshotAlreadyExists on the copy's fixed identifier."""
    from relight.steps.discovery import Candidate
    from relight.steps.failback import Taken, copy_home
    from relight.steps.replicate.copies import CopyResult, rds_copy_id

    calls: list[tuple[bool, str | None]] = []
    answers: list[CopyResult] = []

    class Replicator:
        def copy_one(self, name: str, source: Any, src: str, dst: str, wait: bool,
                     in_progress: str | None = None) -> CopyResult:  # fmt: skip
            calls.append((wait, in_progress))
            return answers.pop(0)

    source = Candidate("rds_snapshot", "demo-failback-orders-db-1", datetime.now(UTC), {}, ACCOUNT)
    taken = Taken("orders_db", "rds_snapshot", source.id, "2026-12-06T10:00:00+00:00")
    recorded: list[str] = []
    answers[:] = [
        CopyResult("orders_db", "rds_snapshot", source.id, HOME, "started", "copy-1"),
        CopyResult("orders_db", "rds_snapshot", source.id, HOME, "failed", "copy-1", "timeout"),
    ]
    with pytest.raises(AwsError, match="timeout"):
        copy_home(Replicator(), taken, source, R, HOME, recorded.append)  # type: ignore[arg-type]
    assert recorded == ["copy-1"], "recorded before the wait"

    answers[:] = [CopyResult("orders_db", "rds_snapshot", source.id, HOME, "copied", "copy-1")]
    again = Taken(
        *[getattr(taken, f) for f in ("artifact", "kind", "snapshot", "taken_at")], "copy-1"
    )
    assert copy_home(Replicator(), again, source, R, HOME, recorded.append) == "copy-1"  # type: ignore[arg-type]
    assert calls[-1] == (True, "copy-1") and recorded == ["copy-1"], "no second copy started"

    already = (
        "DBSnapshotAlreadyExistsFault: Cannot create the snapshot because a snapshot with the "
        "identifier ... already exists"
    )
    answers[:] = [
        CopyResult("orders_db", "rds_snapshot", source.id, HOME, "failed", "", already),
        CopyResult("orders_db", "rds_snapshot", source.id, HOME, "copied", "x"),
    ]
    assert copy_home(Replicator(), taken, source, R, HOME, recorded.append) == rds_copy_id(  # type: ignore[arg-type]
        source.id, HOME
    ), "a copy started by a run that stopped before recording it is found by its identifier"
