"""An outage rehearsal: a region switched off for every client relight builds.

The clients run under moto (or against a port nobody listens on, to show that a refused call
never reaches any endpoint); what they refuse is what the region, or a global service's control
plane homed there, would have refused.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from relight.aws.clients import Aws, AwsTarget
from relight.aws.failures import aws_failure, unreachable
from relight.aws.outage import Outage, Refused, refusal, s3_location
from relight.errors import AwsError

ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}}


def template(**resources: Any) -> str:
    return json.dumps({"Resources": resources})


@pytest.fixture(autouse=True)
def _probes_are_not_relights_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests call operations relight never makes (IAM's ListRoles, Cost Explorer, bucket
    encryption reads) to show what an outage refuses: not relight's calls, so not written to
    the call log the suite checks against relight's table (tests/conftest.py)."""
    monkeypatch.delenv("RELIGHT_CALL_LOG", raising=False)


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def east_down(moto: None) -> tuple[Aws, Outage]:
    outage = Outage("us-east-1")
    return Aws(AwsTarget()).under_outage(outage), outage


def refused_by(call: Any, *args: Any, **kwargs: Any) -> Refused:
    """The outage's refusal of `call`; fails the test when the call is not refused so."""
    with pytest.raises(EndpointConnectionError) as caught:
        call(*args, **kwargs)
    found = refusal(caught.value)
    assert found is not None, f"refused by something else than the outage: {caught.value}"
    return found


# the decision ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outage", "service", "region", "action", "params", "why"),
    [
        ("us-east-1", "ec2", "us-east-1", "DescribeVpcs", {}, "us-east-1 is switched off"),
        ("us-east-1", "ec2", "us-west-2", "DescribeVpcs", {}, None),
        ("us-east-1", "iam", "aws-global", "ListRoles", {}, "IAM's control plane is in us-east-1"),
        ("us-east-1", "route53", "us-west-2", "ChangeResourceRecordSets", {}, "Route 53's"),
        ("us-east-1", "organizations", "aws-global", "ListAccounts", {}, "Organizations"),
        ("us-east-1", "account", "aws-global", "ListRegions", {}, "Account Management"),
        ("us-east-1", "cloudfront", "aws-global", "ListDistributions", {}, "CloudFront's"),
        ("us-east-1", "sts", "aws-global", "GetCallerIdentity", {}, "the global STS endpoint"),
        ("us-east-1", "sts", "us-west-2", "AssumeRole", {}, None),
        ("us-east-1", "globalaccelerator", "us-east-1", "ListAccelerators", {}, None),
        ("us-west-2", "globalaccelerator", "us-east-1", "UpdateAccelerator", {}, "in us-west-2"),
        ("us-west-2", "route53-recovery-control-config", "us-east-1", "ListClusters", {}, "ARC"),
        ("us-west-2", "iam", "aws-global", "CreateRole", {}, None),
        ("us-west-2", "sts", "aws-global", "GetCallerIdentity", {}, None),
        ("us-east-1", "s3", "us-west-2", "PutBucketEncryption", {}, "depends on us-east-1"),
        ("us-east-1", "s3", "eu-west-1", "PutPublicAccessBlock", {}, "depends on us-east-1"),
        ("us-east-1", "s3", "us-west-2", "CreateBucket", {}, "depends on us-east-1"),
        ("us-east-1", "s3", "us-west-2", "PutObject", {}, None),
        ("us-east-1", "s3", "us-west-2", "GetBucketEncryption", {}, None),
        ("us-west-2", "s3", "eu-west-1", "PutBucketPolicy", {}, None),
        (
            "us-west-2",
            "s3",
            "us-east-1",
            "CreateBucket",
            {"CreateBucketConfiguration": {"LocationConstraint": "us-west-2"}},
            "the bucket would be created in us-west-2",
        ),
    ],
)
def test_what_a_switched_off_region_refuses(
    outage: str, service: str, region: str, action: str, params: dict[str, Any], why: str | None
) -> None:
    said = Outage(outage).why_refused(service, region, action, params)
    if why is None:
        assert said is None
    else:
        assert said is not None and why in said and said.endswith("switched off")


