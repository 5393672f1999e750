"""`relight capture`, continued: Aurora clusters, several databases, and the Route 53 records
that point at the load balancer. Production is built with plain boto3 (moto)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from relight.capture import Capture, capture
from relight.capture.databases import _cluster, _Databases
from relight.model.config import load_environment
from relight.steps.render import build_plan, lint_plan
from test_capture import REGION, _allow, _production

DENIED = (
    "User: arn:aws:iam::123456789012:user/capture is not authorized to perform: "
    "route53:ListHostedZones because no identity-based policy allows the "
    "route53:ListHostedZones action"
)


def _capture(client: Any = None) -> Capture:
    vpc = boto3.client("ec2", REGION).describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.50.0.0/16"]}]
    )["Vpcs"][0]["VpcId"]
    return capture(
        client or (lambda service: boto3.client(service, REGION)),
        vpc_id=vpc,
        region=REGION,
        name="shop",
        recovery_regions=["us-west-2"],
        account_id="123456789012",
        stand_in=True,
    )


def _renders(result: Capture, tmp_path: Path, strategy: str | None = None) -> Any:
    """The file as written validates, renders and lints clean once the steps its notes name
    are done (a key in us-west-2 for what is encrypted: kms_keys); its document."""
    path = tmp_path / "shop.yaml"
    path.write_text(
        re.sub(
            r"^  us-west-2: '?REPLACE-ME.*$",
            "  us-west-2: alias/relight-dr",
            result.text,
            flags=re.MULTILINE,
        )
    )
    plan = build_plan(load_environment(str(path)), "us-west-2", stand_in=True, strategy=strategy)
    found = lint_plan(plan, prepared=True)  # raises on any lint error
    assert {k: v for k, v in found.items() if v} == {}, "no warning either"
    for note in result.notes:
        assert f"# CAPTURE: {note.line()}" in result.text
    return yaml.safe_load(result.text), plan


def _aurora(prod: dict[str, Any], name: str = "shop-aurora", members: int = 2) -> str:
    """An Aurora PostgreSQL cluster in the data subnets, behind a group that admits web."""
    ec2 = boto3.client("ec2", REGION)
    db = ec2.create_security_group(GroupName=f"{name}-db", Description="db", VpcId=prod["vpc"])
    _allow(ec2, db["GroupId"], prod["web"], 5432, description="from web")
    rds = boto3.client("rds", REGION)
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        DBSubnetGroupName="shop-data",
        VpcSecurityGroupIds=[db["GroupId"]],
        MasterUsername="app",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=14,
        StorageEncrypted=True,
    )
    for index in range(members):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{index + 1}",
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    return name


def _only_aurora() -> None:
    boto3.client("rds", REGION).delete_db_instance(
        DBInstanceIdentifier="shop-orders", SkipFinalSnapshot=True
    )


def test_an_aurora_cluster_becomes_a_database_stack_in_aurora_mode(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        _only_aurora()
        _aurora(prod)
        result = _capture()
    doc, plan = _renders(result, tmp_path)
    db = doc["stacks"]["database"]
    assert db["blueprint"] == "database"
    assert db["params"] == {
        "mode": "aurora",
        "engine": "aurora-postgresql",
        "instance_class": "db.r6g.large",
        "aurora_instances": 2,
        "backup_retention_days": 14,
        "SnapshotIdentifier": {"artifact": "shop_aurora_db"},
        "VpcId": {"output": "network.VpcId"},
        "SubnetIds": {"output": "network.DataSubnetIds"},
        "ClientSecurityGroupId": {"output": "security.WebSecurityGroupId"},
        "MonitoringRoleArn": {"output": "identity.MonitoringRoleArn"},
    }
    assert doc["artifacts"]["shop_aurora_db"] == {
        "kind": "rds_cluster_snapshot",
        "db_cluster": "shop-aurora",
    }
    assert doc["stacks"]["identity"]["params"]["rds_monitoring"] is True
    web = doc["stacks"]["web"]["params"]
    assert web["DatabaseEndpoint"] == {"output": "database.Endpoint"}
    assert web["DatabasePort"] == {"output": "database.Port"}
    assert "database" in plan.stacks
    assert "  # from Aurora cluster shop-aurora (aurora-postgresql " in result.text
    # the cluster's own group is not attached (the blueprint makes its own): said so
    assert (
        "  # CAPTURE: shop-aurora VpcSecurityGroups: shopauroradb: the database blueprint "
        "makes its own group" in result.text
    )
    assert "DBClusterIdentifier" not in result.text  # no member of the cluster is left over


def test_what_aurora_mode_cannot_express_is_a_note() -> None:
    """Serverless v2, an old `aurora` engine, members of different classes, a global
    database, I/O-Optimized storage; a Multi-AZ DB cluster is no stack at all."""
    dbs = _Databases({}, {}, {}, [], {"database"})
    cluster = {
        "DBClusterIdentifier": "shop-sls",
        "Engine": "aurora",
        "EngineVersion": "5.6.10a",
        "EngineMode": "provisioned",
        "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 8.0},
        "GlobalClusterIdentifier": "shop-global",
        "StorageType": "aurora-iopt1",
        "DBClusterMembers": [{"DBInstanceIdentifier": "shop-sls-1", "IsClusterWriter": True}],
    }
    members = [{"DBInstanceIdentifier": "shop-sls-1", "DBInstanceClass": "db.serverless"}]
    section = _cluster(cluster, members, dbs)
    assert section is not None and section.key == "database"
    params = section.body["params"]
    assert (params["engine"], params["instance_class"], params["aurora_instances"]) == (
        "aurora-mysql",
        "db.r6g.large",
        1,
    )
    lines = [n.line() for n in section.notes]
    assert "shop-sls Engine: aurora (MySQL 5.6): aurora-mysql written" in lines
    assert any(
        line.startswith(
            "shop-sls ServerlessV2ScalingConfiguration: Aurora Serverless v2 (0.5-8.0 ACU)"
        )
        for line in lines
    )
    assert any("global database shop-global" in line for line in lines)
    assert any(line.startswith("shop-sls StorageType: aurora-iopt1") for line in lines)

    dbs.sections.append(section)
    mixed = {
        "DBClusterIdentifier": "shop-mixed",
        "Engine": "aurora-mysql",
        "DBClusterMembers": [
            {"DBInstanceIdentifier": "b-writer", "IsClusterWriter": True},
            {"DBInstanceIdentifier": "a-reader", "IsClusterWriter": False},
        ],
    }
    members = [
        {"DBInstanceIdentifier": "a-reader", "DBInstanceClass": "db.r6g.large"},
        {"DBInstanceIdentifier": "b-writer", "DBInstanceClass": "db.r6g.xlarge"},
    ]
    second = _cluster(mixed, members, dbs)
    assert second is not None and second.key == "shopmixed"
    assert second.body["params"]["instance_class"] == "db.r6g.xlarge"  # the writer's
    assert second.body["params"]["aurora_instances"] == 2
    assert [n.line() for n in second.notes if n.property == "DBInstanceClass"] == [
        "a-reader DBInstanceClass: db.r6g.large differs from the writer's db.r6g.xlarge; "
        "the stack makes every member alike"
    ]

    multi_az = {"DBClusterIdentifier": "shop-maz", "Engine": "postgres", "DBClusterMembers": []}
    assert _cluster(multi_az, [], dbs) is None
    assert [n.line() for n in dbs.unplaced] == [
        "shop-maz Engine: a postgres DB cluster: not captured (the database blueprint "
        "restores RDS instances and Aurora clusters only)"
    ]


def test_two_databases_become_two_stacks_with_unique_keys(tmp_path: Path) -> None:
    """The plain instance keeps `database` (as before); the cluster gets its own stack, named
    after it; the compute stack reads the first one's endpoint, and the second says so."""
    with mock_aws():
        prod = _production()
        _aurora(prod)
        rds = boto3.client("rds", REGION)
        rds.create_db_instance(  # a third: a second plain instance, named like a stack
            DBInstanceIdentifier="web",
            Engine="mysql",
            DBInstanceClass="db.t4g.medium",
            DBSubnetGroupName="shop-data",
            AllocatedStorage=20,
            MasterUsername="app",
            MasterUserPassword="not-a-secret-1",
        )
        result = _capture()
        again = _capture()
    assert again.text == result.text  # deterministic: drift compares a recapture with it
    doc, plan = _renders(result, tmp_path)
    stacks = doc["stacks"]
    dbs = {k: s for k, s in stacks.items() if s["blueprint"] == "database"}
    assert list(dbs) == ["database", "web2", "shopaurora"]  # web is the compute stack's
    assert dbs["database"]["params"]["mode"] == "instance"  # the first keeps its key
    assert dbs["database"]["params"]["SnapshotIdentifier"] == {"artifact": "shop_orders_db"}
    assert doc["artifacts"]["shop_orders_db"] == {
        "kind": "rds_snapshot",
        "db_instance": "shop-orders",
    }
    web2 = dbs["web2"]["params"]
    assert (web2["mode"], web2["engine"]) == ("instance", "mysql")
    assert web2["SnapshotIdentifier"] == {"artifact": "web_db"}
    assert doc["artifacts"]["web_db"] == {"kind": "rds_snapshot", "db_instance": "web"}
    aurora = dbs["shopaurora"]["params"]
    assert (aurora["mode"], aurora["engine"]) == ("aurora", "aurora-postgresql")
    assert aurora["SnapshotIdentifier"] == {"artifact": "shop_aurora_db"}
    assert doc["artifacts"]["shop_aurora_db"]["kind"] == "rds_cluster_snapshot"
    assert stacks["web"]["params"]["DatabaseEndpoint"] == {"output": "database.Endpoint"}
    assert {"database", "web2", "shopaurora"} <= set(plan.stacks)
    for source, key in (("web", "web2"), ("shop-aurora", "shopaurora")):
        assert (
            f"  # CAPTURE: {source} Endpoint: the compute stacks read database's endpoint, not "
            f"this one's: give {key}.Endpoint to the stacks that use it" in result.text
        )
    assert "a second database" not in result.text


