"""The IAM action that authorizes each AWS API call relight makes.

Most actions are `<IAM prefix>:<OperationName>`; the prefix is usually botocore's service name,
and where it is not, and where an operation is authorized by an action of another name, the
tables below say so, each from AWS's Service Authorization Reference ("Actions, resources, and
condition keys for ...") or the operation's own page (docs/aws-behaviours.md, rows P1-P3).
"""

from __future__ import annotations

# botocore service name → IAM service prefix, where they differ (Service Authorization
# Reference: "AWS Elastic Load Balancing V2 (service prefix: elasticloadbalancing)", "Service
# Quotas (service prefix: servicequotas)"; CloudWatch's prefix is `cloudwatch` although its
# endpoint and signing name are `monitoring`).
PREFIXES: dict[str, str] = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "service-quotas": "servicequotas",
    # "you must add the following permissions to your IAM policy: tag:GetResources"
    # (Resource Groups Tagging API Reference, Overview)
    "resourcegroupstaggingapi": "tag",
}

# "<service>.<Operation>" → the IAM action, where it is not the operation's own name.
OVERRIDES: dict[str, str] = {
    # S3 API Reference, HeadObject: "To use HEAD, you must have the s3:GetObject permission"
    "s3.HeadObject": "s3:GetObject",
    # HeadBucket: "you must have permissions to perform the s3:ListBucket action"
    "s3.HeadBucket": "s3:ListBucket",
    # ListObjectsV2: "You must have permission to perform the s3:ListBucket action"
    "s3.ListObjectsV2": "s3:ListBucket",
    "s3.ListObjects": "s3:ListBucket",
    "s3.ListObjectVersions": "s3:ListBucketVersions",
    # S3's bucket configuration operations and the actions that authorize them
    "s3.PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3.GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3.PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3.GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3.PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3.GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3.GetObjectAttributes": "s3:GetObject",
    # ListBuckets: "You must have the s3:ListAllMyBuckets permission to use this operation"
    "s3.ListBuckets": "s3:ListAllMyBuckets",
    # DeleteObject with a VersionId needs s3:DeleteObjectVersion; relight deletes without one
}

# What a call needs besides its own action: checks the service makes on the caller's behalf,
# which no call log can see. EBS: "You must grant users permission to call the following actions
# in order to use EBS encryption: kms:CreateGrant, kms:Decrypt, kms:DescribeKey,
# kms:GenerateDataKeyWithoutPlainText, kms:ReEncrypt" (EBS User Guide, Amazon EBS encryption
# requirements), for a copy made under relight's key; a copy tagged as it is made also needs
# ec2:CreateTags (EC2 API Reference, CopySnapshot TagSpecifications). RDS: a copy under a KMS
# key needs kms:CreateGrant and kms:DescribeKey on it (RDS User Guide, Copying a DB snapshot).
EBS_ENCRYPTION = frozenset(
    {
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "ec2:CreateTags",
    }
)
RDS_COPY = frozenset({"kms:CreateGrant", "kms:DescribeKey"})
IMPLIED: dict[str, frozenset[str]] = {
    "ec2.CopySnapshot": EBS_ENCRYPTION,
    "ec2.CopyImage": EBS_ENCRYPTION,
    "ec2.CreateSnapshot": frozenset({"ec2:CreateTags"}),
    "rds.CopyDBSnapshot": RDS_COPY,
    "rds.CopyDBClusterSnapshot": RDS_COPY,
}

# Calls no policy has to allow: STS GetCallerIdentity "No permissions are required to perform
# this operation" (STS API Reference, GetCallerIdentity).
NO_PERMISSION_NEEDED: frozenset[str] = frozenset({"sts.GetCallerIdentity"})


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorizes `operation` of botocore's `service`:
    `("s3", "HeadObject")` → `s3:GetObject`, `("elbv2", "DescribeLoadBalancers")` →
    `elasticloadbalancing:DescribeLoadBalancers`."""
    override = OVERRIDES.get(f"{service}.{operation}")
    if override is not None:
        return override
    return f"{PREFIXES.get(service, service)}:{operation}"


def needs_permission(call: str) -> bool:
    """Whether the call `<service>.<Operation>` must be allowed by a policy."""
    return call not in NO_PERMISSION_NEEDED


def split_call(call: str) -> tuple[str, str]:
    """`"cloudformation.CreateStack"` → `("cloudformation", "CreateStack")`."""
    service, _, operation = call.rpartition(".")
    return service, operation
