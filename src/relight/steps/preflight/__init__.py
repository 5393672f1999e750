"""Preflight: prove, before any change, that the target region can take the rebuild.

Every problem is collected and reported together (exit 2, nothing changed):
artifacts missing or older than the RPO; availability zones that do not offer
the instance types the templates use; KMS keys (named in parameters, or
protecting the copies to restore) absent or not enabled in the target region;
customer managed keys that EC2 Auto Scaling's service-linked role may not use
for the volumes of a stack's Auto Scaling group (see `relight.aws.grants`;
asked of KMS alone, never IAM: `relight prepare` made the role and recorded
it, and a role it has not recorded is a note naming prepare);
application secrets (a database's `app_secret`) with no replica of the home region's
primary in the target region, or one under a KMS key not usable there;
key pairs and hosted zones the stacks name but that do not exist; a record name
already holding a simple or CNAME record a failover record cannot stand beside; stack names
taken by someone else; and quotas too small for what is in use plus what the plan adds
(On-Demand vCPUs per family class, VPCs, Elastic IPs, NAT gateways per zone, load balancers,
DB instances, a drill's final snapshots, stacks). The account check runs
earlier, when relight connects. Each KMS key is described once.

What AWS answers decides a problem; an endpoint that fails in the target region
(no answer, an answer that cannot be read, HTTP 5xx) says nothing about the
input: it is an AwsError (exit 1) naming the operation and the endpoint, never
a "key not usable" problem. Route 53 (its control plane is homed elsewhere) and
Service Quotas leave a note instead; IAM is not asked.

The package, one module per kind of check:

- `templates`: what the plan's templates say, read without asking AWS (`instance_types`)
- `artifacts`: the artifacts to restore from, and the KMS keys (`_KeyBook`)
- `autoscaling`: Auto Scaling's access to the customer managed keys its groups' volumes need
- `capacity`: DB instance classes
- `databases`: each restore as RDS will make it (engine version, storage, flags, groups, support)
- `quotas`: service quotas against what is in use plus what the plan adds
- `names`: key pairs, hosted zones, stack names, relight's bucket
- `records`: the name a failover record takes holds no record Route 53 refuses it beside
- `secrets`: each database's `app_secret` is replicated to the target region from the home
  region's primary, under a key usable there (Secrets Manager and KMS in the target region)
- here: `run_preflight`, which asks them all and raises every problem together
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relight.aws.cloudformation import Stacks
from relight.errors import PreflightError
from relight.model.plan import Plan
from relight.steps.discovery import Artifact, Discovery
from relight.steps.preflight.artifacts import _artifact_attributes, _artifacts, _KeyBook, _kms_keys
from relight.steps.preflight.autoscaling import _autoscaling_access
from relight.steps.preflight.capacity import _db_classes
from relight.steps.preflight.databases import check_databases
from relight.steps.preflight.ebs import data_volume_sizes, ebs_optimization
from relight.steps.preflight.names import _hosted_zones, _key_pairs, _own_bucket, _stack_names
from relight.steps.preflight.quotas import quota_problems
from relight.steps.preflight.records import names_taken
from relight.steps.preflight.secrets import app_secret_problems
from relight.steps.preflight.templates import instance_types

__all__ = ["PreflightResult", "instance_types", "run_preflight"]


@dataclass
class PreflightResult:
    accepted_stale: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth showing that block nothing


def run_preflight(
    plan: Plan,
    aws: Any,
    discovery: Discovery,
    stacks: Stacks,
    *,
    accept_stale: bool,
    account_id: str | None = None,
) -> PreflightResult:
    """Every reason the rebuild cannot start, raised together as one PreflightError.

    `account_id` is the account the stacks go into (the credentials'); it names relight's
    bucket (prepare's record of Auto Scaling's role) and the role when prepare recorded none.
    """
    problems, old = _artifacts(plan, discovery, accept_stale)
    problems += _artifact_attributes(plan, discovery)
    problems += data_volume_sizes(plan, discovery)
    class_problems, class_notes = _db_classes(plan, aws)
    problems += class_problems
    unoffered = {p.split(".")[1] for p in class_problems if p.startswith("stacks.")}
    db_problems, db_notes = check_databases(plan, aws, discovery, skip=unoffered)
    problems += db_problems
    class_notes += db_notes
    problems += list(discovery.zone_problems)
    book = _KeyBook(aws.client("kms", plan.region), plan.region)
    problems += _kms_keys(plan, book, discovery)
    problems += app_secret_problems(plan, discovery, book)
    access_problems, notes = _autoscaling_access(plan, aws, discovery, book, account_id)
    notes += class_notes
    problems += access_problems
    for found, said in (
        _key_pairs(plan, aws),
        _hosted_zones(plan, aws),
        names_taken(plan, aws),
        ebs_optimization(plan, aws),
    ):
        problems += found
        notes += said
    existing = stacks.list_stacks()
    problems += _stack_names(plan, existing)
    short, quota_notes = quota_problems(plan, aws, existing, discovery.zones)
    problems += short
    notes += quota_notes
    notes += _own_bucket(plan, aws, account_id)
    if problems:
        hints = []
        if old and not accept_stale:
            hints.append("--accept-stale restores from stale data anyway (marked in the summary)")
        if discovery.missing:
            hints.append(
                f"relight replicate --env {plan.env_name} --from {plan.loaded.env.home_region} "
                f"--to {plan.region} makes the missing copies"
            )
            holders = [r for r in plan.loaded.env.recovery_regions if r != plan.region]
            if holders:
                hints.append(f"or fail over to a recovery region: {', '.join(holders)}")
        raise PreflightError(problems, hint="; ".join(hints) or "nothing was changed")
    return PreflightResult(accepted_stale=old if accept_stale else [], notes=notes)