def _alias(zone: str, name: str, target: str, kind: str = "A") -> dict[str, Any]:
    record: dict[str, Any] = {"Name": name, "Type": kind}
    if kind == "CNAME":
        record.update(TTL=60, ResourceRecords=[{"Value": target}])
    else:
        record["AliasTarget"] = {
            "HostedZoneId": zone,
            "DNSName": target,
            "EvaluateTargetHealth": False,
        }
    return {"Action": "CREATE", "ResourceRecordSet": record}


def _zone(name: str, changes: list[dict[str, Any]], private_vpc: str | None = None) -> None:
    route53 = boto3.client("route53", REGION)
    extra: dict[str, Any] = {}
    if private_vpc:  # moto marks a zone private only when HostedZoneConfig says so (AWS: the VPC)
        extra = {
            "VPC": {"VPCRegion": REGION, "VPCId": private_vpc},
            "HostedZoneConfig": {"PrivateZone": True, "Comment": "private"},
        }
    zone = route53.create_hosted_zone(Name=name, CallerReference=name + str(bool(extra)), **extra)
    route53.change_resource_record_sets(
        HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": changes}
    )


def test_a_record_pointing_at_the_load_balancer_becomes_a_dns_stack(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        lb = boto3.client("elbv2", REGION).describe_load_balancers()["LoadBalancers"][0]
        dns, zone_id = lb["DNSName"], lb["CanonicalHostedZoneId"]
        # as the console writes an alias: dualstack., a trailing dot, any case
        aliased = f"dualstack.{dns.upper()}."
        _zone(
            "shop.example.com",
            [
                _alias(zone_id, "www.shop.example.com", aliased),
                _alias(zone_id, "api.shop.example.com", dns, "CNAME"),
                _alias(zone_id, "cdn.shop.example.com", "d111.cloudfront.net.", "CNAME"),
            ],
        )
        _zone("shop.internal", [_alias(zone_id, "web.shop.internal", aliased)], prod["vpc"])
        result = _capture()
        again = _capture()
    assert again.text == result.text
    doc, plan = _renders(result, tmp_path, strategy="pilot_light")
    stacks = doc["stacks"]
    assert stacks["dns"] == {
        "blueprint": "dns",
        "stands": "pilot_light",
        "regions": ["us-west-2"],  # one SECONDARY per name: never the home region's copy too
        "params": {
            "mode": "failover",
            "failover_role": "SECONDARY",
            "health_check_protocol": "HTTP",
            "health_check_path": "/healthz",
            "HostedZoneName": "shop.example.com.",
            "RecordName": "www.shop.example.com.",
            "LoadBalancerDNSName": {"output": "load_balancer.DNSName"},
            "LoadBalancerHostedZoneId": {"output": "load_balancer.CanonicalHostedZoneId"},
        },
    }
    # a standing dns stack reads the load balancer: what it reads stands too
    for key in ("network", "security", "load_balancer"):
        assert stacks[key]["stands"] == "pilot_light"
    assert "dns" in plan.prepared
    text = result.text
    assert (
        "  # CAPTURE: www.shop.example.com. A Failover: a simple record: Route 53 takes the "
        "SECONDARY record only beside a PRIMARY failover record of the same name" in text
    )
    assert (
        "  # CAPTURE: api.shop.example.com. CNAME ResourceRecords: in shop.example.com., also "
        "points at shop-lb: not captured (one record per dns stack; add another)" in text
    )
    assert (
        "  # CAPTURE: web.shop.internal. A PrivateZone: in private hosted zone shop.internal.: "
        "not captured" in text
    )
    assert "cdn.shop.example.com" not in text  # another name, pointing elsewhere: not ours


def test_a_record_pointing_elsewhere_beside_ours_is_a_note(tmp_path: Path) -> None:
    """Production's name already in a failover pair: its PRIMARY points at the load
    balancer, its SECONDARY elsewhere. The file's SECONDARY replaces the other one."""
    with mock_aws():
        _production()
        lb = boto3.client("elbv2", REGION).describe_load_balancers()["LoadBalancers"][0]
        zone_id = lb["CanonicalHostedZoneId"]
        primary = _alias(zone_id, "www.shop.example.com", lb["DNSName"])
        primary["ResourceRecordSet"].update(SetIdentifier="home", Failover="PRIMARY")
        secondary = _alias(zone_id, "www.shop.example.com", "old-dr.example.net.")
        secondary["ResourceRecordSet"].update(SetIdentifier="dr", Failover="SECONDARY")
        _zone("shop.example.com", [primary, secondary])
        result = _capture()
    doc, _ = _renders(result, tmp_path)
    assert doc["stacks"]["dns"]["params"]["RecordName"] == "www.shop.example.com."
    lines = [n.line() for n in result.notes]
    assert not any("Failover: a" in line for line in lines)  # ours is the PRIMARY already
    assert (
        "www.shop.example.com. A AliasTarget: points at old-dr.example.net., not the load "
        "balancer: not captured" in lines
    )


def test_a_route53_that_cannot_be_read_is_a_note_not_a_failure(tmp_path: Path) -> None:
    route53 = boto3.client("route53", REGION)
    stubber = Stubber(route53)
    stubber.add_client_error(
        "list_hosted_zones",
        service_error_code="AccessDenied",
        service_message=DENIED,
        http_status_code=403,
    )
    with mock_aws(), stubber:
        _production()
        result = _capture(
            lambda service: route53 if service == "route53" else boto3.client(service, REGION)
        )
    doc, _ = _renders(result, tmp_path)
    assert "dns" not in doc["stacks"]
    assert "stands" not in doc["stacks"]["load_balancer"]
    note = (
        "# CAPTURE: route53 hosted zones: not read: An error occurred (AccessDenied) when "
        f"calling the ListHostedZones operation: {DENIED}; records pointing at the load "
        "balancer are not captured (add a dns stack by hand)"
    )
    assert note in result.text.splitlines()  # at the top of the file
    assert any(n.resource == "route53" for n in result.notes)


def test_a_client_factory_refusing_route53_is_a_note(tmp_path: Path) -> None:
    """The refusal comes when the client is made (a factory that checks permissions)."""
    from botocore.exceptions import ClientError

    def factory(name: str) -> Any:
        if name == "route53":
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": DENIED}}, "ListHostedZones"
            )
        return boto3.client(name, REGION)

    with mock_aws():
        _production()
        result = _capture(factory)
    _renders(result, tmp_path)
    assert any(
        line.startswith(
            "# CAPTURE: route53 hosted zones: not read: An error occurred (AccessDenied)"
        )
        for line in result.text.splitlines()
    )
