"""End to end: the `relight` console script fails the demo over on the local stand-in.

Each step runs the real CLI in a subprocess against a private stand-in, then
looks at the simulated world through boto3 to check what was built and from
what. The steps run in order and share one stand-in.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conftest import relight
from relight import standin

pytestmark = pytest.mark.e2e
ACCOUNT = "123456789012"  # moto's, the stand-in's account


def client(world: dict[str, Any], service: str, region: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, region, endpoint_url=found.endpoint)


def test_plan_shows_every_stack_as_created_and_changes_nothing(world: dict[str, Any]) -> None:
    run = relight(world, "plan", "--env", "demo", "--region", "us-west-2", "--json")
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    planned = shown["stacks"]
    assert {p["key"]: p["action"] for p in planned} == dict.fromkeys(
        ["network", "security", "database", "load_balancer", "web"], "create"
    )
    assert shown["prepared"] == {"identity": "demo-identity"}, "IAM roles: made before"
    assert "dns" in shown["not_built"], "backup_restore has no standing endpoint for DNS"
    assert [(r["strategy"], r["data"]) for r in shown["ladder"]] == [
        (strategy, data)
        for strategy in ("backup_restore", "pilot_light", "warm_standby")
        for data in ("snapshot", "replica")
    ], "a row per rung and data mode"
    web = {p["name"]: p for p in next(p for p in planned if p["key"] == "web")["parameters"]}
    assert web["ImageId"]["value"].startswith("ami-")
    assert web["ImageId"]["age_seconds"] >= 0
    assert web["SubnetIds"]["value"] is None, "known only once the network exists"
    assert _stack_names(world, "us-west-2") == ["demo-identity"], "only what the story prepared"


def _stack_names(world: dict[str, Any], region: str) -> list[str]:
    stacks = client(world, "cloudformation", region).describe_stacks()["Stacks"]
    return sorted(s["StackName"] for s in stacks)


def test_failover_without_a_terminal_needs_yes_and_changes_nothing(world: dict[str, Any]) -> None:
    run = relight(world, "failover", "--env", "demo", "--region", "us-west-2")
    assert run.returncode == 2
    assert "pass --yes" in run.stderr
    assert "plan: failover of demo into us-west-2" in run.stderr, "the plan is shown first"
    assert _stack_names(world, "us-west-2") == ["demo-identity"]


def test_failover_into_us_west_2_succeeds_and_says_it_is_local(world: dict[str, Any]) -> None:
    run = relight(world, "failover", "--env", "demo", "--region", "us-west-2", "--yes", "--json")
    assert run.returncode == 0, run.stderr
    assert "LOCAL STAND-IN" in run.stderr
    assert "nothing real is touched" in run.stderr
    result = json.loads(run.stdout)
    world["result"] = result
    assert result["ok"] is True
    assert result["stand_in"] is True
    assert {s["stack"]: s["action"] for s in result["stacks"]} == {
        "network": "created",
        "security": "created",
        "database": "created",
        "load_balancer": "created",
        "web": "created",
    }
    assert result["strategy"] == "backup_restore"
    assert [e["event"] for e in result["events"]] == [
        "started", "first change (marked failing over)", "deployed", "verified",
        "us-west-2 marked serving",
    ]  # fmt: skip
    times = [e["at"] for e in result["events"]]
    assert times == sorted(times), "the lifecycle in the order it happened"
    assert result["prepared"] == {"identity": "demo-identity"}
    assert list(result["skipped"]) == ["dns"], "the stand-in plays the database too"
    assert {a["name"] for a in result["artifacts"]} == {"web_ami", "web_data", "orders_db"}
    for art in result["artifacts"]:
        assert art["source_region"] == "us-east-1", "each copy knows where it came from"
        assert art["rpo_ok"] is True
    checks = {(c["stack"], c["check"]): c["result"] for c in result["verification"]}
    assert checks[("web", "instances running")] == "passed"
    assert checks[("web", "auto scaling group at desired capacity")] == "passed"
    assert checks[("load_balancer", "targets healthy")] == "not simulated locally"
    # what the stand-in now plays is checked for real, never "not simulated"
    orders = {a["name"]: a for a in result["artifacts"]}["orders_db"]["id"]
    assert checks[("database", "database restored from the expected snapshot")] == "passed"
    assert orders in {
        c["detail"] for c in result["verification"] if c["check"].startswith("database restored")
    }
    assert checks[("web", "instances in the declared security groups")] == "passed"
    assert checks[("web", "data volumes from the expected snapshot")] == "passed"
    assert checks[("security", "security groups' egress as declared")] == "passed"


def test_every_stack_the_failover_made_runs_with_the_identity_stacks_service_role(
    world: dict[str, Any],
) -> None:
    """CloudFormation keeps the RoleARN a stack was created with (DescribeStacks shows it):
    every stack of the failover has the identity stack's CloudFormation role; the identity
    stack itself, made by prepare with the operator's credentials, has none."""
    stacks = client(world, "cloudformation", "us-west-2").describe_stacks()["Stacks"]
    found = {s["StackName"]: s for s in stacks}
    identity = found["demo-identity"]
    role = {o["OutputKey"]: o["OutputValue"] for o in identity["Outputs"]}["CloudFormationRoleArn"]
    assert role.startswith(  # its own path, outside /relight/ (the roles it may pass)
        f"arn:aws:iam::{ACCOUNT}:role/relight-cloudformation/demo/demo-identity-CloudFormationRole"
    )
    assert "RoleARN" not in identity, "the bootstrap: made with the operator's credentials"
    made = {name: s.get("RoleARN") for name, s in found.items() if name != "demo-identity"}
    assert sorted(made) == [
        "demo-database", "demo-load-balancer", "demo-network", "demo-security", "demo-web",
    ]  # fmt: skip
    assert set(made.values()) == {role}
    iam = client(world, "iam", "us-east-1")
    assert iam.get_role(RoleName=role.rsplit("/", 1)[1])["Role"]["Arn"] == role


