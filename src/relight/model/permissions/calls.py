"""The one table of every AWS call relight makes, by command: `"<botocore service>.<Operation>"`.

Filled from the code and from the call log of the suite (`RELIGHT_CALL_LOG`, relight.aws.clients);
tests/conftest.py fails the suite when a call it made is missing here. Whoever adds an AWS call
adds it in the same commit, at the end of its command's set, one per line: the commands that
change something are here, the read-only ones in reads.py, the stand-in's story (`stand-in
story`: building the simulated production, never in an operator policy) in story.py. A drill's
teardown and failback are the `drill` command's calls.
"""

from __future__ import annotations

from relight.model.permissions.bucket import BUCKET
from relight.model.permissions.reads import PLAN, READS
from relight.model.permissions.story import STORY, STORY_CALLS

# A failover is a plan's reads and then the deploy; a drill is a failover or a launch into its
# namespace, then a teardown (and its own snapshots and report). So their sets are built from
# each other's, and each lists only what it adds.
FAILOVER: frozenset[str] = (
    PLAN
    | BUCKET
    | frozenset(
        {
            "autoscaling.DescribeAutoScalingGroups",
            "cloudformation.CreateStack",
            "cloudformation.DeleteStack",
            "cloudformation.DescribeStackEvents",
            "cloudformation.ExecuteChangeSet",
            "cloudformation.ListStackResources",
            "cloudformation.UpdateStack",
            "cloudformation.UpdateTerminationProtection",
            "cloudwatch.PutMetricData",
            "ec2.DescribeInstanceStatus",
            "ec2.DescribeSecurityGroups",
            "ec2.DescribeVolumes",
            "elbv2.DescribeTargetGroups",
            "elbv2.DescribeTargetHealth",
            "kms.GetKeyPolicy",
            "kms.ListGrants",
            "s3.GetObject",
            "rds.PromoteReadReplica",
            "rds.RemoveFromGlobalCluster",
            "rds.DescribeGlobalClusters",
        }
    )
)
FAILBACK: frozenset[str] = BUCKET | frozenset(
    {
        "autoscaling.DescribeAutoScalingGroups",
        "cloudformation.CreateChangeSet",
        "cloudformation.DeleteChangeSet",
        "cloudformation.DeleteStack",
        "cloudformation.DescribeChangeSet",
        "cloudformation.DescribeStackEvents",
        "cloudformation.DescribeStacks",
        "cloudformation.ExecuteChangeSet",
        "cloudformation.GetTemplate",
        "cloudformation.ListStackResources",
        "cloudformation.ListStacks",
        "cloudformation.UpdateStack",
        "cloudformation.UpdateTerminationProtection",
        "cloudwatch.GetMetricStatistics",
        "cloudwatch.PutMetricData",
        "ec2.CopySnapshot",
        "ec2.CreateSnapshot",
        "ec2.DescribeAvailabilityZones",
        "ec2.DescribeImages",
        "ec2.DescribeInstanceTypeOfferings",
        "ec2.DescribeInstanceTypes",
        "ec2.DescribeInstances",
        "ec2.DescribeSecurityGroups",
        "ec2.DescribeSnapshots",
        "ec2.DescribeVolumes",
        "elbv2.CreateRule",
        "elbv2.DeleteRule",
        "elbv2.DescribeListeners",
        "elbv2.DescribeRules",
        "elbv2.DescribeTargetHealth",
        "iam.CreateServiceLinkedRole",
        "kms.DescribeKey",
        "kms.GetKeyPolicy",
        "kms.ListGrants",
        "rds.CopyDBSnapshot",
        "rds.CreateDBClusterSnapshot",
        "rds.CreateDBSnapshot",
        "rds.DescribeDBClusterSnapshots",
        "rds.DescribeDBClusters",
        "rds.DescribeDBInstances",
        "rds.DescribeDBSnapshots",
        "rds.PromoteReadReplica",
        "rds.ListTagsForResource",
        "route53.ListHostedZonesByName",
        "route53.ListResourceRecordSets",
        "s3.GetObject",
        "s3.HeadObject",
        "secretsmanager.DescribeSecret",
        "service-quotas.GetAWSDefaultServiceQuota",
        "service-quotas.GetServiceQuota",
        "sts.AssumeRole",
        "sts.GetCallerIdentity",
    }
)
LAUNCH: frozenset[str] = frozenset(
    {
        "autoscaling.DescribeAutoScalingGroups",
        "backup.ListRecoveryPointsByBackupVault",
        "cloudformation.CreateChangeSet",
        "cloudformation.CreateStack",
        "cloudformation.DeleteChangeSet",
        "cloudformation.DeleteStack",
        "cloudformation.DescribeChangeSet",
        "cloudformation.DescribeStackEvents",
        "cloudformation.DescribeStacks",
        "cloudformation.ExecuteChangeSet",
        "cloudformation.GetTemplate",
        "cloudformation.ListStackResources",
        "cloudformation.UpdateStack",
        "cloudformation.UpdateTerminationProtection",
        "cloudwatch.PutMetricData",
        "ec2.DescribeAddresses",
        "ec2.DescribeAvailabilityZones",
        "ec2.DescribeImages",
        "ec2.DescribeInstanceStatus",
        "ec2.DescribeInstanceTypeOfferings",
        "ec2.DescribeInstanceTypes",
        "ec2.DescribeInstances",
        "ec2.DescribeKeyPairs",
        "ec2.DescribeNatGateways",
        "ec2.DescribeSecurityGroups",
        "ec2.DescribeSnapshots",
        "ec2.DescribeSubnets",
        "ec2.DescribeVolumes",
        "ec2.DescribeVpcs",
        "elbv2.DescribeLoadBalancers",
        "elbv2.DescribeTargetGroups",
        "elbv2.DescribeTargetHealth",
        "kms.DescribeKey",
        "rds.DescribeDBClusterParameterGroups",
        "rds.DescribeDBClusterSnapshots",
        "rds.DescribeDBEngineVersions",
        "rds.DescribeDBInstances",
        "rds.DescribeDBMajorEngineVersions",
        "rds.DescribeDBParameterGroups",
        "rds.DescribeDBSnapshots",
        "rds.DescribeOrderableDBInstanceOptions",
        "route53.ListHostedZonesByName",
        "route53.ListResourceRecordSets",
        "s3.DeleteObject",
        "s3.GetObject",
        "s3.HeadObject",
        "s3.ListBuckets",
        "s3.PutBucketPolicy",
        "s3.PutObject",
        "secretsmanager.DescribeSecret",
        "service-quotas.GetAWSDefaultServiceQuota",
        "service-quotas.GetServiceQuota",
        "sts.AssumeRole",
        "sts.GetCallerIdentity",
    }
)
PREPARE: frozenset[str] = BUCKET | frozenset(
    {
        "backup.ListRecoveryPointsByBackupVault",
        "cloudformation.CreateChangeSet",
        "cloudformation.CreateStack",
        "cloudformation.DeleteChangeSet",
        "cloudformation.DeleteStack",
        "cloudformation.DescribeChangeSet",
        "cloudformation.DescribeStackEvents",
        "cloudformation.DescribeStacks",
        "cloudformation.ExecuteChangeSet",
        "cloudformation.GetTemplate",
        "cloudformation.ListStackResources",
        "cloudformation.UpdateStack",
        "cloudformation.UpdateTerminationProtection",
        "ec2.DescribeAddresses",
        "ec2.DescribeAvailabilityZones",
        "ec2.DescribeImages",
        "ec2.DescribeInstanceTypeOfferings",
        "ec2.DescribeInstanceTypes",
        "ec2.DescribeInstances",
        "ec2.DescribeKeyPairs",
        "ec2.DescribeNatGateways",
        "ec2.DescribeSnapshots",
        "ec2.DescribeVpcs",
        "elbv2.DescribeLoadBalancers",
        "iam.CreateServiceLinkedRole",
        "kms.CreateGrant",
        "kms.DescribeKey",
        "kms.GetKeyPolicy",
        "kms.ListGrants",
        "rds.DescribeDBClusterParameterGroups",
        "rds.DescribeDBClusterSnapshots",
        "rds.DescribeDBEngineVersions",
        # a replica-mode database (data: replica): the quota of DB instances in the region, its
        # home source's backups and replicas; an Aurora source's global database (made at home)
        "rds.CreateGlobalCluster",
        "rds.DescribeDBClusters",
        "rds.DescribeDBInstances",
        "rds.DescribeGlobalClusters",
        "rds.DescribeDBMajorEngineVersions",
        "rds.DescribeDBParameterGroups",
        "rds.DescribeDBSnapshots",
        "rds.DescribeOrderableDBInstanceOptions",
        "route53.ListHostedZonesByName",
        "route53.ListResourceRecordSets",
        "s3.GetObject",
        "s3.HeadBucket",
        "s3.HeadObject",
        "secretsmanager.DescribeSecret",
        "service-quotas.GetAWSDefaultServiceQuota",
        "service-quotas.GetServiceQuota",
        "sts.AssumeRole",
        "sts.GetCallerIdentity",
    }
)
REPLICATE: frozenset[str] = BUCKET | frozenset(
    {
        "autoscaling.DescribeLaunchConfigurations",
        "ec2.CopyImage",
        "ec2.CopySnapshot",
        "ec2.CreateTags",
        "ec2.DeleteSnapshot",
        "ec2.DeregisterImage",
        "ec2.DescribeImages",
        "ec2.DescribeLaunchTemplateVersions",
        "ec2.DescribeSnapshots",
        "ec2.ModifyImageAttribute",
        "ec2.ModifySnapshotAttribute",
        "kms.CreateGrant",
        "kms.DescribeKey",
        "kms.GetKeyPolicy",
        "kms.ListGrants",
        "rds.CopyDBClusterSnapshot",
        "rds.CopyDBSnapshot",
        "rds.DeleteDBClusterSnapshot",
        "rds.DescribeAccountAttributes",
        "rds.DescribeDBClusterSnapshots",
        "rds.DescribeDBSnapshots",
        "rds.ModifyDBClusterSnapshotAttribute",
        "rds.ModifyDBSnapshotAttribute",
        "s3.HeadObject",
        "sts.AssumeRole",
        "sts.GetCallerIdentity",
    }
)
TEARDOWN: frozenset[str] = frozenset(
    {
        "cloudformation.DeleteStack",
        "cloudformation.DescribeStackEvents",
        "cloudformation.DescribeStacks",
        "cloudformation.ListStackResources",
        "cloudformation.UpdateStack",
        "cloudformation.UpdateTerminationProtection",
        "ec2.DeleteSecurityGroup",
        "ec2.DeleteVpcEndpoints",
        "ec2.DescribeSecurityGroups",
        "ec2.DescribeVolumes",
        "ec2.DescribeVpcEndpoints",
        "rds.DescribeDBClusterSnapshots",
        "rds.DescribeDBSnapshots",
        "s3.DeleteObject",
        "s3.PutObject",
        "sts.AssumeRole",
        "sts.GetCallerIdentity",
    }
)
UNLOCK: frozenset[str] = frozenset(
    {
        "s3.DeleteObject",
        "s3.GetObject",
        "sts.AssumeRole",
        "sts.GetCallerIdentity",
    }
)
DRILL: frozenset[str] = (
    FAILOVER
    | LAUNCH
    | TEARDOWN
    | frozenset(
        {
            "ec2.CopySnapshot",
            "ec2.CreateSnapshot",
            "ec2.DeleteSnapshot",
            "ec2.DeleteVolume",
            "rds.CopyDBSnapshot",
            "rds.CreateDBSnapshot",
            "rds.DeleteDBClusterSnapshot",
            "rds.DeleteDBSnapshot",
            "rds.ListTagsForResource",
            # a replica-mode database: the drill's snapshot of production's replica, its lag
            "cloudwatch.GetMetricStatistics",
            "rds.CreateDBClusterSnapshot",
            "rds.DescribeDBClusterSnapshots",
            "rds.DescribeDBClusters",
            "rds.DescribeDBInstances",
            "rds.DescribeDBSnapshots",
            "rds.DescribeGlobalClusters",
        }
    )
)

