"""Quotas: what is in use in the target region plus what the plan adds, against the value the
region applies (Service Quotas), before anything changes (docs/aws-behaviours.md, Q1-Q6).

moto plays EC2, ELB, RDS and CloudFormation usage; its Service Quotas knows only the vpc service,
so Service Quotas is a fake here that answers as AWS documents (Q1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conftest import MINIMAL
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.aws.quotas import QUOTAS, QuotaBook, dedicated_host_only, vcpu_quota
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.plan import Plan, StackPlan
from relight.steps.discovery import Zone
from relight.steps.preflight import run_preflight
from relight.steps.preflight.quotas import quota_problems
from relight.steps.render import build_plan
from test_preflight import _discovery, _ready_world

REGION = "us-west-2"
STANDARD = QUOTAS["vcpus_standard"]


class FakeServiceQuotas:
    """Service Quotas as AWS documents it (Q1): GetServiceQuota answers the applied value of a
    quota, and NoSuchResourceException for a quota with no applied value, whose value is then
    its default (GetAWSDefaultServiceQuota). `refuse` makes every call answer that error."""

    def __init__(
        self,
        applied: dict[str, float] | None = None,
        defaults: dict[str, float] | None = None,
        refuse: str | None = None,
    ) -> None:
        self.applied, self.defaults, self.refuse = applied or {}, defaults or {}, refuse
        self.asked: list[tuple[str, str]] = []

    def _answer(self, operation: str, values: dict[str, float], code: str) -> dict[str, Any]:
        self.asked.append((operation, code))
        if self.refuse:
            raise ClientError({"Error": {"Code": self.refuse, "Message": "no"}}, operation)
        if code not in values:
            error = {"Code": "NoSuchResourceException", "Message": "The quota does not exist."}
            raise ClientError({"Error": error}, operation)
        return {"Quota": {"QuotaCode": code, "Value": values[code]}}

    def get_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict[str, Any]:
        return self._answer("GetServiceQuota", self.applied, QuotaCode)

    def get_aws_default_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict[str, Any]:
        return self._answer("GetAWSDefaultServiceQuota", self.defaults, QuotaCode)


class QuotaAws:
    """moto for every service but Service Quotas, which is the fake."""

    def __init__(self, quotas: FakeServiceQuotas) -> None:
        self.inner, self.quotas = Aws(AwsTarget()), quotas

    def client(self, service: str, region: str, *, bounded: bool = False) -> Any:
        return self.quotas if service == "service-quotas" else self.inner.client(service, region)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        yield


FLEET = """\
  fleet:
    blueprint: compute
    params:
      mode: asg
      instance_type: m5.xlarge
      min_size: 3
      max_size: 6
      az_count: 2
      ImageId: {artifact: web_ami}
      DataSnapshotId: {artifact: web_data}
      SubnetIds: {output: network.PrivateSubnetIds}
      SecurityGroupId: {output: security.WebSecurityGroupId}
      InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/shop-web