def test_a_template_is_refused_for_each_resource_whose_control_plane_is_switched_off() -> None:
    outage = Outage("us-east-1")
    body = template(Vpc=VPC, InstanceRole=ROLE, Record={"Type": "AWS::Route53::RecordSet"})
    said = outage.why_refused("cloudformation", "us-west-2", "CreateStack", {"TemplateBody": body})
    assert said == (
        "would create InstanceRole (AWS::IAM::Role, IAM), Record (AWS::Route53::RecordSet, "
        "Route 53): control plane in us-east-1, which is switched off"
    )
    assert "would create or update InstanceRole" in str(
        outage.why_refused("cloudformation", "us-west-2", "UpdateStack", {"TemplateBody": body})
    )
    west_down = Outage("us-west-2")
    changes = {"TemplateBody": body}
    assert west_down.why_refused("cloudformation", "eu-west-1", "CreateChangeSet", changes) is None
    previous = {"UsePreviousTemplate": True}
    assert outage.why_refused("cloudformation", "us-west-2", "UpdateStack", previous) is None
    execute = {"ChangeSetName": "x"}
    assert outage.why_refused("cloudformation", "us-west-2", "ExecuteChangeSet", execute) is None


def test_a_yaml_template_with_short_form_tags_is_inspected_too() -> None:
    body = (
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      RoleName: !Sub '${AWS::StackName}-role'\n"
        "      Tags: [!Ref Name]\n"
    )
    said = Outage("us-east-1").why_refused(
        "cloudformation", "us-west-2", "CreateStack", {"TemplateBody": body}
    )
    assert said is not None and "Role (AWS::IAM::Role, IAM)" in said


def test_a_template_url_that_cannot_be_read_is_noted_not_refused() -> None:
    outage = Outage("us-east-1")

    def broken(url: str) -> str:
        raise OSError("no such object")

    url = "https://s3.us-west-2.amazonaws.com/b/t.json"
    params = {"TemplateURL": url}
    assert outage.why_refused("cloudformation", "us-west-2", "CreateStack", params) is None
    assert (
        outage.why_refused("cloudformation", "us-west-2", "CreateStack", params, fetch=broken)
        is None
    )
    assert outage.notes == [
        f"CreateStack: the template at {url} was not inspected (nothing to read it with)",
        f"CreateStack: the template at {url} could not be read, not inspected (no such object)",
    ]
    assert outage.passed
    assert outage.summary() == "\n".join(
        ["passed with us-east-1 down: no call refused"] + [f"  note: {n}" for n in outage.notes]
    )


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://s3.us-west-2.amazonaws.com/tpl/templates/a.json", ("tpl", "templates/a.json")),
        ("https://tpl.s3.us-west-2.amazonaws.com/templates/a.json", ("tpl", "templates/a.json")),
        ("https://tpl.s3-us-west-2.amazonaws.com/t%20a.json", ("tpl", "t a.json")),
        ("https://tpl.s3.amazonaws.com/a.json", ("tpl", "a.json")),
        ("http://127.0.0.1:5000/tpl/templates/a.json", ("tpl", "templates/a.json")),
    ],
)
def test_a_template_url_names_its_bucket_and_key(url: str, location: tuple[str, str]) -> None:
    assert s3_location(url) == location


# the clients of an Aws under an outage ---------------------------------------------------------


def test_a_switched_off_region_refuses_what_another_region_answers(
    east_down: tuple[Aws, Outage],
) -> None:
    aws, outage = east_down
    assert aws.client("ec2", "us-west-2").describe_vpcs()["Vpcs"]
    east = aws.client("ec2", "us-east-1")
    refused = refused_by(east.describe_vpcs)
    assert refused == Refused("ec2", "DescribeVpcs", "us-east-1", "us-east-1 is switched off")
    assert outage.refused == [refused]
    assert aws.calls == {"ec2": 1}, "the refused call sent no request"


def test_global_control_planes_homed_in_the_region_refuse_whatever_region_the_client_names(
    east_down: tuple[Aws, Outage],
) -> None:
    aws, outage = east_down
    iam = refused_by(aws.client("iam", "us-west-2").list_roles)
    why = "IAM's control plane is in us-east-1, which is switched off"
    assert iam == Refused("iam", "ListRoles", "us-east-1", why)
    route53 = refused_by(aws.client("route53", "us-west-2").list_hosted_zones)
    assert (route53.service, route53.action, route53.region) == (
        "route53",
        "ListHostedZones",
        "us-east-1",
    )
    assert "Route 53's control plane is in us-east-1" in route53.why
    assert aws.client("sts", "us-west-2").get_caller_identity()["Account"] == "123456789012"
    global_sts = refused_by(aws.client("sts", "aws-global").get_caller_identity)
    assert global_sts.region == "us-east-1" and "global STS endpoint" in global_sts.why
    assert [r.service for r in outage.refused] == ["iam", "route53", "sts"]
    assert aws.calls == {"sts": 1}, "only regional STS in us-west-2 was asked"


