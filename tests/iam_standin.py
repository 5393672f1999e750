"""Running relight as an IAM user on the stand-in, with moto's IAM enforcement on (issue 22).

The stand-in is moto's server; moto checks a request against the caller's IAM policies only
once enforcement is on (`POST /moto-api/reset-auth` with the number of requests still let
through unchecked: 0 turns it on, `inf` off). What it checks, and what it cannot, is in
docs/stand-in.md ("IAM enforcement"); the two things this harness adapts to:

- moto names the action a request needs `<signing name>:<botocore operation>`: `s3:HeadObject`
  where IAM asks for `s3:GetObject`, `s3:PutBucketEncryption` for
  `s3:PutEncryptionConfiguration`, `monitoring:PutMetricData` for `cloudwatch:PutMetricData`.
  `moto_view` adds, beside each action a policy grants, the names moto asks for the calls IAM
  covers with it (by `iam_action`), and nothing else: an action taken out of the policy is
  taken out of its moto view too.
- moto matches a statement's `Resource` against `*` for every service but S3 (which it gives
  the bucket's and the key's ARN): a statement scoped to ARNs would grant nothing there, so
  its moto view is `*`. S3 statements keep their resources. Conditions are left as they are
  (moto evaluates none of an identity policy's: no request context).

The policies are `relight policy`'s own output (`relight_policy`).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import boto3

# The botocore services relight calls (their IAM prefix is their signing name but CloudWatch's).
SERVICES = (
    "autoscaling", "cloudformation", "cloudwatch", "ec2", "elbv2", "iam", "kms", "rds",
    "route53", "s3", "secretsmanager", "service-quotas", "sts",
)  # fmt: skip
IAM_PREFIX = {"monitoring": "cloudwatch"}  # signing name → IAM's prefix, where they differ
# The calls whose IAM action is not `<prefix>:<operation>` (IAM's Service Authorization
# Reference, "Actions defined by Amazon S3": HeadObject and HeadBucket are authorized as
# s3:GetObject and s3:ListBucket).
S3_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "HeadBucket": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "DeleteObjects": "s3:DeleteObject",
}


@cache
def _models() -> dict[str, Any]:
    import botocore.session

    session = botocore.session.get_session()
    return {service: session.get_service_model(service) for service in SERVICES}


def iam_action(service: str, operation: str) -> str:
    """The IAM action a call needs: the table's (`relight.model.permissions.iam_action`) once
    it is merged, else (and for a call the table does not know) `<IAM prefix>:<operation>`
    with S3's exceptions."""
    try:
        from relight.model import permissions

        return str(permissions.iam_action(service, operation))
    except (ImportError, LookupError, ValueError):  # no table yet (issue 22), or not in it
        if service == "s3" and operation in S3_ACTIONS:
            return S3_ACTIONS[operation]
        signing = _models()[service].signing_name
        return f"{IAM_PREFIX.get(signing, signing)}:{operation}"


def policy_of(calls: frozenset[str]) -> dict[str, Any]:
    """A policy granting exactly the IAM actions of `calls` ("service.Operation"), on `*`."""
    actions = sorted({iam_action(*call.split(".", 1)) for call in calls})
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }


def relight_policy(env_file: Path, relight: str, env: dict[str, str], *who: str) -> dict[str, Any]:
    """`relight policy --env FILE --for W` for each W of `who`, as one document (their
    statements together, the Sids made unique by the `--for` they came from)."""
    statements: list[dict[str, Any]] = []
    for name in who:
        run = subprocess.run(
            [relight, "policy", "--env", str(env_file), "--for", name],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        for statement in json.loads(run.stdout)["Statement"]:
            statements.append({**statement, "Sid": f"{name.capitalize()}{statement['Sid']}"})
    return {"Version": "2012-10-17", "Statement": statements}


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def moto_view(policy: dict[str, Any]) -> dict[str, Any]:
    """`policy` as moto can enforce it (see the module's docstring): each Allow statement also
    grants moto's names of the calls its actions cover; its resources become `*` unless it
    grants S3 actions only. Deny statements are kept as they are."""
    view = copy.deepcopy(policy)
    statements = view["Statement"]
    for statement in [statements] if isinstance(statements, dict) else statements:
        if statement.get("Effect") != "Allow" or "Action" not in statement:
            continue
        granted = _listed(statement["Action"])
        names = set(granted)
        for service, model in _models().items():
            for operation in model.operation_names:
                action = iam_action(service, operation)
                if any(fnmatch.fnmatchcase(action, pattern) for pattern in granted):
                    names.add(f"{model.signing_name}:{operation}")
        statement["Action"] = sorted(names)
        if not all(action.startswith("s3:") for action in granted):
            statement["Resource"] = "*"
    return view


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """`policy` with `action` taken out of every statement that lists it (it must be listed)."""
    less = copy.deepcopy(policy)
    statements = less["Statement"]
    found = False
    for statement in [statements] if isinstance(statements, dict) else statements:
        listed = _listed(statement.get("Action", []))
        if action in listed:
            found = True
            statement["Action"] = [a for a in listed if a != action]
    assert found, f"{action} is not in the policy"
    return less


def create_user(endpoint: str, name: str, policy: dict[str, Any]) -> dict[str, str]:
    """An IAM user on the stand-in holding only `policy` (a managed policy of its name); its
    access key as the environment variables a process takes it from. Enforcement must be off."""
    iam = boto3.client("iam", "us-east-1", endpoint_url=endpoint)
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def _reset_auth(endpoint: str, unchecked: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=unchecked.encode(),
        # not a form: moto reads the raw body, which a form content type would consume
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["status"] == "ok"


@contextmanager
def enforced(endpoint: str) -> Iterator[None]:
    """moto checks every request against its caller's IAM policies inside the block."""
    _reset_auth(endpoint, "0")
    try:
        yield
    finally:
        _reset_auth(endpoint, "inf")