"""


def _plan(write_env, text: str = MINIMAL + FLEET, purpose: str = "failover") -> Plan:  # type: ignore[no-untyped-def]
    loaded = load_environment(str(write_env(text)), REGION)
    if purpose == "drill":
        return build_plan(loaded, REGION, purpose="drill", namespace="d1")
    return build_plan(loaded, REGION)


def _run_instances(kind: str, count: int, stack: str | None = None) -> None:
    ec2 = boto3.client("ec2", REGION)
    image = ec2.register_image(Name=f"img-{kind}-{count}", RootDeviceName="/dev/xvda")["ImageId"]
    tags = [{"Key": "aws:cloudformation:stack-name", "Value": stack}] if stack else []
    spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
    ec2.run_instances(
        ImageId=image, InstanceType=kind, MinCount=count, MaxCount=count, TagSpecifications=spec
    )


def test_instance_types_count_against_their_family_classes_vcpu_quota() -> None:
    assert vcpu_quota("m5.large") == vcpu_quota("t3.micro") == vcpu_quota("im4gn.large")
    assert QUOTAS[vcpu_quota("m5.large") or ""].code == "L-1216C47A"
    assert QUOTAS[vcpu_quota("g4dn.xlarge") or ""].code == "L-DB2E81BA"
    assert QUOTAS[vcpu_quota("vt1.3xlarge") or ""].code == "L-DB2E81BA"
    assert QUOTAS[vcpu_quota("p4d.24xlarge") or ""].code == "L-417A185B"
    assert QUOTAS[vcpu_quota("inf2.xlarge") or ""].code == "L-1945791B"
    assert QUOTAS[vcpu_quota("trn1.2xlarge") or ""].code == "L-2C3B7624"
    assert QUOTAS[vcpu_quota("x2gd.large") or ""].code == "L-7295265B"
    assert QUOTAS[vcpu_quota("u-6tb1.metal") or ""].code == "L-43DA4232"
    assert vcpu_quota("q9.large") is None


def test_mac_instances_count_against_no_on_demand_vcpu_quota() -> None:
    # mac1/mac2 run only on Dedicated Hosts: not the standard class that "m" would give
    assert vcpu_quota("mac2.metal") is None
    assert vcpu_quota("mac1.metal") is None
    assert vcpu_quota("mac2-m2pro.metal") is None
    assert dedicated_host_only("mac2.metal") and not dedicated_host_only("m5.large")
    assert QUOTAS[vcpu_quota("m7g.large") or ""].code == "L-1216C47A"


def test_a_fleet_over_the_vcpu_quota_is_refused_naming_the_quota_and_the_request(  # type: ignore[no-untyped-def]
    moto: None, write_env
) -> None:
    _ready_world()
    _run_instances("m5.large", 2)  # 4 vCPUs of the standard class in use
    quotas = FakeServiceQuotas(applied={STANDARD.code: 12})
    plan = _plan(write_env)
    with pytest.raises(PreflightError) as caught:
        run_preflight(plan, QuotaAws(quotas), _discovery(), Stacks(_cfn()), accept_stale=False)
    # web: 2 t3.micro (2 vCPUs each), fleet: 3 m5.xlarge (4 each): 16 more
    assert caught.value.problems == [
        f"quota {STANDARD.name} (vCPUs) (ec2 L-1216C47A): 4 in use + 16 the plan adds "
        "(fleet: 3 x m5.xlarge, web: 2 x t3.micro) > 12 allowed in us-west-2; free some, or ask "
        "for more: aws service-quotas request-service-quota-increase --service-code ec2 "
        "--quota-code L-1216C47A --desired-value 20 --region us-west-2"
    ]
    assert caught.value.exit_code == 2
    assert _cfn().describe_stacks()["Stacks"] == [], "nothing was changed"
    assert ("GetServiceQuota", STANDARD.code) in quotas.asked


def test_the_default_is_the_quota_where_none_is_applied(moto: None, write_env) -> None:  # type: ignore[no-untyped-def]
    _ready_world()
    quotas = FakeServiceQuotas(defaults={STANDARD.code: 5})  # a new account's
    with pytest.raises(PreflightError) as caught:
        run_preflight(
            _plan(write_env), QuotaAws(quotas), _discovery(), Stacks(_cfn()), accept_stale=False
        )
    assert [p.split(":")[0] for p in caught.value.problems] == [
        f"quota {STANDARD.name} (vCPUs) (ec2 L-1216C47A)"
    ]
    assert "0 in use + 16 the plan adds" in caught.value.problems[0]
    assert [asked for asked in quotas.asked if asked[1] == STANDARD.code] == [
        ("GetServiceQuota", STANDARD.code),
        ("GetAWSDefaultServiceQuota", STANDARD.code),
    ]
    quotas = FakeServiceQuotas(applied={STANDARD.code: 28})  # an increase granted: it fits
    result = run_preflight(
        _plan(write_env), QuotaAws(quotas), _discovery(), Stacks(_cfn()), accept_stale=False
    )
    assert not [n for n in result.notes if STANDARD.name in n]


def test_without_service_quotas_the_documented_default_is_used_and_said(
    moto: None, write_env
) -> None:  # type: ignore[no-untyped-def]
    ec2 = boto3.client("ec2", REGION)
    for n in range(4):  # with the default VPC: 5, AWS's documented default
        ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")
    quotas = FakeServiceQuotas(refuse="AccessDeniedException")
    plan = _plan(write_env)
    problems, notes = quota_problems(plan, QuotaAws(quotas), [], _discovery().zones)
    assert problems == [
        "quota VPCs per Region (vpc L-F678F1CE): 5 in use + 1 the plan adds (network) > 5 "
        "allowed in us-west-2; free some, or ask for more: aws service-quotas "
        "request-service-quota-increase --service-code vpc --quota-code L-F678F1CE "
        "--desired-value 6 --region us-west-2"
    ]
    assert notes == [
        "Service Quotas gave no value in us-west-2 (AccessDeniedException): compared with "
        "AWS's documented defaults, so an increase granted to the account is not seen: Stack "
        "count (cloudformation L-0485CB21, 2000), VPCs per Region (vpc L-F678F1CE, 5)",
        "Service Quotas gave no value in us-west-2 (AccessDeniedException): not checked, as "
        f"AWS sets them per account: {STANDARD.name} (ec2 L-1216C47A)",
    ]
    assert len(quotas.asked) == 1, "a refused Service Quotas is asked once per run"
    assert QuotaBook(quotas, REGION).notes == [], "nothing read, nothing to say"


def test_a_rerun_adds_only_what_its_stacks_do_not_run_yet(moto: None, write_env) -> None:  # type: ignore[no-untyped-def]
    plan = _plan(write_env)
    _run_instances("m5.xlarge", 3, stack=plan.stacks["fleet"].name)  # the fleet stands
    _run_instances("t3.micro", 1, stack=plan.stacks["web"].name)  # one of web's two
    existing = [{"StackName": sp.name} for sp in plan.stacks.values()]
    quotas = FakeServiceQuotas(applied={STANDARD.code: 16})  # 12 + 2 in use; 1 more fits
    assert quota_problems(plan, QuotaAws(quotas), existing, ())[0] == []
    quotas = FakeServiceQuotas(applied={STANDARD.code: 15})
    problems, _ = quota_problems(plan, QuotaAws(quotas), existing, ())
    assert problems[0].startswith(
        f"quota {STANDARD.name} (vCPUs) (ec2 L-1216C47A): 14 in use + 2 the plan adds "
        "(web: 1 x t3.micro) > 15 allowed"
    )


def test_nat_gateways_count_per_zone(moto: None, write_env) -> None:  # type: ignore[no-untyped-def]
    ec2 = boto3.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24", AvailabilityZone="us-west-2a")
    for _ in range(5):  # us-west-2a is full; us-west-2b is empty
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnet["Subnet"]["SubnetId"], AllocationId=eip)
    text = MINIMAL.replace("nat: none", "nat: per-az")
    quotas = FakeServiceQuotas(defaults={QUOTAS["nat_gateways"].code: 5, "L-0263D0A3": 50})
    zones = (Zone("us-west-2b", "usw2-az1"), Zone("us-west-2a", "usw2-az2"))
    problems, _ = quota_problems(_plan(write_env, text), QuotaAws(quotas), [], zones)
    assert problems == [
        "quota NAT gateways per Availability Zone in us-west-2a (vpc L-FE5A380F): 5 in use + 1 "
        "the plan adds > 5 allowed in us-west-2; free some, or ask for more: aws service-quotas "
        "request-service-quota-increase --service-code vpc --quota-code L-FE5A380F "
        "--desired-value 6 --region us-west-2"
    ]


def test_new_stacks_count_against_the_stack_quota(moto: None, write_env) -> None:  # type: ignore[no-untyped-def]
    plan = _plan(write_env)
    quotas = FakeServiceQuotas(applied={QUOTAS["stacks"].code: 3, STANDARD.code: 100})
    existing = [{"StackName": f"other-{n}"} for n in range(2)]
    problems, _ = quota_problems(plan, QuotaAws(quotas), existing, ())
    assert problems == [
        "quota Stack count (cloudformation L-0485CB21): 2 in use + 4 the plan adds (fleet, "
        "network, security, web) > 3 allowed in us-west-2; free some, or ask for more: aws "
        "service-quotas request-service-quota-increase --service-code cloudformation "
        "--quota-code L-0485CB21 --desired-value 6 --region us-west-2"
    ]


def _cfn() -> Any:
    return boto3.client("cloudformation", REGION)


def _with_stack(plan: Plan, key: str, resources: dict[str, Any]) -> Plan:
    """The plan with one more stack whose template holds `resources` (hand-written, as a
    blueprint of the user's would render them)."""
    body = json.dumps({"Resources": resources})
    added = StackPlan(key, f"shop-{key}", "custom", body, {}, (), (), len(resources))
    return replace(plan, stacks={**plan.stacks, key: added})


DATA = {
    "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": "db.t3.micro"}},
    "Member": {  # in a cluster: its cluster leaves a cluster snapshot, not this
        "Type": "AWS::RDS::DBInstance",
        "Properties": {"DBClusterIdentifier": {"Ref": "Cluster"}},
    },
    "Scratch": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Delete", "Properties": {}},
    "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {}},
    "Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": "network"}},
}


