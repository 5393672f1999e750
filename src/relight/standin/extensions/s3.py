"""S3 as AWS plays it where moto 5.2.5 does not: the bucket owner condition, and bucket
policies' conditions.

- **Bucket owner condition.** "If the account ID that you provide does not match the actual
  owner of the bucket, the request fails with the HTTP status code 403 Forbidden (access
  denied)" (S3 API Reference, ExpectedBucketOwner). moto ignores the header and, by default,
  serves another account's bucket to anyone. The stand-in answers a request whose
  `x-amz-expected-bucket-owner` is not the bucket's account with 403 `AccessDenied` "Access
  Denied" (S3's Error codes), before moto reads or writes anything.
- **Bucket policies.** moto checks an object request against the bucket policy with no request
  context, and a statement whose condition it cannot match becomes a Deny: the TLS-only policy
  (Deny when `aws:SecureTransport` is false) refused every object request. AWS applies a
  statement only when its conditions hold. The stand-in evaluates the bucket policy's
  statements as AWS does for the keys it knows (`aws:SecureTransport`; a statement that names
  another key does not apply) and answers a Deny with 403 `AccessDenied`. The transport is
  secure when the request came over https; the stand-in's own endpoint is plain http on
  127.0.0.1, the one place relight cannot speak TLS, so a request to a loopback address counts
  as secure there (nothing leaves the machine). In-process moto sees the URL botocore built:
  https, unless a client names an http endpoint, which the TLS-only policy then refuses.

Written against moto 5.2.5. Nothing here runs against AWS.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from moto.iam.access_control import PermissionResult
from moto.s3.exceptions import BucketAccessDeniedError
from moto.s3.models import FakeBucket, s3_backends
from moto.s3.responses import S3Response

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_request = threading.local()  # the request being served: is its transport secure?


def secure_transport(url: str) -> bool:
    """`aws:SecureTransport` for a request to `url` (see above)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.hostname or "") in _LOOPBACK


def _matches(patterns: Any, value: str) -> bool:
    listed = patterns if isinstance(patterns, list) else [patterns]
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in listed)


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    """Every condition of a statement holds for the request (`context`: its keys). A key the
    request does not carry makes the condition false (the statement does not apply)."""
    for operator, pairs in conditions.items():
        for key, wanted in pairs.items():
            actual = context.get(key.lower())
            values = [str(v).lower() for v in (wanted if isinstance(wanted, list) else [wanted])]
            if actual is None or operator not in ("Bool", "StringEquals"):
                return False
            if actual.lower() not in values:
                return False
    return True


def evaluate(policy: str | bytes, action: str, resource: str, context: dict[str, str]) -> Any:
    """DENIED when a Deny statement applies, PERMITTED when only Allows do, else NEUTRAL.
    A statement naming a principal other than everyone is not evaluated (moto cannot tell
    who is asking; moto itself does the same)."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    result = PermissionResult.NEUTRAL
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Principal") not in ("*", {"AWS": "*"}):
            continue
        if "NotAction" in statement:
            if _matches(statement["NotAction"], action):
                continue
        elif not _matches(statement.get("Action", []), action):
            continue
        if not _matches(statement.get("Resource", []), resource):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement.get("Effect") == "Deny":
            return PermissionResult.DENIED
        result = PermissionResult.PERMITTED
    return result


def _permission(self: FakeBucket, action: str, resource: str) -> Any:
    """moto's FakeBucket.get_permission, with the statements' conditions evaluated."""
    if self.policy is None:
        return PermissionResult.NEUTRAL
    secure = getattr(_request, "secure", True)
    context = {"aws:securetransport": "true" if secure else "false"}
    return evaluate(self.policy, action, resource, context)


def _refused(self: Any, request: Any, full_url: str, key: str | None) -> None:
    """Refuse, as S3 does, a request whose bucket another account owns than it expects, or
    whose bucket policy denies it; remember the request's transport for moto's own check."""
    _request.secure = secure_transport(str(getattr(request, "url", None) or full_url))
    name = self.parse_bucket_name_from_url(request, full_url)
    if not name:
        return
    expected = request.headers.get("x-amz-expected-bucket-owner")
    owner = s3_backends.bucket_accounts.get(name)
    if expected and owner is not None and owner[1] != expected:
        raise BucketAccessDeniedError(bucket=name)
    if owner is None:
        return
    bucket = s3_backends[owner[1]][owner[0]].buckets.get(name)
    if bucket is None or bucket.policy is None:
        return
    # the object's ARN for an object request; for the bucket's own, only statements that
    # name every action (s3:*) are sure to apply, whatever moto's name for the action
    resource = f"arn:aws:s3:::{name}/{key}" if key else f"arn:aws:s3:::{name}"
    if _permission(bucket, "s3:*", resource) == PermissionResult.DENIED:
        raise BucketAccessDeniedError(bucket=name)


def install() -> None:
    """Wrap moto's bucket and object handlers (written against moto 5.2.5)."""
    bucket_response = S3Response._bucket_response
    key_response = S3Response._key_response

    def _bucket(self: Any, request: Any, full_url: str) -> Any:
        _refused(self, request, full_url, None)
        return bucket_response(self, request, full_url)

    def _key(self: Any, request: Any, full_url: str) -> Any:
        _refused(self, request, full_url, self.parse_key_name())
        return key_response(self, request, full_url)

    S3Response._bucket_response = _bucket  # type: ignore[method-assign]
    S3Response._key_response = _key  # type: ignore[method-assign]
    FakeBucket.get_permission = _permission  # type: ignore[method-assign]
