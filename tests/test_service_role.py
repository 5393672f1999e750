"""The CloudFormation service role: made by the identity stack with a policy derived from the
other stacks' resource types (AWS's registry schemas), passed as RoleARN by every stack
operation on the other stacks, refused when missing; and the longest session for an assumed
role (docs/aws-behaviours.md, rows R1-R5)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from conftest import MINIMAL
from fakes import FakeClock, FakeCloudFormation
from relight.aws.clients import assume_role_session
from relight.aws.cloudformation import Stacks
from relight.dr.prepared import read_prepared
from relight.errors import ConfigError, PreflightError, RenderError
from relight.model.config import load_environment
from relight.model.graph import dependency_graph
from relight.model.plan import Plan
from relight.steps.deploy import deploy
from relight.steps.discovery import Artifact, Discovery, Zone
from relight.steps.render import build_plan
from relight.steps.service_role import (
    GLOBAL_PREFIXES,
    MANAGED_POLICY_LIMIT,
    handler_actions,
    iam_knows,
    resource_types,
    service_role_policy,
    size,
    split,
)
from relight.steps.teardown import teardown

DEMO = Path(__file__).resolve().parent.parent / "stacks" / "demo.yaml"
REGION = "us-west-2"
ROOT = {"root_device": "/dev/xvda", "root_size_gb": "8"}  # what discovery reads off an AMI
PROFILE = "arn:aws:iam::123456789012:instance-profile/shop-web"
# MINIMAL with its identity stack (stands: global) and network and security standing from
# pilot_light: prepare at pilot_light deploys identity, network and security in one run.
LADDER = (
    MINIMAL.replace(
        "stacks:\n",
        "stacks:\n  identity:\n    blueprint: identity\n    stands: global\n"
        "    params: {instance_roles: {web: {}}}\n",
    )
    .replace("    blueprint: network\n", "    blueprint: network\n    stands: pilot_light\n")
    .replace("    blueprint: security\n", "    blueprint: security\n    stands: pilot_light\n")
    .replace(PROFILE, "{output: identity.WebInstanceProfileArn}")
)


def _demo(region: str = REGION, **options: Any) -> Plan:
    return build_plan(load_environment(str(DEMO), region), region, stand_in=True, **options)


def _ladder(write_env: Callable[..., Path], **options: Any) -> Plan:
    return build_plan(load_environment(str(write_env(LADDER)), REGION), REGION, **options)


def _allows(document: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The Allow statements of `document` whose actions match `action` (IAM's wildcards)."""
    found = []
    for statement in document["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        if statement["Effect"] == "Allow" and any(
            fnmatch.fnmatch(action.lower(), a.lower()) for a in actions
        ):
            found.append(statement)
    return found


def _inputs() -> Discovery:
    now = datetime.now(UTC)
    return Discovery(
        region=REGION,
        at=now,
        artifacts={
            "web_ami": Artifact(
                "web_ami", "ami", "ami-0123", REGION, now, 1,
                attributes=ROOT,
            ),
            "web_data": Artifact("web_data", "ebs_snapshot", "snap-0123", REGION, now, 1),
        },
        zones=(Zone("us-west-2b", "usw2-az1"), Zone("us-west-2a", "usw2-az2")),
    )  # fmt: skip


# the policy: derived from AWS's registry schemas ----------------------------------------------


def test_the_role_holds_every_action_the_registry_schemas_name_for_the_demos_types() -> None:
    plan = _demo()
    types = resource_types(plan)
    assert "AWS::RDS::DBInstance" in types and "AWS::AutoScaling::AutoScalingGroup" in types
    assert not any(t.startswith("AWS::IAM::") for t in types), "the identity stack's are not"
    document = service_role_policy(plan)
    unknown = []
    for kind, stacks in types.items():
        for action in handler_actions(REGION, kind, stacks):
            if action.lower() in ("iam:passrole", "iam:createservicelinkedrole"):
                continue  # scoped in their own statements (below)
            if not iam_knows(action):  # a schema's action IAM does not define
                unknown.append(action)
                continue
            assert _allows(document, action), f"{kind} needs {action}"
    assert unknown, "the schemas name a few actions IAM does not define"
    listed = json.dumps(document)
    assert not any(f'"{action}"' in listed for action in unknown)
    assert not _allows(document, "s3:DeleteBucket"), "only what the types' handlers name"
    assert not _allows(document, "iam:CreateRole"), "IAM stays in the identity stack"