def test_load_balancers_db_instances_and_a_drills_final_snapshots_are_counted(  # type: ignore[no-untyped-def]
    moto: None, write_env
) -> None:
    rds = boto3.client("rds", REGION)
    rds.create_db_instance(
        DBInstanceIdentifier="prod", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20,
    )  # fmt: skip
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="kept")
    tight = {
        QUOTAS["albs"].code: 0, QUOTAS["nlbs"].code: 1, QUOTAS["db_instances"].code: 3,
        QUOTAS["manual_snapshots"].code: 1, STANDARD.code: 100,
    }  # fmt: skip
    quotas = FakeServiceQuotas(applied=tight)
    drill = _with_stack(_plan(write_env, purpose="drill"), "data", DATA)
    problems, _ = quota_problems(drill, QuotaAws(quotas), [], ())
    assert [p.partition(" allowed")[0] for p in problems] == [
        "quota Application Load Balancers per Region (elasticloadbalancing L-53DA6B97): 0 in use "
        "+ 1 the plan adds (data) > 0",
        "quota DB instances (rds L-7B6409FD): 1 in use + 3 the plan adds (data) > 3",
        # the drill's teardown leaves one final snapshot (Db's): 1 kept + 1 > 1
        "quota Manual DB instance snapshots (rds L-272F1212): 1 in use + 1 the plan adds (data) "
        "> 1",
    ]
    failover = _with_stack(_plan(write_env), "data", DATA)
    problems, _ = quota_problems(failover, QuotaAws(quotas), [], ())
    assert "Manual DB instance snapshots" not in " ".join(problems), "a failover is not torn down"


