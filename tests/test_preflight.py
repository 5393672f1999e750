"""Preflight: every reason a rebuild cannot start, reported together, before any change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from conftest import MINIMAL
from fakes import StubbedAws
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.environment import Zones
from relight.model.plan import Plan
from relight.steps.discovery import Artifact, Discovery, Zone, choose_zones
from relight.steps.preflight import instance_types, run_preflight
from relight.steps.render import build_plan
from test_grants import (
    ACCOUNT,
    DEFAULT_POLICY,
    ROLE,
    expect_policy_and_grants,
    key_metadata,
    recommended_policy,
)

# Route 53's control plane is in us-east-1: the DNS stack stands ready before a disaster
# (relight prepare), and a failover reads it rather than building it.
DNS = """\
  dns:
    blueprint: dns
    stands: global
    params:
      mode: cutover
      HostedZoneName: shop.example.com.
      RecordName: www.shop.example.com.
      LoadBalancerDNSName: lb.example.com
      LoadBalancerHostedZoneId: Z2O1EMRO9K5GLX
"""


ROOT = {"root_device": "/dev/xvda", "root_size_gb": "8"}


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(AwsTarget())


def _plan(write_env, key: str = "alias/shop", phase: str = "failover") -> Plan:  # type: ignore[no-untyped-def]
    """The failover (network, security, web; it reads dns), or what `relight prepare` stands
    up before a disaster (dns)."""
    text = MINIMAL.replace("mode: instances\n", f"mode: instances\n      KmsKeyId: {key}\n") + DNS
    loaded = load_environment(str(write_env(text)), "us-west-2")
    return build_plan(loaded, "us-west-2", phase=phase)


def _discovery(age: timedelta = timedelta(hours=1), missing: bool = False) -> Discovery:
    now = datetime.now(UTC)
    made = now - age
    artifacts = {
        "web_ami": Artifact("web_ami", "ami", "ami-0123", "us-west-2", made, 1, attributes=ROOT)
    }
    if not missing:
        artifacts["web_data"] = Artifact("web_data", "ebs_snapshot", "snap-1", "us-west-2", made, 1)
    return Discovery(
        region="us-west-2",
        at=now,
        artifacts=artifacts,
        missing={"web_data": "no EBS snapshot tagged Role=web-data in us-west-2"}
        if missing
        else {},
        zones=(Zone("us-west-2b", "usw2-az1"), Zone("us-west-2a", "usw2-az2")),
    )


def test_an_ami_that_reports_no_root_volume_is_a_problem_before_anything_changes(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    _ready_world()
    found = _discovery()
    ami = found.artifacts["web_ami"]
    found.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", ami.id, ami.region, ami.created, 1, attributes={}
    )
    with pytest.raises(PreflightError) as caught:
        run_preflight(_plan(write_env), aws, found, _stacks(), accept_stale=False)
    assert caught.value.problems[:2] == [
        "stacks.web.params.RootDeviceName: takes web_ami.root_device, which ami-0123 does not "
        "report (the AMI's root device name, e.g. /dev/xvda or /dev/sda1): an AMI with an EBS "
        "root device reports it; an instance-store AMI cannot be launched this way",
        "stacks.web.params.RootVolumeSize: takes web_ami.root_size_gb, which ami-0123 does not "
        "report (the size of the AMI's root volume snapshot, in GiB): an AMI with an EBS root "
        "device reports it; an instance-store AMI cannot be launched this way",
    ]


def _ready_world() -> None:
    kms = boto3.client("kms", "us-west-2")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
    boto3.client("route53").create_hosted_zone(Name="shop.example.com.", CallerReference="x")


def _stacks() -> Stacks:
    return Stacks(boto3.client("cloudformation", "us-west-2"))


def test_a_ready_region_passes(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _ready_world()
    result = run_preflight(_plan(write_env), aws, _discovery(), _stacks(), accept_stale=False)
    assert result.accepted_stale == []


def test_every_problem_is_reported_together(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    kms = boto3.client("kms", "us-west-2")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
    kms.disable_key(KeyId=key)
    cfn = boto3.client("cloudformation", "us-west-2")
    for name in ("shop-security", "shop-dns"):
        cfn.create_stack(
            StackName=name,
            TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}',
            Tags=[{"Key": "owner", "Value": "someone-else"}],
        )
    ec2 = boto3.client("ec2", "us-west-2")
    for n in range(4):  # with the default VPC, 5 of the 5 allowed
        ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")
    discovery = _discovery(age=timedelta(hours=30), missing=True)
    discovery = Discovery(
        **{**discovery.__dict__, "zone_problems": ("zones.count: 3 zones wanted",)}
    )
    with pytest.raises(PreflightError) as caught:
        run_preflight(_plan(write_env), aws, discovery, _stacks(), accept_stale=False)
    problems = caught.value.problems
    # The failover reads the standing dns stack: its zone and its name are prepare's to check.
    assert problems == [
        "artifacts.web_data: no EBS snapshot tagged Role=web-data in us-west-2",
        "artifacts.web_ami: ami-0123 holds data 30.0 h old, over the RPO of 4.0 h",
        "zones.count: 3 zones wanted",
        "stacks.web.params.KmsKeyId: KMS key alias/shop is Disabled in us-west-2, not Enabled",
        "stack shop-security exists in us-west-2 and is not relight's for shop; rename the "
        "stack in the environment file or remove the other",
        "quota VPCs per Region (vpc L-F678F1CE): 5 in use + 1 the plan adds (network) > 5 "
        "allowed in us-west-2; free some, or ask for more: aws service-quotas "
        "request-service-quota-increase --service-code vpc --quota-code L-F678F1CE "
        "--desired-value 6 --region us-west-2",
    ]
    assert caught.value.exit_code == 2
    assert "--accept-stale" in str(caught.value) and "relight replicate" in str(caught.value)


def test_before_a_disaster_prepare_reports_the_standing_stacks_problems_together(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    boto3.client("cloudformation", "us-west-2").create_stack(
        StackName="shop-dns",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}',
        Tags=[{"Key": "owner", "Value": "someone-else"}],
    )
    plan = _plan(write_env, phase="prepare")
    assert list(plan.stacks) == ["dns"], "network, security and web are built at failover"
    with pytest.raises(PreflightError) as caught:
        run_preflight(plan, aws, _discovery(), _stacks(), accept_stale=False)
    assert caught.value.problems == [
        "stacks.dns.params.HostedZoneName: no hosted zone shop.example.com.",
        "stack shop-dns exists in us-west-2 and is not relight's for shop; rename the stack "
        "in the environment file or remove the other",
    ]
    assert caught.value.exit_code == 2
    boto3.client("route53").create_hosted_zone(Name="shop.example.com.", CallerReference="x")
    boto3.client("cloudformation", "us-west-2").delete_stack(StackName="shop-dns")
    assert run_preflight(plan, aws, _discovery(), _stacks(), accept_stale=False).notes == []


def test_accept_stale_lets_old_data_through_and_marks_it(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _ready_world()
    result = run_preflight(
        _plan(write_env), aws, _discovery(age=timedelta(days=2)), _stacks(), accept_stale=True
    )
    assert sorted(a.name for a in result.accepted_stale) == ["web_ami", "web_data"]


def test_a_missing_kms_key_is_named(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _ready_world()
    with pytest.raises(PreflightError) as caught:
        run_preflight(
            _plan(write_env, key="alias/nope"), aws, _discovery(), _stacks(), accept_stale=False
        )
    assert caught.value.problems == [
        "stacks.web.params.KmsKeyId: KMS key alias/nope not usable in us-west-2 (NotFoundException)"
    ]


def test_the_plans_instance_types_are_read_from_its_templates(write_env) -> None:  # type: ignore[no-untyped-def]
    text = MINIMAL.replace("mode: instances\n", "mode: instances\n      instance_type: m7g.large\n")
    plan = build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")
    assert instance_types(plan) == ["m7g.large"]


def _offering(offered: dict[str, list[str]]) -> StubbedAws:
    """moto offers every instance type in every AZ; a Stubber shows a type missing in one."""
    aws = StubbedAws()
    stub = aws.stub("ec2", "us-west-2")
    zone_ids = ["usw2-az2", "usw2-az1", "usw2-az3", "usw2-az4"]
    stub.add_response(
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {
                    "ZoneName": f"us-west-2{letter}",
                    "ZoneId": zone_id,
                    "State": "available",
                    "ZoneType": "availability-zone",
                }
                for letter, zone_id in zip("abcd", zone_ids, strict=True)
            ]
        },
    )
    stub.add_response(
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": [
                {"InstanceType": t, "LocationType": "availability-zone-id", "Location": z}
                for z, types in offered.items()
                for t in types
            ]
        },
        {
            "LocationType": "availability-zone-id",
            "Filters": [{"Name": "instance-type", "Values": ["m7g.large", "t3.small"]}],
        },
    )
    return aws


def test_zones_that_lack_an_instance_type_are_passed_over() -> None:
    offered = {
        "usw2-az1": ["t3.small"],  # no m7g.large here
        "usw2-az2": ["t3.small", "m7g.large"],
        "usw2-az3": ["t3.small", "m7g.large"],
        "usw2-az4": ["t3.small", "m7g.large"],
    }
    zones, problems, _ = choose_zones(
        _offering(offered),
        "us-west-2",
        Zones(count=3),
        ["t3.small", "m7g.large"],  # type: ignore[arg-type]
    )
    assert problems == []
    assert [(z.id, z.name) for z in zones] == [
        ("usw2-az2", "us-west-2a"),
        ("usw2-az3", "us-west-2c"),
        ("usw2-az4", "us-west-2d"),
    ]


def test_too_few_zones_offer_the_types() -> None:
    offered = {"usw2-az1": ["t3.small"], "usw2-az2": ["t3.small", "m7g.large"]}
    _, problems, _ = choose_zones(
        _offering(offered),
        "us-west-2",
        Zones(count=2),
        ["t3.small", "m7g.large"],  # type: ignore[arg-type]
    )
    assert len(problems) == 1
    assert "2 zones wanted, us-west-2 has 1 that offer every instance type" in problems[0]
    assert "usw2-az1 lacks m7g.large" in problems[0]
    assert "usw2-az3 lacks m7g.large, t3.small" in problems[0]


def test_a_named_zone_without_the_type_is_a_problem() -> None:
    offered = {"usw2-az1": ["t3.small"], "usw2-az2": ["t3.small", "m7g.large"]}
    _, problems, _ = choose_zones(
        _offering(offered),  # type: ignore[arg-type]
        "us-west-2",
        Zones(ids={"us-west-2": ["usw2-az1", "usw2-az2"]}),
        ["t3.small", "m7g.large"],
    )
    assert problems == ["zones.ids.us-west-2: usw2-az1 does not offer m7g.large"]


# EC2 Auto Scaling and customer managed KMS keys ---------------------------------------------
# moto launches without the service-linked role and keeps no KMS grants for it: KMS and IAM are
# botocore Stubbers with AWS's response shapes (or a fake IAM that cannot be reached); every
# other preflight call goes to moto.

DATA_KEY = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"


class _Mixed:
    """An Aws whose named services answer from stubs or fakes, the others from moto."""

    def __init__(self, moto: Aws, **clients: Any) -> None:
        self.moto, self.clients = moto, clients

    def client(self, service: str, region: str, bounded: bool = False) -> Any:
        return self.clients.get(service) or self.moto.client(service, region)

    def down(self, service: str, region: str) -> str | None:
        return None  # no outage rehearsal


class _UnreachableIam:
    """IAM during a us-east-1 outage: no connection to its endpoint."""

    def get_role(self, RoleName: str) -> Any:
        raise EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")


def _asg_plan(write_env, key: str | None = "alias/shop", stand_in: bool = False) -> Plan:  # type: ignore[no-untyped-def]
    given = f"      KmsKeyId: {key}\n" if key else ""
    text = MINIMAL.replace("mode: instances\n", f"mode: asg\n{given}")
    text = text.replace("stand_in: true\n", "stand_in: true\nkms_keys: {us-west-2: alias/shop}\n")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    return build_plan(loaded, "us-west-2", stand_in=stand_in)


def _encrypted(discovery: Discovery, name: str, key: str) -> Discovery:
    art = discovery.artifacts[name]
    artifacts = {**discovery.artifacts, name: replace(art, encrypted=True, kms_key=key)}
    return replace(discovery, artifacts=artifacts)


def _stubbed(service: str) -> Stubber:
    stub = Stubber(boto3.client(service, "us-west-2"))
    stub.activate()
    return stub


class _NoIam:
    """IAM, which a failover must not call (its control plane is in us-east-1): any call fails
    the test."""

    def __getattr__(self, operation: str) -> Any:
        raise AssertionError(f"preflight called IAM {operation} at failover time")


def _prepared(role: str = ROLE) -> None:
    """relight's bucket in us-west-2 with the record `relight prepare` leaves there."""
    from relight.aws.prepared_record import AutoscalingRecord, write_autoscaling_record

    _own_bucket_made()
    record = AutoscalingRecord(role_arn=role, role="present", at="2026-12-01T00:00:00+00:00")
    write_autoscaling_record(boto3.client("s3", "us-west-2"), ACCOUNT, "us-west-2", "shop", record)


