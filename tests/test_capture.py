"""`relight capture`: a production built with plain boto3 becomes an environment file that
validates, renders lint-clean and has production's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from relight.capture import capture
from relight.model.config import load_environment
from relight.steps.render import build_plan, lint_plan

REGION = "us-east-1"


def _allow(
    ec2: Any, gid: str, peer: str, port: int, *, egress: bool = False, description: str = ""
) -> None:
    """One TCP rule on group `gid`: to or from `peer`, a CIDR or another group's id."""
    call = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    described = {"Description": description} if description else {}
    if peer.startswith("sg-"):
        peers: dict[str, Any] = {"UserIdGroupPairs": [{"GroupId": peer, **described}]}
    else:
        peers = {"IpRanges": [{"CidrIp": peer, **described}]}
    call(
        GroupId=gid,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peers}],
    )


def _forward(
    elbv2: Any, lb_arn: str, name: str, vpc: str, port: int, path: str, listeners: tuple[int, ...]
) -> str:
    """An HTTP target group (`port`, health check `path`) that the load balancer's HTTP
    `listeners` forward to; its ARN."""
    tg: str = elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=port,
        VpcId=vpc,
        HealthCheckPath=path,
        TargetType="instance",
    )["TargetGroups"][0]["TargetGroupArn"]
    for listener in listeners:
        elbv2.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="HTTP",
            Port=listener,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
    return tg