def test_every_action_is_bound_to_the_region_and_a_global_one_to_its_control_plane() -> None:
    document = service_role_policy(_demo("eu-west-1"))
    for statement in document["Statement"]:
        if statement.get("Resource") != "*":
            continue
        region = statement["Condition"]["StringEquals"]["aws:RequestedRegion"]
        for action in statement["Action"]:
            prefix = action.split(":")[0]
            assert region == GLOBAL_PREFIXES.get(prefix, "eu-west-1"), action
    route53 = _allows(document, "route53:ChangeResourceRecordSets")
    assert route53 == [], "the DNS pair stands only in us-west-2 (regions:)"
    west = service_role_policy(_demo())
    (change,) = _allows(west, "route53:ChangeResourceRecordSets")
    assert change["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}


def test_pass_role_reaches_only_the_identity_stacks_own_roles_never_the_service_role() -> None:
    document = service_role_policy(_demo(), account="123456789012", partition="aws")
    passing = [s for s in document["Statement"] if "iam:PassRole" in json.dumps(s["Action"])]
    allowed = [s["Resource"] for s in passing if s["Effect"] == "Allow"]
    denied = [s["NotResource"] for s in passing if s["Effect"] == "Deny"]
    assert allowed == ["arn:aws:iam::123456789012:role/relight/env/demo/*"]
    assert denied == ["arn:aws:iam::123456789012:role/relight/*"]  # deny all but relight's paths
    assert not any(s.get("Resource") == "*" for s in passing)
    # IAM matches the pattern against the role's ARN, path included (IAM identifiers): the
    # identity roles whatever stack made them (and however CloudFormation shortened the
    # generated name), never the service role, under /relight-cloudformation/<env>/
    account = "arn:aws:iam::123456789012:role/"

    def may_pass(role: str) -> bool:
        arn = account + role
        return fnmatch.fnmatchcase(arn, allowed[0]) and fnmatch.fnmatchcase(arn, denied[0])

    assert may_pass("relight/env/demo/demo-identity-WebInstanceRole-1A2B3C4D5E6F")
    assert may_pass("relight/env/demo/StackSet-demo-identi-WebInstanceRole-1A2B3C4D5E6F")
    assert not may_pass("relight-cloudformation/demo/demo-identity-CloudFormationRole-1A2B3C4D5E")
    assert not may_pass("demo-identity-CloudFormationRole-1A2B3C4D5E6F")  # as before its path
    assert not may_pass("relight/env/demo-other/demo-other-identity-WebInstanceRole-1A2B")
    assert not may_pass("relight/stack/baseline/shared-baseline-FlowLogRole-1A2B")  # demo has none


def test_service_linked_roles_only_for_the_services_whose_types_ask_for_them() -> None:
    document = service_role_policy(_demo(), account="123456789012", partition="aws")
    (linked,) = [s for s in document["Statement"] if s["Action"] == "iam:CreateServiceLinkedRole"]
    services = linked["Condition"]["StringEquals"]["iam:AWSServiceName"]
    # the types whose handlers list iam:CreateServiceLinkedRole: RDS, Auto Scaling, flow logs;
    # the load balancer's do not, so Elastic Load Balancing's is not there
    assert services == [
        "autoscaling.amazonaws.com", "delivery.logs.amazonaws.com", "rds.amazonaws.com",
    ]  # fmt: skip
    assert linked["Resource"] == "arn:aws:iam::123456789012:role/aws-service-role/*"


def test_the_demos_policy_and_every_blueprints_types_fit_iam_size_limits(
    write_env: Callable[..., Path],
) -> None:
    demo = service_role_policy(_demo())
    assert size(demo) > MANAGED_POLICY_LIMIT, "the demo needs more than one managed policy"
    documents = split(demo)
    assert all(size(d) <= MANAGED_POLICY_LIMIT for d in documents)
    assert [s for d in documents for s in d["Statement"]] == demo["Statement"]
    # the largest: every type of every shipped blueprint's sample in one environment
    from relight.model.blueprint import load_blueprints

    registry = load_blueprints(None)
    kinds = {
        str(r.resource.get("Type"))
        for b in registry
        for r in b.render(dict(b.sample)).resources.values()
    }
    every = sorted({a for kind in kinds for a in handler_actions(REGION, kind, [kind])})
    largest = {"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Allow", "Action": every, "Resource": "*"},
    ]}  # fmt: skip
    pieces = split(largest)
    assert 1 < len(pieces) <= 10 and all(size(d) <= MANAGED_POLICY_LIMIT for d in pieces)
    assert sorted(a for d in pieces for s in d["Statement"] for a in s["Action"]) == every


