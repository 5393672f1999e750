"""The coverage ledger of `relight capture` (docs/capture.md, "The coverage ledger"): every
resource capture found in or attached to the VPC is listed, each property it read is
reproduced, noted, changed on purpose or not read; nothing found is left out; a refused sweep
call is an entry, never a failure; drift reads production without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from relight.capture import capture
from relight.capture.common import Note
from relight.capture.ledger import Ledger, Recorder, ledger_path
from relight.capture.ledger import table as t
from relight.capture.ledger.judge import judge
from relight.capture.ledger.resources import Resource
from relight.capture.ledger.sweep import arn_kind
from test_capture import REGION, _production

DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/capture/relight is not authorized to "
    "perform: tag:GetResources"
)


def _capture(factory: Any, vpc: str, tags: dict[str, str] | None = None) -> Any:
    return capture(
        factory,
        vpc_id=vpc,
        region=REGION,
        name="shop",
        recovery_regions=["us-west-2"],
        account_id="123456789012",
        stand_in=True,
        tags=tags,
    )


def _clients(service: str) -> Any:
    return boto3.client(service, REGION)


def _by_id(ledger: Ledger) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in ledger.resources}


def _prop(resource: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in resource["properties"] if p["property"] == name]
    return found


def _everything(vpc: str) -> dict[str, list[str]]:
    """Every id in or attached to the VPC, as boto3 lists them, independently of capture."""
    ec2, elbv2, rds = _clients("ec2"), _clients("elbv2"), _clients("rds")
    flt = [{"Name": "vpc-id", "Values": [vpc]}]
    lbs = [b for b in elbv2.describe_load_balancers()["LoadBalancers"] if b["VpcId"] == vpc]
    subnets = ec2.describe_subnets(Filters=flt)["Subnets"]
    ours = {s["SubnetId"] for s in subnets}
    asgs = _clients("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    dbs = rds.describe_db_instances()["DBInstances"]
    clusters = rds.describe_db_clusters()["DBClusters"]
    reservations = ec2.describe_instances(Filters=flt)["Reservations"]
    return {
        "subnets": [s["SubnetId"] for s in subnets],
        "tables": [
            r["RouteTableId"] for r in ec2.describe_route_tables(Filters=flt)["RouteTables"]
        ],
        "groups": [
            g["GroupId"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]
        ],
        "acls": [a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=flt)["NetworkAcls"]],
        "enis": [
            e["NetworkInterfaceId"]
            for e in ec2.describe_network_interfaces(Filters=flt)["NetworkInterfaces"]
        ],
        "instances": [i["InstanceId"] for r in reservations for i in r["Instances"]],
        "nats": [n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filters=flt)["NatGateways"]],
        "flows": [
            f["FlowLogId"]
            for f in ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])[
                "FlowLogs"
            ]
        ],
        "load balancers": [b["LoadBalancerArn"] for b in lbs],
        "target groups": [
            g["TargetGroupArn"]
            for b in lbs
            for g in elbv2.describe_target_groups(LoadBalancerArn=b["LoadBalancerArn"])[
                "TargetGroups"
            ]
        ],
        "listeners": [
            x["ListenerArn"]
            for b in lbs
            for x in elbv2.describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])["Listeners"]
        ],
        "groups of instances": [
            g["AutoScalingGroupName"]
            for g in asgs
            if set(g["VPCZoneIdentifier"].split(",")) <= ours
        ],
        "databases": [
            d["DBInstanceIdentifier"]
            for d in dbs
            if (d.get("DBSubnetGroup") or {}).get("VpcId") == vpc
        ],
        "clusters": [c["DBClusterIdentifier"] for c in clusters],
    }


@pytest.fixture(scope="module")
def shop() -> tuple[dict[str, Any], Any, dict[str, list[str]]]:
    """The capture fixture of test_capture.py, captured, and every id of the VPC as boto3
    lists them itself."""
    with mock_aws():
        prod = _production()
        result = _capture(_clients, prod["vpc"])
        ids = _everything(prod["vpc"])
    return prod, result, ids


def _missing(ledger: Ledger, ids: dict[str, list[str]]) -> list[str]:
    found = _by_id(ledger)
    return [f"{kind} {i}" for kind, group in ids.items() for i in group if i not in found]


def test_every_resource_of_the_capture_fixture_appears_in_the_ledger(shop: Any) -> None:
    prod, result, ids = shop
    ledger = result.ledger
    found = _by_id(ledger)
    assert _missing(ledger, ids) == [], "nothing found is left out"
    assert all(
        i in found for i in (prod["vpc"], prod["lb"], prod["web"], prod["ami"], prod["data"])
    )
    kinds = {r["type"] for r in ledger.resources}
    for kind in (t.LB, t.TG, t.LISTENER, t.ASG, t.LT, t.DB, t.DB_SUBNETS, t.IGW, t.VOLUME):
        assert kind in kinds, kind
    assert found["shop-orders"]["status"] == "captured"
    assert found["shop-orders"]["stack"] == "database"
    assert found["shop-web"]["stack"] == "web"
    for resource in ledger.resources:
        assert resource["status"] in ("captured", "not read")
        for p in resource.get("properties", []):
            assert p["status"] in ("reproduced", "noted", "changed on purpose", "not read")
            assert not t.identity(resource["type"], p["property"]), "identity is not counted"
    # capture reads the NACLs (capture/network_acls.py): the VPC's default one, with AWS's
    # allow-all rules, is what the rebuilt VPC gets: reproduced, nothing written
    assert {found[a]["status"] for a in ids["acls"]} == {"captured"}
    for acl in ids["acls"]:
        entries = _prop(found[acl], "Entries")
        assert (entries["status"], entries["key"]) == (
            "reproduced",
            f"stacks.network.params.network_acls.{entries['key'].rsplit('.', 1)[-1]}",
        )
        assert "AWS's allow-all" in entries["by"]
    # every ENI is named by its owner (the group's instances, the NAT gateway), which capture read
    assert {found[e]["status"] for e in ids["enis"]} == {"captured"}
    owners = {found[e]["owner"].split(" ")[0] for e in ids["enis"]}
    assert owners == {t.INSTANCE, t.NAT}


def _second_balancer(prod: dict[str, Any]) -> None:
    from test_capture_lbs import _internal_api

    _internal_api(prod)


def _aurora_cluster(prod: dict[str, Any]) -> None:
    from test_capture_more import _aurora

    _aurora(prod)


def _records(prod: dict[str, Any]) -> None:
    from test_capture_more import _alias, _zone

    lb = _clients("elbv2").describe_load_balancers()["LoadBalancers"][0]
    target = f"dualstack.{lb['DNSName'].upper()}."
    _zone("shop.example.com", [_alias(lb["CanonicalHostedZoneId"], "www.shop.example.com", target)])
    _zone("other.example.com", [_alias("Z1", "x.other.example.com", "elsewhere.example.net.")])


@pytest.mark.parametrize("more", [_second_balancer, _aurora_cluster, _records])
def test_every_resource_of_the_other_capture_fixtures_appears_in_the_ledger(more: Any) -> None:
    with mock_aws():
        prod = _production()
        more(prod)
        result = _capture(_clients, prod["vpc"])
        ids = _everything(prod["vpc"])
    assert _missing(result.ledger, ids) == []
    kinds = {r["type"]: r for r in result.ledger.resources}
    if more is _records:  # the record pointing at the load balancer and its zone, no other
        record = kinds[t.RECORD]
        assert record["stack"] == "dns" and "www.shop.example.com A" in record["id"]
        assert _prop(record, "AliasTarget")["key"] == "stacks.dns.params.LoadBalancerDNSName"
        assert [r["id"] for r in result.ledger.resources if r["type"] == t.ZONE] == [
            record["id"].split(" ")[0]
        ]
    if more is _aurora_cluster:
        cluster = kinds[t.CLUSTER]
        assert cluster["status"] == "captured" and cluster["stack"]
        members = [
            r
            for r in result.ledger.resources
            if r["type"] == t.DB and r.get("stack") == cluster["stack"]
        ]
        assert len(members) == 2, "the writer and its reader, in their cluster's stack"
        for member in members:
            assert _prop(member, "DBInstanceClass")["status"] == "reproduced"
            assert _prop(member, "EngineVersion")["key"].startswith("artifacts.")


def test_each_property_names_its_file_key_or_its_note(shop: Any) -> None:
    prod, result, _ = shop
    found = _by_id(result.ledger)
    template = next(r for r in result.ledger.resources if r["type"] == t.LT)
    assert _prop(template, "LaunchTemplateData.ImageId") == {
        "property": "LaunchTemplateData.ImageId",
        "status": "reproduced",
        "key": "artifacts.web_ami",
    }
    assert _prop(template, "LaunchTemplateData.BlockDeviceMappings")["key"] == (
        "stacks.web.params.DataSnapshotId"
    )
    # the grace period as read; the cooldown absent from the file: AWS's default, production's
    asg = found["shop-web"]
    assert _prop(asg, "HealthCheckGracePeriod") == {
        "property": "HealthCheckGracePeriod",
        "status": "reproduced",
        "key": "stacks.web.params.health_check_grace_seconds",
    }
    cooldown = _prop(asg, "DefaultCooldown")
    assert (cooldown["status"], cooldown["key"]) == (
        "reproduced",
        "stacks.web.params.default_cooldown",
    )
    assert "AWS's default" in cooldown["by"]
    # a property capture does not read is not read, with production's value
    window = _prop(found["shop-orders"], "PreferredMaintenanceWindow")
    assert window["status"] == "not read" and window["production"]
    # the 8081 listener is the CAPTURE comment's; the one on 80 is the blueprint's
    listeners = {
        _prop(r, "Port")["status"]: r for r in result.ledger.resources if r["type"] == t.LISTENER
    }
    assert set(listeners) == {"reproduced", "noted"}
    assert _prop(listeners["noted"], "Port")["note"].startswith("shop-lb Listener 8081: HTTP")
    groups = {r["id"]: r for r in result.ledger.resources if r["type"] == t.GROUP}
    assert _prop(groups[prod["web"]], "IpPermissions")["key"] == (
        "stacks.security.params.groups.web.ingress"
    )
    counts = result.ledger.summary()["properties"]
    assert counts["reproduced"] > 30 and counts["not read"] > 0


def test_what_the_rebuild_adds_is_changed_on_purpose_with_productions_value_and_why(
    shop: Any,
) -> None:
    """Production has no enhanced monitoring, Performance Insights, IAM auth, deletion
    protection on its database or load balancer, nor IMDSv2 required."""
    _, result, _ = shop
    found = _by_id(result.ledger)
    db = found["shop-orders"]
    for name, production in (
        ("MonitoringInterval", 0),
        ("PerformanceInsightsEnabled", False),
        ("IAMDatabaseAuthenticationEnabled", False),
        ("DeletionProtection", False),
    ):
        entry = _prop(db, name)
        assert entry["status"] == "changed on purpose", name
        assert entry["production"] == production, name
        assert entry["rebuild"] and entry["why"], name
    lb = next(r for r in result.ledger.resources if r["type"] == t.LB)
    protection = _prop(lb, "Attributes.deletion_protection.enabled")
    assert (protection["status"], protection["production"]) == ("changed on purpose", "false")
    template = next(r for r in result.ledger.resources if r["type"] == t.LT)
    imds = _prop(template, "LaunchTemplateData.MetadataOptions")
    assert imds["status"] == "changed on purpose" and imds["production"] is None
    assert "IMDSv2" in imds["rebuild"]
    # the instances' unencrypted volumes (AWS made them from the launch template and the
    # image) and the data snapshot: the rebuild encrypts every volume
    volumes = [r for r in result.ledger.resources if r["type"] == t.VOLUME]
    assert volumes and all(r["owner"] for r in volumes)
    for volume in volumes:
        assert _prop(volume, "Encrypted")["status"] == "changed on purpose"
        assert [p["property"] for p in volume["properties"]] == ["Encrypted"]
    snapshot = next(r for r in result.ledger.resources if r["type"] == t.SNAPSHOT)
    assert _prop(snapshot, "Encrypted")["production"] is False
    profile = _prop(template, "LaunchTemplateData.IamInstanceProfile")
    assert (profile["status"], profile["production"]) == ("changed on purpose", None)
    assert t.SSM in profile["rebuild"]
    # what production already has as the rebuild does is not a change
    assert _prop(db, "AutoMinorVersionUpgrade")["status"] == "reproduced"


def test_an_instance_role_without_the_ssm_policy_is_changed_on_purpose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Production's instances have a role with CloudWatch's agent policy and no SSM: the
    policy is reproduced, the SSM policy the identity blueprint adds is a change."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AWS's managed policies
    with mock_aws():
        prod = _production()
        iam = _clients("iam")
        ec2_trust = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}
        statement = {**ec2_trust, "Action": "sts:AssumeRole"}
        trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        iam.create_role(RoleName="shop-web", AssumeRolePolicyDocument=trust)
        iam.attach_role_policy(
            RoleName="shop-web",
            PolicyArn="arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
        )
        arn = iam.create_instance_profile(InstanceProfileName="shop-web")["InstanceProfile"]["Arn"]
        iam.add_role_to_instance_profile(InstanceProfileName="shop-web", RoleName="shop-web")
        ec2 = _clients("ec2")
        (first,) = ec2.describe_launch_template_versions(LaunchTemplateName="shop-web")[
            "LaunchTemplateVersions"
        ]
        data = {**first["LaunchTemplateData"], "IamInstanceProfile": {"Arn": arn}}
        ec2.create_launch_template_version(LaunchTemplateName="shop-web", LaunchTemplateData=data)
        result = _capture(_clients, prod["vpc"])
    roles = [r for r in result.ledger.resources if r["type"] == t.ROLE]
    assert len(roles) == 1 and roles[0]["stack"] == "web"
    policies = _prop(roles[0], "AttachedPolicies")
    assert policies == {
        "property": "AttachedPolicies",
        "status": "reproduced",
        "key": "stacks.identity.params.instance_roles.web.managed_policies",
    }
    ssm = _prop(roles[0], f"AttachedPolicies.{t.SSM}")
    assert (ssm["status"], ssm["production"]) == ("changed on purpose", None)
    template = next(r for r in result.ledger.resources if r["type"] == t.LT)
    assert _prop(template, "LaunchTemplateData.IamInstanceProfile")["key"] == (
        "stacks.identity.params.instance_roles.web"
    )


def test_a_property_the_table_does_not_know_is_not_read_with_productions_value() -> None:
    """A field AWS adds tomorrow shows up in the ledger, never vanishes."""
    res = Resource(t.ASG, "web", {"MinSize": 2, "ShinyNewSetting": {"on": True}}, stack="web")
    doc = {"stacks": {"web": {"params": {"min_size": 2}}}}
    entries = {e["property"]: e for e in judge(res, doc, [])}
    assert entries["ShinyNewSetting"] == {
        "property": "ShinyNewSetting",
        "status": "not read",
        "production": {"on": True},
    }
    assert entries["MinSize"]["status"] == "reproduced"
    # a key the file does not hold is noted when a CAPTURE comment names it, else not read
    res = Resource(t.ASG, "web", {"LaunchConfigurationName": "old"}, {"web"}, stack="web")
    note = Note("web", "LaunchConfigurationName", "launch configurations are not read")
    (entry,) = judge(res, doc, [note])
    assert entry == {
        "property": "LaunchConfigurationName",
        "status": "noted",
        "note": "web LaunchConfigurationName: launch configurations are not read",
    }


def test_a_lambda_eni_and_an_unknown_tagged_resource_are_listed_as_not_read() -> None:
    with mock_aws():
        prod = _production()
        ec2 = _clients("ec2")
        ec2.create_tags(Resources=[prod["vpc"]], Tags=[{"Key": "Environment", "Value": "shop"}])
        subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [prod["vpc"]]}])
        lambda_eni = ec2.create_network_interface(
            SubnetId=subnet["Subnets"][0]["SubnetId"],
            Description="AWS Lambda VPC ENI-orders-fn-1a2b3c4d-aaaa-bbbb-cccc-123456789012",
        )["NetworkInterface"]["NetworkInterfaceId"]
        _clients("sqs").create_queue(QueueName="orders", tags={"Environment": "shop"})
        # a copy relight built in the home region carries production's tags too (E34)
        _clients("sqs").create_queue(
            QueueName="shop-drill-orders",
            tags={"Environment": "shop", "relight:env": "shop-drill"},
        )
        result = _capture(_clients, prod["vpc"])
    found = _by_id(result.ledger)
    assert "shop-drill-orders" not in found, "relight's own copy is not production's"
    assert found[lambda_eni]["status"] == "not read"
    assert found[lambda_eni]["owner"] == "AWS::Lambda::Function orders-fn"
    queue = found["orders"]
    assert (queue["type"], queue["status"], queue["found_by"]) == ("sqs", "not read", "tags")
    assert result.ledger.tags == {"Environment": "shop"}  # the VPC's own tags, not Name
    # the group carries no Environment tag (and GetResources never returns groups): it is
    # in the ledger because capture's own describe call read it
    assert (found["shop-web"]["status"], found["shop-web"]["found_by"]) == ("captured", "capture")
    assert found[prod["vpc"]]["status"] == "captured", (
        "a tagged resource capture read is not doubled"
    )
    assert sum(1 for r in result.ledger.resources if r["id"] == prod["vpc"]) == 1
    lines = "\n".join(result.ledger.lines())
    assert f"not read: AWS::EC2::NetworkInterface {lambda_eni}" in lines
    assert "not read: sqs orders" in lines


def test_an_arn_names_its_type_and_id() -> None:
    assert arn_kind("arn:aws:lambda:us-east-1:123456789012:function:orders") == (
        "lambda:function",
        "orders",
    )
    assert arn_kind("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0abc") == (t.VPC, "vpc-0abc")


def test_a_refused_sweep_call_is_an_entry_and_capture_still_succeeds() -> None:
    """GetResources refused as IAM refuses it (AccessDeniedException, the text quoted in
    awslabs/aws-deployment-framework#173): moto allows everything, a Stubber refuses."""
    with mock_aws():
        prod = _production()
        tagging = _clients("resourcegroupstaggingapi")
        stub = Stubber(tagging)
        stub.add_client_error("get_resources", "AccessDeniedException", DENIED, 400)
        stub.activate()

        def factory(service: str) -> Any:
            return tagging if service == "resourcegroupstaggingapi" else _clients(service)

        result = _capture(factory, prod["vpc"], tags={"Environment": "shop"})
    assert result.text.startswith("# Captured by `relight capture`")
    (entry,) = result.ledger.unread
    assert entry["call"] == "resourcegroupstaggingapi:GetResources"
    assert entry["permission"] == "tag:GetResources"
    assert "AccessDeniedException" in entry["error"]
    assert "unread: resourcegroupstaggingapi:GetResources was refused: grant tag:GetResources" in [
        line.strip() for line in result.ledger.lines()
    ]


def test_the_ledger_round_trips_through_its_json(shop: Any) -> None:
    _, result, _ = shop
    text = result.ledger.to_json()
    data = json.loads(text)
    assert data["version"] == 1 and data["environment"] == "shop"
    assert data["summary"] == result.ledger.summary()
    assert "VpcId" in data["identity"][t.VPC]
    again = Ledger.from_json(text)
    assert again == result.ledger and again.to_json() == text
    with pytest.raises(ValueError, match="ledger version 2"):
        Ledger.from_json(json.dumps({**data, "version": 2}))


def test_drift_reads_production_without_the_ledger_or_the_sweeps_calls() -> None:
    with mock_aws():
        prod = _production()
        with Recorder(_clients) as seen:
            result = capture(
                seen.client,
                vpc_id=prod["vpc"],
                region=REGION,
                name="shop",
                recovery_regions=["us-west-2"],
                ledger=False,
            )
    made = {c.operation for c in seen.calls}
    assert result.ledger is None
    # the sweep's own reads are not made (capture itself reads the NACLs, so drift does too)
    assert made.isdisjoint({"DescribeNetworkInterfaces", "GetResources"})
    assert "DescribeVpcs" in made


def _cli(out: Path, *more: str) -> Any:
    from typer.testing import CliRunner

    from relight.cli import app

    args = ["capture", "--region", REGION, "--name", "shop", "--out", str(out), "--aws", *more]
    return CliRunner().invoke(app, args)


def test_cli_prints_the_summary_writes_the_ledger_and_refuses_an_existing_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "stacks" / "shop.yaml"
    ledger = tmp_path / "stacks" / "shop.capture.json"
    assert ledger_path(out) == ledger
    with mock_aws():
        prod = _production()
        # an interface nobody capture knows made (no requester, no attachment): not read
        subnet = _clients("ec2").describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [prod["vpc"]]}]
        )["Subnets"][0]["SubnetId"]
        stray = _clients("ec2").create_network_interface(SubnetId=subnet)["NetworkInterface"]
        first = _cli(out, "--vpc", prod["vpc"])
        written = json.loads(ledger.read_text())
        out.unlink()  # only the ledger is left: still refused, and nothing is written
        again = _cli(out, "--vpc", prod["vpc"])
        refused_left_nothing = not out.exists() and json.loads(ledger.read_text()) == written
        forced = _cli(out, "--vpc", prod["vpc"], "--force")
    assert first.exit_code == 0, first.output
    summary = written["summary"]
    assert f"resources: {summary['resources']['found']} found" in first.output
    assert f"{summary['properties']['reproduced']} reproduced" in first.output
    shown = " ".join(first.output.split())
    assert f"not read: AWS::EC2::NetworkInterface {stray['NetworkInterfaceId']}" in shown
    assert "AWS::EC2::NetworkAcl: 1 " in shown and "AWS::EC2::NetworkAcl: 1 (" not in shown
    assert (
        f"AWS::EC2::Subnet: {summary['resources']['by_type']['AWS::EC2::Subnet']}" in first.output
    )
    assert f"the full ledger: {ledger}" in first.output.replace("\n", "")
    assert written["version"] == 1 and written["vpc"] == prod["vpc"]
    assert again.exit_code == 2
    assert f"{ledger} exists" in again.output.replace("\n", "") and "--force" in again.output
    assert refused_left_nothing
    assert forced.exit_code == 0 and out.exists()