def test_a_drills_aurora_final_cluster_snapshot_counts_against_the_cluster_snapshot_quota(  # type: ignore[no-untyped-def]
    moto: None, write_env
) -> None:
    """An Aurora cluster's teardown leaves a manual DB cluster snapshot (DeletionPolicy
    Snapshot, the default), counted against "Manual DB cluster snapshots" (Q10), not Q7."""
    rds = boto3.client("rds", REGION)
    rds.create_db_cluster(
        DBClusterIdentifier="prod", Engine="aurora-postgresql", MasterUsername="u",
        MasterUserPassword="password1",
    )  # fmt: skip
    rds.create_db_cluster_snapshot(DBClusterIdentifier="prod", DBClusterSnapshotIdentifier="kept")
    cluster = {
        "Cluster": {"Type": "AWS::RDS::DBCluster", "Properties": {"Engine": "aurora-postgresql"}},
        "Scratch": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Delete", "Properties": {}},
    }
    tight = {QUOTAS["manual_cluster_snapshots"].code: 1, STANDARD.code: 100}
    quotas = FakeServiceQuotas(applied=tight)
    drill = _with_stack(_plan(write_env, purpose="drill"), "aurora", cluster)
    problems, _ = quota_problems(drill, QuotaAws(quotas), [], ())
    assert problems == [
        "quota Manual DB cluster snapshots (rds L-9B510759): 1 in use + 1 the plan adds (aurora) "
        "> 1 allowed in us-west-2; free some, or ask for more: aws service-quotas "
        "request-service-quota-increase --service-code rds --quota-code L-9B510759 "
        "--desired-value 2 --region us-west-2"
    ]
    failover = _with_stack(_plan(write_env), "aurora", cluster)
    problems, _ = quota_problems(failover, QuotaAws(quotas), [], ())
    assert problems == [], "a failover is not torn down"