def _production() -> dict[str, Any]:
    """The issue's production: 3 tiers in 2 AZs, IGW, one NAT, lb/web groups, an ASG, RDS."""
    ec2 = boto3.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"][:2]]
    cidrs = {
        "public": ["10.50.0.0/24", "10.50.1.0/24"],
        "private": ["10.50.10.0/24", "10.50.11.0/24"],
        "data": ["10.50.20.0/24", "10.50.21.0/24"],
    }
    subnets: dict[str, list[str]] = {}
    for tier, blocks in cidrs.items():
        for az, block in zip(azs, blocks, strict=True):
            sid = ec2.create_subnet(VpcId=vpc, CidrBlock=block, AvailabilityZone=az)["Subnet"]
            subnets.setdefault(tier, []).append(sid["SubnetId"])
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets["public"][0], AllocationId=eip)["NatGateway"]
    routes = {"public": {"GatewayId": igw}, "private": {"NatGatewayId": nat["NatGatewayId"]}}
    for tier, ids in subnets.items():
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        if tier in routes:
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", **routes[tier])
        for sid in ids:
            ec2.associate_route_table(RouteTableId=table, SubnetId=sid)

    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName="prod-flows",
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs",
    )
    lb = ec2.create_security_group(GroupName="lb", Description="the load balancer", VpcId=vpc)
    web = ec2.create_security_group(GroupName="web", Description="the web servers", VpcId=vpc)
    lb_id, web_id = lb["GroupId"], web["GroupId"]
    for gid in (lb_id, web_id):  # production's groups have explicit egress
        ec2.revoke_security_group_egress(
            GroupId=gid,
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
    for port in (80, 443):
        _allow(ec2, lb_id, "0.0.0.0/0", port, description="from the internet")
    _allow(ec2, lb_id, web_id, 8080, egress=True, description="to web")
    _allow(ec2, web_id, lb_id, 8080, description="from the lb")
    _allow(ec2, web_id, "0.0.0.0/0", 443, egress=True, description="HTTPS out")

    reservation = ec2.run_instances(ImageId=_any_image(ec2), MinCount=1, MaxCount=1)
    builder = reservation["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=builder, Name="shop-web-2026-11-01")["ImageId"]
    ec2.create_tags(
        Resources=[ami],
        Tags=[{"Key": "Role", "Value": "web"}, {"Key": "Environment", "Value": "shop"}],
    )
    ec2.terminate_instances(InstanceIds=[builder])
    volume = ec2.create_volume(AvailabilityZone=azs[0], Size=10)["VolumeId"]
    data = ec2.create_snapshot(
        VolumeId=volume,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "web-data"}]}
        ],
    )["SnapshotId"]
    ec2.create_launch_template(
        LaunchTemplateName="shop-web",
        LaunchTemplateData={
            "ImageId": ami,
            "InstanceType": "t3.small",
            "SecurityGroupIds": [web_id],
            "BlockDeviceMappings": [{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": data}}],
        },
    )
    elbv2 = boto3.client("elbv2", REGION)
    alb = elbv2.create_load_balancer(
        Name="shop-lb", Subnets=subnets["public"], SecurityGroups=[lb_id], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    # 8081: an extra listener the blueprint cannot express
    tg = _forward(elbv2, alb, "shop-web", vpc, 8080, "/healthz", listeners=(80, 8081))
    boto3.client("autoscaling", REGION).create_auto_scaling_group(
        TargetGroupARNs=[tg],
        AutoScalingGroupName="shop-web",
        LaunchTemplate={"LaunchTemplateName": "shop-web", "Version": "$Latest"},
        MinSize=2,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(subnets["private"]),
        Tags=[{"Key": "Role", "Value": "web", "PropagateAtLaunch": True}],
    )

    rds = boto3.client("rds", REGION)
    rds.create_db_subnet_group(
        DBSubnetGroupName="shop-data", DBSubnetGroupDescription="data", SubnetIds=subnets["data"]
    )
    rds.create_db_instance(
        DBInstanceIdentifier="shop-orders",
        Engine="postgres",
        DBInstanceClass="db.t4g.medium",
        MultiAZ=True,
        DBSubnetGroupName="shop-data",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-secret-1",
    )
    return {"vpc": vpc, "ami": ami, "data": data, "lb": lb_id, "web": web_id}


def _any_image(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    if images:
        return str(images[0]["ImageId"])
    return "ami-12c6146b"  # moto accepts an unknown image id for run_instances


@pytest.fixture
def captured(tmp_path: Path) -> tuple[dict[str, Any], Path, Any]:
    with mock_aws():
        prod = _production()
        result = capture(
            lambda service: boto3.client(service, REGION),
            vpc_id=prod["vpc"],
            region=REGION,
            name="shop",
            recovery_regions=["us-west-2"],
            account_id="123456789012",
            stand_in=True,
        )
    path = tmp_path / "shop.yaml"
    path.write_text(result.text)
    return prod, path, result


def test_captured_file_validates_and_renders_lint_clean(captured: Any) -> None:
    _, path, _ = captured
    loaded = load_environment(str(path))
    plan = build_plan(loaded, "us-west-2", stand_in=True)
    assert set(plan.stacks) | set(plan.prepared) >= {
        "network",
        "security",
        "load_balancer",
        "web",
        "database",
        "identity",
    }
    found = lint_plan(plan, prepared=True)  # raises on any lint error
    assert {k: v for k, v in found.items() if v} == {}, "no warning either"


def test_captured_shape(captured: Any) -> None:
    prod, path, result = captured
    doc = yaml.safe_load(path.read_text())
    stacks = doc["stacks"]
    net = stacks["network"]["params"]
    assert net["cidr"] == "10.50.0.0/16"
    assert net["az_count"] == 2 and doc["zones"]["count"] == 2
    assert net["nat"] == "single"
    # production's /24s differ from the blueprint's split, so its exact CIDRs are kept (one per
    # AZ, in the order of production's AZ IDs)
    assert {tier: sorted(cidrs) for tier, cidrs in net["subnets"].items()} == {
        "public": ["10.50.0.0/24", "10.50.1.0/24"],
        "private": ["10.50.10.0/24", "10.50.11.0/24"],
        "data": ["10.50.20.0/24", "10.50.21.0/24"],
    }
    assert "tiers" not in net  # all three
    assert "# production's AZs, by AZ ID: use1-az" in path.read_text()

    groups = stacks["security"]["params"]["groups"]
    assert set(groups) == {"lb", "web"}
    assert groups["lb"]["ingress"] == [
        {"cidr": "0.0.0.0/0", "ports": [80, 443], "description": "from the internet"}
    ]
    assert groups["lb"]["egress"] == [{"group": "web", "port": 8080, "description": "to web"}]
    assert groups["web"]["ingress"] == [{"group": "lb", "port": 8080, "description": "from the lb"}]
    assert groups["web"]["egress"] == [
        {"cidr": "0.0.0.0/0", "port": 443, "description": "HTTPS out"}
    ]
    assert groups["web"]["description"] == "the web servers"

    web = stacks["web"]["params"]
    assert stacks["web"]["blueprint"] == "compute"
    assert (web["mode"], web["instance_type"]) == ("asg", "t3.small")
    assert (web["min_size"], web["max_size"], web["desired"]) == (2, 4, 2)
    assert web["SubnetIds"] == {"output": "network.PrivateSubnetIds"}
    assert web["SecurityGroupId"] == {"output": "security.WebSecurityGroupId"}
    assert web["ImageId"] == {"artifact": "web_ami"}
    assert web["InstanceProfileArn"] == {"output": "identity.WebInstanceProfileArn"}
    # the AMI by its tags, never by id
    assert doc["artifacts"]["web_ami"] == {
        "kind": "ami",
        "tags": {"Role": "web", "Environment": "shop"},
    }
    assert web["DataSnapshotId"] == {"artifact": "web_data"}
    assert doc["artifacts"]["web_data"] == {"kind": "ebs_snapshot", "tags": {"Role": "web-data"}}
    assert prod["ami"] not in path.read_text() and prod["data"] not in path.read_text()

    lb = stacks["load_balancer"]["params"]
    assert (lb["type"], lb["target_port"], lb["health_check_path"]) == (
        "application",
        8080,
        "/healthz",
    )
    assert lb["SecurityGroupId"] == {"output": "security.LbSecurityGroupId"}
    assert lb["SubnetIds"] == {"output": "network.PublicSubnetIds"}
    assert web["TargetGroupArn"] == {"output": "load_balancer.TargetGroupArn"}
    assert any(n.property == "Listener 8081" for n in result.notes)

    db = stacks["database"]["params"]
    assert (db["engine"], db["instance_class"], db["multi_az"]) == (
        "postgres",
        "db.t4g.medium",
        True,
    )
    assert doc["artifacts"][db["SnapshotIdentifier"]["artifact"]] == {
        "kind": "rds_snapshot",
        "db_instance": "shop-orders",
    }
    assert db["MonitoringRoleArn"] == {"output": "identity.MonitoringRoleArn"}

    ident = stacks["identity"]
    assert ident["stands"] == "global" and "web" in ident["params"]["instance_roles"]
    assert net["flow_logs"] is True and ident["params"]["flow_logs"] is True
    assert net["FlowLogRoleArn"] == {"output": "identity.FlowLogRoleArn"}

    # what the blueprints cannot express is commented, and listed
    text = path.read_text()
    for note in result.notes:
        assert f"# CAPTURE: {note.line()}" in text
    assert any(n.property == "UserData" for n in result.notes)


def test_untagged_ami_becomes_a_name_pattern() -> None:
    from relight.capture.compute import _name_pattern

    assert _name_pattern("shop-web-2026-11-01") == "shop-web-*"
    assert _name_pattern("golden") == "golden*"


def test_cli_capture_writes_the_file_and_lists_what_it_cannot_reproduce(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from relight.cli import app

    out = tmp_path / "stacks" / "shop.yaml"
    with mock_aws():
        prod = _production()
        boto3.client("ec2", REGION).create_tags(
            Resources=[prod["vpc"]], Tags=[{"Key": "Environment", "Value": "shop"}]
        )
        args = [
            "capture",
            "--tag",
            "Environment=shop",
            "--region",
            REGION,
            "--name",
            "shop",
            "--out",
            str(out),
            "--recovery-region",
            "us-west-2",
            "--aws",
        ]
        result = CliRunner().invoke(app, args)
        again = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Listener 8081" in result.output and "UserData" in result.output
    doc = yaml.safe_load(out.read_text())
    assert doc["account_id"] == "123456789012" and doc["recovery_regions"] == ["us-west-2"]
    assert doc["stand_in"] is False
    found = lint_plan(build_plan(load_environment(str(out)), "us-west-2"))  # as written
    assert {k: v for k, v in found.items() if v} == {}, "no error, no warning, no edits"
    assert again.exit_code == 2 and "--force" in again.output  # never overwrites a review


def test_what_the_blueprints_cannot_express_is_commented_never_dropped(tmp_path: Path) -> None:
    """Fixed instances from an untagged AMI, SSH open to the world, an interface endpoint and
    a VPC without a data tier: the file still validates and lints, and each gap is a comment."""
    with mock_aws():
        ec2 = boto3.client("ec2", REGION)
        vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
        azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"][:2]]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        public = []
        for index, az in enumerate(azs):  # the blueprint's own split: no explicit subnets
            block = f"10.60.{8 * index}.0/21"
            sid = ec2.create_subnet(VpcId=vpc, CidrBlock=block, AvailabilityZone=az)["Subnet"]
            ec2.associate_route_table(RouteTableId=table, SubnetId=sid["SubnetId"])
            public.append(sid["SubnetId"])
        app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
        _allow(ec2, app, "0.0.0.0/0", 22)
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.sqs",
            VpcEndpointType="Interface",
            SubnetIds=public,
        )
        builder = ec2.run_instances(ImageId=_any_image(ec2), MinCount=1, MaxCount=1)
        ami = ec2.create_image(
            InstanceId=builder["Instances"][0]["InstanceId"], Name="batch-20261101"
        )["ImageId"]
        ec2.terminate_instances(InstanceIds=[builder["Instances"][0]["InstanceId"]])
        ec2.run_instances(
            ImageId=ami,
            MinCount=2,
            MaxCount=2,
            InstanceType="t3.medium",
            SubnetId=public[0],
            SecurityGroupIds=[app],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "batch"}]}
            ],
        )
        result = capture(
            lambda service: boto3.client(service, REGION),
            vpc_id=vpc,
            region=REGION,
            name="batch",
            recovery_regions=["us-west-2"],
            account_id="123456789012",
            stand_in=True,
        )
    path = tmp_path / "batch.yaml"
    path.write_text(result.text)
    found = lint_plan(build_plan(load_environment(str(path)), "us-west-2", stand_in=True))
    assert {k: v for k, v in found.items() if v} == {}, "no error, no warning"
    doc = yaml.safe_load(result.text)
    net = doc["stacks"]["network"]["params"]
    assert net["tiers"] == ["public"] and net["nat"] == "none" and "subnets" not in net
    assert net["flow_logs"] is False and "FlowLogRoleArn" not in net
    batch = doc["stacks"]["batch"]["params"]
    assert (batch["mode"], batch["count"], batch["instance_type"]) == ("instances", 2, "t3.medium")
    assert batch["SubnetIds"] == {"output": "network.PublicSubnetIds"}
    assert doc["artifacts"]["batch_ami"] == {"kind": "ami", "name": "batch-*"}
    assert doc["stacks"]["security"]["params"]["groups"]["app"]["ingress"] == []
    lines = [note.line() for note in result.notes]
    assert any("0.0.0.0/0 open on admin/database ports 22-22" in line for line in lines)
    assert any("sqs not reproduced" in line for line in lines)
    for line in lines:
        assert f"# CAPTURE: {line}" in result.text