def _outputs(world: dict[str, Any], stack: str) -> dict[str, str]:
    found = {s["stack"]: s for s in world["result"]["stacks"]}
    return dict(found[stack]["outputs"])


def test_the_network_was_built_in_the_zones_chosen_by_az_id(world: dict[str, Any]) -> None:
    ec2 = client(world, "ec2", "us-west-2")
    vpc = _outputs(world, "network")["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.40.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) == 9, "public, private and data subnets in three AZs"
    chosen = {z["name"]: z["id"] for z in world["result"]["zones"]}
    assert len(chosen) == 3
    assert {(s["AvailabilityZone"], s["AvailabilityZoneId"]) for s in subnets} == set(
        chosen.items()
    )


def _web_instances(world: dict[str, Any]) -> list[dict[str, Any]]:
    group = _outputs(world, "web")["AutoScalingGroupName"]
    asg = client(world, "autoscaling", "us-west-2")
    (found,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    ids = [i["InstanceId"] for i in found["Instances"]]
    ec2 = client(world, "ec2", "us-west-2")
    return [
        i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]
    ]


def test_instances_were_made_from_the_discovered_ami_and_snapshot(world: dict[str, Any]) -> None:
    ec2 = client(world, "ec2", "us-west-2")
    artifacts = {a["name"]: a for a in world["result"]["artifacts"]}
    instances = _web_instances(world)
    assert len(instances) == 3
    assert {i["ImageId"] for i in instances} == {artifacts["web_ami"]["id"]}
    assert {i["InstanceType"] for i in instances} == {"t3.small"}
    private = set(_outputs(world, "network")["PrivateSubnetIds"].split(","))
    assert {i["SubnetId"] for i in instances} <= private
    volumes = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [i["InstanceId"] for i in instances]}]
    )["Volumes"]
    data = [v for v in volumes if v["Attachments"][0]["Device"] == "/dev/sdf"]
    assert len(data) == 3
    assert {v["SnapshotId"] for v in data} == {artifacts["web_data"]["id"]}
    assert all(v["Encrypted"] for v in data)


