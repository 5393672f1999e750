"""Least-privilege IAM policy documents, from the table of calls (calls.py) and their IAM
actions (actions.py).

Each action goes to the statement of what AWS lets a policy scope it to:

- CloudFormation's stack actions: the environment's stacks (`<env>-*`: its own, its drills'
  and test copies' namespaces, `<env>-<namespace>-<stack>`) and change sets, in its regions;
- S3: relight's bucket (`relight-templates-<account>-<region>`) and its objects;
- `iam:PassRole`: the CloudFormation service role of the identity stack only
  (`<identity stack>-*`), passed to CloudFormation only;
- what AWS cannot scope to a resource (Describe*, List*, Get*: the reads) and the writes this
  table does not scope (copies of AMIs and snapshots named by their source, snapshots, grants on
  keys found by alias, the maintenance page's listener rules): `Resource: "*"`, each in its own
  statement, held to the environment's regions by `aws:RequestedRegion`; the global control
  planes (IAM, Route 53) have no region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relight.model.permissions.actions import IMPLIED, iam_action, needs_permission, split_call
from relight.model.permissions.calls import CALLS
from relight.model.permissions.story import STORY

VERSION = "2012-10-17"
ASSUME_ROLE = "sts:AssumeRole"

# The IAM prefixes of global services: their control plane has no region to hold them to.
GLOBAL_PREFIXES = frozenset({"iam", "route53", "cloudfront", "organizations"})

# CloudFormation actions a policy can scope to a stack ARN (Service Authorization Reference,
# AWS CloudFormation: resource type `stack`); DescribeStacks lists every stack when relight
# reads them all, so it stays with the unscoped reads.
STACK_ACTIONS = frozenset(
    {
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
        "cloudformation:DescribeStackResources",
        "cloudformation:ListStackResources",
        "cloudformation:GetTemplate",
        "cloudformation:GetTemplateSummary",
        "cloudformation:UpdateTerminationProtection",
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:ListChangeSets",
        "cloudformation:ContinueUpdateRollback",
        "cloudformation:CancelUpdateStack",
        "cloudformation:DetectStackDrift",
        "cloudformation:DescribeStackResourceDrifts",
    }
)
# The stack operations that pass the CloudFormation service role (RoleARN).
PASSES_ROLE = frozenset(
    {
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:CreateChangeSet",
        "cloudformation:DeleteStack",
    }
)
# S3 actions on objects (resource type `object`); every other S3 action relight takes is on
# the bucket (`bucket`).
OBJECT_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObjectVersion",
        "s3:DeleteObjectVersion",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
    }
)
# S3 actions on the account, not a bucket (resource type none: `Resource: "*"`).
ACCOUNT_ACTIONS = frozenset({"s3:ListAllMyBuckets"})
# S3 answers a missing key with 403, not 404, to whoever lacks s3:ListBucket on the bucket
# (GetObject and HeadObject in the S3 API Reference): relight tells "no lock" and "not
# prepared" from "refused" by the 404, so every policy that reads objects has it.
READS_OBJECTS = frozenset({"s3:GetObject"})
# The CloudFormation service role's logical id in the identity stack (blueprints/identity.py):
# CloudFormation names the role `<identity stack>-CloudFormationRole-<suffix>`.
SERVICE_ROLE_LOGICAL_ID = "CloudFormationRole"
LINKED_ROLE = "iam:CreateServiceLinkedRole"
# PutMetricData takes no resource; IAM narrows it by `cloudwatch:namespace` ("Using condition
# keys to limit access to CloudWatch namespaces", CloudWatch User Guide): relight publishes in
# one (the failback latch, commands/failover.py; the readiness verdict, steps/publish.py).
PUBLISH = "cloudwatch:PutMetricData"
METRICS_NAMESPACE = "Relight"
# The operator commands (every command of the table but the stand-in's story), and those a
# schedule runs read-only.
SCHEDULED = ("readiness", "drift", "status")
REPLICATE = ("replicate",)


@dataclass(frozen=True)
class Scope:
    """What a policy is scoped to: the environment's name, account (`*` when the file names
    none), regions (home and recovery) and the name of its identity stack (None: none)."""

    env: str
    account: str
    regions: tuple[str, ...]
    identity_stack: str | None = None
    partition: str = "aws"


def operator_commands() -> tuple[str, ...]:
    """The single-environment commands an operator's policy covers (an estate's commands,
    `estate ...`, act through each account's role and the administrator's: not this policy)."""
    return tuple(sorted(c for c in CALLS if c != STORY and not c.startswith("estate ")))


def actions_of(commands: Iterable[str], calls: Mapping[str, frozenset[str]] = CALLS) -> set[str]:
    """The IAM actions the commands' calls need, and what the services check on the caller's
    behalf for them (IMPLIED: the KMS actions of an encrypted copy); GetCallerIdentity needs
    none; sts:AssumeRole is granted on the environment's roles only, by `policy`."""
    found = set()
    for command in commands:
        for call in calls.get(command, frozenset()):
            if needs_permission(call):
                found.add(iam_action(*split_call(call)))
            found |= IMPLIED.get(call, frozenset())
    return found - {ASSUME_ROLE}