def test_a_databases_parameter_and_option_groups_are_in_the_ledger() -> None:
    """A custom parameter group is reproduced (its family and settings); a custom option group
    is the sweep's (capture only names it in a note): not read, with the note on the DB."""
    with mock_aws():
        prod = _production()
        rds = _clients("rds")
        rds.create_db_parameter_group(
            DBParameterGroupName="orders-params",
            DBParameterGroupFamily="mysql8.0",
            Description="orders",
        )
        rds.create_option_group(
            OptionGroupName="orders-audit",
            EngineName="mysql",
            MajorEngineVersion="8.0",
            OptionGroupDescription="audit",
        )
        rds.create_db_instance(
            DBInstanceIdentifier="shop-audit",
            Engine="mysql",
            DBInstanceClass="db.t4g.medium",
            DBSubnetGroupName="shop-data",
            AllocatedStorage=20,
            MasterUsername="app",
            MasterUserPassword="not-a-secret-1",
            DBParameterGroupName="orders-params",
            OptionGroupName="orders-audit",
        )
        result = _capture(_clients, prod["vpc"])
    found = _by_id(result.ledger)
    params = found["orders-params"]
    assert (params["type"], params["status"], params["stack"]) == (
        t.DB_PARAMS,
        "captured",
        "database",
    )
    assert _prop(params, "DBParameterGroupFamily")["key"] == (
        "stacks.database.params.parameter_group.family"
    )
    options = found["orders-audit"]
    assert (options["type"], options["status"], options["found_by"]) == (
        t.OPTIONS,
        "not read",
        "sweep",
    )
    db = found["shop-audit"]
    assert _prop(db, "OptionGroupMemberships")["note"].startswith(
        "shop-audit OptionGroupMemberships: option group orders-audit: make one"
    )


