"""What the blueprints set whatever production has (docs/aws-behaviours.md E13, L8): the
HTTPS listener's TLS policy and the instances' metadata options. Production with other values
(an old TLS policy that still takes TLS 1.0 and 1.1; a metadata hop limit of 2 for containers)
is "changed on purpose" in the ledger, with production's value, the rebuild's and why, and a
`# changed on purpose:` comment in the captured file beside the stack. moto keeps a listener's
SslPolicy and a launch template version's MetadataOptions as given."""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto import mock_aws

from conftest import BLUEPRINTS
from relight.capture import capture
from relight.capture.forced import METADATA, TLS_POLICY, metadata_comment
from relight.model.blueprint import load_registry
from test_capture import REGION, _production

OLD_POLICY = "ELBSecurityPolicy-2016-08"  # CloudFormation's and the CLI's default
CONTAINERS = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}


def test_the_forced_values_are_the_blueprints_own() -> None:
    registry = load_registry(BLUEPRINTS)
    lb = registry["load_balancer"].render({}).to_dict()
    assert lb["Resources"]["HttpsListener"]["Properties"]["SslPolicy"] == TLS_POLICY
    for options in ({"mode": "asg"}, {"mode": "instances", "count": 1}):
        template = registry["compute"].render(options).to_dict()["Resources"]
        launch = (
            template["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
            if options["mode"] == "asg"
            else template["Instance1"]["Properties"]
        )
        assert launch["MetadataOptions"] == METADATA


def _state() -> str:
    """What capture could have changed: the listeners and the launch template's versions."""
    elbv2, ec2 = boto3.client("elbv2", REGION), boto3.client("ec2", REGION)
    lbs = elbv2.describe_load_balancers()["LoadBalancers"]
    return json.dumps(
        [
            [
                elbv2.describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])["Listeners"]
                for b in lbs
            ],
            ec2.describe_launch_template_versions(LaunchTemplateName="shop-web")[
                "LaunchTemplateVersions"
            ],
        ],
        default=str,
        sort_keys=True,
    )


def _prop(resource: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in resource["properties"] if p["property"] == name]
    return found


def test_an_old_tls_policy_and_a_containers_hop_limit_are_changed_on_purpose_and_said() -> None:
    with mock_aws():
        prod = _production()
        elbv2 = boto3.client("elbv2", REGION)
        (lb,) = elbv2.describe_load_balancers(Names=["shop-lb"])["LoadBalancers"]
        (tg,) = elbv2.describe_target_groups(Names=["shop-web"])["TargetGroups"]
        cert = boto3.client("acm", REGION).request_certificate(DomainName="shop.example.com")
        https = elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            SslPolicy=OLD_POLICY,
            Certificates=[{"CertificateArn": cert["CertificateArn"]}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )["Listeners"][0]["ListenerArn"]
        version = boto3.client("ec2", REGION).create_launch_template_version(
            LaunchTemplateName="shop-web",
            SourceVersion="1",
            LaunchTemplateData={"MetadataOptions": CONTAINERS},
        )["LaunchTemplateVersion"]
        before = _state()
        result = capture(
            lambda service: boto3.client(service, REGION),
            vpc_id=prod["vpc"],
            region=REGION,
            name="shop",
            recovery_regions=["us-west-2"],
            account_id="123456789012",
            stand_in=True,
        )
        assert _state() == before, "capture changes nothing"
    found = {r["id"]: r for r in result.ledger.resources}
    listener = found[https]
    policy = _prop(listener, "SslPolicy")
    assert (policy["status"], policy["production"], policy["rebuild"]) == (
        "changed on purpose",
        OLD_POLICY,
        TLS_POLICY,
    )
    assert "clients that speak only TLS 1.0 or 1.1 cannot connect" in policy["why"]
    template = found[f"{version['LaunchTemplateId']}:{version['VersionNumber']}"]
    imds = _prop(template, "LaunchTemplateData.MetadataOptions")
    assert (imds["status"], imds["production"]) == ("changed on purpose", CONTAINERS)
    assert "HttpPutResponseHopLimit 1" in imds["rebuild"] and "container" in imds["why"]
    lines = result.text.splitlines()
    assert (
        f"  # changed on purpose: SslPolicy is {OLD_POLICY} in production; the rebuild's: "
        f"{TLS_POLICY}: the load_balancer blueprint's HTTPS listener uses {TLS_POLICY} (TLS 1.3 "
        "and 1.2 only): after a failover, clients that speak only TLS 1.0 or 1.1 cannot connect"
    ) in lines
    (said,) = [line for line in lines if "changed on purpose: MetadataOptions" in line]
    assert said.startswith(
        "  # changed on purpose: MetadataOptions is HttpTokens required, "
        "HttpPutResponseHopLimit 2, HttpEndpoint enabled in production; the rebuild's: "
        "HttpTokens required (IMDSv2), HttpPutResponseHopLimit 1"
    )


def test_production_with_the_blueprints_metadata_options_is_not_a_change() -> None:
    assert metadata_comment({"HttpTokens": "required", "HttpPutResponseHopLimit": 1}) == []
    assert (
        metadata_comment({**METADATA, "State": "applied", "InstanceMetadataTags": "disabled"}) == []
    )
    assert metadata_comment({"HttpTokens": "optional", "HttpPutResponseHopLimit": 1})
    assert "not set (EC2's defaults)" in metadata_comment(None)[0]
