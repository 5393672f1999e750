"""Every S3 request names the account that must own its bucket (`ExpectedBucketOwner`), and a
bucket of relight's that another account holds is refused by name.

relight's bucket is `relight-templates-<account>-<region>`: a predictable name, and S3's bucket
names are one namespace shared by every account. Anyone can create it first; relight would then
write its run locks and its templates (deployed with CAPABILITY_NAMED_IAM) into a stranger's
bucket. S3's bucket owner condition stops that: "If the account ID that you provide does not
match the actual owner of the bucket, the request fails with the HTTP status code 403 Forbidden
(access denied)" (S3 API Reference, ExpectedBucketOwner of every operation that has it).

`expect_owner` installs two handlers on an S3 client, so no call can forget it:

- before each operation whose input has `ExpectedBucketOwner` (all but CreateBucket and
  ListBuckets among relight's), the member is set to the account the client acts in, unless the
  caller named one (a TemplateURL read names the account in the bucket's name);
- after a call that S3 answered 403 on a bucket named `relight-templates-<expected>-...`, relight
  asks ListBuckets, which "Returns a list of all buckets owned by the authenticated sender of the
  request", whether the bucket is its own: when it is not, the 403 was the owner condition and
  the run stops with `ForeignBucket`, naming the bucket; when it is (or ListBuckets is refused),
  the 403 is the caller's permissions and goes on as S3 answered it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relight.errors import InputError

PREFIX = "relight-templates-"
_BUCKET = "relight_bucket"  # the request's bucket and expected owner, kept in its context
_OWNER = "relight_expected_owner"


class ForeignBucket(InputError):
    """relight's bucket exists in another account: relight will not use it. Nothing changed."""


def foreign_bucket(name: str, account: str) -> ForeignBucket:
    region = owner_and_region(name)[1] or "its region"
    return ForeignBucket(
        f"relight's bucket {name} is owned by another account, not {account}: relight will "
        "not write its run locks or templates into it (S3 refused the request as the bucket "
        "owner condition, ExpectedBucketOwner, asks)",
        hint=f"the name relight-templates-<account>-<region> is predictable and S3 bucket names "
        "are shared by every account, so another account created it first. Nothing was changed. "
        f"If it is one of your own accounts, delete it there (aws s3 rb s3://{name} --force, "
        "with that account's credentials) and run relight prepare again; otherwise the name "
        "stays taken until its owner deletes it, and relight has no setting for another name: "
        f"report the bucket to your security team and recover into a region other than {region}",
    )


def owner_and_region(name: str) -> tuple[str | None, str | None]:
    """The account and region a `relight-templates-<account>-<region>` name says; else Nones."""
    if not name.startswith(PREFIX):
        return None, None
    account, _, region = name[len(PREFIX) :].partition("-")
    if len(account) != 12 or not account.isdigit() or not region:
        return None, None
    return account, region


def expect_owner(client: Any, account: Callable[[], str]) -> None:
    """Install the two handlers (see above) on the S3 client `client`; `account()` is the
    account the client acts in (asked only when a request needs it)."""

    def name_the_owner(params: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
        members = getattr(model.input_shape, "members", {}) if model.input_shape else {}
        if "ExpectedBucketOwner" not in members:
            return  # CreateBucket, ListBuckets: no bucket to own yet
        if not params.get("ExpectedBucketOwner"):
            params["ExpectedBucketOwner"] = account()
        if isinstance(context, dict) and params.get("Bucket"):
            context[_BUCKET] = str(params["Bucket"])
            context[_OWNER] = str(params["ExpectedBucketOwner"])

    def whose_bucket(http_response: Any, context: Any, **_: Any) -> None:
        if http_response.status_code != 403 or not isinstance(context, dict):
            return
        name, expected = context.get(_BUCKET), context.get(_OWNER)
        if not name or owner_and_region(str(name))[0] != expected:
            return  # not a bucket that names the account it expects
        if owns(client, str(name)) is False:
            raise foreign_bucket(str(name), str(expected))

    events = client.meta.events
    events.register("before-parameter-build.s3", name_the_owner, unique_id="relight-owner")
    events.register("after-call.s3", whose_bucket, unique_id="relight-owner-check")


def owns(client: Any, name: str) -> bool | None:
    """Whether the caller's account owns bucket `name` (ListBuckets lists only the caller's own
    buckets), or None when S3 will not say (ListBuckets refused, or did not answer)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # not a BotoCoreError

    try:
        found = client.list_buckets(Prefix=name).get("Buckets", [])
    except (ClientError, BotoCoreError, ResponseParserError):  # an outage's refusal included
        return None
    return any(bucket.get("Name") == name for bucket in found)
