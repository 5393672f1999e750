"""Issue 21's "Done when", end to end, on a production relight has never seen
(tests/handbuilt_world.py, built with plain boto3): capture it, check the file renders with
no cfn-lint finding, do only the steps its notes name, replicate, prepare and fail over into
us-west-2, and find drift 0; every resource of the world is in the ledger
(`stacks/shop.capture.json`) and every property it read is reproduced or named.

The whole journey runs once per module (one `mock_aws`, in-process moto, as
tests/test_capture.py's round trip), recording each step's result without judging it; each
test then judges one class of the issue."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

from handbuilt_world import DOMAIN, MORNINGS, REGION, VPC_TAGS, World, build_world
from relight.cli import app
from relight.model.config import load_environment
from relight.steps.render import build_plan, lint_plan

RECOVERY = "us-west-2"
LEDGER_STATUSES = {"reproduced", "noted", "changed on purpose", "not read"}


# ---------------------------------------------------------------------------------------------
# The journey, once per module


def _fingerprint(world: World) -> str:
    """Production in us-east-1 as plain describe calls see it: capture and drift are read-only,
    so this never changes while relight looks at it."""
    ec2 = boto3.client("ec2", REGION)
    in_vpc = [{"Name": "vpc-id", "Values": [world.vpc]}]
    elbv2 = boto3.client("elbv2", REGION)
    autoscaling = boto3.client("autoscaling", REGION)
    rds = boto3.client("rds", REGION)
    seen = {
        "vpc": ec2.describe_vpcs(VpcIds=[world.vpc])["Vpcs"],
        "subnets": ec2.describe_subnets(Filters=in_vpc)["Subnets"],
        "tables": ec2.describe_route_tables(Filters=in_vpc)["RouteTables"],
        "acls": ec2.describe_network_acls(Filters=in_vpc)["NetworkAcls"],
        "endpoints": ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"],
        "groups": ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"],
        "templates": ec2.describe_launch_template_versions(LaunchTemplateId=world.launch_template)[
            "LaunchTemplateVersions"
        ],
        "balancers": elbv2.describe_load_balancers()["LoadBalancers"],
        "target_groups": elbv2.describe_target_groups()["TargetGroups"],
        "listeners": elbv2.describe_listeners(LoadBalancerArn=world.load_balancer)["Listeners"],
        "asgs": autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"],
        "actions": autoscaling.describe_scheduled_actions()["ScheduledUpdateGroupActions"],
        # LatestRestorableTime is "now" on every read: not a change
        "databases": [
            {k: v for k, v in d.items() if k != "LatestRestorableTime"}
            for d in rds.describe_db_instances()["DBInstances"]
        ],
        "db_snapshots": rds.describe_db_snapshots()["DBSnapshots"],
        "records": boto3.client("route53", REGION).list_resource_record_sets(
            HostedZoneId=world.hosted_zone
        )["ResourceRecordSets"],
    }
    return json.dumps(seen, sort_keys=True, default=str)


def _replace_after(text: str, anchor: str, old: str, new: str) -> str:
    """The recovery region's value after `anchor` (`old`, as YAML read it) replaced by `new`,
    comments and all kept (the file's CAPTURE comments are what drift compares, so the file
    is edited as text): `old` itself where the text spells it so, else the value of the first
    `us-west-2:` after the anchor (block or flow style, quoted or not)."""
    start = text.index(anchor)
    if old and old in text[start:]:
        at = text.index(old, start)
        return text[:at] + new + text[at + len(old) :]
    value = r"'[^']*'|\"[^\"]*\"|(?:[^\s,}#][^,}\n#]*[^\s,}#]|[^\s,}#])?"
    entry = re.compile(rf"({re.escape(RECOVERY)}:[ \t]*)({value})")
    found = entry.search(text, start)
    assert found, f"no {RECOVERY} entry after {anchor!r}"
    spaced = new if found.group(1).endswith((" ", "\t")) else f" {new}"
    return text[: found.start(2)] + spaced + text[found.end(2) :]


def _the_named_steps(path: Path) -> list[str]:
    """Do what the captured file's notes name, and nothing else; what was done, in words.

    - `kms_keys`: the recovery region's entry is a placeholder; the user makes a key there
      and writes its alias.
    - the certificate: the load balancer's `CertificateArn` holds a per-region value; the user
      requests a certificate for the domain in the recovery region (the note's command) and
      writes its ARN as the recovery region's entry.
    """
    text = path.read_text()
    doc = yaml.safe_load(text)
    done = []
    keys = doc.get("kms_keys") or {}
    if RECOVERY in keys:
        placeholder = "" if keys[RECOVERY] is None else str(keys[RECOVERY])
        kms = boto3.client("kms", RECOVERY)
        key = kms.create_key(Description="shop copies in us-west-2")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/shop-dr", TargetKeyId=key)
        text = _replace_after(text, "kms_keys:", placeholder, "alias/shop-dr")
        done.append("kms_keys")
    for key, stack in (doc.get("stacks") or {}).items():
        arn = (stack.get("params") or {}).get("CertificateArn")
        if isinstance(arn, dict) and isinstance(arn.get("per_region"), dict):
            requested = boto3.client("acm", RECOVERY).request_certificate(
                DomainName=DOMAIN, ValidationMethod="DNS", SubjectAlternativeNames=[f"www.{DOMAIN}"]
            )["CertificateArn"]
            entry = str(arn["per_region"].get(RECOVERY) or "")
            text = _replace_after(text, f"\n  {key}:", entry, requested)
            done.append(f"stacks.{key}.params.CertificateArn")
    path.write_text(text)
    return done


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the world, capture it with the CLI, follow the notes, replicate, prepare, fail
    over, drift: every step's result, none judged here."""
    runner = CliRunner()
    stacks = tmp_path_factory.mktemp("handbuilt") / "stacks"
    path = stacks / "shop.yaml"
    found: dict[str, Any] = {"path": path}
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        # In-process moto offers no orderable DB instance classes (the stand-in skips the check
        # for the same reason); everything else in preflight runs.
        patch.setattr("relight.steps.preflight._db_classes", lambda plan, aws: ([], []))
        patch.setattr(
            "relight.steps.preflight.check_databases", lambda plan, aws, found, skip: ([], [])
        )
        world = build_world()
        found["world"] = world
        found["instances"] = [
            i["InstanceId"]
            for g in boto3.client("autoscaling", REGION).describe_auto_scaling_groups()[
                "AutoScalingGroups"
            ]
            for i in g["Instances"]
        ]
        before = _fingerprint(world)
        selector = [arg for k, v in VPC_TAGS.items() for arg in ("--tag", f"{k}={v}")]
        found["capture"] = runner.invoke(
            app,
            [
                "capture",
                *selector,
                "--region",
                REGION,
                "--name",
                "shop",
                "--out",
                str(path),
                "--recovery-region",
                RECOVERY,
                "--aws",
            ],
        )
        found["captured_text"] = path.read_text() if path.exists() else ""
        found["read_only_capture"] = _fingerprint(world) == before
        if not path.exists():
            yield found
            return
        found["steps"] = _the_named_steps(path)
        env = ["--env", str(path), "--aws"]
        commands = {
            "replicate": ["replicate", *env, "--from", REGION, "--to", RECOVERY],
            "prepare": ["prepare", *env, "--region", RECOVERY, "--yes"],
            "failover": [
                *("failover", *env, "--region", RECOVERY, "--yes", "--json"),
                *("--verify-timeout", "1"),
            ],
        }
        for name, argv in commands.items():
            found[name] = runner.invoke(app, argv)
        # the first drift run, for people; then for machines; then again, for people
        found["drift_people"] = runner.invoke(app, ["drift", *env, "--home-only"])
        found["drift"] = runner.invoke(app, ["drift", *env, "--home-only", "--json"])
        found["drift_again"] = runner.invoke(app, ["drift", *env, "--home-only"])
        found["read_only_drift"] = _fingerprint(world) == before
        found["rebuilt"] = _rebuilt(RECOVERY)
        yield found


def _rebuilt(region: str) -> dict[str, Any]:
    """What the failover made in `region`, read with plain boto3."""
    ec2 = boto3.client("ec2", region)
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    if len(vpcs) != 1:
        return {"vpcs": vpcs}
    in_vpc = [{"Name": "vpc-id", "Values": vpcs}]
    elbv2 = boto3.client("elbv2", region)
    autoscaling = boto3.client("autoscaling", region)
    asgs = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    templates = [
        ec2.describe_launch_template_versions(
            LaunchTemplateId=a["LaunchTemplate"]["LaunchTemplateId"],
            Versions=[a["LaunchTemplate"]["Version"]],
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        for a in asgs
        if "LaunchTemplate" in a
    ]
    return {
        "vpcs": vpcs,
        "vpc_tags": ec2.describe_vpcs(VpcIds=vpcs)["Vpcs"][0].get("Tags", []),
        "subnets": ec2.describe_subnets(Filters=in_vpc)["Subnets"],
        "target_groups": [
            t for t in elbv2.describe_target_groups()["TargetGroups"] if t["VpcId"] in vpcs
        ],
        "asgs": asgs,
        "templates": templates,
        "actions": autoscaling.describe_scheduled_actions()["ScheduledUpdateGroupActions"],
    }


def _doc(journey: dict[str, Any]) -> dict[str, Any]:
    """The captured file as capture wrote it."""
    assert journey["capture"].exit_code == 0, journey["capture"].output
    loaded: dict[str, Any] = yaml.safe_load(journey["captured_text"])
    return loaded


def _text(journey: dict[str, Any]) -> str:
    assert journey["capture"].exit_code == 0, journey["capture"].output
    return str(journey["captured_text"])


def _params(journey: dict[str, Any], blueprint: str) -> dict[str, Any]:
    (stack,) = [s for s in _doc(journey)["stacks"].values() if s["blueprint"] == blueprint]
    params: dict[str, Any] = stack["params"]
    return params


def _rendered(journey: dict[str, Any], tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Each stack of the file after the steps the notes name (its placeholders filled in: the
    recovery region's `kms_keys` and certificate), rendered for the recovery region: its
    template's resources."""
    path = tmp_path / "stacks" / "shop.yaml"
    path.parent.mkdir()
    path.write_text(journey["path"].read_text())
    plan = build_plan(load_environment(str(path)), RECOVERY, stand_in=True)
    return {
        key: json.loads(stack.body)["Resources"]
        for key, stack in {**plan.prepared, **plan.stacks}.items()
    }


def _of_type(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in resources.values() if r["Type"] == kind]


# ---------------------------------------------------------------------------------------------
# What works today


def test_the_world_is_captured_by_its_tags_and_renders_with_no_lint_finding(
    journey: dict[str, Any], tmp_path: Path
) -> None:
    doc = _doc(journey)
    assert doc["production"] == {"tags": VPC_TAGS}, "drift finds production as capture did"
    assert set(doc["stacks"]) >= {
        *("identity", "network", "security", "load_balancer", "web", "database", "dns")
    }
    # as written it renders for the home region; for the recovery region once the steps the
    # notes name are done (its kms_keys and certificate entries are placeholders until then)
    for text, region in (
        (journey["captured_text"], REGION),
        (journey["path"].read_text(), RECOVERY),
    ):
        path = tmp_path / f"shop-{region}.yaml"
        path.write_text(text)
        plan = build_plan(load_environment(str(path)), region, stand_in=True)
        found = lint_plan(plan, prepared=True)  # raises on any lint error
        assert {k: v for k, v in found.items() if v} == {}, f"{region}: no warning either"
    # what it cannot reproduce, it says on screen and in the file
    output = " ".join(journey["capture"].output.split())
    assert "Listener 443 Certificates" in output and "UserData" in output


def test_capture_and_drift_change_nothing_in_production(journey: dict[str, Any]) -> None:
    assert journey["capture"].exit_code == 0, journey["capture"].output
    assert journey["read_only_capture"], "capture only reads"
    assert journey["read_only_drift"], "replicate, prepare, failover and drift left home alone"


def test_the_encrypted_database_is_looked_up_by_instance_never_by_id(
    journey: dict[str, Any],
) -> None:
    doc = _doc(journey)
    database = _params(journey, "database")
    assert doc["artifacts"][database["SnapshotIdentifier"]["artifact"]] == {
        "kind": "rds_snapshot",
        "db_instance": "shop-orders",
    }
    assert (database["engine"], database["multi_az"], database["backup_retention_days"]) == (
        "postgres",
        True,
        7,
    )
    assert "shop-orders-nightly" not in journey["captured_text"]


# ---------------------------------------------------------------------------------------------
# Item 2: reproduced, not replaced by a blueprint default


def test_the_public_subnets_map_a_public_ip_at_launch(
    journey: dict[str, Any], tmp_path: Path
) -> None:
    assert _params(journey, "network")["public_ip_on_launch"] == ["public"]
    subnets = _of_type(_rendered(journey, tmp_path)["network"], "AWS::EC2::Subnet")
    mapping = [s for s in subnets if s.get("MapPublicIpOnLaunch") is True]
    assert len(mapping) == 2, "the two public subnets, and no other"


def test_the_s3_endpoint_is_on_the_private_tiers_route_tables_only(
    journey: dict[str, Any], tmp_path: Path
) -> None:
    assert _params(journey, "network")["endpoint_tiers"] == {"s3": ["private"]}
    (endpoint,) = _of_type(_rendered(journey, tmp_path)["network"], "AWS::EC2::VPCEndpoint")
    tables = json.dumps(endpoint["RouteTableIds"])
    assert "Private" in tables and "Public" not in tables and "Data" not in tables


def test_the_data_tiers_nacl_is_rebuilt(journey: dict[str, Any], tmp_path: Path) -> None:
    acls = _params(journey, "network")["network_acls"]
    assert set(acls) == {"data"}, "the other tiers keep the VPC's default ACL"
    shown = json.dumps(acls["data"])
    assert "5432" in shown and "10.70.10.0/24" in shown and "10.70.11.0/24" in shown
    assert "deny" in shown
    resources = _rendered(journey, tmp_path)["network"]
    assert len(_of_type(resources, "AWS::EC2::NetworkAcl")) == 1
    entries = _of_type(resources, "AWS::EC2::NetworkAclEntry")
    allowed = {
        (e["CidrBlock"], e["PortRange"]["From"])
        for e in entries
        if e["RuleAction"] == "allow" and not e.get("Egress")
    }
    assert allowed == {("10.70.10.0/24", 5432), ("10.70.11.0/24", 5432)}
    assert len(_of_type(resources, "AWS::EC2::SubnetNetworkAclAssociation")) == 2


def test_productions_tags_are_carried_to_the_rebuild(journey: dict[str, Any]) -> None:
    assert _doc(journey)["tags"] == VPC_TAGS, "not Name, not aws:*, not relight:*"
    tags = {t["Key"]: t["Value"] for t in journey["rebuilt"].get("vpc_tags", [])}
    assert tags.items() >= VPC_TAGS.items(), "the rebuilt VPC carries what capture selected by"


def test_the_data_volume_without_snapshot_is_rebuilt(
    journey: dict[str, Any], tmp_path: Path
) -> None:
    web = _params(journey, "compute")
    assert web.get("data_volume", True) is True and "DataSnapshotId" not in web
    assert (web["data_volume_size"], web["data_volume_type"]) == (50, "gp3")
    assert (web["data_volume_iops"], web["data_volume_throughput"]) == (3000, 125)
    assert web["data_volume_encrypted"] is True
    (template,) = _of_type(_rendered(journey, tmp_path)["web"], "AWS::EC2::LaunchTemplate")
    disks = json.dumps(template["LaunchTemplateData"]["BlockDeviceMappings"])
    assert '"VolumeSize": 50' in disks and '"VolumeType": "gp3"' in disks
    # a snapshot only when the stack is given one (HasDataSnapshot): here none, so it is
    # created empty, as production's (the rebuilt one in us-west-2 is checked below)
    assert '"SnapshotId": {"Fn::If": ["HasDataSnapshot"' in disks, disks


def test_the_scheduled_action_is_rebuilt(journey: dict[str, Any], tmp_path: Path) -> None:
    (action,) = _params(journey, "compute")["scheduled_actions"]
    assert action["name"] == "weekday-mornings"
    assert (action["recurrence"], action["min_size"], action["max_size"], action["desired"]) == (
        MORNINGS["recurrence"],
        MORNINGS["min_size"],
        MORNINGS["max_size"],
        MORNINGS["desired"],
    )
    (rendered,) = _of_type(_rendered(journey, tmp_path)["web"], "AWS::AutoScaling::ScheduledAction")
    assert rendered["Recurrence"] == MORNINGS["recurrence"]


def test_the_grace_period_and_health_check_type_are_read_not_defaulted(
    journey: dict[str, Any], tmp_path: Path
) -> None:
    web = _params(journey, "compute")
    assert (web["health_check_type"], web["health_check_grace_seconds"]) == ("ELB", 120)
    (group,) = _of_type(_rendered(journey, tmp_path)["web"], "AWS::AutoScaling::AutoScalingGroup")
    # ELB while the group has its target group (always, here: the load balancer stack's)
    assert group["HealthCheckType"] == {"Fn::If": ["HasTargetGroup", "ELB", "EC2"]}
    assert str(group["HealthCheckGracePeriod"]) == "120"


def test_the_matcher_and_thresholds_are_rebuilt(journey: dict[str, Any], tmp_path: Path) -> None:
    lb = _params(journey, "load_balancer")
    assert lb["health_check_matcher"] == "200-299"
    assert (lb["healthy_threshold"], lb["unhealthy_threshold"]) == (5, 5)
    assert (lb["health_check_interval"], lb["health_check_timeout"]) == (30, 5)
    (group,) = _of_type(
        _rendered(journey, tmp_path)["load_balancer"], "AWS::ElasticLoadBalancingV2::TargetGroup"
    )
    assert group["Matcher"] == {"HttpCode": "200-299"}
    assert (group["UnhealthyThresholdCount"], group["HealthyThresholdCount"]) == (5, 5)


# ---------------------------------------------------------------------------------------------
# Item 4: the next step is written for the user


def test_the_certificate_note_names_the_domain_and_the_command(journey: dict[str, Any]) -> None:
    notes = [line for line in journey["captured_text"].splitlines() if "CAPTURE:" in line]
    (note,) = [line for line in notes if "Certificates" in line or "certificate" in line]
    assert DOMAIN in note and f"www.{DOMAIN}" in note
    assert re.search(r"aws acm (request|import)-certificate", note), note
    assert f"--region {RECOVERY}" in note and f"--domain-name {DOMAIN}" in note


def test_the_certificate_arn_is_a_per_region_value(journey: dict[str, Any]) -> None:
    arn = _params(journey, "load_balancer")["CertificateArn"]
    assert arn["per_region"][REGION] == journey["world"].certificate, "the home region's, as read"
    assert arn["per_region"][RECOVERY] != journey["world"].certificate, "a placeholder to fill"
    assert "stacks.load_balancer.params.CertificateArn" in journey["steps"]


def test_capture_writes_the_kms_keys_placeholder_and_says_replicate_needs_it(
    journey: dict[str, Any],
) -> None:
    doc = _doc(journey)
    assert set(doc["kms_keys"]) == {RECOVERY}
    text = " ".join(journey["captured_text"].split())
    assert "shop-orders" in text and "replicate" in text and "kms_keys" in text
    assert "kms_keys" in journey["steps"]


def test_replicate_prepare_and_failover_succeed_after_only_the_named_steps(
    journey: dict[str, Any],
) -> None:
    for step in ("replicate", "prepare"):
        assert journey[step].exit_code == 0, journey[step].output
    assert journey["failover"].exit_code in (0, 1) and journey["failover"].stdout
    summary = json.loads(journey["failover"].stdout)
    built = {s["stack"]: s["status"] for s in summary["stacks"]}
    assert set(built.values()) == {"CREATE_COMPLETE"}, built
    assert {"network", "security", "load_balancer", "web", "database"} <= set(built)
    failed = [c["check"] for c in summary["verification"] if c["result"] == "failed"]
    # the one check in-process moto cannot pass: an HTTP GET to the load balancer's DNS name
    assert failed == ["load balancer answers"], failed


def test_the_rebuild_in_us_west_2_has_what_production_has(journey: dict[str, Any]) -> None:
    """What moto's CloudFormation plays as AWS does, read back in us-west-2. (moto ignores a
    subnet's MapPublicIpOnLaunch and an AWS::EC2::NetworkAcl: those are checked in the rendered
    templates above.)"""
    rebuilt = journey["rebuilt"]
    assert len(rebuilt["vpcs"]) == 1, f"one rebuilt VPC in {RECOVERY}: {rebuilt['vpcs']}"
    (group,) = rebuilt["target_groups"]
    assert group["Matcher"] == {"HttpCode": "200-299"} and group["UnhealthyThresholdCount"] == 5
    (asg,) = rebuilt["asgs"]
    assert (asg["HealthCheckType"], asg["HealthCheckGracePeriod"]) == ("ELB", 120)
    assert [a["Recurrence"] for a in rebuilt["actions"]] == [MORNINGS["recurrence"]]
    (template,) = rebuilt["templates"]
    disks = [
        (m["Ebs"].get("VolumeSize"), m["Ebs"].get("VolumeType"), m["Ebs"].get("SnapshotId"))
        for m in template["BlockDeviceMappings"]
    ]
    assert (50, "gp3", None) in disks, f"created empty, as production's: {disks}"


# ---------------------------------------------------------------------------------------------
# Item 5: drift reads what capture reads


def test_drift_is_zero_after_the_named_steps(journey: dict[str, Any]) -> None:
    assert journey["steps"], "the notes named steps, and they were done"
    drift = journey["drift"]
    assert drift.exit_code == 0, drift.output
    report = json.loads(drift.stdout)
    found = [d["key_path"] for s in report["stacks"] for d in s["differences"]]
    assert not report["drift"] and found == [], found


def test_drift_lists_what_capture_only_notes_as_not_compared_once(
    journey: dict[str, Any],
) -> None:
    """Noted properties are not drift: on screen one line counts them and says where the list
    is, never a line per property on every hourly run; `--json` holds the list."""
    first = " ".join(journey["drift_people"].output.split())
    assert journey["drift_people"].exit_code == 0 and journey["drift_again"].exit_code == 0
    assert first.count("not compared") == 1, first
    assert "UserData" not in first, "the list is in --json, not repeated on screen"
    report = json.loads(journey["drift"].stdout)
    listed = " ".join(json.dumps(report["not_compared"]).split())
    assert "UserData" in listed, listed
    assert journey["drift_again"].output == journey["drift_people"].output, "the same each run"


# ---------------------------------------------------------------------------------------------
# Item 1: the coverage ledger


def _ledger(journey: dict[str, Any]) -> Any:
    path = journey["path"].with_name("shop.capture.json")
    assert path.is_file(), f"{path.name} is written beside the environment file"
    return json.loads(path.read_text())


def _entries(node: Any) -> Iterator[dict[str, Any]]:
    """Every property's line of the ledger (an object with a `property` and its `status`; a
    resource's own line has a `type` and is `captured` or `not read`)."""
    if isinstance(node, dict):
        if "status" in node and "property" in node:
            yield node
        for value in node.values():
            yield from _entries(value)
    elif isinstance(node, list):
        for value in node:
            yield from _entries(value)


def _status(entry: dict[str, Any]) -> str:
    return re.sub(r"[_-]", " ", str(entry["status"])).lower()


def test_every_resource_of_the_world_is_in_the_ledger(journey: dict[str, Any]) -> None:
    world: World = journey["world"]
    shown = json.dumps(_ledger(journey))
    expected = [
        world.vpc,
        *(s for ids in world.subnets.values() for s in ids),
        *(t for ids in world.route_tables.values() for t in ids),
        world.nacl,
        world.endpoint,
        *world.groups.values(),
        world.load_balancer,
        world.target_group,
        *world.listeners,
        world.extra["igw"],
        world.extra["nat"],
        world.launch_template,
        world.asg,
        *journey["instances"],
        world.scheduled_action,
        world.database,
        DOMAIN,
    ]
    assert [resource for resource in expected if resource not in shown] == []


def test_every_property_the_ledger_lists_is_reproduced_or_named(journey: dict[str, Any]) -> None:
    entries = list(_entries(_ledger(journey)))
    assert entries, "the ledger lists properties with their status"
    unnamed = [e for e in entries if _status(e) not in LEDGER_STATUSES]
    assert unnamed == [], "reproduced, noted, changed on purpose or not read: nothing else"
    resources = _ledger(journey)["resources"]
    assert {_status(r) for r in resources} <= {"captured", "not read"}
    # what capture reads of the world is judged; what stays not read is what it does not read
    # (the database's windows and CA, the NACL's and the default group's own rules and tags, the
    # AMI builder's interface): never a key capture writes
    doc = _doc(journey)
    for entry in (e for e in entries if _status(e) == "not read"):
        assert entry["property"] not in ("MapPublicIpOnLaunch", "Matcher", "HealthCheckType")
    assert "public_ip_on_launch" in doc["stacks"]["network"]["params"]
    reproduced = [e for e in entries if _status(e) == "reproduced"]
    assert all(e.get("key") or e.get("file_key") for e in reproduced), "each names its file key"


def test_the_issues_dropped_properties_are_reproduced_in_the_ledger(
    journey: dict[str, Any],
) -> None:
    entries = list(_entries(_ledger(journey)))
    named = {str(e.get("property") or e.get("name")): _status(e) for e in entries}
    for prop in (
        "MapPublicIpOnLaunch",
        "Matcher",
        "UnhealthyThresholdCount",
        "HealthCheckGracePeriod",
        "HealthCheckType",
    ):
        assert named.get(prop) == "reproduced", (prop, named.get(prop))


def test_the_capture_summary_on_screen_shows_the_ledger(journey: dict[str, Any]) -> None:
    output = " ".join(journey["capture"].output.split())
    assert "shop.capture.json" in output
    for status in ("reproduced", "noted", "changed on purpose", "not read"):
        assert status in output, status
    # the additions production never had are said, not silent
    assert "changed on purpose" in json.dumps(_ledger(journey)).replace("_", " ").lower()


# ---------------------------------------------------------------------------------------------
# The walk-through in docs/capture.md is this world's


def test_the_walk_through_captures_this_world_as_this_test_does() -> None:
    from conftest import REPO

    page = (REPO / "docs" / "capture.md").read_text()
    selector = " ".join(f"--tag {k}={v}" for k, v in VPC_TAGS.items())
    assert f"relight capture --region {REGION} {selector} --name shop" in page
    assert f"--recovery-region {RECOVERY} --out stacks/shop.yaml" in page
    assert "stacks/shop.capture.json" in page and "refresh after ledger merge" not in page
    for step in ("kms_keys", "per_region", "aws acm request-certificate", "relight drift"):
        assert step in page, step


def test_what_the_rebuild_adds_is_changed_on_purpose_in_the_ledger(journey: dict[str, Any]) -> None:
    """Additions production never had (enhanced monitoring, Performance Insights, IAM database
    authentication, the load balancer's deletion protection) are said, with why."""
    entries = list(_entries(_ledger(journey)))
    on_purpose = {
        str(e.get("property") or e.get("name")): e
        for e in entries
        if _status(e) == "changed on purpose"
    }
    for prop in (
        "MonitoringInterval",
        "PerformanceInsightsEnabled",
        "IAMDatabaseAuthenticationEnabled",
        "Attributes.deletion_protection.enabled",
    ):
        assert prop in on_purpose, (prop, sorted(on_purpose))
        assert on_purpose[prop].get("reason") or on_purpose[prop].get("why"), prop
    # the file's `# changed on purpose:` comments and the ledger say the same, with one reason
    comments = re.findall(
        r"# changed on purpose: (\S+) is (\S+) in production: (.+)", _text(journey)
    )
    assert comments, "the load balancer's deletion protection is said beside its stack"
    for attribute, value, why in comments:
        entry = on_purpose[f"Attributes.{attribute}"]
        assert (str(entry["production"]), entry["why"]) == (value, why)


def test_capture_ends_with_the_next_commands_for_this_file_and_region(
    journey: dict[str, Any],
) -> None:
    """The next step is written for the user: the placeholders first, then the commands with
    this file's name and the recovery region given, not a letter to replace."""
    output = " ".join(journey["capture"].output.split())
    assert "replace its 2 REPLACE-ME value(s)" in output, output
    assert f"relight replicate --env shop --from {REGION} --to {RECOVERY}" in output, output
    assert f"relight prepare --env shop --region {RECOVERY}" in output, output


def test_the_readmes_ledger_summary_is_this_worlds(journey: dict[str, Any]) -> None:
    """The README shows the ledger of this world's capture: its counts stay the real ones."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    output = journey["capture"].output
    for line in output.splitlines():
        if line.startswith(("  resources: ", "  properties: ")):
            assert line in readme, f"README.md: refresh the ledger summary to {line.strip()!r}"
