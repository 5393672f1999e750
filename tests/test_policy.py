"""`relight policy` prints least-privilege IAM policies from the table of calls: valid IAM JSON,
scoped to the environment's stacks, bucket and service role where AWS allows it, read-only for a
schedule, and the same JSON docs/aws.md shows for the demo."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from typer.testing import CliRunner

from conftest import REPO
from relight.cli import app
from relight.model.permissions import CALLS, STORY, iam_action
from relight.model.permissions.actions import split_call

RUNNER = CliRunner()
DEMO = str(REPO / "stacks" / "demo.yaml")


def _policy(*args: str) -> dict[str, Any]:
    run = RUNNER.invoke(app, ["policy", "--env", DEMO, *args])
    assert run.exit_code == 0, run.output
    document: dict[str, Any] = json.loads(run.stdout)
    return document


def _actions(document: dict[str, Any]) -> set[str]:
    """The actions a document allows (an Action is a list, or one string)."""
    allowed = [s["Action"] for s in document["Statement"] if s["Effect"] == "Allow"]
    return {a for action in allowed for a in ([action] if isinstance(action, str) else action)}


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in document["Statement"] if s["Sid"] == sid)
    return found


def test_the_operator_policy_is_valid_iam_json_scoped_to_the_environment() -> None:
    document = _policy("--for", "operator")
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == sorted(set(statement["Action"]))
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
    stacks = _statement(document, "TheEnvironmentsStacksAndTheirChangeSets")
    assert "cloudformation:CreateStack" in stacks["Action"]
    assert "arn:aws:cloudformation:us-west-2:123456789012:stack/demo-*/*" in stacks["Resource"]
    assert all(re.match(r"arn:aws:cloudformation:[\w-]+:\d+:stack/", r) for r in stacks["Resource"])
    # an on-call operator may not write IAM: no role, policy or trust to change, only
    # Auto Scaling's service-linked role to make, and the service role to pass
    iam_writes = {a for a in _actions(document) if re.match(r"iam:(?!Get|List)", a)}
    assert iam_writes == {"iam:CreateServiceLinkedRole", "iam:PassRole"}
    linked = _statement(document, "OnlyAutoScalingsServiceLinkedRole")
    assert linked["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "autoscaling.amazonaws.com"}
    }
    passing = _statement(document, "PassOnlyTheCloudFormationServiceRoleToCloudFormation")
    assert passing["Action"] == ["iam:PassRole"]
    # the service role only (by its path, whichever stack made it: relight's or a StackSet's;
    # by its name as prepared before it had one), never the identity roles under /relight/
    assert passing["Resource"] == [
        "arn:aws:iam::123456789012:role/relight-cloudformation/demo/*",
        "arn:aws:iam::123456789012:role/demo-identity-CloudFormationRole-*",
    ]
    made_by_stackset = "role/relight-cloudformation/demo/StackSet-demo-identity-0f1e-Cloud-AB12"
    assert fnmatch.fnmatchcase(
        f"arn:aws:iam::123456789012:{made_by_stackset}", passing["Resource"][0]
    )
    assert not any(
        fnmatch.fnmatchcase("arn:aws:iam::123456789012:role/relight/env/demo/demo-identity-x", r)
        for r in passing["Resource"]
    )
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }
    bucket = _statement(document, "RelightsBucket")
    assert "s3:ListBucket" in bucket["Action"]  # without it a missing key is a 403
    assert bucket["Resource"][1] == "arn:aws:s3:::relight-templates-123456789012-us-west-2"
    objects = _statement(document, "RelightsBucketObjects")
    assert "s3:GetObject" in objects["Action"] and "s3:PutObject" in objects["Action"]
    unscoped = _statement(document, "ReadsAwsCannotScopeByResourceInTheEnvironmentsRegions")
    assert unscoped["Resource"] == "*"
    assert unscoped["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2", "eu-west-1"]}
    }
    assert not any(a.startswith(("iam:", "route53:")) for a in unscoped["Action"])
    assert all(re.match(r"[\w-]+:(Describe|List|Get)", a) for a in unscoped["Action"])
    writes = _statement(document, "WritesNotScopedByResourceInTheEnvironmentsRegions")
    assert "ec2:CopyImage" in writes["Action"] and writes["Condition"] == unscoped["Condition"]
    assert "sts:GetCallerIdentity" not in _actions(document)  # needs no permission
    assert "*" not in _actions(document) and not any(a.endswith(":*") for a in _actions(document))


def test_every_operator_call_is_granted_and_the_stand_ins_story_is_not() -> None:
    granted = _actions(_policy())
    operator = {  # an estate's commands act through the accounts' roles: not this policy's
        c
        for command, calls in CALLS.items()
        if command != STORY and not command.startswith("estate ")
        for c in calls
    }
    needed = {iam_action(*split_call(c)) for c in operator} - {
        "sts:GetCallerIdentity",
        "sts:AssumeRole",  # the demo assumes no role
    }
    assert needed <= granted
    story_only = {iam_action(*split_call(c)) for c in CALLS[STORY]} - needed
    assert story_only, "the story makes what an operator never does (the simulated production)"
    assert story_only.isdisjoint(granted)


def test_a_command_narrows_the_operator_policy_to_its_own_calls() -> None:
    discover = _actions(_policy("--command", "discover"))
    assert discover == {
        iam_action(*split_call(c))
        for c in CALLS["discover"]
        if c not in {"sts.GetCallerIdentity", "sts.AssumeRole"}
    }
    assert "cloudformation:CreateStack" not in discover


def test_the_readiness_policy_is_read_only() -> None:
    document = _policy("--for", "readiness")
    writes = [a for a in _actions(document) if not re.match(r"[\w-]+:(Describe|List|Get)", a)]
    assert writes == ["cloudwatch:PutMetricData"], "--publish: a metric, in the regions only"
    [publish] = [s for s in document["Statement"] if "cloudwatch:PutMetricData" in s["Action"]]
    assert publish["Action"] == ["cloudwatch:PutMetricData"]
    assert publish["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Relight"
    assert publish["Condition"]["StringEquals"]["aws:RequestedRegion"]
    for command in ("readiness", "drift", "status"):
        needed = {iam_action(*split_call(c)) for c in CALLS[command]}
        assert needed - {"sts:GetCallerIdentity", "sts:AssumeRole"} <= _actions(document)


def test_replicate_assumes_only_the_environments_role_across_accounts(tmp_path: Any) -> None:
    text = (REPO / "stacks" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace(
        'account_id: "123456789012"',
        'account_id: "123456789012"\nrecovery_account_id: "210987654321"\n'
        "role_arn: arn:aws:iam::210987654321:role/relight-recovery",
    ).replace("stand_in: true", "stand_in: false")
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    run = RUNNER.invoke(app, ["policy", "--env", str(path), "--for", "replicate"])
    assert run.exit_code == 0, run.output
    document = json.loads(run.stdout)
    assume = _statement(document, "AssumeOnlyTheEnvironmentsRoles")
    assert assume["Resource"] == ["arn:aws:iam::210987654321:role/relight-recovery"]
    assert "ec2:CopyImage" in _actions(document) and "rds:CopyDBSnapshot" in _actions(document)
    # two accounts: no single account in the ARNs
    bucket = _statement(document, "RelightsBucketObjects")
    assert all(r.startswith("arn:aws:s3:::relight-templates-*-") for r in bucket["Resource"])


def test_a_wrong_for_or_command_is_refused_with_exit_2_and_prints_no_policy() -> None:
    run = RUNNER.invoke(app, ["policy", "--env", DEMO, "--for", "admin"])
    assert run.exit_code == 2
    named = "--for 'admin' is not one of operator, bootstrap, service, replicate, readiness"
    assert named in run.output
    assert "Statement" not in run.output
    run = RUNNER.invoke(app, ["policy", "--env", DEMO, "--command", "deploy"])
    assert run.exit_code == 2
    assert "--command 'deploy' is not a command that calls AWS" in run.output
    assert "failover" in run.output and "Statement" not in run.output


def test_the_readme_shows_the_demos_operator_policy_as_the_command_prints_it() -> None:
    page = (REPO / "README.md").read_text(encoding="utf-8")
    section = page[page.index("## On real AWS") : page.index("## Where to read next")]
    shown = re.search(
        r"relight policy --env demo --for operator</code></summary>\n\n```json\n(.*?)\n```",
        section,
        re.S,
    )
    assert shown, "README's 'On real AWS' shows `relight policy --env demo --for operator`"
    assert json.loads(shown.group(1)) == _policy("--for", "operator")


def test_the_service_policy_printed_is_what_the_identity_stack_gives_its_role() -> None:
    """`--for service` prints the role's policy in the region asked, with the file's account in
    its ARNs: the same statements the identity stack's managed policies hold there."""
    from relight.model.config import load_environment
    from relight.steps.render import build_plan
    from relight.steps.service_role import service_role_policy

    printed = _policy("--for", "service", "--region", "eu-west-1")
    plan = build_plan(load_environment(DEMO), "eu-west-1", phase="prepare")
    assert printed == service_role_policy(plan, account="123456789012", partition="aws")
    regional = _statement(printed, "StackResources")
    assert regional["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
    assert {"ec2:CreateVpc", "rds:RestoreDBInstanceFromDBSnapshot"} <= set(regional["Action"])
    passed = _statement(printed, "PassIdentityRoles")["Resource"]
    assert passed == "arn:aws:iam::123456789012:role/relight/env/demo/*"  # its roles' path
    assert _policy("--for", "service") != printed  # the first recovery region's: us-west-2
    wrong = ["policy", "--env", DEMO, "--for", "operator", "--region", "us-west-2"]
    run = RUNNER.invoke(app, wrong)
    assert run.exit_code == 2 and "--region chooses the service role's region" in run.output


def test_the_bootstrap_is_an_administrators_policy_held_to_the_identity_stacks_names() -> None:
    """The identity stack is made with the credentials of whoever runs the prepare that makes
    or changes it: CloudFormation creates its roles as them. Those IAM actions could give the
    service role any permission, so they are `--for bootstrap` (an administrator's), never in
    the operator's policy, and held to the identity stack's own names."""
    bootstrap = _policy("--for", "bootstrap")
    own = _statement(bootstrap, "TheIdentityStacksOwnResourcesMadeThroughCloudFormation")
    assert {"iam:CreateRole", "iam:CreatePolicy", "iam:CreateInstanceProfile"} <= set(own["Action"])
    assert own["Resource"] == [
        f"arn:aws:iam::123456789012:{kind}/demo-identity-*"
        for kind in (
            "role", "role/relight/env/demo", "role/relight-cloudformation/demo", "policy",
            "instance-profile",
        )
    ]  # fmt: skip  # the roles under the environment's path, the service role under its own
    assert not any(a.endswith(("UserPolicy", "GroupPolicy")) for a in own["Action"])
    operator = _actions(_policy("--for", "operator"))
    assert not operator & {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"}


def test_every_action_of_every_policy_is_one_iam_defines() -> None:
    """Each action printed is an action of AWS's Service Authorization Reference (as cfn-lint
    ships it): `tag:GetResources`, not the botocore service name."""
    from relight.steps.service_role import iam_knows

    for who in ("operator", "bootstrap", "service", "replicate", "readiness"):
        unknown = sorted(a for a in _actions(_policy("--for", who)) if not iam_knows(a))
        assert unknown == [], who
    assert "tag:GetResources" in _actions(_policy("--for", "operator", "--command", "capture"))


def test_an_encrypted_copy_gets_the_kms_actions_ebs_checks_on_the_callers_behalf() -> None:
    """No call log sees what EBS checks as the caller when it copies under relight's key."""
    replicate = _actions(_policy("--for", "replicate"))
    assert {
        "kms:Decrypt",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:CreateGrant",
        "ec2:CreateTags",
    } <= replicate
    status = _actions(_policy("--for", "operator", "--command", "status"))
    assert not {a for a in status if a.startswith("kms:")} - {"kms:DescribeKey"}


def test_a_policy_past_a_managed_policys_size_says_so() -> None:
    from relight.cli.policy import MANAGED_POLICY_CHARACTERS

    run = RUNNER.invoke(app, ["policy", "--env", DEMO, "--for", "service"])
    size = len(json.dumps(json.loads(run.stdout), separators=(",", ":")))
    assert size > MANAGED_POLICY_CHARACTERS  # the demo's role: two managed policies
    assert f"this policy is {size:,} characters" in run.stderr
    small = RUNNER.invoke(app, ["policy", "--env", DEMO, "--for", "readiness"])
    assert "characters" not in small.stderr