def test_the_identity_stack_holds_exactly_the_policy_relight_derives() -> None:
    plan = _demo(phase="prepare")
    body = json.loads(plan.stacks["identity"].body)
    policies = [
        r["Properties"]["PolicyDocument"]
        for r in body["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]

    def unsub(value: Any) -> Any:
        if isinstance(value, dict):
            return (
                value["Fn::Sub"]
                if set(value) == {"Fn::Sub"}
                else {k: unsub(v) for k, v in value.items()}
            )
        return [unsub(v) for v in value] if isinstance(value, list) else value

    assert [unsub(p) for p in policies] == split(service_role_policy(plan))
    role = body["Resources"]["CloudFormationRole"]["Properties"]
    trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert trusted == "cloudformation.amazonaws.com"
    assert "CloudFormationRoleArn" in plan.stacks["identity"].outputs


def test_a_resource_type_without_a_schema_is_refused_naming_its_stack() -> None:
    with pytest.raises(RenderError) as refused:
        handler_actions(REGION, "AWS::Nowhere::Thing", ["queue"])
    assert "stacks queue: resource type AWS::Nowhere::Thing" in refused.value.message
    assert "NO_HANDLERS" in str(refused.value.hint)


def test_the_file_cannot_give_the_service_roles_policy(write_env: Callable[..., Path]) -> None:
    text = LADDER.replace(
        "params: {instance_roles: {web: {}}}", "params: {cloudformation_policy: []}"
    )
    loaded = load_environment(str(write_env(text)), REGION)
    with pytest.raises(ConfigError) as refused:
        build_plan(loaded, REGION, phase="prepare", strategy="pilot_light")
    assert "stacks.identity.params.cloudformation_policy: relight derives" in str(refused.value)
    assert str(refused.value).startswith(str(loaded.path))


def test_the_file_cannot_give_the_identity_roles_path(write_env: Callable[..., Path]) -> None:
    """The service role passes the roles under the path relight gives them: a path from the
    file would put the roles where the service role may not pass them (or widen what it may)."""
    text = LADDER.replace("params: {instance_roles: {web: {}}}", "params: {role_path: /mine/}")
    loaded = load_environment(str(write_env(text)), REGION)
    with pytest.raises(ConfigError) as refused:
        build_plan(loaded, REGION, phase="prepare", strategy="pilot_light")
    assert "stacks.identity.params.role_path: relight fills it" in str(refused.value)
    assert "remove the key" in str(refused.value)


# RoleARN on every stack operation ---------------------------------------------------------------


def _fake() -> tuple[FakeCloudFormation, Stacks]:
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    return cfn, Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)


def _prepared_pilot_light(
    write_env: Callable[..., Path],
) -> tuple[FakeCloudFormation, Stacks, str, dict[str, dict[str, str]]]:
    """A fake CloudFormation where prepare stood the pilot light up: its role's ARN, and the
    prepared stacks' outputs a failover reads."""
    cfn, stacks = _fake()
    prepare = _ladder(write_env, phase="prepare", strategy="pilot_light")
    prepared = deploy(stacks, prepare, _inputs(), run_id="p1")
    role = prepared.results["identity"].outputs["CloudFormationRoleArn"]
    ready = {k: dict(r.outputs) for k, r in prepared.results.items()}
    ready["identity"]["WebInstanceProfileArn"] = PROFILE  # the fake makes no profile
    return cfn, stacks, role, ready


def test_prepare_makes_the_identity_stack_first_and_every_other_with_its_role(
    write_env: Callable[..., Path],
) -> None:
    cfn, stacks = _fake()
    plan = _ladder(write_env, phase="prepare", strategy="pilot_light")
    assert list(plan.stacks) == ["identity", "network", "security"]
    outcome = deploy(stacks, plan, _inputs(), run_id="p1")
    assert outcome.ok, outcome.failed()
    role = outcome.results["identity"].outputs["CloudFormationRoleArn"]
    assert cfn.roles == [
        ("CreateStack", "shop-identity", ""),  # the bootstrap: the operator's credentials
        ("CreateStack", "shop-network", role),
        ("CreateStack", "shop-security", role),
    ]
    assert cfn.created[0] == "shop-identity", "the others wait for the role"
    assert cfn.describe_stacks(StackName="shop-network")["Stacks"][0]["RoleARN"] == role


def test_a_failover_creates_updates_and_retries_with_the_prepared_role(
    write_env: Callable[..., Path],
) -> None:
    cfn, stacks, role, ready = _prepared_pilot_light(write_env)
    failover = _ladder(write_env, strategy="pilot_light")
    assert list(failover.stacks) == ["web"]
    cfn.roles.clear()
    first = deploy(stacks, failover, _inputs(), run_id="f1", ready=ready)
    assert first.ok, [r.reason for r in first.failed()]
    changed = _inputs()
    changed.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", "ami-0456", REGION, changed.at, 1,
        attributes=ROOT,
    )  # fmt: skip
    assert deploy(stacks, failover, changed, run_id="f2", ready=ready).ok
    assert cfn.roles == [("CreateStack", "shop-web", role), ("CreateChangeSet", "shop-web", role)]