def test_scheduled_actions_and_lifecycle_hooks_of_a_captured_group_are_swept() -> None:
    """Capture reads them (capture/fleet.py): the action is reproduced (its recurring start
    time changed on purpose), the hook noted."""
    with mock_aws():
        prod = _production()
        autoscaling = _clients("autoscaling")
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName="shop-web",
            ScheduledActionName="night",
            Recurrence="0 22 * * *",
            MinSize=1,
            MaxSize=2,
            DesiredCapacity=1,
        )
        autoscaling.put_lifecycle_hook(
            AutoScalingGroupName="shop-web",
            LifecycleHookName="drain",
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
            HeartbeatTimeout=300,
        )
        result = _capture(_clients, prod["vpc"])
    swept = {r["type"]: r for r in result.ledger.resources if r["type"] in (t.SCHEDULED, t.HOOK)}
    assert set(swept) == {t.SCHEDULED, t.HOOK}
    for entry in swept.values():
        assert (entry["status"], entry["found_by"], entry["stack"]) == (
            "captured",
            "capture",
            "web",
        )
    assert swept[t.HOOK]["id"] == "shop-web:drain"
    action = swept[t.SCHEDULED]
    assert action["name"] == "night"
    assert _prop(action, "Recurrence") == {
        "property": "Recurrence",
        "status": "reproduced",
        "key": "stacks.web.params.scheduled_actions[name=night].recurrence",
    }
    assert _prop(action, "DesiredCapacity")["status"] == "reproduced"
    # AWS may report a recurring action's next run as its StartTime (moto gives none): never
    # written, changed on purpose
    for start in (p for p in action["properties"] if p["property"] == "StartTime"):
        assert start["status"] == "changed on purpose" and "past" in start["why"]
    hook = _prop(swept[t.HOOK], "HeartbeatTimeout")
    assert hook["status"] == "noted" and hook["note"].startswith("shop-web LifecycleHook drain")
    lines = [line.strip() for line in result.ledger.lines()]
    assert not any(line.startswith(f"not read: {t.HOOK}") for line in lines)