def test_the_instances_are_registered_and_healthy_behind_the_load_balancer(
    world: dict[str, Any],
) -> None:
    elb = client(world, "elbv2", "us-west-2")
    target_group = _outputs(world, "load_balancer")["TargetGroupArn"]
    health = elb.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    assert {h["Target"]["Id"] for h in health} == {i["InstanceId"] for i in _web_instances(world)}
    assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}


def test_the_security_graph_lets_only_the_load_balancer_reach_the_web_tier(
    world: dict[str, Any],
) -> None:
    ec2 = client(world, "ec2", "us-west-2")
    groups = _outputs(world, "security")
    (web,) = ec2.describe_security_groups(GroupIds=[groups["WebSecurityGroupId"]])["SecurityGroups"]
    (rule,) = web["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (8080, 8080)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [groups["LbSecurityGroupId"]]
    assert rule["IpRanges"] == []


def test_pilot_light_in_another_region_stands_all_but_the_dns_pair_and_failover_builds_the_rest(
    world: dict[str, Any],
) -> None:
    """demo's dns stack has `regions: [us-west-2]`: a name has one SECONDARY record, so in
    eu-west-1 it is left out, saying why, and the failover there sets no latch (the pair and
    its latch in us-west-2: test_failback.py)."""
    prepared = relight(
        world, "prepare", "--env", "demo", "--region", "eu-west-1", "--strategy", "pilot_light",
        "--yes", "--json",
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    stood = json.loads(prepared.stdout)
    assert {s["stack"]: s["action"] for s in stood["stacks"]} == {
        "identity": "unchanged",  # the story prepared it already
        "network": "created",
        "security": "created",
        "load_balancer": "created",
    }
    assert stood["skipped"]["dns"] == "regions: us-west-2: it stands only there"
    cfn = client(world, "cloudformation", "eu-west-1")
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert "demo-dns" not in stacks
    tags = {t["Key"]: t["Value"] for t in stacks["demo-load-balancer"]["Tags"]}
    assert tags["relight:prepared"] == "pilot_light"
    route53 = client(world, "route53", "us-east-1")
    (zone,) = route53.list_hosted_zones_by_name(DNSName="demo.example.com.")["HostedZones"][:1]
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert not [r for r in records if "eu-west-1" in r.get("SetIdentifier", "")], (
        "no second SECONDARY record for the name"
    )

    run = relight(
        world, "failover", "--env", "demo", "--region", "eu-west-1", "--strategy", "pilot_light",
        "--yes", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert {s["stack"]: s["action"] for s in result["stacks"]} == {
        "database": "created",
        "web": "created",
    }
    assert set(result["prepared"]) == {"identity", "network", "security", "load_balancer"}
    assert client(world, "cloudwatch", "eu-west-1").describe_alarms()["MetricAlarms"] == []
    assert not any(n.startswith("failback latched") for n in result["notes"])
    after = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    for name in ("demo-network", "demo-load-balancer"):
        assert after[name].get("LastUpdatedTime") == stacks[name].get("LastUpdatedTime"), (
            f"{name}: a failover reads prepared stacks and never changes them"
        )

    # eu-west-1 now serves demo: prepare there is refused before it changes anything.
    again = relight(
        world, "prepare", "--env", "demo", "--region", "eu-west-1", "--strategy", "pilot_light",
        "--yes",
    )  # fmt: skip
    assert again.returncode == 2, again.stdout + again.stderr
    said = " ".join(again.stderr.split())
    assert "demo serves from eu-west-1 since" in said and "nothing was changed" in said
    assert "stacks/demo.yaml" in said, "the file the refusal is about"
    assert "run relight failover --env demo --region eu-west-1" in said
    marker = f"s3://relight-templates-{ACCOUNT}-eu-west-1/relight/serving/demo.json"
    assert f"aws s3 rm {marker} --region eu-west-1 --endpoint-url http://127.0.0.1:" in said
    unchanged = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert {n: s.get("LastUpdatedTime") for n, s in unchanged.items()} == {
        n: s.get("LastUpdatedTime") for n, s in after.items()
    }, "nothing was changed"
    # The marker is what refuses: without it (failed back, or removed by hand) prepare runs.
    s3 = client(world, "s3", "eu-west-1")
    s3.delete_object(
        Bucket=f"relight-templates-{ACCOUNT}-eu-west-1", Key="relight/serving/demo.json"
    )
    allowed = relight(
        world, "prepare", "--env", "demo", "--region", "eu-west-1", "--strategy", "pilot_light",
        "--yes", "--json",
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr


def test_a_rerun_converges_and_leaves_finished_stacks_alone(world: dict[str, Any]) -> None:
    run = relight(world, "failover", "--env", "demo", "--region", "us-west-2", "--yes", "--json")
    assert run.returncode == 0, run.stderr
    assert {s["action"] for s in json.loads(run.stdout)["stacks"]} == {"unchanged"}
    planned = relight(world, "plan", "--env", "demo", "--region", "us-west-2", "--json")
    assert {p["action"] for p in json.loads(planned.stdout)["stacks"]} == {"no change"}


def test_a_test_environment_is_launched_beside_the_failover_and_torn_down_alone(
    world: dict[str, Any],
) -> None:
    run = relight(world, "launch", "--env", "demo", "--region", "us-west-2", "--as", "qa")
    assert run.returncode == 0, run.stderr
    cfn = client(world, "cloudformation", "us-west-2")
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert "demo-qa-network" in stacks and "demo-network" in stacks
    tags = {t["Key"]: t["Value"] for t in stacks["demo-qa-web"]["Tags"]}
    assert (tags["relight:purpose"], tags["relight:namespace"]) == ("test", "qa")
    assert not stacks["demo-qa-web"]["EnableTerminationProtection"]
    assert stacks["demo-web"]["EnableTerminationProtection"]
    down = relight(
        world, "teardown", "--env", "demo", "--region", "us-west-2", "--as", "qa", "--yes"
    )
    assert down.returncode == 0, down.stderr
    left = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert not [n for n in left if n.startswith("demo-qa-")]
    assert "demo-network" in left, "the failover stacks are untouched"


def test_a_drill_rehearses_beside_the_failover_leaves_nothing_and_reports(
    world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    reports = tmp_path_factory.mktemp("reports")
    run = relight(
        world, "drill", "--env", "demo", "--region", "us-west-2", "--reports", str(reports)
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert "LOCAL STAND-IN" in run.stderr
    assert "not AWS timings" in run.stdout
    cfn = client(world, "cloudformation", "us-west-2")
    names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert not [n for n in names if "-drill-" in n], "no drill stack is left behind"
    assert "demo-network" in names, "the failover is untouched"
    (run_dir,) = [p for p in (reports / "demo").iterdir() if p.is_dir()]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["ok"] and report["stand_in"] and report["rto_seconds"] > 0
    assert {p["name"] for p in report["phases"]} >= {"deploy", "verify", "teardown"}
    checked = {(c["stack"], c["check"]): c["result"] for c in report["verification"]}
    for check in (
        ("database", "database restored from the expected snapshot"),
        ("web", "instances in the declared security groups"),
        ("web", "data volumes from the expected snapshot"),
        ("security", "security groups' egress as declared"),
    ):
        assert checked[check] == "passed", check  # played by the stand-in, checked for real
    assert "<svg" in (run_dir / "report.html").read_text()
    assert (run_dir / "report.md").exists()
    zones = client(world, "route53", "us-east-1").list_hosted_zones()["HostedZones"]
    zone = next(z for z in zones if z["Name"] == "demo.example.com.")
    records = client(world, "route53", "us-east-1").list_resource_record_sets(
        HostedZoneId=zone["Id"]
    )["ResourceRecordSets"]
    assert not [r for r in records if "drill-" in r["Name"]], "the drill's record went with it"
    listed = relight(world, "report", "--env", "demo", "--reports", str(reports), "--json")
    assert listed.returncode == 0, listed.stderr
    history = json.loads(listed.stdout)
    assert [r["run_id"] for r in history["runs"]] == [report["run_id"]]
    assert history["trend"] == "not enough drills"
    assert (reports / "demo" / "index.html").exists()


@pytest.mark.parametrize("strategy", ["backup_restore", "pilot_light", "warm_standby"])
def test_an_outage_drill_passes_at_every_rung_with_no_call_to_the_lost_region(
    world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, strategy: str
) -> None:
    """`make drill REGION=us-west-2 OUTAGE=us-east-1 STRATEGY=...`: each rung's drill prepares
    its own standing copies, then fails over with us-east-1 and its control planes refused."""
    reports = tmp_path_factory.mktemp("outage")
    run = relight(
        world, "drill", "--env", "demo", "--region", "us-west-2", "--strategy", strategy,
        "--outage", "us-east-1", "--reports", str(reports), "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    report = json.loads(run.stdout)
    assert report["strategy"] == strategy
    assert report["outage"]["region"] == "us-east-1"
    assert report["outage"]["refused"] == [], "no call to us-east-1 or a control plane there"
    assert report["outage"]["summary"] == "passed with us-east-1 down: no call refused"
    phases = {p["name"]: p["status"] for p in report["phases"]}
    assert phases["prepare"] == ("skipped" if strategy == "backup_restore" else "ok")
    standing = {s["stack"] for s in report["standing"]}
    built = {s["stack"] for s in report["stacks"]}
    assert "identity" not in standing | built, "production's IAM roles are read, never copied"
    if strategy == "pilot_light":
        assert standing == {"network", "security", "load_balancer", "dns"}
        assert built == {"database", "web"}
    names = [
        s["StackName"]
        for s in client(world, "cloudformation", "us-west-2").describe_stacks()["Stacks"]
    ]
    assert not [n for n in names if "-drill-" in n], "the drill's standing copies went too"
    (markdown,) = (reports / "demo").glob("*/report.md")
    assert "passed with us-east-1 down: no call refused" in markdown.read_text()


def test_a_region_without_copies_is_refused_and_nothing_is_built(world: dict[str, Any]) -> None:
    run = relight(world, "failover", "--env", "demo", "--region", "eu-central-1", "--yes")
    assert run.returncode == 2
    # the three artifacts, and the application's secret (no replica there either)
    assert "preflight found 4 problem(s)" in run.stderr
    assert "secret demo/orders-app has no replica in eu-central-1" in " ".join(run.stderr.split())
    assert "no AMI tagged Environment=demo,Role=web named demo-web-* in eu-central-1" in run.stderr
    assert "newest match in us-east-1" in run.stderr
    assert "relight replicate --env demo --from us-east-1 --to eu-central-1" in run.stderr
    cfn = client(world, "cloudformation", "eu-central-1")
    assert cfn.describe_stacks()["Stacks"] == []


def test_failover_also_works_in_the_other_recovery_region(world: dict[str, Any]) -> None:
    run = relight(world, "failover", "--env", "demo", "--region", "eu-west-1", "--yes")
    assert run.returncode == 0, run.stderr
    assert "done" in run.stdout
    assert "demo-load-balancer" in run.stdout, "at backup_restore it is the failover's to build"
    assert "demo-database" in run.stdout, "the stand-in restores the database there too"


def test_status_lists_the_environments_stacks(world: dict[str, Any]) -> None:
    run = relight(world, "status", "--env", "demo", "--region", "us-west-2", "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert [r["stack"] for r in rows] == [
        "identity", "network", "security", "database", "load_balancer", "web",
    ]  # fmt: skip
    assert {r["status"] for r in rows} == {"CREATE_COMPLETE"}
    assert {r["stack"]: r["purpose"] for r in rows}["identity"] == "global", "made by prepare"
    assert {r["purpose"] for r in rows if r["stack"] != "identity"} == {"failover"}
    assert {r["stack"]: r["prepared"] for r in rows}["identity"] == "global"
    assert {r["prepared"] for r in rows if r["stack"] != "identity"} == {""}


def test_teardown_needs_confirmation_then_deletes_stacks_but_keeps_backups(
    world: dict[str, Any],
) -> None:
    refused = relight(world, "teardown", "--env", "demo", "--region", "us-west-2")
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr
    ec2 = client(world, "ec2", "us-west-2")
    images_before = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    protected = relight(world, "teardown", "--env", "demo", "--region", "us-west-2", "--yes")
    assert protected.returncode == 1
    assert "rerun with --force" in protected.stdout
    assert "unexpected" not in protected.stderr, "a clean exit 1 is not a crash"
    assert len(_stack_names(world, "us-west-2")) == 6, "protected failover stacks stay"
    assert "left alone (made by relight prepare; --prepared deletes them): demo-identity" in (
        protected.stderr
    )
    run = relight(world, "teardown", "--env", "demo", "--region", "us-west-2", "--yes", "--force")
    assert run.returncode == 0, run.stderr
    assert _stack_names(world, "us-west-2") == ["demo-identity"], "prepared stacks stay"
    # The web fleet's data volumes outlive it (DeleteOnTermination false), and are named.
    kept = ec2.describe_volumes(
        Filters=[
            {"Name": "tag:Name", "Values": ["demo-web"]},
            {"Name": "status", "Values": ["available"]},
        ]
    )["Volumes"]
    assert kept, "the fleet's data volumes are kept"
    for volume in kept:
        assert f"data volume kept: {volume['VolumeId']}" in run.stdout
    assert f"aws ec2 delete-volume --region us-west-2 --volume-id {kept[0]['VolumeId']}" in (
        " ".join(run.stdout.split())
    )
    assert {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} == images_before
    snapshot_id = {a["name"]: a["id"] for a in world["result"]["artifacts"]}["web_data"]
    assert ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    # The other region's failover is untouched.
    assert client(world, "cloudformation", "eu-west-1").describe_stacks()["Stacks"]


def test_discover_prints_the_documented_json(world: dict[str, Any]) -> None:
    run = relight(world, "discover", "--env", "demo", "--region", "eu-west-1", "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    for row in rows:
        assert {
            "name",
            "kind",
            "id",
            "created",
            "age_seconds",
            "rpo_ok",
            "source_region",
            "source_id",
        } <= set(row)
    assert {r["kind"] for r in rows} == {"ami", "ebs_snapshot", "rds_snapshot"}


def test_replicate_finds_the_story_copies_up_to_date(world: dict[str, Any]) -> None:
    run = relight(
        world, "replicate", "--env", "demo", "--from", "us-east-1", "--to", "us-west-2", "--json"
    )
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert {(r["artifact"], r["action"]) for r in rows} == {
        ("web_ami", "up-to-date"),
        ("web_data", "up-to-date"),
        ("orders_db", "up-to-date"),
        ("(kms key)", "grant-present"),  # the story's replication made it
    }


def test_replicate_refuses_encrypted_sources_without_a_key_for_the_region(
    world: dict[str, Any],
) -> None:
    run = relight(
        world, "replicate", "--env", "demo", "--from", "us-east-1", "--to", "ap-southeast-2"
    )
    assert run.returncode == 2
    assert "kms_keys.ap-southeast-2:" in run.stderr
    assert "nothing was shared, copied or deleted" in run.stderr


def test_local_status_shows_the_endpoint(world: dict[str, Any]) -> None:
    run = relight(world, "local", "status")
    assert run.returncode == 0
    assert "stand-in running: http://127.0.0.1:" in run.stdout
    assert "aws --endpoint-url" in run.stdout
