"""EC2 Auto Scaling and customer managed KMS keys: may its service-linked role use a key?

An Auto Scaling group launches its instances through the service-linked role
`arn:<partition>:iam::<account>:role/aws-service-role/autoscaling.amazonaws.com/
AWSServiceRoleForAutoScaling`. With volumes encrypted by a *customer managed*
key (named in the launch template, or inherited from the AMI's or snapshot's
encryption) that role needs the key, and it gets it only from the key policy
or from a grant: the account-wide "enable IAM policies" statement does not
help, the role's own AWS managed policy grants no KMS actions. Without it
every launch fails ("Client.InternalError: Client error on launch") and the
group never reaches capacity. See the EC2 Auto Scaling User Guide, "Required
AWS KMS key policy for use with encrypted volumes". AWS managed keys
(`aws/ebs`) need nothing.

`key_allows_autoscaling` reads DescribeKey, then for customer managed keys the
key policy (GetKeyPolicy, PolicyName "default") and the role's grants
(ListGrants filtered by grantee, every page). The role may use the key when
each operation AWS lists (Decrypt, GenerateDataKeyWithoutPlaintext,
ReEncryptFrom, ReEncryptTo, CreateGrant, DescribeKey) is covered by an Allow
statement naming the role (or `*`) or by a grant to it. Conditions are not
evaluated and Deny statements are not read: AWS's own recommended statement
for CreateGrant carries a `kms:GrantIsForAWSResource` condition, and a check
that guessed wrong about a condition would block a failover that works.

`ensure_autoscaling_grant` creates the grant AWS documents for this case,
once: a key that already allows the role is left alone.

GetKeyPolicy, ListGrants and CreateGrant take a key ID or key ARN, never an
alias, so everything after DescribeKey uses the ARN it returns.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from relight.errors import AwsError

ROLE_NAME = "AWSServiceRoleForAutoScaling"
GRANT_NAME = "relight-autoscaling"
# What the role must be allowed to do with the key (EC2 Auto Scaling User Guide).
NEEDED = (
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
)
# The grant AWS documents for the service-linked role (cross-account key access).
GRANT_OPERATIONS = [
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "CreateGrant",
]


def autoscaling_role_arn(partition: str, account: str) -> str:
    """The ARN of EC2 Auto Scaling's default service-linked role in `account`."""
    return (
        f"arn:{partition}:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/"
        f"{ROLE_NAME}"
    )


def arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an ARN: `arn:aws-cn:kms:cn-north-1:111122223333:key/…`."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"{arn!r} is not an ARN")
    return parts[1], parts[4]


def describe_key(kms: Any, key_id: str) -> dict[str, Any]:
    """The key's KeyMetadata (DescribeKey takes an ID, ARN, alias name or alias ARN)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return dict(kms.describe_key(KeyId=key_id)["KeyMetadata"])
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"KMS key {key_id}: cannot be described ({exc})",
            hint="check the key exists in this region and the credentials may call "
            "kms:DescribeKey on it",
        ) from exc


def autoscaling_role_for_key(kms: Any, key_id: str, account: str | None = None) -> str:
    """The role's ARN in the key's partition; in `account`, else in the key's own account."""
    partition, key_account = arn_parts(describe_key(kms, key_id)["Arn"])
    return autoscaling_role_arn(partition, account or key_account)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def role_principal(role_arn: str) -> Callable[[str], bool]:
    """A key-policy principal that is the role itself."""
    return lambda value: value == role_arn


def account_principal(account: str) -> Callable[[str], bool]:
    """A key-policy principal in the account: its id, its root ARN, or one of its roles or
    users (any partition). Naming the role that copies is as good as naming the account."""
    root = re.compile(
        rf"arn:aws[a-z-]*:(iam|sts)::{account}:(root|role/.+|user/.+|assumed-role/.+)"
    )
    return lambda value: value == account or bool(root.fullmatch(value))


