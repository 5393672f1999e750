"""`relight capture` with several load balancers: each ALB/NLB of the VPC is its own
load_balancer stack, each compute stack registers with its own load balancer's target group,
and a Route 53 record may point at any of them. Production is built with plain boto3 (moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from test_capture import REGION, _allow, _forward, _production
from test_capture_more import _capture, _renders

SECOND = "shop-lb-internal"  # sorts after shop-lb: the first keeps `load_balancer`
SECOND_KEY = "shoplbinternal"


def _group(ec2: Any, vpc: str, name: str) -> str:
    gid = str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"])
    ec2.revoke_security_group_egress(
        GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return gid


def _internal_api(prod: dict[str, Any]) -> dict[str, Any]:
    """A second, internal ALB in the private subnets, its own group and target group (9090,
    /ready), and a second Auto Scaling group (`shop-api`, Role api) behind it."""
    ec2 = boto3.client("ec2", REGION)
    vpc = prod["vpc"]
    private = [
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "cidr-block", "Values": ["10.50.10.0/24", "10.50.11.0/24"]},
            ]
        )["Subnets"]
    ]
    assert len(private) == 2
    lb_group, api_group = _group(ec2, vpc, "api-lb"), _group(ec2, vpc, "api")
    _allow(ec2, lb_group, "10.50.0.0/16", 80, description="from the VPC")
    _allow(ec2, lb_group, api_group, 9090, egress=True)
    _allow(ec2, api_group, lb_group, 9090)
    elbv2 = boto3.client("elbv2", REGION)
    lb = elbv2.create_load_balancer(
        Name=SECOND,
        Subnets=private,
        SecurityGroups=[lb_group],
        Scheme="internal",
        Type="application",
    )["LoadBalancers"][0]
    tg = _forward(elbv2, lb["LoadBalancerArn"], "shop-api", vpc, 9090, "/ready", listeners=(80,))
    ec2.create_launch_template(
        LaunchTemplateName="shop-api",
        LaunchTemplateData={
            "ImageId": prod["ami"],
            "InstanceType": "t3.medium",
            "SecurityGroupIds": [api_group],
        },
    )
    boto3.client("autoscaling", REGION).create_auto_scaling_group(
        TargetGroupARNs=[tg],
        AutoScalingGroupName="shop-api",
        LaunchTemplate={"LaunchTemplateName": "shop-api", "Version": "$Latest"},
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(private),
        Tags=[{"Key": "Role", "Value": "api", "PropagateAtLaunch": True}],
    )
    return lb


def test_every_load_balancer_is_its_own_stack(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        _internal_api(prod)
        result = _capture()
        again = _capture()
    assert again.text == result.text  # deterministic: drift compares a recapture with it
    doc, plan = _renders(result, tmp_path)
    stacks = doc["stacks"]
    lbs = {k: s["params"] for k, s in stacks.items() if s["blueprint"] == "load_balancer"}
    assert list(lbs) == ["load_balancer", SECOND_KEY]
    first, second = lbs["load_balancer"], lbs[SECOND_KEY]
    assert (
        first["type"],
        first["scheme"],
        first["target_port"],
        first["health_check_path"],
    ) == ("application", "internet-facing", 8080, "/healthz")
    assert first["SubnetIds"] == {"output": "network.PublicSubnetIds"}
    assert first["SecurityGroupId"] == {"output": "security.LbSecurityGroupId"}
    assert (
        second["type"],
        second["scheme"],
        second["target_port"],
        second["health_check_path"],
    ) == ("application", "internal", 9090, "/ready")
    assert second["SubnetIds"] == {"output": "network.PrivateSubnetIds"}
    assert second["SecurityGroupId"] == {"output": "security.ApilbSecurityGroupId"}
    assert second["VpcId"] == {"output": "network.VpcId"}

    assert stacks["web"]["params"]["TargetGroupArn"] == {"output": "load_balancer.TargetGroupArn"}
    api = stacks["api"]["params"]
    assert api["TargetGroupArn"] == {"output": f"{SECOND_KEY}.TargetGroupArn"}
    assert (api["instance_type"], api["min_size"], api["desired"]) == ("t3.medium", 1, 2)
    assert api["SecurityGroupId"] == {"output": "security.ApiSecurityGroupId"}
    assert {"load_balancer", SECOND_KEY, "web", "api"} <= set(plan.stacks)

    assert "a second load balancer" not in result.text
    assert "not registered" not in result.text
    # each load balancer's own notes stay with its own stack: shop-lb's extra listener
    lines = result.text.splitlines()
    listener = lines.index(
        "  # CAPTURE: shop-lb Listener 8081: HTTP on 8081 not reproduced "
        "(the blueprint listens on 80, and 443 with a certificate)"
    )
    assert lines[listener + 1 :].index("  load_balancer:") < lines[listener + 1 :].index(
        f"  {SECOND_KEY}:"
    )
    assert not any(n.resource == SECOND and n.property.startswith("Listener") for n in result.notes)


def _alias(zone: str, name: str, target: str) -> dict[str, Any]:
    return {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": name,
            "Type": "A",
            "AliasTarget": {"HostedZoneId": zone, "DNSName": target, "EvaluateTargetHealth": False},
        },
    }


def _zone(name: str, changes: list[dict[str, Any]]) -> None:
    route53 = boto3.client("route53", REGION)
    zone = route53.create_hosted_zone(Name=name, CallerReference=name)
    route53.change_resource_record_sets(
        HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": changes}
    )


def test_a_record_pointing_at_the_second_load_balancer_reads_its_stack(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        lb = _internal_api(prod)
        _zone(
            "shop.example.com",
            [_alias(lb["CanonicalHostedZoneId"], "api.shop.example.com", lb["DNSName"])],
        )
        result = _capture()
        again = _capture()
    assert again.text == result.text
    doc, plan = _renders(result, tmp_path, strategy="pilot_light")
    stacks = doc["stacks"]
    params = stacks["dns"]["params"]
    assert params["RecordName"] == "api.shop.example.com."
    assert params["health_check_path"] == "/ready"  # the second load balancer's
    assert params["LoadBalancerDNSName"] == {"output": f"{SECOND_KEY}.DNSName"}
    assert params["LoadBalancerHostedZoneId"] == {"output": f"{SECOND_KEY}.CanonicalHostedZoneId"}
    # what the standing dns stack reads stands with it; the other load balancer does not
    for key in ("network", "security", SECOND_KEY):
        assert stacks[key]["stands"] == "pilot_light"
    assert "stands" not in stacks["load_balancer"]
    assert "dns" in plan.prepared
    assert any(
        n.resource == "api.shop.example.com. A" and f"{SECOND} is internal" in n.text
        for n in result.notes
    )


def test_records_at_two_load_balancers_keep_one_dns_stack(tmp_path: Path) -> None:
    """The first load balancer's record is the dns stack; the second one's is a note."""
    with mock_aws():
        prod = _production()
        second = _internal_api(prod)
        first = next(
            b
            for b in boto3.client("elbv2", REGION).describe_load_balancers()["LoadBalancers"]
            if b["LoadBalancerName"] == "shop-lb"
        )
        _zone(
            "shop.example.com",
            [
                _alias(second["CanonicalHostedZoneId"], "api.shop.example.com", second["DNSName"]),
                _alias(first["CanonicalHostedZoneId"], "www.shop.example.com", first["DNSName"]),
            ],
        )
        result = _capture()
    doc, _ = _renders(result, tmp_path, strategy="pilot_light")
    stacks = doc["stacks"]
    assert stacks["dns"]["params"]["RecordName"] == "www.shop.example.com."
    assert stacks["dns"]["params"]["LoadBalancerDNSName"] == {"output": "load_balancer.DNSName"}
    assert stacks["load_balancer"]["stands"] == "pilot_light"
    assert "stands" not in stacks[SECOND_KEY]
    assert (
        "  # CAPTURE: api.shop.example.com. A AliasTarget: in shop.example.com., points at "
        f"{SECOND}: not captured (one dns stack per file; add another, reading "
        f"{SECOND_KEY}'s outputs)" in result.text
    )
    assert "not the load balancer" not in result.text  # not also noted as pointing elsewhere


def test_fixed_instances_in_a_target_group_are_a_note(tmp_path: Path) -> None:
    """The compute blueprint registers only an Auto Scaling group with a target group: fixed
    instances registered with the second load balancer say how to register them."""
    with mock_aws():
        prod = _production()
        _internal_api(prod)
        ec2 = boto3.client("ec2", REGION)
        subnet = ec2.describe_subnets(
            Filters=[{"Name": "cidr-block", "Values": ["10.50.10.0/24"]}]
        )["Subnets"][0]["SubnetId"]
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(
                ImageId=prod["ami"],
                MinCount=2,
                MaxCount=2,
                InstanceType="t3.small",
                SubnetId=subnet,
                SecurityGroupIds=[prod["web"]],
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "worker"}]}
                ],
            )["Instances"]
        ]
        elbv2 = boto3.client("elbv2", REGION)
        tg = elbv2.describe_target_groups(Names=["shop-api"])["TargetGroups"][0]
        elbv2.register_targets(
            TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in ids]
        )
        result = _capture()
    doc, _ = _renders(result, tmp_path)
    worker = doc["stacks"]["worker"]["params"]
    assert (worker["mode"], worker["count"]) == ("instances", 2)
    assert "TargetGroupArn" not in worker  # the blueprint takes none in instances mode
    assert any(
        n.property == "TargetGroup"
        and n.text.startswith(f"registered with {SECOND}'s target group: not reproduced")
        and f"give {SECOND_KEY} target_instance_count: 2 and TargetInstanceIds: "
        "{output: worker.InstanceIds}"
        in n.text
        for n in result.notes
    )
    assert not any(
        n.property == "TargetGroup" for n in result.notes if n.resource.startswith("shop-")
    )
