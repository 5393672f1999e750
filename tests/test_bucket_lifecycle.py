"""Relight's bucket is versioned, so each heartbeat of a lock leaves a noncurrent version: a
lifecycle rule on `locks/` expires them (docs/aws-behaviours.md S9). moto keeps and returns the
lifecycle configuration as S3 does; it does not run the expiry, which is S3's to do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from relight.aws.bucket import READY_KEY, TemplateBucket

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", REGION)


def _lock_rule(s3: Any, bucket: str) -> dict[str, Any]:
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return dict(rule)


def test_configure_expires_the_locks_noncurrent_versions(s3: Any) -> None:
    bucket = TemplateBucket(s3, REGION, ACCOUNT)
    bucket.configure()
    rule = _lock_rule(s3, bucket.name)
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "locks/"}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    assert rule["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def test_a_bucket_configured_before_the_rule_gets_it_at_its_next_configure(s3: Any) -> None:
    bucket = TemplateBucket(s3, REGION, ACCOUNT)
    s3.create_bucket(Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket.name, Key="locks/shop.json", Body=b"{}")
    with pytest.raises(s3.exceptions.ClientError) as none:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket.name)
    assert none.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    bucket.configure()
    assert _lock_rule(s3, bucket.name)["Filter"] == {"Prefix": "locks/"}
    assert s3.get_object(Bucket=bucket.name, Key="locks/shop.json")["Body"].read() == b"{}"
    s3.head_object(Bucket=bucket.name, Key=READY_KEY)
