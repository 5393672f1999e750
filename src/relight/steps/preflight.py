"""Preflight: prove, before any change, that the target region can take the rebuild.

Every problem is collected and reported together (exit 2, nothing changed):
artifacts missing or older than the RPO; availability zones that do not offer
the instance types the templates use; KMS keys (named in parameters, or
protecting the copies to restore) absent or not enabled in the target region;
customer managed keys that EC2 Auto Scaling's service-linked role may not use
for the volumes of a stack's Auto Scaling group (see `relight.aws.grants`; a
missing role is a problem only when such a key must name it, since AWS
creates the role with the first group otherwise; IAM not answering is a note);
key pairs and hosted zones the stacks name but that do not exist; stack names
taken by someone else; and, where the account lets them be read, quotas
(VPCs, Elastic IPs) too small for what the plan adds. The account check runs
earlier, when relight connects. Each KMS key is described once.

What AWS answers decides a problem; an endpoint that fails in the target region
(no answer, an answer that cannot be read, HTTP 5xx) says nothing about the
input: it is an AwsError (exit 1) naming the operation and the endpoint, never
a "key not usable" problem. Control planes homed elsewhere (IAM, Route 53) and
Service Quotas leave a note instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from relight.aws.bucket import READY_KEY, bucket_name
from relight.aws.clients import (
    aws_failure,
    endpoint_failed,
    is_aws_failure,
    refused,
    translated,
    unreachable,
)
from relight.aws.cloudformation import Stacks, owned_by
from relight.aws.grants import ROLE_NAME, arn_parts, autoscaling_role_arn, key_allows_autoscaling
from relight.errors import AwsError, PreflightError
from relight.model.environment import ARTIFACT_ATTRIBUTES, ArtifactRef
from relight.model.plan import Plan
from relight.model.times import human_age
from relight.steps.discovery import Artifact, Discovery, stale

# (service code, quota code, what, resource type the plan adds, how to count what is in use)
QUOTAS = (
    ("vpc", "L-F678F1CE", "VPCs per region", "AWS::EC2::VPC", "vpcs"),
    ("ec2", "L-0263D0A3", "Elastic IP addresses", "AWS::EC2::EIP", "addresses"),
)


@dataclass
class PreflightResult:
    accepted_stale: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth showing that block nothing


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def instance_types(plan: Plan) -> list[str]:
    """Every literal EC2 instance type the plan's templates launch."""
    found = {
        value
        for sp in plan.stacks.values()
        for key, value in _walk(json.loads(sp.body).get("Resources", {}))
        if key == "InstanceType" and isinstance(value, str)
    }
    return sorted(found)


