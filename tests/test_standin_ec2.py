"""The stand-in's EC2 and Auto Scaling (standin/extensions/ec2.py): the blueprints'
templates, deployed on moto with relight's additions, come out as AWS builds them.

Each test deploys with relight's own deploy (or CloudFormation directly, for a resource no
blueprint uses) and looks at what the EC2 and Auto Scaling describe APIs show.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.standin import extensions
from relight.standin.extensions import ec2 as moto_ec2
from relight.steps.deploy import Outcome, deploy
from relight.steps.discovery import Discovery
from relight.steps.render import build_plan
from relight.steps.verify import verify

REGION = "us-west-2"

# MINIMAL's web tier as an Auto Scaling group of four, behind a load balancer group whose only
# egress is to the web group (a SecurityGroupEgress resource); the web group has no egress.
GROUP = MINIMAL.replace(
    "mode: instances\n      count: 2",
    "mode: asg\n      min_size: 4\n      max_size: 8",
).replace(
    "          egress: [{cidr: 0.0.0.0/0, port: 443}]\n",
    "          egress: []\n"
    "        lb:\n"
    "          ingress: [{cidr: 0.0.0.0/0, port: 80}]\n"
    "          egress: [{group: web, port: 8080}]\n",
)


@pytest.fixture(autouse=True)
def stand_in() -> Iterator[None]:
    extensions.install()
    with mock_aws():
        yield


Built = tuple[Plan, Discovery, Outcome]


def _deploy(write_env: Callable[[str], Path], text: str) -> Built:
    found = moto_web_inputs(REGION)
    plan = build_plan(load_environment(str(write_env(text)), REGION), REGION)
    outcome = deploy(
        Stacks(boto3.client("cloudformation", REGION), timeout=30), plan, found, run_id="t"
    )
    assert outcome.ok, outcome.failed()
    return plan, found, outcome


def _instances() -> list[dict[str, Any]]:
    ec2 = boto3.client("ec2", REGION)
    return [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


def _zones(subnet_ids: list[str]) -> dict[str, str]:
    subnets = boto3.client("ec2", REGION).describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    return {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}


def _data_volumes(instances: list[dict[str, Any]], device: str = "/dev/sdf") -> list[Any]:
    ids = [
        m["Ebs"]["VolumeId"]
        for i in instances
        for m in i["BlockDeviceMappings"]
        if m["DeviceName"] == device
    ]
    return list(boto3.client("ec2", REGION).describe_volumes(VolumeIds=ids)["Volumes"])


def _egress(group_id: str) -> set[tuple[Any, ...]]:
    (group,) = boto3.client("ec2", REGION).describe_security_groups(GroupIds=[group_id])[
        "SecurityGroups"
    ]
    return {
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), peer)
        for p in group["IpPermissionsEgress"]
        for peer in [r["CidrIp"] for r in p.get("IpRanges", [])]
        + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
        + [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
    }


def _stack(template: dict[str, Any], name: str = "raw", **parameters: str) -> dict[str, str]:
    """Create a stack from a template straight through CloudFormation; its outputs."""
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _vpc() -> str:
    ec2 = boto3.client("ec2", REGION)
    return str(ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"])


# instances ---------------------------------------------------------------------------------


def test_fixed_instances_are_in_their_security_group_and_require_imdsv2(
    write_env: Callable[[str], Path],
) -> None:
    _, _, outcome = _deploy(write_env, MINIMAL)
    group = outcome.results["web"].parameters["SecurityGroupId"]
    instances = _instances()
    assert len(instances) == 2
    for instance in instances:
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]
        assert instance["NetworkInterfaces"][0]["Groups"][0]["GroupId"] == group
        options = instance["MetadataOptions"]
        assert (options["HttpTokens"], options["HttpEndpoint"]) == ("required", "enabled")
        assert options["HttpPutResponseHopLimit"] == 1


def test_fixed_instances_spread_over_the_subnets_with_encrypted_data_from_the_snapshot(
    write_env: Callable[[str], Path],
) -> None:
    _, found, outcome = _deploy(write_env, MINIMAL)
    subnets = outcome.results["web"].parameters["SubnetIds"].split(",")
    instances = _instances()
    assert sorted(i["SubnetId"] for i in instances) == sorted(subnets)
    assert len(set(_zones(subnets).values())) == 2
    volumes = _data_volumes(instances)
    assert {v["SnapshotId"] for v in volumes} == {found.artifacts["web_data"].id}
    assert all(v["Encrypted"] and v["VolumeType"] == "gp3" for v in volumes)


def test_group_instances_spread_evenly_over_the_zones_and_stay_spread_as_it_grows(
    write_env: Callable[[str], Path],
) -> None:
    _, _, outcome = _deploy(write_env, GROUP)
    zone_of = _zones(outcome.results["web"].parameters["SubnetIds"].split(","))
    assert Counter(zone_of[i["SubnetId"]] for i in _instances()) == dict.fromkeys(
        zone_of.values(), 2
    )
    asg = boto3.client("autoscaling", REGION)
    name = outcome.results["web"].outputs["AutoScalingGroupName"]
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=7)
    assert sorted(Counter(zone_of[i["SubnetId"]] for i in _instances()).values()) == [3, 4]


def test_group_instances_take_the_launch_templates_group_imdsv2_and_data_volume(
    write_env: Callable[[str], Path],
) -> None:
    _, found, outcome = _deploy(write_env, GROUP)
    group = outcome.results["web"].parameters["SecurityGroupId"]
    instances = _instances()
    assert len(instances) == 4
    assert {g["GroupId"] for i in instances for g in i["SecurityGroups"]} == {group}
    assert {i["MetadataOptions"]["HttpTokens"] for i in instances} == {"required"}
    volumes = _data_volumes(instances)
    assert len(volumes) == 4
    assert {v["SnapshotId"] for v in volumes} == {found.artifacts["web_data"].id}
    assert all(v["Encrypted"] for v in volumes)


def test_run_instances_takes_the_launch_templates_metadata_options_unless_given_its_own() -> None:
    ec2 = boto3.client("ec2", REGION)
    image = ec2.register_image(Name="plain", RootDeviceName="/dev/xvda")["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName="imds",
        LaunchTemplateData={"ImageId": image, "MetadataOptions": {"HttpTokens": "required"}},
    )["LaunchTemplate"]["LaunchTemplateId"]
    spec = {"LaunchTemplateId": template}
    (inherited,) = ec2.run_instances(LaunchTemplate=spec, MinCount=1, MaxCount=1)["Instances"]
    (overridden,) = ec2.run_instances(
        LaunchTemplate=spec, MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "optional"}
    )["Instances"]
    assert inherited["MetadataOptions"]["HttpTokens"] == "required"
    assert overridden["MetadataOptions"]["HttpTokens"] == "optional"


# security groups ---------------------------------------------------------------------------


def test_a_group_that_declares_egress_has_exactly_that_egress(
    write_env: Callable[[str], Path],
) -> None:
    _, _, outcome = _deploy(write_env, MINIMAL)
    web = outcome.results["security"].outputs["WebSecurityGroupId"]
    assert _egress(web) == {("tcp", 443, 443, "0.0.0.0/0")}


def test_no_egress_leaves_only_the_rule_that_matches_nothing_and_a_group_rule_is_added(
    write_env: Callable[[str], Path],
) -> None:
    _, _, outcome = _deploy(write_env, GROUP)
    groups = outcome.results["security"].outputs
    web, lb = groups["WebSecurityGroupId"], groups["LbSecurityGroupId"]
    nothing = ("icmp", 252, 86, "127.0.0.1/32")  # blueprint.no_egress
    assert _egress(web) == {nothing}
    assert _egress(lb) == {nothing, ("tcp", 8080, 8080, web)}


def test_a_group_that_declares_no_egress_keeps_the_default_allow_all() -> None:
    _stack(
        {
            "Parameters": {"VpcId": {"Type": "String"}},
            "Resources": {
                "Open": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {"GroupDescription": "open", "VpcId": {"Ref": "VpcId"}},
                }
            },
            "Outputs": {"Open": {"Value": {"Fn::GetAtt": ["Open", "GroupId"]}}},
        },
        VpcId=_vpc(),
    )
    (group,) = [
        g
        for g in boto3.client("ec2", REGION).describe_security_groups()["SecurityGroups"]
        if g["Description"] == "open"
    ]
    assert _egress(group["GroupId"]) == {("-1", None, None, "0.0.0.0/0")}


def test_an_egress_resource_is_referenced_by_its_rule_id_and_revoked_with_its_stack() -> None:
    vpc = _vpc()
    ec2 = boto3.client("ec2", REGION)
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    outputs = _stack(
        {
            "Parameters": {"GroupId": {"Type": "String"}},
            "Resources": {
                "Https": {
                    "Type": "AWS::EC2::SecurityGroupEgress",
                    "Properties": {
                        "GroupId": {"Ref": "GroupId"},
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "CidrIpv6": "::/0",
                        "Description": "HTTPS out",
                    },
                }
            },
            "Outputs": {"Rule": {"Value": {"Ref": "Https"}}},
        },
        GroupId=group,
    )
    assert outputs["Rule"].startswith("sgr-")
    assert _egress(group) == {("-1", None, None, "0.0.0.0/0"), ("tcp", 443, 443, "::/0")}
    boto3.client("cloudformation", REGION).delete_stack(StackName="raw")
    assert _egress(group) == {("-1", None, None, "0.0.0.0/0")}


# route tables ------------------------------------------------------------------------------


def test_every_subnet_is_listed_under_its_route_table(write_env: Callable[[str], Path]) -> None:
    _, _, outcome = _deploy(write_env, MINIMAL)
    vpc = outcome.results["network"].outputs["VpcId"]
    ec2 = boto3.client("ec2", REGION)
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    subnets = {s["SubnetId"] for s in ec2.describe_subnets(Filters=by_vpc)["Subnets"]}
    associated = [
        a["SubnetId"]
        for t in ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]
        for a in t["Associations"]
        if not a["Main"]
    ]
    assert len(subnets) == 6
    assert sorted(associated) == sorted(subnets), "each subnet once"
    first_private = outcome.results["network"].outputs["PrivateSubnetIds"].split(",")[0]
    (table,) = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [first_private]}]
    )["RouteTables"]
    assert table["RouteTableId"] == outcome.results["network"].outputs["PrivateRouteTable1Id"]


def test_an_association_is_referenced_by_its_id_and_removed_with_its_stack() -> None:
    ec2 = boto3.client("ec2", REGION)
    vpc = _vpc()
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    outputs = _stack(
        {
            "Resources": {
                "Routes": {
                    "Type": "AWS::EC2::SubnetRouteTableAssociation",
                    "Properties": {"SubnetId": subnet, "RouteTableId": table},
                }
            },
            "Outputs": {"Association": {"Value": {"Ref": "Routes"}}},
        }
    )
    (listed,) = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Associations"]
    assert (listed["SubnetId"], listed["RouteTableAssociationId"]) == (
        subnet,
        outputs["Association"],
    )
    boto3.client("cloudformation", REGION).delete_stack(StackName="raw")
    assert ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Associations"] == []
    ec2.delete_route_table(RouteTableId=table)  # nothing holds it any more


# volumes -----------------------------------------------------------------------------------


def test_a_volume_resource_is_restored_from_its_snapshot_as_declared() -> None:
    ec2 = boto3.client("ec2", REGION)
    source = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=30)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=source)["SnapshotId"]
    outputs = _stack(
        {
            "Parameters": {"Snapshot": {"Type": "String"}},
            "Resources": {
                "Data": {
                    "Type": "AWS::EC2::Volume",
                    "Properties": {
                        "AvailabilityZone": f"{REGION}a",
                        "SnapshotId": {"Ref": "Snapshot"},
                        "VolumeType": "io2",
                        "Iops": 3000,
                        "Encrypted": True,
                        "Tags": [{"Key": "Name", "Value": "data"}],
                    },
                }
            },
            "Outputs": {"Volume": {"Value": {"Ref": "Data"}}},
        },
        Snapshot=snapshot,
    )
    (volume,) = ec2.describe_volumes(VolumeIds=[outputs["Volume"]])["Volumes"]
    assert volume["SnapshotId"] == snapshot
    assert volume["Size"] == 30, "the snapshot's size, none being given"
    assert (volume["VolumeType"], volume["Iops"], volume["Encrypted"]) == ("io2", 3000, True)
    assert {"Key": "Name", "Value": "data"} in volume["Tags"]


# installing --------------------------------------------------------------------------------


def test_installing_twice_patches_once() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.ec2.models.instances import InstanceBackend

    patched = (
        InstanceBackend.run_instances,
        FakeAutoScalingGroup.replace_autoscaling_group_instances,
    )
    extensions.install()
    moto_ec2.install()
    assert (
        InstanceBackend.run_instances,
        FakeAutoScalingGroup.replace_autoscaling_group_instances,
    ) == patched
    assert not hasattr(patched[0].__wrapped__, "__wrapped__"), "wrapped once"


# verification on the stand-in --------------------------------------------------------------
# What the stand-in now plays as AWS does is verified there for real, passed or failed; only
# what moto cannot show (status checks, target health, HTTP) stays "not simulated locally".


def _checks(built: Built) -> dict[tuple[str | None, str], tuple[str, str]]:
    plan, found, outcome = built
    checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=True)
    return {(c.stack, c.check): (c.result, c.detail) for c in checks}


def test_on_the_stand_in_groups_volumes_and_egress_are_verified_for_real(
    write_env: Callable[[str], Path],
) -> None:
    built = _deploy(write_env, MINIMAL)
    checks = _checks(built)
    group = built[2].results["web"].parameters["SecurityGroupId"]
    assert checks[("web", "instances in the declared security groups")] == (
        "passed",
        f"2 of 2 in {group}",
    )
    assert checks[("web", "data volumes from the expected snapshot")][0] == "passed"
    assert checks[("security", "security groups' egress as declared")] == (
        "passed",
        "1 of 1 as declared",
    )
    assert checks[("web", "instance status checks")][0] == "not simulated locally"


def test_egress_resources_and_the_rule_that_matches_nothing_verify_as_declared(
    write_env: Callable[[str], Path],
) -> None:
    checks = _checks(_deploy(write_env, GROUP))
    assert checks[("security", "security groups' egress as declared")] == (
        "passed",
        "2 of 2 as declared",
    )
    assert checks[("web", "instances in the declared security groups")][0] == "passed"


def test_egress_not_declared_or_missing_fails_verification_naming_the_rule(
    write_env: Callable[[str], Path],
) -> None:
    built = _deploy(write_env, MINIMAL)
    web = built[2].results["security"].outputs["WebSecurityGroupId"]
    ec2 = boto3.client("ec2", REGION)
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    ec2.revoke_security_group_egress(
        GroupId=web, IpPermissions=[{**https, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    ec2.authorize_security_group_egress(
        GroupId=web, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    result, detail = _checks(built)[("security", "security groups' egress as declared")]
    assert result == "failed"
    assert detail == (
        f"0 of 1 as declared; {web} (WebSecurityGroup) not declared: all traffic to 0.0.0.0/0; "
        "missing: tcp 443 to 0.0.0.0/0"
    )


def test_an_instance_in_another_group_fails_verification(
    write_env: Callable[[str], Path],
) -> None:
    built = _deploy(write_env, MINIMAL)
    ec2 = boto3.client("ec2", REGION)
    instance = _instances()[0]
    (default,) = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [instance["VpcId"]]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=[default["GroupId"]])
    result, detail = _checks(built)[("web", "instances in the declared security groups")]
    assert result == "failed"
    assert detail.endswith(f"; {instance['InstanceId']} in {default['GroupId']}")
