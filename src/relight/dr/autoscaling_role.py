"""`relight prepare` readies EC2 Auto Scaling for a failover that may not call IAM.

Auto Scaling launches through its service-linked role `AWSServiceRoleForAutoScaling`. It
creates the role itself with the first group when it is missing, but that is an IAM
control-plane call, and IAM's control plane is in us-east-1: on the day us-east-1 is lost
that first group cannot launch. A customer managed key, too, lets the role in only by its
key policy or a grant, and a grant can name only a role that exists.

So `prepare`, while every region is healthy, creates the role (CreateServiceLinkedRole; an
existing one answers InvalidInput "... has been taken in this account ..."), grants it the
customer managed keys the failover's groups launch with (`prepared_keys`), and records both
in relight's bucket in the region (`relight.aws.prepared_record`). A failover reads that
record and asks only KMS, in its own region (`steps.preflight.autoscaling`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from relight.aws.grants import ROLE_NAME, ensure_autoscaling_grant, ensure_autoscaling_role
from relight.aws.prepared_record import AutoscalingRecord, write_autoscaling_record
from relight.model.plan import Plan
from relight.model.values import partition_of
from relight.steps.preflight.autoscaling import prepared_keys
from relight.steps.render import build_plan


def prepare_autoscaling(
    plan: Plan, aws: Any, account_id: str, now: Callable[[], datetime]
) -> list[str]:
    """Create Auto Scaling's role and the grants a failover into `plan.region` needs, record
    them, and say what was done (AwsError, with the fix, when IAM or KMS refuses)."""
    region = plan.region
    failover = build_plan(plan.loaded, region, stand_in=plan.stand_in, strategy=plan.strategy)
    state, role = ensure_autoscaling_role(
        aws.client("iam", region), partition_of(region), account_id
    )
    said = [f"iam role {ROLE_NAME}: {'created' if state == 'created' else 'exists'} ({role})"]
    keys: dict[str, str] = {}
    if prepared_keys(failover):
        kms = aws.client("kms", region)
        for key in prepared_keys(failover):
            keys[key] = ensure_autoscaling_grant(kms, key, role)
            if keys[key] != "aws-managed":
                said.append(f"KMS key {key}: Auto Scaling's grant {keys[key]}")
    record = AutoscalingRecord(role_arn=role, role=state, at=now().isoformat(), keys=keys)
    write_autoscaling_record(aws.client("s3", region), account_id, region, plan.env_name, record)
    return said
