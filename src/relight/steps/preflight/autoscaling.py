"""May EC2 Auto Scaling's service-linked role use the customer managed keys the volumes of a
stack's Auto Scaling group need (see `relight.aws.grants`)? A missing role is a problem only
when such a key must name it, since AWS creates the role with the first group otherwise; IAM
not answering is a note. Each problem says what lets the role in."""

from __future__ import annotations

import json
from typing import Any

from relight.aws.failures import translated
from relight.aws.grants import ROLE_NAME, arn_parts, autoscaling_role_arn, key_allows_autoscaling
from relight.errors import AwsError
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.steps.discovery import Discovery
from relight.steps.preflight.artifacts import _KeyBook


def _autoscaling_stacks(plan: Plan) -> list[str]:
    """The stacks whose templates launch through an Auto Scaling group."""
    return [
        key
        for key, sp in plan.stacks.items()
        if any(
            resource.get("Type") == "AWS::AutoScaling::AutoScalingGroup"
            for resource in json.loads(sp.body).get("Resources", {}).values()
        )
    ]


def _launch_keys(plan: Plan, discovery: Discovery, stacks: list[str]) -> dict[str, list[str]]:
    """KMS key → where those stacks' volumes meet it: the literal KmsKeyId, and the keys of the
    encrypted AMIs and snapshots they restore from (a volume made from them needs that key too)."""
    wanted: dict[str, list[str]] = {}
    for key in stacks:
        params = plan.stacks[key].parameters
        given = params.get("KmsKeyId")
        if isinstance(given, str) and given:
            wanted.setdefault(given, []).append(f"stacks.{key}.params.KmsKeyId")
        for name, value in sorted(params.items()):
            if not isinstance(value, ArtifactRef) or value.artifact not in discovery.artifacts:
                continue
            if value.attribute:  # RootDeviceName and the like: the AMI is counted by its id
                continue
            art = discovery.artifacts[value.artifact]
            if art.kind in ("ami", "ebs_snapshot") and art.encrypted and art.kms_key:
                wanted.setdefault(art.kms_key, []).append(
                    f"stacks.{key}.params.{name} (artifacts.{art.name}: {art.id} is encrypted "
                    "with it)"
                )
    return wanted


def _autoscaling_role(aws: Any, region: str) -> tuple[str | None, bool, str | None]:
    """(the role's ARN, whether IAM says it does not exist, a note when IAM could not say)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    down = aws.down("iam", region)
    if down:
        return None, False, f"iam role {ROLE_NAME}: not checked ({down})"
    iam = aws.client("iam", region, bounded=True)  # IAM's control plane is in us-east-1
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    except ClientError as exc:
        why = str(exc.response.get("Error", {}).get("Code", "error"))
        if why == "NoSuchEntity":
            return None, True, None
    except (BotoCoreError, ResponseParserError) as exc:
        why = type(exc).__name__
    else:
        return str(role["Arn"]), False, None
    note = (
        f"iam role {ROLE_NAME}: not checked, IAM did not answer GetRole ({why}; its control "
        "plane is in us-east-1); Auto Scaling needs the role to launch"
    )
    return None, False, note


def _autoscaling_access(
    plan: Plan, aws: Any, discovery: Discovery, book: _KeyBook, account_id: str | None
) -> tuple[list[str], list[str]]:
    """May EC2 Auto Scaling's service-linked role use the customer managed keys its groups'
    volumes need? (See relight.aws.grants.) Problems, and notes for what could not be told."""
    from botocore.exceptions import ClientError

    stacks = _autoscaling_stacks(plan)
    if not stacks:
        return [], []
    if plan.stand_in:
        return [], [
            f"stacks {', '.join(stacks)}: Auto Scaling's access to KMS keys not checked on the "
            "stand-in (moto launches without its service-linked role)"
        ]
    wanted = _launch_keys(plan, discovery, stacks)
    customer: dict[str, dict[str, Any]] = {}
    for key_id in sorted(wanted):
        try:
            meta = book.describe(key_id)
        except ClientError:
            continue  # _kms_keys names it
        if meta.get("KeyManager") != "AWS":
            customer[key_id] = meta
    role_arn, missing, note = _autoscaling_role(aws, plan.region)
    notes = [note] if note else []
    replicate = (
        f"relight replicate --env {plan.env_name} --from {plan.loaded.env.home_region} "
        f"--to {plan.region}"
    )
    if missing:
        return _role_missing(stacks, customer, replicate)
    env = plan.loaded.env
    account_id = account_id or (None if env.recovery_account_id else env.account_id)
    problems = []
    for key_id, meta in customer.items():
        partition, key_account = arn_parts(str(meta["Arn"]))
        role = role_arn or autoscaling_role_arn(partition, account_id or key_account)
        try:
            with translated(f"cannot read the policy and grants of KMS key {key_id}", book.kms):
                allowed, why = key_allows_autoscaling(book.kms, key_id, role, metadata=meta)
        except AwsError as exc:
            notes.append(f"{wanted[key_id][0]}: {exc.message}; {exc.hint}")
            continue
        if not allowed:
            fix = _grant_fix(book, plan, meta, role, replicate)
            problems += [
                f"{where}: {why}, so the Auto Scaling group's instances would not launch "
                f"(Client.InternalError: Client error on launch); {fix}"
                for where in wanted[key_id]
            ]
    return problems, notes


def _grant_fix(book: Any, plan: Plan, meta: dict[str, Any], role: str, replicate: str) -> str:
    """What lets the role in: replicate makes the grant on the key of `kms_keys` for the
    region; on any other key the operator makes it (or adds the role to the key policy)."""
    from botocore.exceptions import ClientError

    from relight.aws.grants import GRANT_OPERATIONS

    configured = plan.loaded.env.kms_keys.get(plan.region)
    try:
        ours = bool(configured) and book.describe(configured).get("Arn") == meta.get("Arn")
    except ClientError:
        ours = False
    if ours:
        return f"run {replicate}, which creates the grant, or add the role to the key policy"
    return (
        f"add the role to the key policy, or grant it: aws kms create-grant --region "
        f"{plan.region} --key-id {meta.get('Arn')} --grantee-principal {role} --operations "
        + " ".join(GRANT_OPERATIONS)
    )


def _role_missing(
    stacks: list[str], customer: dict[str, dict[str, Any]], replicate: str
) -> tuple[list[str], list[str]]:
    """Without customer managed keys AWS creates the role with the first group (a note); with
    them a key must let the role in first, and nothing can name a role that does not exist."""
    if not customer:
        return [], [
            f"iam role {ROLE_NAME}: does not exist yet; EC2 Auto Scaling creates it with the "
            "first group (the credentials need iam:CreateServiceLinkedRole)"
        ]
    return [
        f"iam role {ROLE_NAME}: does not exist in this account, and stacks "
        f"{', '.join(stacks)} launch with customer managed KMS key(s) "
        f"{', '.join(sorted(customer))} that must let it in; run aws iam "
        f"create-service-linked-role --aws-service-name autoscaling.amazonaws.com, then "
        f"{replicate}, which creates the grant"
    ], []