def policy(
    scope: Scope,
    commands: Sequence[str],
    *,
    assume_roles: Sequence[str] = (),
    calls: Mapping[str, frozenset[str]] = CALLS,
) -> dict[str, Any]:
    """The policy document that lets `commands` run for the environment of `scope`, and
    nothing else; `assume_roles`: the roles relight assumes (role_arn), sts:AssumeRole on them."""
    actions = actions_of(commands, calls)
    statements = _statements(scope, actions)
    if assume_roles:
        statements.append(
            _statement("AssumeOnlyTheEnvironmentsRoles", {ASSUME_ROLE}, sorted(set(assume_roles)))
        )
    return {"Version": VERSION, "Statement": statements}


def _statement(
    sid: str, actions: Iterable[str], resource: str | list[str], condition: Any = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resource,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _reads(action: str) -> bool:
    return action.split(":", 1)[1].startswith(("Describe", "List", "Get"))  # ListAllMyBuckets


def _in_regions(scope: Scope) -> dict[str, Any]:
    return {"StringEquals": {"aws:RequestedRegion": list(scope.regions)}}


def _statements(scope: Scope, actions: set[str]) -> list[dict[str, Any]]:
    p, acct, env = scope.partition, scope.account, scope.env
    stacks = sorted(actions & STACK_ACTIONS)
    s3 = {a for a in actions if a.startswith("s3:")} - ACCOUNT_ACTIONS
    if s3 & READS_OBJECTS:
        s3.add("s3:ListBucket")
    objects = sorted(s3 & OBJECT_ACTIONS)
    bucket = sorted(s3 - OBJECT_ACTIONS)
    rest = actions - set(stacks) - s3  # ACCOUNT_ACTIONS among the reads
    linked = sorted(rest & {LINKED_ROLE})
    rest -= {LINKED_ROLE}
    global_ = sorted(a for a in rest if a.split(":")[0] in GLOBAL_PREFIXES)
    regional = sorted(a for a in rest if a.split(":")[0] not in GLOBAL_PREFIXES)
    out = []
    if stacks:
        resources = [f"arn:{p}:cloudformation:{r}:{acct}:stack/{env}-*/*" for r in scope.regions]
        out.append(_statement("TheEnvironmentsStacksAndTheirChangeSets", stacks, resources))
    if set(stacks) & PASSES_ROLE and scope.identity_stack:
        out.append(
            _statement(
                "PassOnlyTheCloudFormationServiceRoleToCloudFormation",
                {"iam:PassRole"},
                [  # by its path (whichever stack made it), or its name as prepared before
                    f"arn:{p}:iam::{acct}:role/relight-cloudformation/{scope.env}/*",
                    f"arn:{p}:iam::{acct}:role/{scope.identity_stack}-{SERVICE_ROLE_LOGICAL_ID}-*",
                ],
                {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            )
        )
    if bucket:
        resources = [f"arn:{p}:s3:::relight-templates-{acct}-{r}" for r in scope.regions]
        out.append(_statement("RelightsBucket", bucket, resources))
    if objects:
        resources = [f"arn:{p}:s3:::relight-templates-{acct}-{r}/*" for r in scope.regions]
        out.append(_statement("RelightsBucketObjects", objects, resources))
    published = sorted(set(regional) & {PUBLISH})
    regional = [a for a in regional if a != PUBLISH]
    reads = [a for a in regional if _reads(a)]
    writes = [a for a in regional if not _reads(a)]
    if reads:
        sid = "ReadsAwsCannotScopeByResourceInTheEnvironmentsRegions"
        out.append(_statement(sid, reads, "*", _in_regions(scope)))
    if writes:
        # copies named by their source, snapshots and rules of resources CloudFormation named,
        # grants on keys found by alias: not scoped by resource here (tags could narrow some)
        sid = "WritesNotScopedByResourceInTheEnvironmentsRegions"
        out.append(_statement(sid, writes, "*", _in_regions(scope)))
    if published:  # the readiness verdict and the failback latch: relight's namespace only
        condition = {
            "StringEquals": {
                "aws:RequestedRegion": list(scope.regions),
                "cloudwatch:namespace": METRICS_NAMESPACE,
            }
        }
        out.append(_statement("PublishOnlyInRelightsMetricNamespace", published, "*", condition))
    if linked:  # prepare makes Auto Scaling's role, and no other (dr/autoscaling_role.py)
        out.append(
            _statement(
                "OnlyAutoScalingsServiceLinkedRole",
                linked,
                f"arn:{p}:iam::{acct}:role/aws-service-role/autoscaling.amazonaws.com/"
                "AWSServiceRoleForAutoScaling*",
                {"StringEquals": {"iam:AWSServiceName": "autoscaling.amazonaws.com"}},
            )
        )
    if global_:
        out.append(_statement("GlobalControlPlanesNotScopableByRegion", global_, "*"))
    return out