def test_round_trip_capture_replicate_prepare_failover_into_us_west_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's round trip: the captured file, as written, fails production over into
    us-west-2 (in-process moto): replicate copies what its lookups find, prepare makes the
    identity stack, failover builds every other stack and verifies it."""
    import json

    from typer.testing import CliRunner

    from relight.cli import app

    # In-process moto offers no orderable DB instance classes (the stand-in skips the check
    # for the same reason); everything else in preflight runs.
    monkeypatch.setattr("relight.steps.preflight._db_classes", lambda plan, aws: ([], []))
    monkeypatch.setattr(
        "relight.steps.preflight.check_databases", lambda plan, aws, found, skip: ([], [])
    )
    runner = CliRunner()
    path = tmp_path / "stacks" / "shop.yaml"
    with mock_aws():
        prod = _production()
        boto3.client("rds", REGION).create_db_snapshot(
            DBSnapshotIdentifier="shop-orders-nightly", DBInstanceIdentifier="shop-orders"
        )
        args = ["--vpc", prod["vpc"], "--region", REGION, "--name", "shop", "--out", str(path)]
        captured = runner.invoke(app, ["capture", *args, "--recovery-region", "us-west-2"])
        assert captured.exit_code == 0, captured.output
        env = ["--env", str(path), "--aws"]
        steps = {
            "replicate": ["replicate", *env, "--from", REGION, "--to", "us-west-2"],
            "prepare": ["prepare", *env, "--region", "us-west-2", "--yes"],
            "failover": [
                "failover",
                *env,
                "--region",
                "us-west-2",
                "--yes",
                "--json",
                "--verify-timeout",
                "1",
            ],
        }
        results = {name: runner.invoke(app, argv) for name, argv in steps.items()}
        home = _shape(REGION, prod["vpc"])
        rebuilt = [
            _shape("us-west-2", v["VpcId"])
            for v in boto3.client("ec2", "us-west-2").describe_vpcs()["Vpcs"]
            if not v["IsDefault"]
        ]
    assert results["replicate"].exit_code == 0, results["replicate"].output
    assert results["prepare"].exit_code == 0, results["prepare"].output
    assert results["failover"].stdout, results["failover"].output
    summary = json.loads(results["failover"].stdout)
    states = {s["stack"]: s["status"] for s in summary["stacks"]}
    assert states == dict.fromkeys(
        ["network", "security", "load_balancer", "web", "database"], "CREATE_COMPLETE"
    ), states
    assert summary["prepared"] == {"identity": "shop-identity"}
    network = next(s for s in summary["stacks"] if s["stack"] == "network")
    assert network["outputs"]["VpcCidr"] == "10.50.0.0/16"
    used = {a["name"]: a["source_region"] for a in summary["artifacts"]}
    assert used == {"web_ami": REGION, "web_data": REGION, "shop_orders_db": REGION}, (
        "restored from the copies"
    )
    failed = [c for c in summary["verification"] if c["result"] == "failed"]
    # the one check in-process moto cannot pass: an HTTP GET to the load balancer's DNS name
    assert [c["check"] for c in failed] == ["load balancer answers"], failed

    # the same shape, property by property
    (shape,) = rebuilt
    assert shape["cidr"] == home["cidr"] == "10.50.0.0/16"
    assert (
        shape["tiers"]
        == home["tiers"]
        == {
            "public": (["10.50.0.0/24", "10.50.1.0/24"], 2),
            "private": (["10.50.10.0/24", "10.50.11.0/24"], 2),
            "data": (["10.50.20.0/24", "10.50.21.0/24"], 2),
        }
    )
    for group in ("the load balancer", "the web servers"):
        assert shape["groups"][group] == home["groups"][group], group
    assert home["groups"]["the web servers"] == (
        ["tcp 8080-8080 the load balancer"],
        ["tcp 443-443 0.0.0.0/0"],
    )
    # the database blueprint's own group, open to web only (a CAPTURE comment says so)
    extra = set(shape["groups"]) - set(home["groups"])
    assert len(extra) == 1
    ((database_group_rules, _),) = [shape["groups"][g] for g in extra]
    assert database_group_rules == ["tcp 5432-5432 the web servers"]
    # production's 8081 listener is a CAPTURE comment; the blueprint listens on 80
    assert home["listeners"] == [("HTTP", 80), ("HTTP", 8081)]
    assert shape["listeners"] == [("HTTP", 80)]
    assert shape["health_checks"] == home["health_checks"] == [("HTTP", 8080, "/healthz")]
    assert shape["fleets"] == [("t3.small", 2, 4, 2, 2, 2)], "type, min, max, desired, 2 AZs"
    assert home["fleets"][0][:4] == shape["fleets"][0][:4]
    assert shape["databases"] == home["databases"] == [("postgres", "db.t4g.medium", True)]


def _shape(region: str, vpc_id: str) -> dict[str, Any]:
    """What the issue calls the shape, read with plain boto3 in `region`: CIDRs, subnets per
    tier and AZ, security group rules (peers named by their group's description), listeners
    and health checks, instance types and counts, database engine and class."""
    ec2 = boto3.client("ec2", region)
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=in_vpc)["Subnets"]
    tier_of: dict[str, str] = {}
    for table in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]:
        out = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        target = out[0] if out else {}
        tier = "private" if target.get("NatGatewayId") else "public" if target else "data"
        for a in table.get("Associations", []):
            if a.get("SubnetId"):
                tier_of[a["SubnetId"]] = tier
    tiers: dict[str, Any] = {}
    for sub in subnets:
        tier = tiers.setdefault(tier_of[sub["SubnetId"]], {"cidrs": [], "azs": set()})
        tier["cidrs"].append(sub["CidrBlock"])
        tier["azs"].add(sub["AvailabilityZoneId"])
    groups = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
        if g["GroupName"] != "default"
    }
    named = {gid: g["Description"] for gid, g in groups.items()}

    def rules(permissions: list[dict[str, Any]]) -> list[str]:
        texts = []
        for p in permissions:
            peers = [r["CidrIp"] for r in p.get("IpRanges", [])]
            peers += [named.get(r["GroupId"], r["GroupId"]) for r in p.get("UserIdGroupPairs", [])]
            texts += [f"{p['IpProtocol']} {p.get('FromPort')}-{p.get('ToPort')} {x}" for x in peers]
        # blueprint.no_egress: the rule that matches nothing, there to remove AWS's allow-all
        return sorted(t for t in texts if t != "icmp 252-86 127.0.0.1/32")

    elbv2 = boto3.client("elbv2", region)
    balancers = [
        b for b in elbv2.describe_load_balancers()["LoadBalancers"] if b["VpcId"] == vpc_id
    ]
    listeners = [
        (li["Protocol"], li["Port"])
        for b in balancers
        for li in elbv2.describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])["Listeners"]
    ]
    checks = [
        (t["Protocol"], t["Port"], t["HealthCheckPath"])
        for t in elbv2.describe_target_groups()["TargetGroups"]
        if t["VpcId"] == vpc_id
    ]
    own_subnets = {sub["SubnetId"] for sub in subnets}
    fleets = []
    for asg in boto3.client("autoscaling", region).describe_auto_scaling_groups()[
        "AutoScalingGroups"
    ]:
        if not set(asg["VPCZoneIdentifier"].split(",")) <= own_subnets:
            continue
        spec = asg["LaunchTemplate"]
        data = ec2.describe_launch_template_versions(
            LaunchTemplateId=spec["LaunchTemplateId"], Versions=[spec["Version"]]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        placed = {i["AvailabilityZone"] for i in asg["Instances"]}
        counts = (asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"], len(asg["Instances"]))
        fleets.append((data["InstanceType"], *counts, len(placed)))
    databases = [
        (d["Engine"], d["DBInstanceClass"], d["MultiAZ"])
        for d in boto3.client("rds", region).describe_db_instances()["DBInstances"]
        if (d.get("DBSubnetGroup") or {}).get("VpcId") == vpc_id
    ]
    return {
        "cidr": vpc["CidrBlock"],
        "tiers": {t: (sorted(v["cidrs"]), len(v["azs"])) for t, v in tiers.items()},
        "groups": {
            g["Description"]: (rules(g["IpPermissions"]), rules(g["IpPermissionsEgress"]))
            for g in groups.values()
        },
        "listeners": sorted(listeners),
        "health_checks": sorted(checks),
        "fleets": sorted(fleets),
        "databases": sorted(databases),
    }


def test_single_port_rules_to_one_peer_merge_into_ports() -> None:
    from relight.capture.security import _merge_ports

    rules = [{"cidr": "0.0.0.0/0", "port": p, "description": "web"} for p in (443, 80, 8443)] + [
        {"group": "lb", "port": 8080},
        {"cidr": "10.0.0.0/8", "port_range": [1024, 2048]},
    ]
    assert _merge_ports(rules) == [
        {"cidr": "0.0.0.0/0", "ports": [80, 443, 8443], "description": "web"},
        {"group": "lb", "port": 8080},
        {"cidr": "10.0.0.0/8", "port_range": [1024, 2048]},
    ]


def test_a_subnet_without_its_own_route_table_takes_the_vpcs_main_tables_tier() -> None:
    """AWS: a subnet not explicitly associated with a route table uses the VPC's main route
    table. Here the main table routes to an internet gateway: the subnet is public; a subnet
    with its own table and no default route is data."""
    from moto import mock_aws

    from relight.capture.network import _tiers

    with mock_aws():
        ec2 = boto3.client("ec2", "us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
        implicit = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.0.0/24")["Subnet"]["SubnetId"]
        own = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
        (main,) = ec2.describe_route_tables(
            Filters=[*by_vpc, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
        ec2.create_route(
            RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
        )
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=own)
        _, tier_of, _ = _tiers(ec2, by_vpc, [])
    assert tier_of == {implicit: "public", own: "data"}