NOT_RECORDED = (
    "iam role AWSServiceRoleForAutoScaling: relight prepare has not recorded it in us-west-2; "
    "if it does not exist, EC2 Auto Scaling creates it with the first group, an IAM call whose "
    "control plane is in us-east-1: run relight prepare --env shop --region us-west-2 while "
    "every region is healthy"
)


def test_a_customer_key_the_autoscaling_role_may_not_use_is_named_with_its_stack(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    kms = _stubbed("kms")
    # Each key described once (the enabled check and this one share the answer), then each
    # customer managed key's policy and grants; IAM is never asked.
    kms.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    kms.add_response(
        "describe_key", {"KeyMetadata": key_metadata(arn=DATA_KEY)}, {"KeyId": DATA_KEY}
    )
    expect_policy_and_grants(kms, DEFAULT_POLICY)
    expect_policy_and_grants(kms, DEFAULT_POLICY, arn=DATA_KEY)
    discovery = _encrypted(_discovery(), "web_data", DATA_KEY)
    _prepared()
    with pytest.raises(PreflightError) as caught:
        run_preflight(
            _asg_plan(write_env),
            _Mixed(aws, kms=kms.client, iam=_NoIam()),
            discovery,
            _stacks(),
            accept_stale=False,
            account_id=ACCOUNT,
        )
    cannot = (
        ", so the Auto Scaling group's instances would not launch (Client.InternalError: Client "
        "error on launch); "
    )
    # The keys the file names (kms_keys, KmsKeyId) are prepare's to grant; others the operator's.
    by_prepare = (
        "run relight prepare --env shop --region us-west-2 while every region is healthy: it "
        "creates the role and the grant (or add the role to the key policy)"
    )
    by_hand = (
        f"add the role to the key policy, or grant it: aws kms create-grant --region us-west-2 "
        f"--key-id {DATA_KEY} --grantee-principal {ROLE} --operations Encrypt Decrypt "
        "ReEncryptFrom ReEncryptTo GenerateDataKey GenerateDataKeyWithoutPlaintext DescribeKey "
        "CreateGrant"
    )
    missing = "kms:CreateGrant, kms:Decrypt, kms:DescribeKey, " + (
        "kms:GenerateDataKeyWithoutPlaintext, kms:ReEncryptFrom, kms:ReEncryptTo"
    )
    assert caught.value.problems == [
        f"stacks.web.params.KmsKeyId: neither the key policy of alias/shop nor a grant lets "
        f"{ROLE} use it (missing: {missing}){cannot}{by_prepare}",
        f"stacks.web.params.DataSnapshotId (artifacts.web_data: snap-1 is encrypted with it): "
        f"neither the key policy of {DATA_KEY} nor a grant lets {ROLE} use it "
        f"(missing: {missing}){cannot}{by_hand}",
    ]
    kms.assert_no_pending_responses()


def test_a_key_whose_policy_lets_the_prepared_role_in_passes_without_asking_iam(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    kms = _stubbed("kms")
    kms.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    expect_policy_and_grants(kms, recommended_policy())
    _prepared()
    result = run_preflight(
        _asg_plan(write_env),
        _Mixed(aws, kms=kms.client, iam=_NoIam()),
        _discovery(),
        _stacks(),
        accept_stale=False,
        account_id=ACCOUNT,
    )
    assert result.notes == []
    kms.assert_no_pending_responses()


def test_the_role_is_checked_as_prepare_recorded_it(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    """A key policy naming the documented role does not let in another role prepare found."""
    other = ROLE.replace("AWSServiceRoleForAutoScaling", "AWSServiceRoleForAutoScaling_x")
    kms = _stubbed("kms")
    kms.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    expect_policy_and_grants(kms, recommended_policy(), role=other)
    _prepared(role=other)
    with pytest.raises(PreflightError) as caught:
        run_preflight(
            _asg_plan(write_env),
            _Mixed(aws, kms=kms.client, iam=_NoIam()),
            _discovery(),
            _stacks(),
            accept_stale=False,
            account_id=ACCOUNT,
        )
    assert caught.value.problems[0].startswith(
        f"stacks.web.params.KmsKeyId: neither the key policy of alias/shop nor a grant lets "
        f"{other} use it"
    )


def test_an_aws_managed_key_passes_without_its_policy_being_read(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    kms = _stubbed("kms")
    aws_ebs = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/aaaabbbb-1111-2222-3333-444455556666"
    kms.add_response(
        "describe_key",
        {"KeyMetadata": key_metadata("AWS", arn=aws_ebs)},
        {"KeyId": "alias/aws/ebs"},
    )  # nothing queued for GetKeyPolicy or ListGrants: asking would fail
    _prepared()
    result = run_preflight(
        _asg_plan(write_env, key="alias/aws/ebs"),
        _Mixed(aws, kms=kms.client, iam=_NoIam()),
        _discovery(),
        _stacks(),
        accept_stale=False,
        account_id=ACCOUNT,
    )
    assert result.notes == []
    kms.assert_no_pending_responses()


def test_a_role_prepare_never_recorded_is_a_note_naming_prepare_and_iam_is_not_asked(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    """EC2 Auto Scaling creates its service-linked role with the first group, but by IAM,
    whose control plane is in us-east-1: the fix is `relight prepare`, never `relight plan`."""
    _own_bucket_made()
    result = run_preflight(
        _asg_plan(write_env, key=None),
        _Mixed(aws, iam=_NoIam()),
        _discovery(),
        _stacks(),
        accept_stale=False,
        account_id=ACCOUNT,
    )
    assert result.notes == [NOT_RECORDED]


def test_iam_out_of_reach_blocks_nothing_as_it_is_never_asked(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    kms = _stubbed("kms")
    kms.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    # Without prepare's record the role is named from the given account and the key's
    # partition: the policy names exactly that role, so the key passes.
    expect_policy_and_grants(kms, recommended_policy())
    _own_bucket_made()
    result = run_preflight(
        _asg_plan(write_env),
        _Mixed(aws, kms=kms.client, iam=_UnreachableIam()),
        _discovery(),
        _stacks(),
        accept_stale=False,
        account_id=ACCOUNT,
    )
    assert result.notes == [NOT_RECORDED]
    kms.assert_no_pending_responses()


def test_on_the_stand_in_autoscaling_key_access_is_not_checked(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _ready_world()  # moto's key: its default policy would keep the role out
    result = run_preflight(
        _asg_plan(write_env, stand_in=True), aws, _discovery(), _stacks(), accept_stale=False
    )
    assert result.notes == [
        "stacks web: Auto Scaling's access to KMS keys not checked on the stand-in (moto "
        "launches without its service-linked role)"
    ]


DATABASE = """\
  database:
    blueprint: database
    params:
      engine: postgres
      instance_class: db.t4g.mediun
      SnapshotIdentifier: orders-final
      Port: 5432                  # a literal snapshot: its port is given, not discovered
      VpcId: {output: network.VpcId}
      SubnetIds: {output: network.PrivateSubnetIds}
      ClientSecurityGroupId: {output: security.WebSecurityGroupId}
      MonitoringRoleArn: arn:aws:iam::123456789012:role/shop-identity-rds-monitoring
"""


def test_a_db_instance_class_not_offered_is_named_with_the_close_match(write_env) -> None:  # type: ignore[no-untyped-def]
    from relight.steps.preflight.capacity import _db_classes

    text = MINIMAL.replace("stand_in: true\n", "") + DATABASE
    plan = build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")
    rds = _stubbed("rds")
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": []},
        {"Engine": "postgres", "DBInstanceClass": "db.t4g.mediun", "MaxRecords": 20},
    )
    offered = [
        {"Engine": "postgres", "DBInstanceClass": c} for c in ("db.t4g.medium", "db.r6g.large")
    ]
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": offered},
        {"Engine": "postgres"},
    )
    problems, notes = _db_classes(plan, _Mixed(None, rds=rds.client))  # type: ignore[arg-type]
    assert problems == [
        "stacks.database.params.instance_class: db.t4g.mediun is not offered for postgres in "
        "us-west-2; did you mean db.t4g.medium?"
    ]
    assert notes == []
    rds.assert_no_pending_responses()


def test_an_aurora_clusters_instances_give_one_problem_for_their_stack(write_env) -> None:  # type: ignore[no-untyped-def]
    from relight.steps.preflight.capacity import _db_classes

    aurora = DATABASE.replace("engine: postgres", "mode: aurora\n      engine: aurora-mysql")
    aurora = aurora.replace("db.t4g.mediun", "db.r6g.large\n      aurora_instances: 2")
    text = MINIMAL.replace("stand_in: true\n", "") + aurora
    plan = build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")
    body = plan.stacks["database"].body
    assert body.count('"AWS::RDS::DBInstance"') == 2, "a writer and a reader"
    rds = _stubbed("rds")
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": []},
        {"Engine": "aurora-mysql", "DBInstanceClass": "db.r6g.large", "MaxRecords": 20},
    )
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": [{"Engine": "aurora-mysql", "DBInstanceClass": "db.t3.x"}]},
        {"Engine": "aurora-mysql"},
    )
    problems, _ = _db_classes(plan, _Mixed(None, rds=rds.client))  # type: ignore[arg-type]
    assert problems == [
        "stacks.database.params.instance_class: db.r6g.large is not offered for aurora-mysql "
        "in us-west-2"
    ]


def _own_bucket_made(account: str = ACCOUNT, configured: bool = True) -> None:
    """relight's bucket in us-west-2, as replicate or prepare leaves it before a disaster
    (configured: READY_KEY written last), or as a run cut short left it."""
    from relight.aws.bucket import READY_KEY

    s3 = boto3.client("s3", "us-west-2")
    name = f"relight-templates-{account}-us-west-2"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    if configured:
        s3.put_object(Bucket=name, Key=READY_KEY, Body=b"{}")


def test_a_missing_own_bucket_is_a_note_saying_it_needs_us_east_1(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    from relight.steps.preflight.names import _own_bucket

    plan = _plan(write_env)
    said = _own_bucket(plan, aws, ACCOUNT)
    assert len(said) == 1 and "does not exist yet" in said[0] and "us-east-1" in said[0]
    assert "relight prepare --env shop --region us-west-2" in said[0]
    _own_bucket_made()
    assert _own_bucket(plan, aws, ACCOUNT) == []


def test_an_own_bucket_left_unconfigured_is_a_note_saying_it_needs_us_east_1(
    aws: Aws, write_env
) -> None:  # type: ignore[no-untyped-def]
    from relight.steps.preflight.names import _own_bucket

    _own_bucket_made(configured=False)
    (said,) = _own_bucket(_plan(write_env), aws, ACCOUNT)
    assert said.startswith(
        f"relight's bucket relight-templates-{ACCOUNT}-us-west-2 exists but was not configured "
        "by relight prepare (no relight/configured.json): this run configures it"
    )
    assert "us-east-1" in said and "relight prepare --env shop --region us-west-2" in said
