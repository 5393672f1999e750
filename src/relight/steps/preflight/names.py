"""What the stacks name, there or free: key pairs and hosted zones that must exist, stack
names that must be free or relight's own, and relight's bucket in the target region (a note
when prepare has not made it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relight.aws.bucket import READY_KEY, bucket_name
from relight.aws.cloudformation import owned_by
from relight.aws.failures import aws_failure, endpoint_failed, is_aws_failure, refused, unreachable
from relight.errors import AwsError
from relight.model.plan import Plan
from relight.steps.preflight.templates import _literal_parameters


def _named_things(
    plan: Plan,
    parameter: str,
    what: str,
    exists: Callable[[str], bool],
    elsewhere: str | None = None,
    client: Any = None,
    only: Callable[[str], bool] = lambda key: True,
) -> tuple[list[str], list[str]]:
    """Problems for literal `parameter` values naming a `what` that does not exist (each value
    asked about once; a refused question is a problem too, never a pass), and notes.

    `elsewhere` names where the service's control plane lives when that is not the target
    region (Route 53: us-east-1): a question it leaves unanswered is then a note, because
    a failover must not depend on it. In the target region it is a failure (exit 1).
    """
    answers: dict[str, str | None] = {}  # value → problem, or None when it exists
    problems, notes = [], []
    for key, value in sorted(_literal_parameters(plan, parameter).items()):
        if not only(key):
            continue
        if value not in answers:
            try:
                answers[value] = None if exists(value) else f"no {what} {value}"
            except Exception as exc:
                if not is_aws_failure(exc):
                    raise
                if not endpoint_failed(exc):  # refused, or a request botocore would not make
                    answers[value] = f"cannot check {what} {value} ({exc})"
                elif elsewhere:
                    answers[value] = None
                    notes.append(
                        f"stacks.{key}.params.{parameter}: {what} {value} not checked: "
                        f"{elsewhere} {'did not answer' if unreachable(exc) else 'failed'} "
                        f"({type(exc).__name__})"
                    )
                elif unreachable(exc):
                    raise AwsError(
                        f"{plan.region} did not answer while checking {what} {value} ({exc})",
                        hint="the region's endpoints are unreachable from here: check the "
                        "network, or fail over to another recovery region",
                    ) from exc
                else:
                    checking = f"cannot check {what} {value} in {plan.region}"
                    raise aws_failure(exc, checking, client) from exc
        if answers[value]:
            problems.append(f"stacks.{key}.params.{parameter}: {answers[value]}")
    return problems, notes


def _key_pairs(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    ec2 = aws.client("ec2", plan.region)

    def exists(name: str) -> bool:
        by_name = [{"Name": "key-name", "Values": [name]}]
        return bool(ec2.describe_key_pairs(Filters=by_name)["KeyPairs"])

    return _named_things(plan, "KeyName", "key pair", exists, client=ec2)


def _hosted_zones(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    down = aws.down("route53", plan.region)
    if down:  # an outage rehearsal declares Route 53's control plane lost: not even asked
        return [], [
            f"stacks.{key}.params.HostedZoneName: hosted zone {value} not checked ({down})"
            for key, value in sorted(_literal_parameters(plan, "HostedZoneName").items())
        ]
    route53 = aws.client("route53", plan.region, bounded=True)  # control plane: us-east-1

    def exists(zone: str) -> bool:
        wanted = zone.rstrip(".") + "."  # Route 53 names zones with the trailing dot
        found = route53.list_hosted_zones_by_name(DNSName=wanted, MaxItems="1")["HostedZones"]
        return bool(found) and found[0]["Name"] == wanted

    return _named_things(
        plan,
        "HostedZoneName",
        "hosted zone",
        exists,
        "Route 53 (its control plane is in us-east-1)",
        route53,
        only=lambda key: not plan.loaded.env.stacks[key].role_arn,  # records.py: as its role
    )


def _stack_names(plan: Plan, existing: list[dict[str, Any]]) -> list[str]:
    names = {sp.name for sp in plan.stacks.values()}
    problems = []
    for stack in existing:
        if stack["StackName"] in names and not owned_by(stack, plan.env_name):
            problems.append(
                f"stack {stack['StackName']} exists in {plan.region} and is not relight's for "
                f"{plan.env_name}; rename the stack in the environment file or remove the other"
            )
    return problems


def _own_bucket(plan: Plan, aws: Any, account_id: str | None) -> list[str]:
    """relight's bucket in the target region (the run lock, large templates) should exist,
    configured by prepare (its READY_KEY written last), before a disaster: creating and
    configuring a bucket is documented as depending on us-east-1. A note when it does not
    exist or was left unconfigured (this run would create or configure it), never a
    blocker."""
    from botocore.exceptions import ClientError

    if not account_id or plan.region == "us-east-1":
        return []
    name = bucket_name(account_id, plan.region)
    s3 = aws.client("s3", plan.region)
    try:
        try:
            s3.head_object(Bucket=name, Key=READY_KEY)  # a regional object read
            return []
        except ClientError as exc:
            if not _missing(exc):
                return []  # another refusal (access): the run says it when it uses the bucket
        s3.head_bucket(Bucket=name)
        state = (
            f"exists but was not configured by relight prepare (no {READY_KEY}): this "
            "run configures it"
        )
    except ClientError as exc:
        if not _missing(exc):
            return []
        state = "does not exist yet: this run creates it"
    except Exception as exc:
        if not is_aws_failure(exc):
            raise
        return []
    return [
        f"relight's bucket {name} {state}, which needs S3's bucket configuration (its "
        "control plane depends on us-east-1); make it before a disaster with relight "
        f"prepare --env {plan.env_name} --region {plan.region}"
    ]


def _missing(exc: Any) -> bool:
    """S3 said the bucket or the object is not there (a HEAD's 404 has no body: code "404")."""
    code = str(exc.response.get("Error", {}).get("Code"))
    return refused(exc) and code in ("404", "NoSuchBucket", "NoSuchKey", "NotFound")
