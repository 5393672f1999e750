"""What StackSets need before the first StackSet: the two roles of self-managed permissions,
or, for service-managed, trusted access with AWS Organizations.

Self-managed (CloudFormation User Guide, "Grant self-managed permissions"):

- the administration role, in the administrator account, trusted by
  `cloudformation.amazonaws.com`, allowed `sts:AssumeRole` on the execution role in every
  target account (AWS's default name `AWSCloudFormationStackSetAdministrationRole`);
- the execution role, in each target account, named as the StackSet says
  (`AWSCloudFormationStackSetExecutionRole` by default), trusted by the administrator account,
  allowed to make what the StackSet's templates hold (and CloudFormation, S3 and SNS, which
  StackSets uses).

relight makes each that is missing as a stack of its own (`relight-stackset-administration`,
`relight-stackset-execution`) while IAM answers; one that exists and was not made so is
checked, and what is wrong with its trust named, never changed.

Service-managed: the administrator must be the organization's management account with
StackSets' trusted access activated (ActivateOrganizationsAccess); relight checks what
Organizations tells it and explains the rest (it never activates trusted access itself).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relight.aws.cloudformation import Stacks
from relight.aws.failures import aws_failure
from relight.errors import DeployError, InputError

ADMINISTRATION_STACK = "relight-stackset-administration"
EXECUTION_STACK = "relight-stackset-execution"
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
# What the execution role may do: what the estate's global templates hold (IAM roles, instance
# profiles and policies; SNS topics), and CloudFormation, S3 and SNS, which StackSets itself
# uses in the target account (AWS's example policy for a restricted execution role).
EXECUTION_ACTIONS = ["cloudformation:*", "iam:*", "s3:*", "sns:*", "kms:DescribeKey", "logs:*"]


def administration_template(role_name: str, execution_role_name: str) -> str:
    return json.dumps(
        {
            "Description": "relight: the StackSets administration role (self-managed permissions)",
            "Resources": {
                "AdministrationRole": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": role_name,
                        "AssumeRolePolicyDocument": _trust(
                            {"Service": "cloudformation.amazonaws.com"}
                        ),
                        "Policies": [
                            {
                                "PolicyName": "AssumeExecutionRole",
                                "PolicyDocument": {
                                    "Version": "2012-10-17",
                                    "Statement": [
                                        {
                                            "Effect": "Allow",
                                            "Action": "sts:AssumeRole",
                                            "Resource": f"arn:*:iam::*:role/{execution_role_name}",
                                        }
                                    ],
                                },
                            }
                        ],
                    },
                }
            },
            "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["AdministrationRole", "Arn"]}}},
        },
        sort_keys=True,
    )


def execution_template(role_name: str, administrator: str) -> str:
    return json.dumps(
        {
            "Description": "relight: the StackSets execution role (self-managed permissions)",
            "Resources": {
                "ExecutionRole": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": role_name,
                        "AssumeRolePolicyDocument": _trust(
                            {"AWS": f"arn:aws:iam::{administrator}:root"}
                        ),
                        "Policies": [
                            {
                                "PolicyName": "StackSetResources",
                                "PolicyDocument": {
                                    "Version": "2012-10-17",
                                    "Statement": [
                                        {
                                            "Effect": "Allow",
                                            "Action": EXECUTION_ACTIONS,
                                            "Resource": "*",
                                        }
                                    ],
                                },
                            }
                        ],
                    },
                }
            },
            "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}}},
        },
        sort_keys=True,
    )


def _trust(principal: dict[str, str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }


@dataclass(frozen=True)
class RoleNeed:
    """One role StackSets needs: where, its name, who must be trusted, its template."""

    account: str
    role_name: str
    trusted: str  # the principal that must be allowed to assume it
    stack_name: str
    body: str


def trust_problem(document: Any, trusted: str) -> str | None:
    """What is wrong with a role's trust policy for StackSets, or None: `trusted` (a service
    name or an account) must be allowed sts:AssumeRole."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    principals: list[str] = []
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(
            actions
        ):
            continue
        for value in (statement.get("Principal") or {}).values():
            principals += [value] if isinstance(value, str) else list(value)
    account_forms = {trusted, f"arn:aws:iam::{trusted}:root"}
    if any(p in account_forms or p.startswith(f"arn:aws:iam::{trusted}:") for p in principals):
        return None
    shown = ", ".join(principals) or "nobody"
    return f"its trust policy lets {shown} assume it, not {trusted}"


