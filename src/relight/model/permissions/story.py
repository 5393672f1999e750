"""The AWS calls of the stand-in's story (building the simulated production): listed in CALLS
(calls.py) so the suite's check knows them, never in an operator policy."""

from __future__ import annotations

from relight.model.permissions.bucket import BUCKET

STORY = "stand-in story"

STORY_CALLS: frozenset[str] = BUCKET | frozenset(
    {
        "autoscaling.DescribeAutoScalingGroups",
        "cloudformation.CreateStack",
        "cloudformation.DescribeStacks",
        "cloudformation.ListStackResources",
        "ec2.CopyImage",
        "ec2.CopySnapshot",
        "ec2.CreateImage",
        "ec2.CreateSnapshot",
        "ec2.CreateTags",
        "ec2.CreateVolume",
        "ec2.DescribeAvailabilityZones",
        "ec2.DescribeImages",
        "ec2.DescribeSnapshots",
        "ec2.DescribeVolumes",
        "ec2.RegisterImage",
        "kms.CreateAlias",
        "kms.CreateGrant",
        "kms.CreateKey",
        "kms.DescribeKey",
        "kms.GetKeyPolicy",
        "kms.ListGrants",
        "rds.CopyDBSnapshot",
        "rds.CreateDBCluster",
        "rds.CreateDBInstance",
        "rds.CreateDBSnapshot",
        "rds.DescribeAccountAttributes",
        "rds.DescribeDBSnapshots",
        "route53.CreateHostedZone",
        "route53.ListHostedZones",
        "s3.GetObject",
        "secretsmanager.CreateSecret",
        "secretsmanager.DescribeSecret",
        "secretsmanager.ReplicateSecretToRegions",
        "sts.AssumeRole",  # an estate's account: its story is told as the estate's role there
        "sts.GetCallerIdentity",
    }
)
