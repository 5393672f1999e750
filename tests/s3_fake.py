"""S3 as AWS documents it for relight's bucket and run lock, one request at a time, with its
own clock: `LastModified` and the `Date` header of each answer come from `clock`, the time of
S3's machine, which a test may set apart from the clocks of the runs it serves."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError

REGION = "us-west-2"
PRECONDITION = "At least one of the pre-conditions you specified did not hold"


def error(code: str, message: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeS3:
    """S3 as AWS documents its conditional requests, one request at a time.

    PutObject with If-None-Match "*" fails with 412 PreconditionFailed when the key exists;
    with If-Match, 412 when the ETag differs and 404 NoSuchKey when there is no such key.
    DeleteObject with If-Match likewise. `conflicts` answers that many conditional writes
    with 409 ConditionalRequestConflict ("retry"); `pause` waits between reading the key
    and writing it (outside the lock), so that racing threads both get that far. The
    operations in `refuse` (CreateBucket and the bucket's configuration) are answered 503.
    `clock` is S3's own time (default: this machine's): `LastModified` (whole seconds, as S3
    keeps it) and each GetObject answer's `Date` header.
    """

    def __init__(
        self, pause: float = 0.0, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.clock = clock
        self.buckets: dict[str, dict[str, tuple[bytes, str, datetime]]] = {}
        self.pause = pause
        self.conflicts = 0
        self.calls: list[str] = []
        self.refuse: set[str] = set()  # operations answered 503 (a control plane out of reach)
        self.configured: dict[str, list[str]] = {}  # bucket: its configuration calls, in order
        self.meta = SimpleNamespace(endpoint_url=f"https://s3.{REGION}.amazonaws.com")
        self._lock = threading.Lock()

    def _objects(self, bucket: str, operation: str) -> dict[str, tuple[bytes, str, datetime]]:
        if bucket not in self.buckets:
            raise error("NoSuchBucket", "The specified bucket does not exist", 404, operation)
        return self.buckets[bucket]

    def _check(self, key: str, objects: dict[str, Any], operation: str, **condition: str) -> None:
        current = objects.get(key)
        if condition.get("IfNoneMatch") == "*" and current is not None:
            raise error("PreconditionFailed", PRECONDITION, 412, operation)
        if "IfMatch" in condition:
            if current is None:
                raise error("NoSuchKey", "The specified key does not exist.", 404, operation)
            if current[1] != condition["IfMatch"]:
                raise error("PreconditionFailed", PRECONDITION, 412, operation)

    def put_object(
        self, *, Bucket: str, Key: str, Body: bytes, ContentType: str = "", **condition: str
    ) -> dict[str, Any]:
        self.calls.append("PutObject")
        if self.pause:
            time.sleep(self.pause)
        with self._lock:
            objects = self._objects(Bucket, "PutObject")
            if condition and self.conflicts:
                self.conflicts -= 1
                raise error(
                    "ConditionalRequestConflict",
                    "A conflicting operation occurred. Please retry.",
                    409,
                    "PutObject",
                )
            self._check(Key, objects, "PutObject", **condition)
            etag = f'"{hashlib.md5(Body).hexdigest()}"'
            objects[Key] = (Body, etag, self.clock().replace(microsecond=0))
            return {"ETag": etag}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append("GetObject")
        with self._lock:
            objects = self._objects(Bucket, "GetObject")
            if Key not in objects:
                raise error("NoSuchKey", "The specified key does not exist.", 404, "GetObject")
            body, etag, written = objects[Key]
            return {
                "Body": io.BytesIO(body),
                "ETag": etag,
                "LastModified": written,
                "ResponseMetadata": {
                    "HTTPStatusCode": 200,
                    "HTTPHeaders": {"date": format_datetime(self.clock(), usegmt=True)},
                },
            }

    def delete_object(self, *, Bucket: str, Key: str, **condition: str) -> dict[str, Any]:
        self.calls.append("DeleteObject")
        with self._lock:
            objects = self._objects(Bucket, "DeleteObject")
            self._check(Key, objects, "DeleteObject", **condition)
            objects.pop(Key, None)
            return {"ResponseMetadata": {"HTTPStatusCode": 204}}

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        """An answer to HEAD has no body: a missing bucket or key is a bare 404."""
        self.calls.append("HeadObject")
        with self._lock:
            if Key not in self.buckets.get(Bucket, {}):
                raise error("404", "Not Found", 404, "HeadObject")
            _, etag, written = self.buckets[Bucket][Key]
            return {"ETag": etag, "LastModified": written}

    def create_bucket(self, *, Bucket: str, **_: Any) -> None:
        self.calls.append("CreateBucket")
        self._refuse("CreateBucket")
        with self._lock:
            if Bucket in self.buckets:  # outside us-east-1, as S3 answers its owner
                raise error(
                    "BucketAlreadyOwnedByYou", "Your previous request to create the named "
                    "bucket succeeded and you already own it.", 409, "CreateBucket",
                )  # fmt: skip
            self.buckets[Bucket] = {}

    def _configure(self, operation: str, bucket: str) -> None:
        self.calls.append(operation)
        self._refuse(operation)
        self._objects(bucket, operation)
        self.configured.setdefault(bucket, []).append(operation)

    def _refuse(self, operation: str) -> None:
        if operation in self.refuse:
            raise error("ServiceUnavailable", "Please reduce your request rate.", 503, operation)

    def put_public_access_block(self, *, Bucket: str, **_: Any) -> None:
        self._configure("PutPublicAccessBlock", Bucket)

    def put_bucket_policy(self, *, Bucket: str, **_: Any) -> None:
        self._configure("PutBucketPolicy", Bucket)

    def put_bucket_encryption(self, *, Bucket: str, **_: Any) -> None:
        self._configure("PutBucketEncryption", Bucket)

    def put_bucket_versioning(self, *, Bucket: str, **_: Any) -> None:
        self._configure("PutBucketVersioning", Bucket)

    def put_bucket_lifecycle_configuration(self, *, Bucket: str, **_: Any) -> None:
        self._configure("PutBucketLifecycleConfiguration", Bucket)


class Clock:
    """A UTC clock that moves only when told."""

    def __init__(self) -> None:
        self.at = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