def _names(statement: Mapping[str, Any], grantee: Callable[[str], bool]) -> bool:
    """The statement's Principal is `*`, or an AWS principal `grantee` accepts (or `*`).
    Conditions are not evaluated (see the module docstring)."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return any(value == "*" or grantee(str(value)) for value in _listed(principal.get("AWS")))


def _covers(statement: Mapping[str, Any], operation: str) -> bool:
    """IAM action matching: case-insensitive, `*` and `?` wildcards, NotAction inverted."""
    action = f"kms:{operation}".lower()
    if "NotAction" in statement:
        patterns = [str(p).lower() for p in _listed(statement["NotAction"])]
        return not any(fnmatch.fnmatchcase(action, p) for p in patterns)
    patterns = [str(p).lower() for p in _listed(statement.get("Action"))]
    return any(fnmatch.fnmatchcase(action, p) for p in patterns)


def policy_allows(
    policy: str, grantee: Callable[[str], bool], operations: Sequence[str] = NEEDED
) -> set[str]:
    """Which of `operations` (KMS operation names) the key policy's Allow statements give a
    principal `grantee` accepts (role_principal, account_principal)."""
    document = json.loads(policy)
    allowed: set[str] = set()
    for statement in _listed(document.get("Statement")):
        if statement.get("Effect") != "Allow" or not _names(statement, grantee):
            continue
        allowed.update(op for op in operations if _covers(statement, op))
    return allowed


def _grants(kms: Any, key_arn: str, role_arn: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"KeyId": key_arn, "GranteePrincipal": role_arn}
    while True:
        page = kms.list_grants(**request)
        yield from page.get("Grants", [])
        if not page.get("Truncated") or not page.get("NextMarker"):
            return
        request["Marker"] = page["NextMarker"]


def key_allows_autoscaling(
    kms: Any, key_id: str, role_arn: str, *, metadata: Mapping[str, Any] | None = None
) -> tuple[bool, str]:
    """Whether Auto Scaling's role may use the key for its volumes, and why (or what it lacks).

    `metadata` is the key's KeyMetadata when the caller has read it already (saves a call).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    meta = metadata if metadata is not None else describe_key(kms, key_id)
    if meta.get("KeyManager") == "AWS":
        return True, f"{key_id} is an AWS managed key"
    arn = str(meta["Arn"])
    try:
        policy = kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
        by_policy = policy_allows(policy, role_principal(role_arn))
        by_grant = {
            op for grant in _grants(kms, arn, role_arn) for op in grant.get("Operations", [])
        }
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"KMS key {key_id}: cannot read its policy or grants ({exc})",
            hint="the credentials need kms:GetKeyPolicy and kms:ListGrants on the key",
        ) from exc
    missing = [op for op in NEEDED if op not in by_policy | by_grant]
    if not missing:
        how = (
            "its key policy"
            if by_policy >= set(NEEDED)
            else "a grant"
            if by_grant >= set(NEEDED)
            else "its key policy and grants together"
        )
        return True, f"{how} lets {role_arn} use {key_id}"
    return False, (
        f"neither the key policy of {key_id} nor a grant lets {role_arn} use it "
        f"(missing: {', '.join('kms:' + op for op in missing)})"
    )


def ensure_autoscaling_grant(kms: Any, key_id: str, role_arn: str) -> str:
    """Let Auto Scaling's role use a customer managed key, with the grant AWS documents.

    Returns "aws-managed" (nothing needed), "present" (the policy or a grant allows it
    already; nothing created) or "created".
    """
    from botocore.exceptions import BotoCoreError, ClientError

    meta = describe_key(kms, key_id)
    if meta.get("KeyManager") == "AWS":
        return "aws-managed"
    allowed, _ = key_allows_autoscaling(kms, key_id, role_arn, metadata=meta)
    if allowed:
        return "present"
    try:
        kms.create_grant(
            KeyId=meta["Arn"],
            GranteePrincipal=role_arn,
            Operations=GRANT_OPERATIONS,
            Name=GRANT_NAME,
        )
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"KMS key {key_id}: cannot grant {role_arn} its use ({exc})",
            hint="the credentials need kms:CreateGrant on the key; or add the role to the "
            "key policy (EC2 Auto Scaling User Guide, 'Required AWS KMS key policy for use "
            "with encrypted volumes')",
        ) from exc
    return "created"


SERVICE_NAME = "autoscaling.amazonaws.com"


def role_name_taken(exc: Any) -> bool:
    """IAM's answer to CreateServiceLinkedRole when the role exists already: `InvalidInput`
    "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try
    a different suffix." (the code alone also means a malformed request: the text decides)."""
    error = getattr(exc, "response", {}).get("Error", {})
    if error.get("Code") == "EntityAlreadyExists":  # moto's answer (the stand-in), not AWS's
        return True
    return error.get("Code") == "InvalidInput" and "has been taken" in str(error.get("Message"))


def ensure_autoscaling_role(iam: Any, partition: str, account: str) -> tuple[str, str]:
    """Create EC2 Auto Scaling's default service-linked role (CreateServiceLinkedRole, an IAM
    control-plane call: made by `relight prepare` while IAM is up, never at failover).

    Returns ("created" or "present", the role's ARN). A role that exists already answers
    InvalidInput (`role_name_taken`): nothing to do, and its ARN is the documented one.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        role = iam.create_service_linked_role(AWSServiceName=SERVICE_NAME)["Role"]
    except ClientError as exc:
        if role_name_taken(exc):
            return "present", autoscaling_role_arn(partition, account)
        raise AwsError(
            f"iam role {ROLE_NAME}: cannot be created ({exc})",
            hint="the credentials need iam:CreateServiceLinkedRole for "
            f"{SERVICE_NAME}; or create it once by hand: aws iam create-service-linked-role "
            f"--aws-service-name {SERVICE_NAME}",
        ) from exc
    except BotoCoreError as exc:
        raise AwsError(
            f"iam role {ROLE_NAME}: IAM did not answer CreateServiceLinkedRole ({exc})",
            hint="IAM's control plane is in us-east-1: run relight prepare again once it answers",
        ) from exc
    return "created", str(role["Arn"])