def test_a_failover_whose_identity_stack_has_no_role_is_refused_before_anything_changes(
    write_env: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An identity stack prepared before the role existed: no CloudFormationRoleArn output."""
    monkeypatch.chdir(tmp_path)
    plan = _ladder(write_env)  # backup_restore: identity prepared, the rest built
    old = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
           "Outputs": {"WebInstanceProfileArn": {"Value": PROFILE}}}  # fmt: skip
    with mock_aws():
        cfn = boto3.client("cloudformation", REGION)
        cfn.create_stack(
            StackName="shop-identity", TemplateBody=json.dumps(old),
            Tags=[{"Key": "relight:env", "Value": "shop"}],
        )  # fmt: skip
        with pytest.raises(PreflightError) as refused:
            read_prepared(Stacks(cfn, timeout=30), plan, "relight prepare --env shop")
        assert refused.value.problems == [
            "stack shop-identity (stacks.identity, stands: global) is out of date: it has no "
            "output CloudFormationRoleArn (the CloudFormation service role every stack passes)"
        ]
        assert "relight prepare --env shop" in str(refused.value.hint)
        assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["shop-identity"]


def test_teardown_deletes_with_the_role_and_the_identity_stack_last(
    write_env: Callable[..., Path],
) -> None:
    """CloudFormation keeps using a stack's role for every later operation, and a role that is
    gone fails them ("Role ... is invalid or cannot be assumed"): the identity stack, which
    holds the role, is deleted after every stack that uses it."""
    cfn, stacks = _fake()
    plan = _ladder(write_env, phase="prepare", strategy="pilot_light")
    outcome = deploy(stacks, plan, _inputs(), run_id="p1")
    role = outcome.results["identity"].outputs["CloudFormationRoleArn"]
    cfn.roles.clear()
    graph = dependency_graph(plan.loaded.env)
    result = teardown(
        stacks, "shop", graph, prepared=True, force=True, role_arn=role, identity="identity",
        confirmed=[cfn._view(s) for s in cfn.stacks.values()],
    )  # fmt: skip
    assert result.ok, result.results
    deletes = [(name, arn) for op, name, arn in cfn.roles if op == "DeleteStack"]
    assert deletes[-1] == ("shop-identity", ""), "the role's own stack goes last"
    assert sorted(deletes[:-1]) == [("shop-network", role), ("shop-security", role)]


def test_a_stack_whose_role_is_gone_cannot_be_deleted_and_aws_names_the_role(
    write_env: Callable[..., Path],
) -> None:
    cfn, stacks = _fake()
    plan = _ladder(write_env, phase="prepare", strategy="pilot_light")
    outcome = deploy(stacks, plan, _inputs(), run_id="p1")
    role = outcome.results["identity"].outputs["CloudFormationRoleArn"]
    cfn.gone_roles.add(role)  # someone deleted the identity stack's role
    result = teardown(
        stacks, "shop", {}, prepared=True, force=True,
        confirmed=[cfn._view(cfn.stacks["shop-network"])],
    )  # fmt: skip
    (network,) = result.results
    assert network.action == "delete-failed"
    assert f"Role {role} is invalid or cannot be assumed" in network.reason
    assert "shop-network" in cfn.stacks, "nothing was deleted"


# the longest session ------------------------------------------------------------------------


def _credentials(hours: int) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE0000000000",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": datetime.now(UTC) + timedelta(hours=hours),
        }
    }


def _stubbed(answers: list[tuple[int, str | None]]) -> list[int]:
    """assume_role_session against a stubbed STS that expects each DurationSeconds in turn and
    answers a ValidationError with the message given, or credentials; every one must have
    been asked, in that order. What `granted` was told."""
    base = boto3.session.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name=REGION
    )
    stubs: list[Stubber] = []
    granted: list[int] = []
    role = "arn:aws:iam::123456789012:role/operator"

    def watch(sts: Any, service: str) -> None:
        stub = Stubber(sts)
        for seconds, refusal in answers:
            expected = {"RoleArn": role, "RoleSessionName": "relight", "DurationSeconds": seconds}
            if refusal:
                stub.add_client_error(
                    "assume_role", "ValidationError", refusal, 400, expected_params=expected
                )
            else:
                stub.add_response("assume_role", _credentials(seconds // 3600), expected)
        stub.activate()
        stubs.append(stub)

    assume_role_session(base, role, None, REGION, watch=watch, granted=granted.append)
    stubs[0].assert_no_pending_responses()
    return granted


def test_an_assumed_role_is_asked_for_twelve_hours_and_gets_them_when_allowed() -> None:
    granted = _stubbed([(43_200, None)])
    assert granted == [43_200]


def test_a_role_allowing_less_is_stepped_down_on_stss_documented_refusal() -> None:
    over = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    granted = _stubbed([(43_200, over), (28_800, over), (21_600, over), (14_400, None)])
    assert granted == [14_400], "the longest the role allows (MaxSessionDuration 4 h)"


def test_a_chained_role_gets_one_hour_at_once() -> None:
    chained = (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining."
    )
    granted = _stubbed([(43_200, chained), (3_600, None)])
    assert granted == [3_600]


def test_a_stack_left_empty_is_deleted_and_made_again_with_the_role(
    write_env: Callable[..., Path],
) -> None:
    cfn, stacks, role, ready = _prepared_pilot_light(write_env)
    cfn.behaviour["shop-web"] = "fail-once"  # an earlier run's create, rolled back: empty
    cfn.create_stack(StackName="shop-web", Tags=[{"Key": "relight:env", "Value": "shop"}])
    stacks.run(stacks.watch("shop-web", 0.0, None))
    assert cfn.stacks["shop-web"].status == "ROLLBACK_COMPLETE"
    cfn.behaviour["shop-web"] = "ok"
    cfn.roles.clear()
    outcome = deploy(stacks, _ladder(write_env, strategy="pilot_light"), _inputs(), run_id="f1",
                     ready=ready)  # fmt: skip
    assert outcome.results["web"].action == "recreated", outcome.results["web"].reason
    assert cfn.roles == [("DeleteStack", "shop-web", role), ("CreateStack", "shop-web", role)]


def test_an_environment_without_an_identity_stack_is_warned_at_prepare_and_passes_no_role(
    write_env: Callable[..., Path],
) -> None:
    """Decided: not refused (files written before the role keep working), but prepare says
    CloudFormation then acts with the operator's credentials, and how to fix it."""
    loaded = load_environment(str(write_env(MINIMAL)), REGION)
    prepare = build_plan(loaded, REGION, phase="prepare")
    (warning,) = prepare.warnings
    assert warning.startswith(f"{loaded.path}: stacks: no stack of blueprint identity")
    assert "identity: {blueprint: identity, stands: global, params: {}}" in warning
    cfn, stacks = _fake()
    assert deploy(stacks, build_plan(loaded, REGION), _inputs(), run_id="f1").ok
    assert {arn for _, _, arn in cfn.roles} == {""}, "no role to pass"


def test_a_role_prepared_before_a_new_resource_type_is_refused_naming_what_it_lacks(
    write_env: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudFormation uses the stack's role for every operation on it: a role prepared before
    the environment gained a resource type would refuse that type's stack halfway through the
    failover. Preflight compares the deployed role's policy with today's, before any change."""
    from relight.steps.service_role import role_lacks

    monkeypatch.chdir(tmp_path)
    plan = _ladder(write_env)
    today = json.loads(plan.prepared["identity"].body)
    assert role_lacks(plan, today) == []
    policies = [r for r in today["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    statement = next(
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "ec2:CreateVpc" in s["Action"]
    )
    statement["Action"].remove("ec2:CreateVpc")  # as if prepared before the network stack
    assert role_lacks(plan, today) == ["ec2:CreateVpc"]
    deployed = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}, **{
            k: {"Type": r["Type"], "Properties": {  # the role itself left out: moto's IAM
                "PolicyDocument": r["Properties"]["PolicyDocument"]}}
            for k, r in today["Resources"].items() if r["Type"] == "AWS::IAM::ManagedPolicy"
        }, "CloudFormationRole": today["Resources"]["CloudFormationRole"]},
        "Outputs": {"CloudFormationRoleArn": {"Value": "arn:aws:iam::123456789012:role/x"},
                    "WebInstanceProfileArn": {"Value": PROFILE}},
    }  # fmt: skip
    with mock_aws():
        cfn = boto3.client("cloudformation", REGION)
        cfn.create_stack(
            StackName="shop-identity", TemplateBody=json.dumps(deployed),
            Tags=[{"Key": "relight:env", "Value": "shop"}],
        )  # fmt: skip
        with pytest.raises(PreflightError) as refused:
            read_prepared(Stacks(cfn, timeout=30), plan, "relight prepare --env shop")
        (problem,) = refused.value.problems
        assert problem.startswith(
            "stack shop-identity (stacks.identity, stands: global): its CloudFormation service "
            "role, as last prepared, may not ec2:CreateVpc, which the stacks this run builds need"
        )
        assert "run relight prepare --env shop while IAM (us-east-1) answers" in problem
        assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["shop-identity"]


def test_a_role_prepared_to_pass_roles_by_stack_name_is_refused_and_prepare_named(
    write_env: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service role prepared before relight passed the identity roles by IAM path holds
    iam:PassRole on `role/<stack>-*`; the roles now have a path (`role/relight/env/<env>/...`),
    which that pattern does not match, so a failover would be refused PassRole at the first
    stack that passes an instance or monitoring role. Preflight says so before any change."""
    from relight.steps.service_role import role_lacks

    monkeypatch.chdir(tmp_path)
    plan = _ladder(write_env)
    today = json.loads(plan.prepared["identity"].body)
    assert role_lacks(plan, today) == []
    (passing,) = [
        s
        for r in today["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "PassIdentityRoles"
    ]
    assert passing["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/relight/env/shop/*"
    }
    passing["Resource"] = {  # as prepared before the paths
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/shop-identity-*"
    }
    assert role_lacks(plan, today) == ["iam:PassRole on role/relight/env/shop/*"]
    passing["Resource"] = [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"}]
    assert role_lacks(plan, today) == [], "a wider grant covers the path"
    passing["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/shop-identity-*"
    }
    deployed = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}, **{
            k: {"Type": r["Type"], "Properties": {  # the role itself left out: moto's IAM
                "PolicyDocument": r["Properties"]["PolicyDocument"]}}
            for k, r in today["Resources"].items() if r["Type"] == "AWS::IAM::ManagedPolicy"
        }, "CloudFormationRole": today["Resources"]["CloudFormationRole"]},
        "Outputs": {"CloudFormationRoleArn": {"Value": "arn:aws:iam::123456789012:role/x"},
                    "WebInstanceProfileArn": {"Value": PROFILE}},
    }  # fmt: skip
    with mock_aws():
        cfn = boto3.client("cloudformation", REGION)
        cfn.create_stack(
            StackName="shop-identity", TemplateBody=json.dumps(deployed),
            Tags=[{"Key": "relight:env", "Value": "shop"}],
        )  # fmt: skip
        with pytest.raises(PreflightError) as refused:
            read_prepared(Stacks(cfn, timeout=30), plan, "relight prepare --env shop")
        (problem,) = refused.value.problems
        assert problem.startswith(
            "stack shop-identity (stacks.identity, stands: global): its CloudFormation service "
            "role, as last prepared, may not iam:PassRole on role/relight/env/shop/*, which the "
            "stacks this run builds need (roles it must pass (its iam:PassRole patterns predate "
            "the identity roles' IAM paths)); run relight prepare --env shop while IAM"
        )
        assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["shop-identity"]
