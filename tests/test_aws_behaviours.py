"""The shipped blueprints against AWS's documented rules, which moto does not enforce.

Each test resolves a rendered template the way CloudFormation would (tests/aws_rules.py)
and applies the service's rule with its own error text; docs/aws-behaviours.md lists the
AWS documentation behind every rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

import aws_rules
from conftest import BLUEPRINTS, REPO
from relight.blueprint import load_registry
from relight.config import load_environment
from relight.render import build_plan

REGISTRY = load_registry(BLUEPRINTS)


def _demo(region: str = "us-west-2") -> Any:
    return build_plan(load_environment(str(REPO / "stacks" / "demo.yaml"), region), region)


def _rendered(name: str, **options: Any) -> dict[str, Any]:
    bp = REGISTRY[name]
    return bp.render({**bp.sample, **options}).to_dict()  # type: ignore[no-any-return]


@pytest.mark.parametrize("bucket", ["", "my-access-logs"])
def test_load_balancer_attributes_are_ones_elb_accepts(bucket: str) -> None:
    plan = _demo()
    body = plan.stacks["load_balancer"].body
    resources = aws_rules.resolve(body, {"AccessLogsBucket": bucket, "RelightPurpose": "failover"})
    aws_rules.elb_attributes(resources)  # raises ELB's ValidationError on an empty bucket
    attributes = {
        a["Key"]: a["Value"]
        for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert attributes["access_logs.s3.enabled"] == ("true" if bucket else "false")
    assert attributes.get("access_logs.s3.bucket") == (bucket or None)


def test_the_elb_rule_refuses_an_empty_bucket_as_elb_does() -> None:
    resources = {
        "Lb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "LoadBalancerAttributes": [{"Key": "access_logs.s3.bucket", "Value": ""}]
            },
        }
    }
    with pytest.raises(ClientError, match=r"access_logs\.s3\.bucket"):
        aws_rules.elb_attributes(resources)


@pytest.mark.parametrize("nat", ["single", "per-az"])
def test_nat_gateways_addresses_and_routes_wait_for_the_gateway_attachment(nat: str) -> None:
    body = _rendered("network", nat=nat)
    resources = aws_rules.resolve(body, {"AvailabilityZones": "a,b,c"})
    aws_rules.gateway_dependencies(resources)  # Gateway.NotAttached otherwise
    nats = [k for k, r in resources.items() if r["Type"] == "AWS::EC2::NatGateway"]
    assert nats and all("GatewayAttachment" in aws_rules.needs(resources, n) for n in nats)


def test_the_ordering_rule_catches_an_eip_that_can_race_the_attachment() -> None:
    resources = aws_rules.resolve(_rendered("network", nat="single"), {})
    del resources["NatAddress1"]["DependsOn"]
    del resources["NatGateway1"]["DependsOn"]
    with pytest.raises(ClientError, match=r"Gateway\.NotAttached"):
        aws_rules.gateway_dependencies(resources)


# Root volume from the AMI -------------------------------------------------------------------

DATA_SNAPSHOT = "snap-0data"


def _volumes(mode: str, image: dict[str, Any], snapshots: dict[str, int]) -> list[dict[str, Any]]:
    """The volumes EC2 attaches to one instance launched by the compute template, with the
    root device name and size relight fills from the discovered image."""
    root = next(m for m in image["BlockDeviceMappings"] if m["DeviceName"] == image["Root"])
    parameters = {
        "ImageId": "ami-0web",
        "DataSnapshotId": DATA_SNAPSHOT,
        "RootDeviceName": image["Root"],
        "RootVolumeSize": str(root["Ebs"]["VolumeSize"]),
    }
    resources = aws_rules.resolve(_rendered("compute", mode=mode), parameters)
    if mode == "asg":
        data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        mappings = data["BlockDeviceMappings"]
    else:
        mappings = resources["Instance1"]["Properties"]["BlockDeviceMappings"]
    return aws_rules.launch_volumes(mappings, image, snapshots)


@pytest.mark.parametrize("mode", ["asg", "instances"])
@pytest.mark.parametrize(("root", "size"), [("/dev/sda1", 8), ("/dev/xvda", 30)])
def test_the_root_volume_is_the_amis_own_device_and_size(mode: str, root: str, size: int) -> None:
    image = {
        "Root": root,
        "BlockDeviceMappings": [
            {"DeviceName": root, "Ebs": {"SnapshotId": "snap-0root", "VolumeSize": size}}
        ],
    }
    snapshots = {"snap-0root": size, DATA_SNAPSHOT: 50}
    volumes = _volumes(mode, image, snapshots)  # raises EC2's error on a too-small volume
    by_device = {v["DeviceName"]: v for v in volumes}
    assert len(volumes) == 2, f"an extra blank volume: {volumes}"
    assert by_device[root]["SnapshotId"] == "snap-0root"
    assert by_device[root]["VolumeSize"] == size
    data = next(v for v in volumes if v["SnapshotId"] == DATA_SNAPSHOT)
    assert data["VolumeSize"] == 50, "a data volume is never smaller than its snapshot"


def test_the_launch_rule_refuses_a_volume_smaller_than_its_snapshot() -> None:
    image = {"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "s-1"}}]}
    with pytest.raises(ClientError, match="smaller than  snapshot 's-1', expect size >= 30GB"):
        aws_rules.launch_volumes(
            [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 16}}], image, {"s-1": 30}
        )


def test_root_device_and_size_are_filled_from_the_discovered_ami() -> None:
    web = _demo().stacks["web"]
    assert web.parameters["RootDeviceName"].key == "web_ami.root_device"  # type: ignore[union-attr]
    assert web.parameters["RootVolumeSize"].key == "web_ami.root_size_gb"  # type: ignore[union-attr]


# A new AMI reaches running instances ---------------------------------------------------------


def test_a_newer_ami_replaces_the_running_instances_of_the_group() -> None:
    body = _demo().stacks["web"].body
    common = {"RootDeviceName": "/dev/xvda", "RootVolumeSize": "8", "DataSnapshotId": "snap-1"}
    before = aws_rules.resolve(body, {**common, "ImageId": "ami-0old"})
    after = aws_rules.resolve(body, {**common, "ImageId": "ami-0new"})
    assert aws_rules.images_after_update(before, after, "AutoScalingGroup") == "ami-0new"
    rolling = after["AutoScalingGroup"]["UpdatePolicy"]["AutoScalingRollingUpdate"]
    desired = int(after["AutoScalingGroup"]["Properties"]["DesiredCapacity"])
    assert int(rolling["MinInstancesInService"]) >= desired // 2, "half keeps serving"
    assert int(rolling["MinInstancesInService"]) < int(
        after["AutoScalingGroup"]["Properties"]["MaxSize"]
    ), "CloudFormation requires MinInstancesInService below MaxSize"


def test_without_an_update_policy_running_instances_keep_the_old_ami() -> None:
    body = json.loads(_demo().stacks["web"].body)
    del body["Resources"]["AutoScalingGroup"]["UpdatePolicy"]
    before = aws_rules.resolve(body, {"ImageId": "ami-0old"})
    after = aws_rules.resolve(body, {"ImageId": "ami-0new"})
    assert aws_rules.images_after_update(before, after, "AutoScalingGroup") == "ami-0old"


# The application reaches its restored database ----------------------------------------------


def test_the_web_tier_is_given_the_restored_databases_endpoint() -> None:
    from relight.environment import OutputRef

    web = _demo().stacks["web"]
    assert web.parameters["DatabaseEndpoint"] == OutputRef(stack="database", output="Endpoint")
    assert "database" in web.depends_on, "the web tier starts once the database is restored"
    parameters = {"DatabaseEndpoint": "orders.abc.us-west-2.rds.amazonaws.com"}
    resources = aws_rules.resolve(web.body, parameters)
    data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    script = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "echo 'DATABASE_ENDPOINT=${DatabaseEndpoint}' >> /etc/environment" in script
    local = build_plan(
        load_environment(str(REPO / "stacks" / "demo.yaml"), "us-west-2"), "us-west-2",
        stand_in=True,
    )  # fmt: skip
    assert "database" not in local.stacks["web"].depends_on, "the stand-in skips the database"


@pytest.mark.parametrize("mode", ["instance", "aurora"])
def test_a_restore_takes_the_named_parameter_groups_or_aws_defaults(mode: str) -> None:
    engine = "postgres" if mode == "instance" else "aurora-postgresql"
    body = _rendered("database", mode=mode, engine=engine)
    named = {"ParameterGroupName": "orders-pg16", "SnapshotIdentifier": "snap"}
    if mode == "instance":
        named["OptionGroupName"] = "orders-options"
    else:
        named["ClusterParameterGroupName"] = "orders-cluster-pg16"
    resources = aws_rules.resolve(body, named)
    if mode == "instance":
        database = resources["Database"]["Properties"]
        assert database["DBParameterGroupName"] == "orders-pg16"
        assert database["OptionGroupName"] == "orders-options"
    else:
        assert resources["Cluster"]["Properties"]["DBClusterParameterGroupName"] == (
            "orders-cluster-pg16"
        )
        assert resources["ClusterInstance1"]["Properties"]["DBParameterGroupName"] == "orders-pg16"
    defaults = aws_rules.resolve(body, {"SnapshotIdentifier": "snap"})
    holder = defaults["Database" if mode == "instance" else "Cluster"]["Properties"]
    assert not {"DBParameterGroupName", "OptionGroupName", "DBClusterParameterGroupName"} & set(
        holder
    ), "left out, AWS restores with the engine's default groups"
