"""The S3 bucket relight owns in a target region: template bodies over 51,200 bytes, and
the run locks.

CloudFormation takes a body up to 51,200 bytes inline and up to 1 MB from S3.
The bucket is `relight-templates-<account>-<region>`, made by `relight prepare` (or by the
first change of a run that needs it: never by a run that is refused, lock.py): encrypted,
versioned, all public access blocked, and reachable only over TLS (`tls_only_policy`); every
request names the account that must own it (bucket_owner.py). Creating and configuring a
bucket depends on us-east-1, so prepare does it before a disaster and writes READY_KEY last;
a run stores templates in the bucket once READY_KEY is there (an object read, regional) and
otherwise configures it first or refuses: templates never go into a half-configured bucket.
The run lock (lock.py) is written into the bucket whenever it exists: it holds no secret, and
a failover must be able to take it while us-east-1 is down. Each template is
stored under a key derived from its content hash, so an unchanged template is
uploaded once, and relight never deletes a template. Under `locks/` it keeps
the lock of each mutating run (lock.py), which the run deletes when it ends; a lifecycle rule
expires the lock's noncurrent versions (one per heartbeat) a day after they are replaced.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from relight.aws.bucket_owner import foreign_bucket
from relight.errors import AwsError

READY_KEY = "relight/configured.json"
# Each heartbeat rewrites a lock (lock.py) and each release deletes it: in a versioned bucket
# every one leaves a noncurrent version or a delete marker. Under `locks/` they expire a day
# after they stop being current (at most 10 newer ones kept), and a lone delete marker goes.
LOCK_VERSIONS_LIFECYCLE = {
    "Rules": [
        {
            "ID": "relight-lock-versions",
            "Filter": {"Prefix": "locks/"},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 10},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        }
    ]
}


# What relight asks of its bucket, for the hints: without s3:ListBucket, S3 answers a missing
# object with 403 AccessDenied, not 404 (GetObject, HeadObject: Permissions).
BUCKET_PERMISSIONS = (
    "relight needs s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on its own "
    "bucket (without s3:ListBucket, S3 answers a missing object with 403, not 404)"
)


def tls_only_policy(name: str) -> dict[str, Any]:
    """The bucket policy that denies every S3 action on the bucket and its objects to a request
    not sent over TLS (`aws:SecureTransport` false): AWS's documented form. A Deny grants
    nothing, so BlockPublicPolicy does not refuse it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowSSLRequestsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def bucket_name(account_id: str, region: str) -> str:
    """The name of relight's own bucket in `region` of `account_id`."""
    return f"relight-templates-{account_id}-{region}"


class TemplateBucket:
    def __init__(self, s3: Any, region: str, account_id: str) -> None:
        self.s3 = s3
        self.region = region
        self.name = bucket_name(account_id, region)
        self.account_id = account_id
        self._ready = False
        self.uploads = 0

    def ensure(self) -> None:
        """Use the bucket once it is known configured (its READY_KEY object exists: a data-
        plane read); otherwise create and configure it now, or refuse (`configure`)."""
        from botocore.exceptions import ClientError

        if self._ready:
            return
        try:
            self.s3.head_object(Bucket=self.name, Key=READY_KEY)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if status != 404 and code not in ("404", "NoSuchBucket", "NoSuchKey", "NotFound"):
                raise AwsError(
                    f"S3 bucket {self.name} exists but cannot be used: {exc}",
                    hint=f"{BUCKET_PERMISSIONS}. The bucket is this account's own, or S3 would "
                    "not say whose it is (s3:ListAllMyBuckets lets relight tell a bucket of "
                    "another account apart)",
                ) from exc
            self.configure()
        self._ready = True

    def configure(self) -> None:
        """Create the bucket unless it exists, then set all of its configuration (public
        access blocked, TLS only, encrypted, versioned, old lock versions expired: each call is
        idempotent, so an existing bucket gets what it lacks) and, last, write
        READY_KEY. A bucket is never used half-configured: if a call fails, AwsError."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError  # not a BotoCoreError

        try:
            create_bucket(self.s3, self.name, self.region, self.account_id)
            self.s3.put_public_access_block(
                Bucket=self.name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self.s3.put_bucket_policy(
                Bucket=self.name, Policy=json.dumps(tls_only_policy(self.name))
            )
            self.s3.put_bucket_encryption(
                Bucket=self.name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
            self.s3.put_bucket_versioning(
                Bucket=self.name, VersioningConfiguration={"Status": "Enabled"}
            )
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=self.name, LifecycleConfiguration=LOCK_VERSIONS_LIFECYCLE
            )
            self.s3.put_object(
                Bucket=self.name,
                Key=READY_KEY,
                Body=b'{"configured": ["public access block", "tls-only policy", "encryption", '
                b'"versioning", "lifecycle"]}',
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            raise AwsError(
                f"relight's bucket {self.name} in {self.region} could not be created and "
                f"configured: {exc}",
                hint="creating and configuring a bucket depends on S3's control plane in "
                "us-east-1 (AWS Fault Isolation Boundaries); relight never stores templates in "
                "a bucket it could not configure. Make it before a disaster: relight prepare",
            ) from exc
        self._ready = True

    def url_for(self, body: str) -> str:
        """Upload `body` (once per content) and return the URL CloudFormation reads it from."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = f"templates/{hashlib.sha256(body.encode()).hexdigest()}.json"
        try:
            self.ensure()
            try:
                self.s3.head_object(Bucket=self.name, Key=key)
            except ClientError:
                self.s3.put_object(
                    Bucket=self.name, Key=key, Body=body.encode(), ContentType="application/json"
                )
                self.uploads += 1
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"cannot upload a template to s3://{self.name}/{key}: {exc}") from exc
        return f"{self.s3.meta.endpoint_url}/{self.name}/{key}"


def create_bucket(s3: Any, name: str, region: str, account_id: str | None = None) -> None:
    """Create a bucket in `region` (us-east-1 takes no LocationConstraint); one we own is fine.
    A name another account holds (BucketAlreadyExists: "The requested bucket name is not
    available") is `ForeignBucket` when `account_id` is given (relight's own bucket)."""
    from botocore.exceptions import ClientError

    location = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    try:
        s3.create_bucket(Bucket=name, **location)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "BucketAlreadyExists" and account_id:
            raise foreign_bucket(name, account_id) from exc
        if code != "BucketAlreadyOwnedByYou":
            raise
