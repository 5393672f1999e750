"""The application's secret in Secrets Manager: what relight reads of it, never its value.

A database stack's `app_secret` names a secret made in the home region and replicated to the
recovery regions (Secrets Manager replica regions). A replica has the primary's name, its ARN
is the primary's with the region changed, it is read-only (it changes only through its
primary, except for its KMS key), and each replica is encrypted with a key of its own region.
relight asks Secrets Manager in the target region only (DescribeSecret: metadata, no value),
so that a failover calls nothing in the lost home region; GetSecretValue is never called.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from relight.aws.failures import aws_failure, is_aws_failure

# The AWS managed key of Secrets Manager: one in every region, always usable by the service.
MANAGED_KEY = "alias/aws/secretsmanager"


@dataclass(frozen=True)
class SecretReplica:
    """What DescribeSecret in one region says of a secret (no value)."""

    name: str
    region: str
    arn: str
    primary_region: str | None  # the region of its primary (a replica's; None: not said)
    kms_key: str | None  # None: the AWS managed key aws/secretsmanager
    status: str | None = None  # the replication status of this region (InSync, Failed, ...)
    status_message: str | None = None

    @property
    def managed_key(self) -> bool:
        return self.kms_key is None or self.kms_key in (MANAGED_KEY, "aws/secretsmanager")


def describe_secret(client: Any, name: str, region: str) -> SecretReplica | None:
    """The secret `name` as Secrets Manager in `region` describes it, None when it is not
    there (ResourceNotFoundException: "Secrets Manager can't find the specified secret.").
    Other failures leave as AwsError, naming the call."""
    try:
        found = client.describe_secret(SecretId=name)
    except Exception as exc:
        if not is_aws_failure(exc):
            raise
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            return None
        raise aws_failure(exc, f"cannot describe secret {name} in {region}", client) from exc
    statuses: list[dict[str, Any]] = found.get("ReplicationStatus", [])
    status = next((s for s in statuses if s.get("Region") == region), {})
    # A replica reports its own key, or, in its ReplicationStatus, the key it was given.
    key = found.get("KmsKeyId") or status.get("KmsKeyId") or None
    return SecretReplica(
        name=name,
        region=region,
        arn=str(found["ARN"]),
        primary_region=found.get("PrimaryRegion"),
        kms_key=key,
        status=status.get("Status"),
        status_message=status.get("StatusMessage"),
    )


def replicate_command(name: str, home: str, region: str, kms_key: str | None = None) -> str:
    """The AWS CLI command that replicates secret `name` from `home` to `region`."""
    replica = f"Region={region}" + (f",KmsKeyId={kms_key}" if kms_key else "")
    return (
        f"aws secretsmanager replicate-secret-to-regions --secret-id {shlex.quote(name)} "
        f"--add-replica-regions {shlex.quote(replica)} --region {home}"
    )