def _db_classes(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    """Every literal DBInstanceClass is offered for its engine in the target region (RDS
    DescribeOrderableDBInstanceOptions), with the close matches when it is not. The engine is
    the template's `Engine`, else the stack's `engine` option (a restore takes the snapshot's)."""
    import difflib

    wanted: dict[tuple[str, str], list[str]] = {}  # (engine, class) → stacks
    for key, sp in plan.stacks.items():
        option = plan.loaded.env.stacks[key].params_for(plan.stand_in).get("engine")
        for resource in json.loads(sp.body).get("Resources", {}).values():
            props = resource.get("Properties", {})
            klass, engine = props.get("DBInstanceClass"), props.get("Engine", option)
            is_db = resource.get("Type") == "AWS::RDS::DBInstance"
            if is_db and isinstance(klass, str) and isinstance(engine, str):  # else: not asked
                named = wanted.setdefault((engine, klass), [])
                if key not in named:  # an Aurora cluster's instances: one problem per stack
                    named.append(key)
    if plan.stand_in and wanted:
        return [], ["DB instance classes not checked on the stand-in (moto offers none)"]
    rds = aws.client("rds", plan.region)
    problems, notes = [], []
    for (engine, klass), stacks in sorted(wanted.items()):
        try:
            offered = rds.describe_orderable_db_instance_options(
                Engine=engine, DBInstanceClass=klass, MaxRecords=20
            )["OrderableDBInstanceOptions"]
            if offered:
                continue
            pages = rds.get_paginator("describe_orderable_db_instance_options").paginate(
                Engine=engine, PaginationConfig={"MaxItems": 2000}
            )
            classes = {
                o["DBInstanceClass"] for page in pages for o in page["OrderableDBInstanceOptions"]
            }
        except Exception as exc:
            if refused(exc):  # RDS said no (AccessDenied, say): a note, the run goes on
                notes.append(f"DB instance class {klass} for {engine} not checked ({exc})")
                continue
            if is_aws_failure(exc):  # the endpoint failed: the operation fails (exit 1)
                raise aws_failure(exc, f"cannot check DB instance class {klass}", rds) from exc
            raise
        close = difflib.get_close_matches(klass, sorted(classes), n=3, cutoff=0.6)
        guess = f"; did you mean {' or '.join(close)}?" if close else ""
        problems += [
            f"stacks.{key}.params.instance_class: {klass} is not offered for {engine} in "
            f"{plan.region}{guess}"
            for key in stacks
        ]
    return problems, notes


def _literal_parameters(plan: Plan, name: str) -> dict[str, str]:
    """stack → the literal, non-empty value it gives the Parameter `name`."""
    return {
        key: value
        for key, sp in plan.stacks.items()
        if isinstance(value := sp.parameters.get(name), str) and value
    }


def _resources_of(plan: Plan, resource_type: str, stacks: set[str]) -> int:
    return sum(
        1
        for key, sp in plan.stacks.items()
        if sp.name in stacks
        for resource in json.loads(sp.body).get("Resources", {}).values()
        if resource.get("Type") == resource_type
    )


def _artifacts(
    plan: Plan, discovery: Discovery, accept_stale: bool
) -> tuple[list[str], list[Artifact]]:
    problems = [f"artifacts.{name}: {why}" for name, why in sorted(discovery.missing.items())]
    rpo = plan.loaded.env.objectives.rpo
    old = stale(discovery, rpo)
    if not accept_stale:
        problems += [
            f"artifacts.{a.name}: {a.id} holds data {human_age(a.age(discovery.at))} old, "
            f"over the RPO of {human_age(rpo)}"
            for a in old
        ]
    return problems, old


class _KeyBook:
    """Each KMS key's DescribeKey, asked once per preflight (both key checks read it)."""

    def __init__(self, kms: Any, region: str) -> None:
        self.kms = kms
        self.region = region
        self._answers: dict[str, dict[str, Any] | Exception] = {}

    def describe(self, key_id: str) -> dict[str, Any]:
        """The key's KeyMetadata; raises the ClientError DescribeKey raised (again, from memory)
        when KMS refused (no such key, no access), AwsError when KMS itself failed."""
        if key_id not in self._answers:
            try:
                self._answers[key_id] = dict(self.kms.describe_key(KeyId=key_id)["KeyMetadata"])
            except Exception as exc:
                if refused(exc):  # no such key, no access: the checks say so
                    self._answers[key_id] = exc
                elif is_aws_failure(exc):  # no answer, an unreadable one, HTTP 5xx
                    what = f"cannot check KMS key {key_id} in {self.region}"
                    raise aws_failure(exc, what, self.kms) from exc
                else:
                    raise
        answer = self._answers[key_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _artifact_attributes(plan: Plan, discovery: Discovery) -> list[str]:
    """Every `{artifact: NAME.ATTRIBUTE}` a stack takes (an AMI's root device, say) is known:
    the artifact chosen reports it."""
    known = discovery.artifact_ids()
    problems = []
    for key, sp in plan.stacks.items():
        for name, value in sp.parameters.items():
            found = discovery.artifacts.get(getattr(value, "artifact", ""))
            if not isinstance(value, ArtifactRef) or not value.attribute or found is None:
                continue
            if value.key not in known:
                problems.append(
                    f"stacks.{key}.params.{name}: takes {value.key}, which {found.id} does not "
                    f"report ({ARTIFACT_ATTRIBUTES[value.attribute]}): an AMI with an EBS root "
                    "device reports it; an instance-store AMI cannot be launched this way"
                )
    return problems


def _kms_keys(plan: Plan, book: _KeyBook, discovery: Discovery) -> list[str]:
    from botocore.exceptions import ClientError

    wanted = {
        value: f"stacks.{key}.params.KmsKeyId"
        for key, value in _literal_parameters(plan, "KmsKeyId").items()
    }
    for art in discovery.artifacts.values():
        if art.encrypted and art.kms_key:
            wanted.setdefault(art.kms_key, f"artifacts.{art.name} ({art.id} is encrypted with it)")
    problems = []
    for key_id, where in sorted(wanted.items()):
        try:
            state = book.describe(key_id)["KeyState"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            problems.append(f"{where}: KMS key {key_id} not usable in {plan.region} ({code})")
            continue
        if state != "Enabled":
            problems.append(f"{where}: KMS key {key_id} is {state} in {plan.region}, not Enabled")
    return problems


def _autoscaling_stacks(plan: Plan) -> list[str]:
    """The stacks whose templates launch through an Auto Scaling group."""
    return [
        key
        for key, sp in plan.stacks.items()
        if any(
            resource.get("Type") == "AWS::AutoScaling::AutoScalingGroup"
            for resource in json.loads(sp.body).get("Resources", {}).values()
        )
    ]


def _launch_keys(plan: Plan, discovery: Discovery, stacks: list[str]) -> dict[str, list[str]]:
    """KMS key → where those stacks' volumes meet it: the literal KmsKeyId, and the keys of the
    encrypted AMIs and snapshots they restore from (a volume made from them needs that key too)."""
    wanted: dict[str, list[str]] = {}
    for key in stacks:
        params = plan.stacks[key].parameters
        given = params.get("KmsKeyId")
        if isinstance(given, str) and given:
            wanted.setdefault(given, []).append(f"stacks.{key}.params.KmsKeyId")
        for name, value in sorted(params.items()):
            if not isinstance(value, ArtifactRef) or value.artifact not in discovery.artifacts:
                continue
            if value.attribute:  # RootDeviceName and the like: the AMI is counted by its id
                continue
            art = discovery.artifacts[value.artifact]
            if art.kind in ("ami", "ebs_snapshot") and art.encrypted and art.kms_key:
                wanted.setdefault(art.kms_key, []).append(
                    f"stacks.{key}.params.{name} (artifacts.{art.name}: {art.id} is encrypted "
                    "with it)"
                )
    return wanted


def _autoscaling_role(aws: Any, region: str) -> tuple[str | None, bool, str | None]:
    """(the role's ARN, whether IAM says it does not exist, a note when IAM could not say)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    down = aws.down("iam", region)
    if down:
        return None, False, f"iam role {ROLE_NAME}: not checked ({down})"
    iam = aws.client("iam", region, bounded=True)  # IAM's control plane is in us-east-1
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    except ClientError as exc:
        why = str(exc.response.get("Error", {}).get("Code", "error"))
        if why == "NoSuchEntity":
            return None, True, None
    except (BotoCoreError, ResponseParserError) as exc:
        why = type(exc).__name__
    else:
        return str(role["Arn"]), False, None
    note = (
        f"iam role {ROLE_NAME}: not checked, IAM did not answer GetRole ({why}; its control "
        "plane is in us-east-1); Auto Scaling needs the role to launch"
    )
    return None, False, note


def _autoscaling_access(
    plan: Plan, aws: Any, discovery: Discovery, book: _KeyBook, account_id: str | None
) -> tuple[list[str], list[str]]:
    """May EC2 Auto Scaling's service-linked role use the customer managed keys its groups'
    volumes need? (See relight.aws.grants.) Problems, and notes for what could not be told."""
    from botocore.exceptions import ClientError

    stacks = _autoscaling_stacks(plan)
    if not stacks:
        return [], []
    if plan.stand_in:
        return [], [
            f"stacks {', '.join(stacks)}: Auto Scaling's access to KMS keys not checked on the "
            "stand-in (moto launches without its service-linked role)"
        ]
    wanted = _launch_keys(plan, discovery, stacks)
    customer: dict[str, dict[str, Any]] = {}
    for key_id in sorted(wanted):
        try:
            meta = book.describe(key_id)
        except ClientError:
            continue  # _kms_keys names it
        if meta.get("KeyManager") != "AWS":
            customer[key_id] = meta
    role_arn, missing, note = _autoscaling_role(aws, plan.region)
    notes = [note] if note else []
    replicate = (
        f"relight replicate --env {plan.env_name} --from {plan.loaded.env.home_region} "
        f"--to {plan.region}"
    )
    if missing:
        return _role_missing(stacks, customer, replicate)
    env = plan.loaded.env
    account_id = account_id or (None if env.recovery_account_id else env.account_id)
    problems = []
    for key_id, meta in customer.items():
        partition, key_account = arn_parts(str(meta["Arn"]))
        role = role_arn or autoscaling_role_arn(partition, account_id or key_account)
        try:
            with translated(f"cannot read the policy and grants of KMS key {key_id}", book.kms):
                allowed, why = key_allows_autoscaling(book.kms, key_id, role, metadata=meta)
        except AwsError as exc:
            notes.append(f"{wanted[key_id][0]}: {exc.message}; {exc.hint}")
            continue
        if not allowed:
            fix = _grant_fix(book, plan, meta, role, replicate)
            problems += [
                f"{where}: {why}, so the Auto Scaling group's instances would not launch "
                f"(Client.InternalError: Client error on launch); {fix}"
                for where in wanted[key_id]
            ]
    return problems, notes


def _grant_fix(book: Any, plan: Plan, meta: dict[str, Any], role: str, replicate: str) -> str:
    """What lets the role in: replicate makes the grant on the key of `kms_keys` for the
    region; on any other key the operator makes it (or adds the role to the key policy)."""
    from botocore.exceptions import ClientError

    from relight.aws.grants import GRANT_OPERATIONS

    configured = plan.loaded.env.kms_keys.get(plan.region)
    try:
        ours = bool(configured) and book.describe(configured).get("Arn") == meta.get("Arn")
    except ClientError:
        ours = False
    if ours:
        return f"run {replicate}, which creates the grant, or add the role to the key policy"
    return (
        f"add the role to the key policy, or grant it: aws kms create-grant --region "
        f"{plan.region} --key-id {meta.get('Arn')} --grantee-principal {role} --operations "
        + " ".join(GRANT_OPERATIONS)
    )


def _role_missing(
    stacks: list[str], customer: dict[str, dict[str, Any]], replicate: str
) -> tuple[list[str], list[str]]:
    """Without customer managed keys AWS creates the role with the first group (a note); with
    them a key must let the role in first, and nothing can name a role that does not exist."""
    if not customer:
        return [], [
            f"iam role {ROLE_NAME}: does not exist yet; EC2 Auto Scaling creates it with the "
            "first group (the credentials need iam:CreateServiceLinkedRole)"
        ]
    return [
        f"iam role {ROLE_NAME}: does not exist in this account, and stacks "
        f"{', '.join(stacks)} launch with customer managed KMS key(s) "
        f"{', '.join(sorted(customer))} that must let it in; run aws iam "
        f"create-service-linked-role --aws-service-name autoscaling.amazonaws.com, then "
        f"{replicate}, which creates the grant"
    ], []


def _named_things(
    plan: Plan,
    parameter: str,
    what: str,
    exists: Callable[[str], bool],
    elsewhere: str | None = None,
    client: Any = None,
) -> tuple[list[str], list[str]]:
    """Problems for literal `parameter` values naming a `what` that does not exist (each value
    asked about once; a refused question is a problem too, never a pass), and notes.

    `elsewhere` names where the service's control plane lives when that is not the target
    region (Route 53: us-east-1): a question it leaves unanswered is then a note, because
    a failover must not depend on it. In the target region it is a failure (exit 1).
    """
    answers: dict[str, str | None] = {}  # value → problem, or None when it exists
    problems, notes = [], []
    for key, value in sorted(_literal_parameters(plan, parameter).items()):
        if value not in answers:
            try:
                answers[value] = None if exists(value) else f"no {what} {value}"
            except Exception as exc:
                if not is_aws_failure(exc):
                    raise
                if not endpoint_failed(exc):  # refused, or a request botocore would not make
                    answers[value] = f"cannot check {what} {value} ({exc})"
                elif elsewhere:
                    answers[value] = None
                    notes.append(
                        f"stacks.{key}.params.{parameter}: {what} {value} not checked: "
                        f"{elsewhere} {'did not answer' if unreachable(exc) else 'failed'} "
                        f"({type(exc).__name__})"
                    )
                elif unreachable(exc):
                    raise AwsError(
                        f"{plan.region} did not answer while checking {what} {value} ({exc})",
                        hint="the region's endpoints are unreachable from here: check the "
                        "network, or fail over to another recovery region",
                    ) from exc
                else:
                    checking = f"cannot check {what} {value} in {plan.region}"
                    raise aws_failure(exc, checking, client) from exc
        if answers[value]:
            problems.append(f"stacks.{key}.params.{parameter}: {answers[value]}")
    return problems, notes


def _key_pairs(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    ec2 = aws.client("ec2", plan.region)

    def exists(name: str) -> bool:
        by_name = [{"Name": "key-name", "Values": [name]}]
        return bool(ec2.describe_key_pairs(Filters=by_name)["KeyPairs"])

    return _named_things(plan, "KeyName", "key pair", exists, client=ec2)


def _hosted_zones(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    down = aws.down("route53", plan.region)
    if down:  # an outage rehearsal declares Route 53's control plane lost: not even asked
        return [], [
            f"stacks.{key}.params.HostedZoneName: hosted zone {value} not checked ({down})"
            for key, value in sorted(_literal_parameters(plan, "HostedZoneName").items())
        ]
    route53 = aws.client("route53", plan.region, bounded=True)  # control plane: us-east-1

    def exists(zone: str) -> bool:
        wanted = zone.rstrip(".") + "."  # Route 53 names zones with the trailing dot
        found = route53.list_hosted_zones_by_name(DNSName=wanted, MaxItems="1")["HostedZones"]
        return bool(found) and found[0]["Name"] == wanted

    return _named_things(
        plan,
        "HostedZoneName",
        "hosted zone",
        exists,
        "Route 53 (its control plane is in us-east-1)",
        route53,
    )


def _stack_names(plan: Plan, existing: list[dict[str, Any]]) -> list[str]:
    names = {sp.name for sp in plan.stacks.values()}
    problems = []
    for stack in existing:
        if stack["StackName"] in names and not owned_by(stack, plan.env_name):
            problems.append(
                f"stack {stack['StackName']} exists in {plan.region} and is not relight's for "
                f"{plan.env_name}; rename the stack in the environment file or remove the other"
            )
    return problems


def _count_in_use(aws: Any, region: str, what: str) -> int:
    ec2 = aws.client("ec2", region)
    with translated(f"cannot count the {what} in use in {region}", ec2):
        if what == "vpcs":
            return len(ec2.describe_vpcs()["Vpcs"])
        return len(ec2.describe_addresses()["Addresses"])


def _quotas(plan: Plan, aws: Any, existing: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    new = {sp.name for sp in plan.stacks.values()} - {s["StackName"] for s in existing}
    problems, notes = [], []
    quotas = aws.client("service-quotas", plan.region)
    for service, code, what, resource_type, counted in QUOTAS:
        needed = _resources_of(plan, resource_type, new)
        if not needed:
            continue
        try:
            limit = int(
                quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
            )
        except Exception as exc:  # where Service Quotas does not answer, a note
            if not is_aws_failure(exc):
                raise
            notes.append(
                f"quota {what} ({code}) not readable here ({type(exc).__name__}); "
                f"the plan adds {needed}"
            )
            continue
        used = _count_in_use(aws, plan.region, counted)
        if used + needed > limit:
            problems.append(
                f"quota {what}: {used} in use + {needed} the plan adds > {limit} allowed in "
                f"{plan.region}; ask for an increase ({service} {code}) or free some"
            )
    return problems, notes


def _own_bucket(plan: Plan, aws: Any, account_id: str | None) -> list[str]:
    """relight's bucket in the target region (the run lock, large templates) should exist,
    configured by prepare (its READY_KEY written last), before a disaster: creating and
    configuring a bucket is documented as depending on us-east-1. A note when it does not
    exist or was left unconfigured (this run would create or configure it), never a
    blocker."""
    from botocore.exceptions import ClientError

    if not account_id or plan.region == "us-east-1":
        return []
    name = bucket_name(account_id, plan.region)
    s3 = aws.client("s3", plan.region)
    try:
        try:
            s3.head_object(Bucket=name, Key=READY_KEY)  # a regional object read
            return []
        except ClientError as exc:
            if not _missing(exc):
                return []  # another refusal (access): the run says it when it uses the bucket
        s3.head_bucket(Bucket=name)
        state = (
            f"exists but was not configured by relight prepare (no {READY_KEY}): this "
            "run configures it"
        )
    except ClientError as exc:
        if not _missing(exc):
            return []
        state = "does not exist yet: this run creates it"
    except Exception as exc:
        if not is_aws_failure(exc):
            raise
        return []
    return [
        f"relight's bucket {name} {state}, which needs S3's bucket configuration (its "
        "control plane depends on us-east-1); make it before a disaster with relight "
        f"prepare --env {plan.env_name} --region {plan.region}"
    ]


def _missing(exc: Any) -> bool:
    """S3 said the bucket or the object is not there (a HEAD's 404 has no body: code "404")."""
    code = str(exc.response.get("Error", {}).get("Code"))
    return refused(exc) and code in ("404", "NoSuchBucket", "NoSuchKey", "NotFound")


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

    `account_id` is the account the stacks go into (the credentials'); it names Auto Scaling's
    service-linked role when IAM cannot be asked for it.
    """
    problems, old = _artifacts(plan, discovery, accept_stale)
    problems += _artifact_attributes(plan, discovery)
    class_problems, class_notes = _db_classes(plan, aws)
    problems += class_problems
    problems += list(discovery.zone_problems)
    book = _KeyBook(aws.client("kms", plan.region), plan.region)
    problems += _kms_keys(plan, book, discovery)
    access_problems, notes = _autoscaling_access(plan, aws, discovery, book, account_id)
    notes += class_notes
    problems += access_problems
    for found, said in (_key_pairs(plan, aws), _hosted_zones(plan, aws)):
        problems += found
        notes += said
    existing = stacks.list_stacks()
    problems += _stack_names(plan, existing)
    quota_problems, quota_notes = _quotas(plan, aws, existing)
    problems += quota_problems
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