# `relight estate prepare`: each environment's prepare (through its account's role), and, from the
# administrator account, the StackSets of the global stacks with what they need first (the
# self-managed roles, made as stacks; Organizations' trusted access, read).
ESTATE_PREPARE: frozenset[str] = PREPARE | frozenset(
    {
        "cloudformation.CreateStackInstances",
        "cloudformation.CreateStackSet",
        "cloudformation.DescribeStackInstance",
        "cloudformation.DescribeStackSet",
        "cloudformation.DescribeStackSetOperation",
        "cloudformation.ListStackInstances",
        "cloudformation.ListStackSetOperationResults",
        "cloudformation.UpdateStackInstances",
        "cloudformation.UpdateStackSet",
        "iam.GetRole",
        "organizations.DescribeOrganization",
        "organizations.ListAWSServiceAccessForOrganization",
        "sts.GetCallerIdentity",
    }
)

CALLS: dict[str, frozenset[str]] = {
    **READS,
    "drill": DRILL,
    "estate prepare": ESTATE_PREPARE,
    "failback": FAILBACK,
    "failover": FAILOVER,
    "launch": LAUNCH,
    "prepare": PREPARE,
    "replicate": REPLICATE,
    STORY: STORY_CALLS,
    "teardown": TEARDOWN,
    "unlock": UNLOCK,
}