def test_a_fixed_instance_and_its_data_volume_are_judged_by_the_compute_stacks_keys() -> None:
    with mock_aws():
        prod = _production()
        ec2 = _clients("ec2")
        private = ec2.describe_subnets(
            Filters=[{"Name": "cidr-block", "Values": ["10.50.10.0/24"]}]
        )["Subnets"][0]["SubnetId"]
        (instance,) = ec2.run_instances(
            ImageId=prod["ami"],
            InstanceType="t3.large",
            MinCount=1,
            MaxCount=1,
            SubnetId=private,
            SecurityGroupIds=[prod["web"]],
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": prod["data"], "VolumeType": "gp3"}}
            ],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "batch"}]}
            ],
        )["Instances"]
        result = _capture(_clients, prod["vpc"])
    found = _by_id(result.ledger)
    batch = found[instance["InstanceId"]]
    assert (batch["status"], batch["stack"], batch.get("owner")) == ("captured", "batch", None)
    assert _prop(batch, "InstanceType")["key"] == "stacks.batch.params.instance_type"
    (data,) = [
        r
        for r in result.ledger.resources
        if r["type"] == t.VOLUME and r.get("stack") == "batch" and not r.get("owner")
    ]
    assert _prop(data, "SnapshotId")["key"] == "stacks.batch.params.DataSnapshotId"
    # the data volume's type, as read
    assert _prop(data, "VolumeType") == {
        "property": "VolumeType",
        "status": "reproduced",
        "key": "stacks.batch.params.data_volume_type",
    }