def test_bucket_configuration_needs_us_east_1_but_objects_do_not(moto: None) -> None:
    healthy = Aws(AwsTarget())
    s3 = healthy.client("s3", "us-west-2")
    s3.create_bucket(
        Bucket="relight-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    outage = Outage("us-east-1")
    west = healthy.under_outage(outage).client("s3", "us-west-2")

    refused = refused_by(
        west.put_bucket_encryption,
        Bucket="relight-data",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert (refused.service, refused.action, refused.region) == (
        "s3",
        "PutBucketEncryption",
        "us-west-2",
    )
    assert "depends on us-east-1" in refused.why
    west.put_object(Bucket="relight-data", Key="k", Body=b"v")
    assert west.get_object(Bucket="relight-data", Key="k")["Body"].read() == b"v"
    with pytest.raises(Exception, match="ServerSideEncryptionConfigurationNotFoundError"):
        s3.get_bucket_encryption(Bucket="relight-data")  # moto: nothing was configured


def test_with_us_west_2_down_global_accelerator_refuses_and_iam_answers(moto: None) -> None:
    outage = Outage("us-west-2")
    aws = Aws(AwsTarget()).under_outage(outage)
    refused = refused_by(aws.client("globalaccelerator", "us-east-1").list_accelerators)
    assert refused == Refused(
        "globalaccelerator",
        "ListAccelerators",
        "us-west-2",
        "Global Accelerator's control plane is in us-west-2, which is switched off",
    )
    assert aws.client("iam", "us-east-1").list_roles()["Roles"] == []


def test_a_request_signed_for_the_region_is_refused_even_from_a_service_no_list_names(
    east_down: tuple[Aws, Outage],
) -> None:
    """Cost Explorer has one endpoint, in us-east-1: botocore signs its requests for it."""
    aws, _ = east_down
    refused = refused_by(aws.client("ce", "us-west-2").get_cost_and_usage_with_resources,
                         TimePeriod={"Start": "2024-01-01", "End": "2024-01-02"},
                         Granularity="DAILY", Filter={})  # fmt: skip
    assert refused == Refused(
        "ce",
        "GetCostAndUsageWithResources",
        "us-east-1",
        "the request is signed for us-east-1, which is switched off",
    )
    assert aws.total_calls == 0


def test_a_refused_call_reaches_no_endpoint_and_is_told_from_a_dead_one() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    nobody = f"http://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    outage = Outage("us-east-1")
    aws = Aws(AwsTarget(endpoint_url=nobody, max_attempts=2), outage)

    east = aws.client("ec2", "us-east-1")
    with pytest.raises(EndpointConnectionError) as caught:
        east.describe_vpcs()
    assert refusal(caught.value) is not None
    assert str(caught.value) == (
        f'Could not connect to the endpoint URL: "{nobody}" (outage rehearsal: us-east-1 is '
        "switched off)"
    )
    assert aws.total_calls == 0, "no attempt, no retry: nothing was sent"
    assert unreachable(caught.value), "relight reads it as a region that does not answer"
    said = aws_failure(caught.value, "cannot list VPCs in us-east-1", east)
    assert said.message.startswith(f"cannot list VPCs in us-east-1: DescribeVpcs at {nobody}")
    assert "outage rehearsal: us-east-1 is switched off" in said.message

    with pytest.raises(EndpointConnectionError) as dead:
        aws.client("ec2", "us-west-2").describe_vpcs()
    assert refusal(dead.value) is None, "an endpoint that is really down is no refusal"
    assert aws.calls == {"ec2": 3}, "the live region's call was sent, and retried"
    assert len(outage.refused) == 1


def test_the_role_is_assumed_through_the_outage_too(moto: None) -> None:
    role = "arn:aws:iam::210987654321:role/relight-recovery"
    home = Aws(AwsTarget(role_arn=role, sts_region="us-east-1"), Outage("us-east-1"))
    with pytest.raises(AwsError) as caught:
        home.account_id("us-west-2")
    assert caught.value.message.startswith(f"cannot assume role {role}: STS in us-east-1")
    assert "outage rehearsal" in caught.value.message

    outage = Outage("us-east-1")
    away = Aws(AwsTarget(role_arn=role, sts_region="us-west-2"), outage)
    assert away.account_id("us-west-2") == "210987654321"
    assert outage.passed


def test_the_assumed_roles_sts_stays_regional_where_the_operator_configured_legacy(
    moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account check after --role-arn goes through the assumed role's own session: legacy
    endpoints there would send it to the global STS endpoint, homed in us-east-1."""
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
    role = "arn:aws:iam::210987654321:role/relight-recovery"
    outage = Outage("us-east-1")
    away = Aws(AwsTarget(role_arn=role, sts_region="us-west-2"), outage)
    assert away.account_id("us-west-2") == "210987654321"
    assert (
        away.client("sts", "us-west-2").meta.endpoint_url == "https://sts.us-west-2.amazonaws.com"
    )
    assert outage.passed, outage.summary()


def test_under_outage_keeps_the_target_and_builds_its_own_clients(moto: None) -> None:
    healthy = Aws(AwsTarget(max_attempts=4))
    outage = Outage("us-east-1")
    rehearsing = healthy.under_outage(outage)
    assert rehearsing.target is healthy.target and rehearsing.outage is outage
    assert rehearsing.client("ec2", "us-east-1") is not healthy.client("ec2", "us-east-1")
    assert healthy.client("ec2", "us-east-1").describe_vpcs()["Vpcs"], "the original is healthy"
    bounded = rehearsing.client("ec2", "us-east-1", bounded=True)
    refused_by(bounded.describe_vpcs)
    assert len(outage.refused) == 1


def test_every_attempt_is_recorded_from_every_thread_and_summarised_once(
    east_down: tuple[Aws, Outage],
) -> None:
    aws, outage = east_down
    iam = aws.client("iam", "us-west-2")

    def attempt() -> None:
        with pytest.raises(EndpointConnectionError):
            iam.list_roles()

    workers = [threading.Thread(target=attempt) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    refused_by(aws.client("ec2", "us-east-1").describe_vpcs)

    assert len(outage.refused) == 9 and not outage.passed
    assert outage.summary() == (
        "failed with us-east-1 down: 9 calls refused\n"
        "  iam ListRoles in us-east-1: IAM's control plane is in us-east-1, which is switched off"
        " (8 attempts)\n"
        "  ec2 DescribeVpcs in us-east-1: us-east-1 is switched off"
    )


# CloudFormation: what a stack would create ------------------------------------------------------


def test_a_stack_holding_an_iam_role_is_refused_where_it_is_sent(
    east_down: tuple[Aws, Outage],
) -> None:
    aws, outage = east_down
    cfn = aws.client("cloudformation", "us-west-2")
    refused = refused_by(
        cfn.create_stack, StackName="web", TemplateBody=template(Vpc=VPC, InstanceRole=ROLE)
    )
    assert (refused.service, refused.action, refused.region) == (
        "cloudformation",
        "CreateStack",
        "us-west-2",
    )
    assert "InstanceRole (AWS::IAM::Role, IAM)" in refused.why and "Vpc" not in refused.why
    assert cfn.describe_stacks()["Stacks"] == [], "moto created nothing"

    cfn.create_stack(StackName="network", TemplateBody=template(Vpc=VPC))
    assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["network"]
    assert len(outage.refused) == 1


def test_a_template_at_a_url_and_its_nested_stacks_are_read_from_s3_in_the_stacks_region(
    moto: None,
) -> None:
    healthy = Aws(AwsTarget())
    s3 = healthy.client("s3", "us-west-2")
    s3.create_bucket(Bucket="tpl", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    base = "https://s3.us-west-2.amazonaws.com/tpl"
    child = {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": f"{base}/role.json"},
    }
    s3.put_object(Bucket="tpl", Key="role.json", Body=template(Role=ROLE).encode())
    s3.put_object(Bucket="tpl", Key="parent.json", Body=template(Child=child).encode())
    s3.put_object(Bucket="tpl", Key="vpc.json", Body=template(Vpc=VPC).encode())

    outage = Outage("us-east-1")
    aws = healthy.under_outage(outage)
    cfn = aws.client("cloudformation", "us-west-2")
    direct = refused_by(cfn.create_stack, StackName="a", TemplateURL=f"{base}/role.json")
    assert "Role (AWS::IAM::Role, IAM)" in direct.why
    nested = refused_by(cfn.create_change_set, StackName="b", ChangeSetName="c",
                        ChangeSetType="CREATE", TemplateURL=f"{base}/parent.json")  # fmt: skip
    assert "Child/Role (AWS::IAM::Role, IAM)" in nested.why
    cfn.create_stack(StackName="network", TemplateURL=f"{base}/vpc.json")
    assert aws.calls["s3"] == 4, "each template read once from S3 in us-west-2 (GetObject)"
    assert outage.notes == []