def test_the_stand_in_answers_service_quotas_defaults_and_rds_account_quotas(moto: None) -> None:
    """moto alone has no GetAWSDefaultServiceQuota nor RDS DescribeAccountAttributes (an HTTP
    500 on the server); relight.standin.extensions.quotas answers them (conftest installs it)."""
    sq = boto3.client("service-quotas", REGION)
    assert (
        sq.get_aws_default_service_quota(ServiceCode="rds", QuotaCode="L-272F1212")["Quota"][
            "Value"
        ]
        == 100
    )
    assert (
        sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=STANDARD.code)["Quota"][
            "Value"
        ]
        == 256
    ), "the stand-in account's own vCPU quota"
    with pytest.raises(ClientError) as caught:
        sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-00000000")
    assert caught.value.response["Error"]["Code"] == "NoSuchResourceException"
    rds = boto3.client("rds", REGION)
    rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20,
    )  # fmt: skip
    rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-1")
    quotas = {q["AccountQuotaName"]: q for q in rds.describe_account_attributes()["AccountQuotas"]}
    assert (quotas["DBInstances"]["Used"], quotas["DBInstances"]["Max"]) == (1, 40)
    assert (quotas["ManualSnapshots"]["Used"], quotas["ManualSnapshots"]["Max"]) == (1, 100)


def test_on_the_stand_in_a_quota_increase_is_approved_at_once_for_that_account_and_region(
    moto: None,
) -> None:
    """An estate with more environments in one account than five VPCs raises the quota
    beforehand, as on AWS; the stand-in approves it at once (bench/estate.py relies on it)."""
    sq = boto3.client("service-quotas", REGION)
    assert sq.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 5
    asked = sq.request_service_quota_increase(
        ServiceCode="vpc", QuotaCode="L-F678F1CE", DesiredValue=20
    )
    assert asked["RequestedQuota"]["Status"] == "APPROVED"
    assert sq.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 20
    elsewhere = boto3.client("service-quotas", "eu-west-1")
    assert (
        elsewhere.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"]
        == 5
    ), "raised in one region only"


def test_readiness_reports_a_quota_shortfall_as_an_error_with_the_request(  # type: ignore[no-untyped-def]
    moto: None, write_env
) -> None:
    from relight.commands.connection import Connection
    from relight.commands.readiness import ERROR, _preflight

    _ready_world()
    conn = Connection(QuotaAws(FakeServiceQuotas(applied={STANDARD.code: 8})), REGION, "1" * 12)  # type: ignore[arg-type]
    found = _preflight(
        _plan(write_env), conn, _discovery(), Stacks(_cfn()), "relight plan", "relight prepare"
    )
    errors = [f for f in found if f.severity == ERROR]
    assert [(f.check, f.severity, f.fix) for f in errors] == [("preflight", ERROR, "relight plan")]
    assert errors[0].message.startswith(f"quota {STANDARD.name} (vCPUs) (ec2 L-1216C47A): 0 in use")
    assert errors[0].message.endswith("--desired-value 16 --region us-west-2")


def test_a_fleet_that_fits_but_could_not_scale_to_its_maximum_is_a_note(
    moto: None, write_env
) -> None:  # type: ignore[no-untyped-def]
    quotas = FakeServiceQuotas(applied={STANDARD.code: 20})  # 16 launched; up to 28 (6 x 4 + 4)
    problems, notes = quota_problems(_plan(write_env), QuotaAws(quotas), [], ())
    assert not [p for p in problems if STANDARD.code in p]
    assert [n for n in notes if STANDARD.name in n] == [
        f"quota {STANDARD.name} (ec2 L-1216C47A): room for what the plan launches, not for its "
        "Auto Scaling groups' maximum size (0 vCPUs in use + 28 > 20 in us-west-2); a scale-out "
        "would be refused: aws service-quotas request-service-quota-increase --service-code ec2 "
        "--quota-code L-1216C47A --desired-value 28 --region us-west-2"
    ]
