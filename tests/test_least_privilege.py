"""Least privilege, proven: the demo's prepare, failover, drill and teardown run as an IAM user
that holds only the operator's policy, on the stand-in with moto's IAM enforcement on; the same
run with one action taken out of the policy fails, names it, and creates nothing.

The stand-in first tells its story (the simulated production, its backups and copies, and the
prepared us-west-2) without enforcement, as the stand-in's own account; then the users are made,
and every run as a user has enforcement on (`iam_standin.enforced`). The user reaches the
stand-in as a user reaches AWS or an emulator: the environment file says `stand_in: false`, and
`AWS_ENDPOINT_URL` and the user's access key are in the environment. What the stand-in cannot
prove (resources, conditions, iam:PassRole) is in docs/stand-in.md, "IAM enforcement".
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import RELIGHT, REPO, relight
from iam_standin import create_user, enforced, moto_view, relight_policy, without
from relight import standin

pytestmark = pytest.mark.e2e
REGION = "us-west-2"
REMOVED = "cloudformation:CreateStack"  # the failover cannot build a stack without it


@dataclass
class Users:
    """The demo's file for the real-AWS path, where it runs, and the two users' access keys."""

    endpoint: str
    env_file: Path
    home: Path
    base: dict[str, str]  # the environment every run as a user starts from
    full: dict[str, str]  # holds the operator's policy
    administrator: dict[str, str]  # holds it and the bootstrap's (the prepare that makes IAM)
    less: dict[str, str]  # holds it less REMOVED
    policy: dict[str, Any]  # the operator's policy (the users hold its moto view)
    policy_source: str

    def run(self, creds: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        """`relight ARGS --env FILE --region R` as the user of `creds`, enforcement on."""
        with enforced(self.endpoint):
            return subprocess.run(
                [RELIGHT, *args, "--env", str(self.env_file), "--region", REGION],
                cwd=self.home,
                env={**self.base, **creds},
                capture_output=True,
                text=True,
                timeout=300,
            )

    def admin(self, service: str) -> Any:
        """A client as the stand-in's own account (it works only with enforcement off)."""
        return boto3.client(service, REGION, endpoint_url=self.endpoint)

    def client(self, creds: dict[str, str], service: str) -> Any:
        return boto3.client(
            service,
            REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=None,
        )

    def stacks(self) -> list[str]:
        listed = self.admin("cloudformation").describe_stacks()["Stacks"]
        return sorted(s["StackName"] for s in listed)