def ensure_role(
    iam: Any,
    stacks: Stacks,
    need: RoleNeed,
    *,
    say: Callable[[str], None] = lambda _: None,
) -> str:
    """The role exists and trusts whom it must: made (as the relight stack `need.stack_name`)
    when missing; checked when it exists (InputError naming what is wrong, nothing changed)."""
    from botocore.exceptions import ClientError

    try:
        role = iam.get_role(RoleName=need.role_name)["Role"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise aws_failure(
                exc, f"read the IAM role {need.role_name} in {need.account}", iam
            ) from exc
        role = None
    if role is not None:
        problem = trust_problem(role.get("AssumeRolePolicyDocument") or {}, need.trusted)
        if problem:
            raise InputError(
                f"account {need.account}: the role {need.role_name} that StackSets acts through "
                f"exists, but {problem}",
                hint=f"let {need.trusted} assume {need.role_name} (its trust policy), or delete "
                f"the role and rerun: relight then makes it as the stack {need.stack_name}; "
                "nothing was changed",
            )
        return f"account {need.account}: role {need.role_name} stands and trusts {need.trusted}"
    say(f"account {need.account}: making role {need.role_name} (stack {need.stack_name})")
    stacks.call(
        f"create stack {need.stack_name}",
        stacks.cfn.create_stack,
        StackName=need.stack_name,
        TemplateBody=need.body,
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Tags=[{"Key": "relight:purpose", "Value": "stacksets"}],
    )
    _wait_created(stacks, need.stack_name)
    return f"account {need.account}: role {need.role_name} made (stack {need.stack_name})"


def _wait_created(stacks: Stacks, name: str) -> None:
    started = stacks.clock()
    delay = 0.2
    while True:
        stack = stacks.state(name)
        status = stack["StackStatus"] if stack else "gone"
        if status == "CREATE_COMPLETE":
            return
        if not status.endswith("_IN_PROGRESS"):
            raise DeployError(
                f"stack {name} ended {status}: {stacks.first_failure(name, None)}",
                hint="see its events (aws cloudformation describe-stack-events --stack-name "
                f"{name}); delete it and rerun",
            )
        if stacks.clock() - started > stacks.timeout:
            raise DeployError(f"stack {name} still {status} after {stacks.timeout:.0f} s")
        stacks.sleep(delay)
        delay = min(delay * 1.5, 10.0)


def organization(organizations: Any, administrator: str) -> dict[str, Any]:
    """DescribeOrganization; InputError (nothing changed) when the account is in none."""
    from botocore.exceptions import ClientError

    try:
        found: dict[str, Any] = organizations.describe_organization()["Organization"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "AWSOrganizationsNotInUseException":
            raise InputError(
                f"stacksets.permissions is service_managed, but account {administrator} is not "
                "in an AWS Organizations organization",
                hint="use permissions: self_managed (relight makes the two roles), or run "
                "prepare with the organization's management account as administrator",
            ) from exc
        raise aws_failure(exc, "read the organization (AWS Organizations)", organizations) from exc
    return found


def check_organizations(organizations: Any, administrator: str, call_as: str = "SELF") -> list[str]:
    """Service-managed permissions: what Organizations says, as notes when all is well;
    InputError (nothing changed) naming what to do when it is not. CallAs SELF acts as the
    management account; DELEGATED_ADMIN as a delegated administrator (a member account)."""
    from botocore.exceptions import ClientError

    org = organization(organizations, administrator)
    management = org.get("MasterAccountId")
    if call_as == "SELF" and management != administrator:
        raise InputError(
            f"stacksets.permissions is service_managed, but the administrator {administrator} is "
            f"not the organization's management account ({management})",
            hint="if it is a delegated administrator for StackSets, set stacksets.call_as: "
            "DELEGATED_ADMIN; else make the management account the estate's administrator, or "
            "use permissions: self_managed",
        )
    if call_as == "DELEGATED_ADMIN" and management == administrator:
        raise InputError(
            f"stacksets.call_as is DELEGATED_ADMIN, but the administrator {administrator} is the "
            "organization's management account",
            hint="set stacksets.call_as: SELF (or make a delegated administrator the estate's "
            "administrator); nothing was changed",
        )
    try:
        enabled = organizations.list_aws_service_access_for_organization()
    except ClientError as exc:
        raise aws_failure(exc, "read the organization's trusted services", organizations) from exc
    principals = {p.get("ServicePrincipal") for p in enabled.get("EnabledServicePrincipals", [])}
    if STACKSETS_PRINCIPAL not in principals:
        raise InputError(
            "StackSets' trusted access with AWS Organizations is not activated "
            f"({STACKSETS_PRINCIPAL} is not among the organization's trusted services)",
            hint="activate it once from the management account: aws cloudformation "
            "activate-organizations-access (or the CloudFormation console, StackSets); nothing "
            "was changed",
        )
    return [
        f"organization {org.get('Id')}: StackSets' trusted access is active; StackSets makes "
        f"its own roles in the member accounts (it does not deploy to the management account "
        f"{management}), called as {call_as}"
    ]
