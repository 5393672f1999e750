"""May EC2 Auto Scaling's service-linked role use the customer managed keys the volumes of a
stack's Auto Scaling group need (see `relight.aws.grants`)? Each problem says what lets the
role in. Asked without IAM, whose control plane is in us-east-1: `relight prepare` creates
the role and the grants while IAM is up and records them (`relight.aws.prepared_record`); a
failover reads that record and asks KMS in the target region, and with AWS managed keys (or
none) it reads no key policy at all."""

from __future__ import annotations

import json
from typing import Any

from relight.aws.failures import translated
from relight.aws.grants import ROLE_NAME, arn_parts, autoscaling_role_arn, key_allows_autoscaling
from relight.aws.prepared_record import AutoscalingRecord, read_autoscaling_record
from relight.errors import AwsError
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.steps.discovery import Discovery
from relight.steps.preflight.artifacts import _KeyBook


def autoscaling_stacks(plan: Plan) -> list[str]:
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


def _prepared_role(
    plan: Plan, aws: Any, account_id: str | None
) -> tuple[AutoscalingRecord | None, list[str]]:
    """What `relight prepare` recorded about Auto Scaling's role in the region (a regional S3
    read, never IAM), and a note when it recorded nothing."""
    if not account_id:
        return None, []
    try:
        record = read_autoscaling_record(
            aws.client("s3", plan.region), account_id, plan.region, plan.env_name
        )
    except AwsError as exc:
        return None, [f"iam role {ROLE_NAME}: what relight prepare recorded not read ({exc})"]
    if record is not None:
        return record, []
    return None, [
        f"iam role {ROLE_NAME}: relight prepare has not recorded it in {plan.region}; if it "
        "does not exist, EC2 Auto Scaling creates it with the first group, an IAM call whose "
        f"control plane is in us-east-1: run {_prepare(plan)} while every region is healthy"
    ]


def _prepare(plan: Plan) -> str:
    return f"relight prepare --env {plan.env_name} --region {plan.region}"


def _autoscaling_access(
    plan: Plan, aws: Any, discovery: Discovery, book: _KeyBook, account_id: str | None
) -> tuple[list[str], list[str]]:
    """May EC2 Auto Scaling's service-linked role use the customer managed keys its groups'
    volumes need? (See relight.aws.grants.) Problems, and notes for what could not be told.

    No IAM call: the role's ARN is the one `relight prepare` recorded, else the documented
    one in the account; KMS (regional) says whether a key lets it in."""
    from botocore.exceptions import ClientError

    stacks = autoscaling_stacks(plan)
    if not stacks:
        return [], []
    if plan.stand_in:
        return [], [
            f"stacks {', '.join(stacks)}: Auto Scaling's access to KMS keys not checked on the "
            "stand-in (moto launches without its service-linked role)"
        ]
    env = plan.loaded.env
    account_id = account_id or (None if env.recovery_account_id else env.account_id)
    record, notes = _prepared_role(plan, aws, account_id)
    wanted = _launch_keys(plan, discovery, stacks)
    customer: dict[str, dict[str, Any]] = {}
    for key_id in sorted(wanted):
        try:
            meta = book.describe(key_id)
        except ClientError:
            continue  # _kms_keys names it
        if meta.get("KeyManager") != "AWS":
            customer[key_id] = meta
    if customer and plan.phase == "prepare":
        # prepare itself grants the role these keys (after confirmation, before its deploy:
        # commands/failover.prepare): what it is about to grant counts as granted
        granting = _named_keys(book, plan)
        customer = {k: m for k, m in customer.items() if m.get("Arn") not in granting}
    problems = []
    for key_id, meta in customer.items():
        partition, key_account = arn_parts(str(meta["Arn"]))
        role = (
            record.role_arn
            if record
            else autoscaling_role_arn(partition, account_id or key_account)
        )
        try:
            with translated(f"cannot read the policy and grants of KMS key {key_id}", book.kms):
                allowed, why = key_allows_autoscaling(book.kms, key_id, role, metadata=meta)
        except AwsError as exc:
            notes.append(f"{wanted[key_id][0]}: {exc.message}; {exc.hint}")
            continue
        if not allowed:
            fix = _grant_fix(book, plan, meta, role)
            problems += [
                f"{where}: {why}, so the Auto Scaling group's instances would not launch "
                f"(Client.InternalError: Client error on launch); {fix}"
                for where in wanted[key_id]
            ]
    return problems, notes


def _grant_fix(book: Any, plan: Plan, meta: dict[str, Any], role: str) -> str:
    """What lets the role in: `relight prepare` (while IAM is up) makes the role and the
    grant on the keys the file names (the region's `kms_keys`, a KmsKeyId parameter); on any
    other key the operator makes the grant (or adds the role to the key policy)."""
    from relight.aws.grants import GRANT_OPERATIONS

    if meta.get("Arn") in _named_keys(book, plan):
        return (
            f"run {_prepare(plan)} while every region is healthy: it creates the role and the "
            "grant (or add the role to the key policy)"
        )
    return (
        f"add the role to the key policy, or grant it: aws kms create-grant --region "
        f"{plan.region} --key-id {meta.get('Arn')} --grantee-principal {role} --operations "
        + " ".join(GRANT_OPERATIONS)
    )


def _named_keys(book: Any, plan: Plan) -> set[str]:
    """The ARNs of the keys `relight prepare` grants (prepared_keys), as far as KMS says."""
    from botocore.exceptions import ClientError

    found = set()
    for key in prepared_keys(plan):
        try:
            found.add(str(book.describe(key).get("Arn")))
        except ClientError:
            continue
    return found


def prepared_keys(plan: Plan) -> list[str]:
    """The keys `relight prepare` lets Auto Scaling's role use: the region's `kms_keys` key
    (the copies' key) and the KmsKeyId parameters of the stacks that launch through a group."""
    keys = []
    configured = plan.loaded.env.kms_keys.get(plan.region)
    if configured:
        keys.append(configured)
    for key in autoscaling_stacks(plan):
        given = plan.stacks[key].parameters.get("KmsKeyId")
        if isinstance(given, str) and given and given not in keys:
            keys.append(given)
    return keys