@pytest.fixture(scope="module")
def users(world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Users:
    """The told story, the demo's file for the real-AWS path, and the two users."""
    told = relight(world, "discover", "--env", "demo", "--region", REGION)
    assert told.returncode == 0, told.stderr
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    home = tmp_path_factory.mktemp("as-a-user")
    text = (REPO / "stacks" / "demo.yaml").read_text(encoding="utf-8")
    assert text.count("\nstand_in: true\n") == 1
    (home / "stacks").mkdir()
    env_file = home / "stacks" / "demo.yaml"
    env_file.write_text(
        text.replace("\nstand_in: true\n", "\nstand_in: false\n")
        + f"blueprints_dir: {REPO / 'blueprints'}\n",
        encoding="utf-8",
    )
    base = {k: v for k, v in world["env"].items() if k not in ("AWS_SESSION_TOKEN", "AWS_PROFILE")}
    base.update(AWS_ENDPOINT_URL=found.endpoint, AWS_DEFAULT_REGION="us-east-1")
    policy = relight_policy(env_file, RELIGHT, base, "operator")
    source = "relight policy --for operator"
    full = create_user(found.endpoint, "relight-operator", moto_view(policy))
    both = relight_policy(env_file, RELIGHT, base, "operator", "bootstrap")
    administrator = create_user(found.endpoint, "relight-administrator", moto_view(both))
    less = create_user(found.endpoint, "relight-operator-less", moto_view(without(policy, REMOVED)))
    return Users(found.endpoint, env_file, home, base, full, administrator, less, policy, source)


def test_the_user_is_held_to_its_policy_and_nothing_else_gets_in(users: Users) -> None:
    cloudformation = users.client(users.full, "cloudformation")
    iam = users.client(users.full, "iam")
    ec2 = users.client(users.full, "ec2")
    with enforced(users.endpoint):
        assert cloudformation.describe_stacks()["Stacks"], "a granted call goes through"
        with pytest.raises(ClientError) as listing:
            iam.list_users()
        with pytest.raises(ClientError) as launching:
            ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
        with pytest.raises(ClientError) as stranger:
            users.admin("cloudformation").describe_stacks()  # moto's own account's key
    assert listing.value.response["Error"]["Code"] == "AccessDenied"
    assert "not authorized to perform: iam:ListUsers" in str(listing.value)
    assert "user/relight-operator is not authorized" in str(listing.value)
    assert "ec2:RunInstances" in str(launching.value)
    assert stranger.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert users.admin("cloudformation").describe_stacks()["Stacks"], "enforcement is off again"


def test_prepare_as_the_user_with_only_the_policy(users: Users) -> None:
    """The prepare that makes the identity stack runs as an administrator holding the operator's
    policy and `--for bootstrap` (CloudFormation makes the stack's IAM roles with the caller's
    credentials: moto does not check those, docs/stand-in.md); a later prepare, which leaves
    the identity stack as it is, runs as the operator alone."""
    run = users.run(users.administrator, "prepare", "--yes")
    assert run.returncode == 0, run.stderr + run.stdout
    run = users.run(users.full, "prepare", "--yes")
    assert run.returncode == 0, run.stderr + run.stdout
    assert "AWS endpoint" in run.stderr and "LOCAL STAND-IN" not in run.stderr
    assert users.stacks() == ["demo-identity"]


def test_failover_as_the_user_with_only_the_policy(users: Users) -> None:
    run = users.run(users.full, "failover", "--yes", "--json")
    assert run.returncode == 0, run.stderr + run.stdout
    result = json.loads(run.stdout)
    assert result["ok"] is True and result["stand_in"] is False
    built = {s["stack"]: s["action"] for s in result["stacks"]}
    assert built == dict.fromkeys(
        ["network", "security", "database", "load_balancer", "web"], "created"
    )
    checks = {(c["stack"], c["check"]): c["result"] for c in result["verification"]}
    assert checks[("web", "instances made from the expected AMI")] == "passed"
    assert checks[("database", "database restored from the expected snapshot")] == "passed"
    assert set(users.stacks()) >= {"demo-network", "demo-web", "demo-database"}
    # what the stacks hold was made by CloudFormation, never checked by moto (aws-behaviours N4)
    statements = users.policy["Statement"]
    actions = [s.get("Action", []) for s in statements]
    granted = {a for listed in actions for a in ([listed] if isinstance(listed, str) else listed)}
    assert not granted & {
        "ec2:CreateVpc",
        "ec2:RunInstances",
        "rds:RestoreDBInstanceFromDBSnapshot",
    }


def test_drill_as_the_user_with_only_the_policy(users: Users) -> None:
    reports = users.home / "reports"
    run = users.run(users.full, "drill", "--reports", str(reports))
    assert run.returncode == 0, run.stderr + run.stdout
    assert "drill passed" in run.stdout
    (report,) = reports.glob("demo/*/report.json")
    assert json.loads(report.read_text(encoding="utf-8"))["ok"] is True
    assert not [s for s in users.stacks() if "drill" in s], "the drill tore its copy down"


def test_teardown_as_the_user_with_only_the_policy(users: Users) -> None:
    run = users.run(users.full, "teardown", "--yes", "--force")
    assert run.returncode == 0, run.stderr + run.stdout
    assert "5 stack(s) deleted, 0 not" in run.stderr + run.stdout
    assert users.stacks() == ["demo-identity"], "prepare's stack is left alone"


def test_one_action_less_fails_the_failover_naming_it_and_builds_nothing(users: Users) -> None:
    before = users.stacks()
    vpcs = len(users.admin("ec2").describe_vpcs()["Vpcs"])
    run = users.run(users.less, "failover", "--yes")
    assert run.returncode == 1, run.stderr + run.stdout
    shown = run.stderr + run.stdout
    refused = next(line for line in shown.splitlines() if line.startswith("demo-network: "))
    assert REMOVED in refused, "the summary names the action"
    assert "user/relight-operator-less" in refused, "and who may not"
    if importlib.util.find_spec("relight.model.permissions"):  # the table's translation (item 2)
        assert "relight policy --env" in refused
        assert "--for operator" in refused, "and the policy that grants it"
    else:  # until then: the refusal as AWS words it, and the generic advice
        assert f"is not authorized to perform: {REMOVED}" in refused
        assert "check that the credentials may do this" in refused
    assert users.stacks() == before == ["demo-identity"], "no stack was created"
    assert len(users.admin("ec2").describe_vpcs()["Vpcs"]) == vpcs


def test_what_moto_does_not_check_resources_conditions_and_pass_role(users: Users) -> None:
    """Why the users hold the policy's moto view, and what a run on the stand-in cannot prove."""
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    role = users.admin("iam").create_role(
        RoleName="relight-proof-cfn",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "cloudformation.amazonaws.com"},
                    }
                ]
            }
        ),
    )["Role"]["Arn"]
    stack_arns = f"arn:aws:cloudformation:{REGION}:123456789012:stack/*"
    scoped = create_user(
        users.endpoint, "relight-proof-scoped", _allow("cloudformation:DescribeStacks", stack_arns)
    )
    elsewhere = create_user(
        users.endpoint,
        "relight-proof-elsewhere",
        _allow(
            "cloudformation:DescribeStacks",
            "*",
            {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        ),
    )
    no_pass = create_user(
        users.endpoint, "relight-proof-no-pass", _allow("cloudformation:CreateStack", "*")
    )
    with enforced(users.endpoint):
        with pytest.raises(ClientError) as by_arn:
            users.client(scoped, "cloudformation").describe_stacks()
        users.client(elsewhere, "cloudformation").describe_stacks()  # AWS: refused in us-west-2
        made = users.client(no_pass, "cloudformation").create_stack(
            StackName="relight-proof-passed", TemplateBody=template, RoleARN=role
        )  # AWS: refused without iam:PassRole on the role
    assert "not authorized to perform: cloudformation:DescribeStacks" in str(by_arn.value)
    assert made["StackId"]
    users.admin("cloudformation").delete_stack(StackName="relight-proof-passed")


def _allow(action: str, resource: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}
