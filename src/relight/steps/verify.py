"""Step 5 of the data flow: prove the rebuilt environment works, with evidence from AWS.

Each stack's resources (from CloudFormation) are checked by what they are:

- instances: running, made from the expected AMI, status checks passed, in the security
  groups the stack was given (its security-group Parameters, and the groups it makes) and no
  other (an instance launched without its group lands in the VPC's default group);
- Auto Scaling groups: at desired capacity, every instance InService;
- target groups: every target healthy;
- databases: available, restored from the expected snapshot;
- volumes: made from the expected snapshots;
- security groups a stack makes: their egress exactly as its template declares it (the
  group's own SecurityGroupEgress, else AWS's default allow-all, plus the stack's
  SecurityGroupEgress resources for it): a rule missing or one not declared fails;
- load balancers: answering their health path over HTTP, where this machine can reach them.

In time. Right after CloudFormation reports a stack complete, AWS still reports
new instances' status checks "initializing", group members "Pending", targets
"initial" and load balancers answer 503. So a check that can still change is
*pending*, not failed: pending checks are read again, 5 s after the first look
and then with a doubling backoff capped at 30 s, until they pass or the
deadline (`deadline_seconds`, 900 s by default: AWS's status checks take a few
minutes, a target needs its health checks in a row) passes. Only then does a
pending check fail, and its detail says how long relight waited, what was
still pending and where to look. While waiting, `on_progress` gets one line a
round ("waiting: web: 4 of 6 status checks ok, 2 initializing (3 min left)").

What counts as pending (it may still pass) and what as failed (it will not):

- pending: an instance "pending"; a status check "initializing",
  "insufficient-data", "not-applicable" (not running yet) or "impaired" (a
  fresh instance can report it while booting; one that stays impaired fails
  at the deadline); a group below its desired capacity; a target "initial",
  "unhealthy" (new targets flap until their health checks settle), "unused"
  or "unavailable", or no target registered yet; a load balancer that does
  not answer or answers 5xx (what an ALB says while no target is healthy);
  a database "creating", "backing-up", "modifying" and the like; an instance
  id DescribeInstances does not know yet (EC2 is eventually consistent).
- failed at once: an instance stopping, stopped, shutting down or
  terminated; instances from another AMI; an instance in a security group the
  stack was not given; a running instance without a volume from the expected
  snapshot; egress not as declared; a database failed, stopped or deleting;
  a load balancer answering 4xx (the application answered, and refused).

Group members leaving the group (Terminating, Detaching, ...) are not counted:
the group replaces them, and its capacity check waits for that. A target
draining is leaving too. Once any check has failed, verification cannot pass,
so nothing more is waited for: checks still pending then are "skipped", and
say so.

Every call AWS limits is asked in batches of what it allows: DescribeInstances,
DescribeInstanceStatus and DescribeVolumes 100 ids, DescribeAutoScalingGroups
50 names, DescribeLoadBalancers 20 ARNs; every batch's pages are followed.

On the local stand-in some of these cannot be shown (moto reports every
status check "ok" and every target "healthy" without checking anything, and
its load balancer names do not resolve): those checks say "not simulated
locally", never "passed". The others are checked there as on AWS: the stand-in
plays instances' security groups, volumes restored from snapshots and egress
rules as AWS does (standin/extensions/ec2.py). Nothing waits on the stand-in.
Against another emulator (an endpoint that is not AWS's: `AWS_ENDPOINT_URL`,
the target's `endpoint_url`), a load balancer whose DNS name does not resolve
from here is "not verifiable from here": like "not simulated locally", never a
pass and never a failure. On AWS a name that does not resolve yet is pending,
read again until the deadline (a new load balancer's name takes a while to
appear).

When AWS refuses a read (AccessDenied on one resource, say), that check
fails and says why. When the endpoint itself fails (no answer, an answer that
cannot be read, HTTP 5xx after botocore's retries) nothing more can be read:
verification stops with an AwsError (exit 1) naming the operation and the
endpoint; the stacks stay as they were built. Used by `failover` and `drill`.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from relight.aws.clients import Aws, aws_endpoint, aws_failure, is_aws_failure, refused
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.model.shapes import parameter_dict
from relight.steps.deploy import Outcome
from relight.steps.discovery import Discovery

PASSED, FAILED, NOT_LOCAL, SKIPPED = "passed", "failed", "not simulated locally", "skipped"
# Against an emulator: what it reports cannot be checked from this machine. Neither a pass nor
# a failure, as NOT_LOCAL.
NOT_VERIFIABLE = "not verifiable from here"
PENDING = "pending"  # a reading that may still change; never the result of a returned Check

DEADLINE_SECONDS = 900.0
FIRST_WAIT, LONGEST_WAIT = 5.0, 30.0

# The most ids (names, ARNs) AWS takes in one call.
INSTANCE_IDS_PER_CALL = 100  # DescribeInstances, DescribeInstanceStatus
VOLUME_IDS_PER_CALL = 100  # DescribeVolumes
GROUP_NAMES_PER_CALL = 50  # DescribeAutoScalingGroups
LOAD_BALANCERS_PER_CALL = 20  # DescribeLoadBalancers

_GONE = {"stopping", "stopped", "shutting-down", "terminated"}
_LEAVING = ("Terminating", "Terminated", "Detaching", "Detached")  # group lifecycle prefixes
_STATUS_ORDER = ("impaired", "insufficient-data", "initializing", "not-applicable")
_DB_SETTLING = {
    "backing-up",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "creating",
    "maintenance",
    "modifying",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "starting",
    "storage-optimization",
    "upgrading",
}


@dataclass
class Check:
    check: str
    stack: str | None
    result: str  # passed, failed, not simulated locally, not verifiable from here, skipped
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reading:
    """One look at a check. PENDING readings are looked at again until the deadline."""

    check: str
    result: str  # PASSED, FAILED, NOT_LOCAL, NOT_VERIFIABLE, SKIPPED or PENDING
    detail: str
    waiting: str = ""  # while PENDING: what is still awaited ("2 initializing")
    hint: str = ""  # where to look when it is still pending at the deadline


Probe = Callable[[], list[Reading]]


def verified(checks: list[Check]) -> bool:
    """The environment is verified when nothing failed and something was actually checked."""
    return not any(c.result == FAILED for c in checks) and any(c.result == PASSED for c in checks)


def batched(
    call: Callable[..., Any],
    param: str,
    ids: Sequence[str],
    size: int,
    result: str,
    *,
    token: tuple[str, str] = ("NextToken", "NextToken"),
    **request: Any,
) -> list[Any]:
    """Every `result` item for `ids`, asking for at most `size` of them a call (AWS's limit),
    each batch's pages followed (`token`: the request's and the response's token names)."""
    asked, answered = token
    items: list[Any] = []
    for start in range(0, len(ids), size):
        kwargs = {**request, param: list(ids[start : start + size])}
        while True:
            page = call(**kwargs)
            items.extend(page.get(result, []))
            if not page.get(answered):
                break
            kwargs[asked] = page[answered]
    return items


def _counted(states: Iterable[str]) -> str:
    """ "2 initializing, 1 impaired": how many of each, most first."""
    return ", ".join(f"{n} {state}" for state, n in Counter(states).most_common())


def _time_left(seconds: float) -> str:
    return f"{math.ceil(seconds / 60)} min" if seconds >= 60 else f"{math.ceil(seconds)} s"


def _status(entry: dict[str, Any]) -> str:
    """An instance's status checks in one word: ok, or the worst of its two checks."""
    found = {entry["SystemStatus"]["Status"], entry["InstanceStatus"]["Status"]}
    if found == {"ok"}:
        return "ok"
    worst = next((s for s in _STATUS_ORDER if s in found), sorted(found - {"ok"})[0])
    return "not running yet" if worst == "not-applicable" else worst


def _constant(*readings: Reading) -> Probe:
    return lambda: list(readings)


class Verifier:
    def __init__(
        self,
        aws: Aws,
        plan: Plan,
        discovery: Discovery,
        outcome: Outcome,
        *,
        stand_in: bool,
        http_get: Callable[[str], int] | None = None,
        resolves: Callable[[str], bool] | None = None,
        deadline_seconds: float = DEADLINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self.aws = aws
        self.region = plan.region
        self.plan = plan
        self.discovery = discovery
        self.outcome = outcome
        self.stand_in = stand_in
        self.http_get = http_get or _http_status
        self.resolves = resolves or _resolves
        self.deadline_seconds = 0.0 if stand_in else deadline_seconds
        self.clock = clock
        self.sleep = sleep
        self.on_progress = on_progress or (lambda line: None)
        self.checks: list[Check] = []

    def client(self, service: str) -> Any:
        return self.aws.client(service, self.region)

    def add(self, check: str, stack: str | None, result: str, detail: str = "") -> None:
        self.checks.append(Check(check, stack, result, detail))

    def run(self) -> list[Check]:
        probes: list[tuple[str, Probe]] = []
        for key, sp in self.plan.stacks.items():
            if not self.outcome.results[key].ok:
                probes.append((key, _constant(Reading("stack complete", FAILED, "not built"))))
                continue
            try:
                probes += [(key, probe) for probe in self._stack(key, sp.name)]
            except Exception as exc:
                probes.append((key, _constant(self._failed_read(key, exc))))
        # The stacks prepared before the disaster serve too (the pilot light's load balancer
        # sends traffic to what the failover built): their health is checked alike, with no
        # artifact expected of them (a failover never deploys them).
        for key, sp in self.plan.prepared.items():
            try:
                probes += [(key, probe) for probe in self._stack(key, sp.name)]
            except Exception as exc:
                probes.append((key, _constant(self._failed_read(key, exc))))
        self._settle(probes)
        return self.checks

    def _read(self, key: str, probe: Probe) -> list[Reading]:
        try:
            return probe()
        except Exception as exc:
            return [self._failed_read(key, exc)]

    def _failed_read(self, key: str, exc: Exception) -> Reading:
        """AWS refused a read: that check fails, saying why. Any other failure of AWS stops
        verification (AwsError): an endpoint that does not answer answers no other check."""
        if refused(exc):
            return _unreadable(exc)
        if is_aws_failure(exc):
            sp = self.plan.stacks.get(key) or self.plan.prepared[key]
            what = f"verification of {sp.name} (deployed) stopped"
            raise aws_failure(exc, what) from exc
        raise exc

    def _stack(self, key: str, name: str) -> list[Probe]:
        resources = self._resources(name)
        expected = self._expected_artifacts(key)
        probes = [self._fleet(resources, expected, self._declared_groups(key, resources))]
        if _SECURITY_GROUP in resources:
            probes += self._egress(key, name)
        probes += [self._targets(arn) for arn in resources.get(_TARGET_GROUP, [])]
        if _DATABASES & resources.keys():
            probes.append(self._databases(key, resources, expected))
        probes += self._load_balancers(resources.get(_LOAD_BALANCER, []))
        return probes

    # waiting ---------------------------------------------------------------------------------

    def _settle(self, probes: list[tuple[str, Probe]]) -> None:
        """Read every probe; read the pending ones again until they settle or time is up."""
        started = self.clock()
        readings = [self._read(key, probe) for key, probe in probes]
        delay = FIRST_WAIT
        while True:
            pending = [n for n, found in enumerate(readings) if _pending(found)]
            failed = any(r.result == FAILED for found in readings for r in found)
            left = self.deadline_seconds - (self.clock() - started)
            if not pending or failed or left <= 0:
                break
            self.on_progress(self._progress(probes, readings, left))
            self.sleep(min(delay, left))
            delay = min(delay * 2, LONGEST_WAIT)
            for n in pending:
                readings[n] = self._read(*probes[n])
        waited = self.clock() - started
        for (key, _), found in zip(probes, readings, strict=True):
            for reading in found:
                self.add(reading.check, key, *self._final(reading, waited, failed))

    def _progress(
        self, probes: list[tuple[str, Probe]], readings: list[list[Reading]], left: float
    ) -> str:
        waiting = [
            f"{key}: {r.detail}, {r.waiting}"
            for (key, _), found in zip(probes, readings, strict=True)
            for r in found
            if r.result == PENDING
        ]
        return f"waiting: {'; '.join(waiting)} ({_time_left(left)} left)"

    def _final(self, reading: Reading, waited: float, failed: bool) -> tuple[str, str]:
        """A reading's result and detail once waiting is over."""
        if reading.result != PENDING:
            return reading.result, reading.detail
        if self.stand_in:
            return FAILED, f"{reading.detail}; {reading.waiting} (nothing waits on the stand-in)"
        if failed:
            return SKIPPED, (
                f"{reading.detail}; still {reading.waiting} when waiting stopped, after "
                f"{waited:.0f} s, because another check failed"
            )
        hint = f"; {reading.hint}" if reading.hint else ""
        return FAILED, f"{reading.detail}; waited {waited:.0f} s, still {reading.waiting}{hint}"

    # what the stacks hold ------------------------------------------------------------------

    def _resources(self, name: str) -> dict[str, list[str]]:
        """resource type → physical ids, from CloudFormation."""
        found: dict[str, list[str]] = {}
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=name):
            for res in page["StackResourceSummaries"]:
                if res.get("PhysicalResourceId"):
                    found.setdefault(res["ResourceType"], []).append(res["PhysicalResourceId"])
        return found

    def _expected_artifacts(self, key: str) -> dict[str, str]:
        """artifact kind → the id this stack was deployed with: the value it was given, which
        for a snapshot a stack already held is the one it keeps (stateful.py), not the newest
        copy discovery found."""
        if key not in self.plan.stacks:
            return {}  # prepared ahead of time: not restored by this run
        deployed = self.outcome.results[key].parameters
        expected = {}
        for name, value in self.plan.stacks[key].parameters.items():
            if not isinstance(value, ArtifactRef) or value.attribute:
                continue
            if value.artifact in self.discovery.artifacts:
                artifact = self.discovery.artifacts[value.artifact]
                expected[artifact.kind] = deployed.get(name, artifact.id)
        return expected

    # instances and groups ----------------------------------------------------------------

    def _template(self, key: str) -> dict[str, Any]:
        sp = self.plan.stacks.get(key) or self.plan.prepared[key]
        template: dict[str, Any] = json.loads(sp.body)
        return template

    def _given(self, key: str) -> dict[str, str]:
        """The stack's Parameters as deployed: what this run gave it, or for a stack prepared
        ahead of time what CloudFormation holds."""
        if key in self.plan.stacks:
            return self.outcome.results[key].parameters
        name = self.plan.prepared[key].name
        return parameter_dict(
            self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        )

    def _declared_groups(self, key: str, resources: dict[str, list[str]]) -> set[str] | None:
        """The security groups the stack's instances may be in: the values of its
        security-group Parameters and the groups it makes; None when it names none (or has no
        instances to check)."""
        if not _FLEET & resources.keys():
            return None
        parameters = self._template(key).get("Parameters", {})
        names = [n for n, p in parameters.items() if p.get("Type") in _GROUP_PARAMETER_TYPES]
        groups = set(resources.get(_SECURITY_GROUP, []))
        if names:
            given = self._given(key)
            groups |= {g for n in names for g in _GROUP_ID.findall(given.get(n, ""))}
        return groups or None

    def _logical_ids(self, name: str) -> dict[str, str]:
        """logical id → physical id, from CloudFormation."""
        found: dict[str, str] = {}
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=name):
            for res in page["StackResourceSummaries"]:
                if res.get("PhysicalResourceId"):
                    found[res["LogicalResourceId"]] = res["PhysicalResourceId"]
        return found

    def _fleet(
        self,
        resources: dict[str, list[str]],
        expected: dict[str, str],
        security_groups: set[str] | None = None,
    ) -> Probe:
        """The stack's instances (its own and its groups' members, read afresh each time: a
        group launches and replaces them while it is watched) and its groups' capacity."""
        fixed = list(resources.get("AWS::EC2::Instance", []))
        names = list(resources.get("AWS::AutoScaling::AutoScalingGroup", []))

        def read() -> list[Reading]:
            groups = (
                batched(
                    self.client("autoscaling").describe_auto_scaling_groups,
                    "AutoScalingGroupNames",
                    names,
                    GROUP_NAMES_PER_CALL,
                    "AutoScalingGroups",
                )
                if names
                else []
            )
            members = [
                i["InstanceId"]
                for g in groups
                for i in g.get("Instances", [])
                if not i["LifecycleState"].startswith(_LEAVING)
            ]
            ids = fixed + members
            readings = self._instances(ids, expected, security_groups) if ids else []
            return readings + [_capacity(group) for group in groups]

        return read

    def _instances(
        self, ids: list[str], expected: dict[str, str], groups: set[str] | None = None
    ) -> list[Reading]:
        try:
            reservations = batched(
                self.client("ec2").describe_instances,
                "InstanceIds",
                ids,
                INSTANCE_IDS_PER_CALL,
                "Reservations",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidInstanceID.NotFound":
                raise
            return [  # EC2 is eventually consistent: a new instance can be unknown for a while
                Reading(
                    "instances running",
                    PENDING,
                    f"0 of {len(ids)} known to DescribeInstances",
                    "some not visible yet",
                )
            ]
        instances = [i for r in reservations for i in r["Instances"]]
        readings = [_running(ids, instances)]
        if "ami" in expected:
            readings.append(_made_from(instances, expected["ami"]))
        readings.append(self._status_checks(ids))
        if groups is not None:
            readings.append(_in_groups(instances, groups))
        if "ebs_snapshot" in expected:
            readings.append(self._volumes(instances, expected["ebs_snapshot"]))
        return readings

    def _status_checks(self, ids: list[str]) -> Reading:
        if self.stand_in:
            return Reading("instance status checks", NOT_LOCAL, "moto reports every check ok")
        statuses = batched(
            self.client("ec2").describe_instance_status,
            "InstanceIds",
            ids,
            INSTANCE_IDS_PER_CALL,
            "InstanceStatuses",
            IncludeAllInstances=True,
        )
        found = {s["InstanceId"]: _status(s) for s in statuses}
        words = [found.get(i, "not reported yet") for i in ids]
        ok = words.count("ok")
        detail = f"{ok} of {len(ids)} status checks ok"
        if ok == len(ids):
            return Reading("instance status checks passed", PASSED, detail)
        return Reading(
            "instance status checks passed",
            PENDING,
            detail,
            _counted(w for w in words if w != "ok"),
            "see why with aws ec2 describe-instance-status --instance-ids ID and "
            "aws ec2 get-console-output --instance-id ID",
        )

    def _volumes(self, instances: list[dict[str, Any]], snapshot: str) -> Reading:
        check = "data volumes from the expected snapshot"
        volume_ids = [
            m["Ebs"]["VolumeId"]
            for i in instances
            for m in i.get("BlockDeviceMappings", [])
            if "Ebs" in m
        ]
        volumes = (
            batched(
                self.client("ec2").describe_volumes,
                "VolumeIds",
                volume_ids,
                VOLUME_IDS_PER_CALL,
                "Volumes",
            )
            if volume_ids
            else []
        )
        restored = [v for v in volumes if v.get("SnapshotId") == snapshot]
        detail = f"{len(restored)} volume(s) from {snapshot} for {len(instances)} instance(s)"
        if len(restored) >= len(instances):
            return Reading(check, PASSED, detail)
        starting = sum(1 for i in instances if i["State"]["Name"] == "pending")
        if starting:  # volumes are attached as an instance starts
            return Reading(check, PENDING, detail, f"{starting} instance(s) starting")
        return Reading(check, FAILED, detail)

    # security groups ---------------------------------------------------------------------

    def _egress(self, key: str, name: str) -> list[Probe]:
        """The egress of the security groups the stack makes, against its template."""
        check = "security groups' egress as declared"
        physical = self._logical_ids(name)
        declared = _declared_egress(self._template(key), physical, self._given(key))
        groups = {physical[logical]: logical for logical in declared if logical in physical}
        if not groups:
            return []

        def read() -> list[Reading]:
            try:
                found = self.client("ec2").describe_security_groups(GroupIds=sorted(groups))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidGroup.NotFound":
                    raise
                return [Reading(check, FAILED, str(exc))]
            wrong = []
            for group in found["SecurityGroups"]:
                logical = groups[group["GroupId"]]
                required, allowed = declared[logical]
                missing, extra = _compare_rules(required, allowed, _described_egress(group))
                if missing or extra:
                    wrong.append(_egress_difference(group["GroupId"], logical, missing, extra))
            detail = f"{len(groups) - len(wrong)} of {len(groups)} as declared"
            if wrong:
                return [Reading(check, FAILED, f"{detail}; {'; '.join(wrong)}")]
            return [Reading(check, PASSED, detail)]

        return [read]

    # target groups, databases, load balancers --------------------------------------------

    def _targets(self, arn: str) -> Probe:
        name = arn.rsplit(":", 1)[-1].split("/")[1] if "/" in arn else arn

        def read() -> list[Reading]:
            health = self.client("elbv2").describe_target_health(TargetGroupArn=arn)
            states = [
                t["TargetHealth"]["State"]
                for t in health["TargetHealthDescriptions"]
                if "draining" not in t["TargetHealth"]["State"]  # leaving the group
            ]
            if self.stand_in:
                detail = f"{len(states)} registered; moto checks none"
                return [Reading("targets healthy", NOT_LOCAL, detail)]
            healthy = states.count("healthy")
            detail = f"{name}: {healthy} of {len(states)} healthy"
            if states and healthy == len(states):
                return [Reading("targets healthy", PASSED, detail)]
            waiting = _counted(s for s in states if s != "healthy") or "no target registered"
            hint = f"see why with aws elbv2 describe-target-health --target-group-arn {arn}"
            return [Reading("targets healthy", PENDING, detail, waiting, hint)]

        return read

    def _databases(
        self, key: str, resources: dict[str, list[str]], expected: dict[str, str]
    ) -> Probe:
        # Read once, not per round: the stack's parameters do not change while it is watched.
        name = (self.plan.stacks.get(key) or self.plan.prepared[key]).name
        stack = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        given = parameter_dict(stack)
        restored = [
            _restored_from(given, expected.get(kind))
            for resource, kind in (
                ("AWS::RDS::DBInstance", "rds_snapshot"),
                ("AWS::RDS::DBCluster", "rds_cluster_snapshot"),
            )
            if resource in resources and expected.get(kind)
        ]

        def read() -> list[Reading]:
            rds = self.client("rds")
            statuses = [
                rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0][
                    "DBInstanceStatus"
                ]
                for ident in resources.get("AWS::RDS::DBInstance", [])
            ] + [
                rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]["Status"]
                for ident in resources.get("AWS::RDS::DBCluster", [])
            ]
            return [_database(status) for status in statuses] + restored

        return read

    def _load_balancers(self, arns: list[str]) -> list[Probe]:
        check = "load balancer answers"
        if self.stand_in:
            unresolved = Reading(check, NOT_LOCAL, "moto's DNS names do not resolve")
            return [_constant(unresolved) for _ in arns]
        if not arns:
            return []
        found = batched(
            self.client("elbv2").describe_load_balancers,
            "LoadBalancerArns",
            arns,
            LOAD_BALANCERS_PER_CALL,
            "LoadBalancers",
            token=("Marker", "NextMarker"),
        )
        emulator = self._emulator()
        probes = []
        for lb in found:
            if lb.get("Scheme") == "internal":
                probes.append(
                    _constant(Reading(check, SKIPPED, "internal: not reachable from here"))
                )
                continue
            name = lb["DNSName"]
            if emulator and not self.resolves(name):
                detail = (
                    f"{name} does not resolve here: the endpoint {emulator} is not AWS, and the "
                    "names it gives need not be in this machine's DNS"
                )
                probes.append(_constant(Reading(check, NOT_VERIFIABLE, detail)))
                continue
            url = f"http://{name}{self._health_path(lb['LoadBalancerArn'])}"
            probes.append(self._answers(url))
        return probes

    def _emulator(self) -> str | None:
        """The endpoint Elastic Load Balancing is asked at, when it is not AWS's own (an
        emulator, from AWS_ENDPOINT_URL or the target's endpoint_url); None on AWS."""
        meta = getattr(self.client("elbv2"), "meta", None)
        endpoint = getattr(meta, "endpoint_url", None)
        return endpoint if isinstance(endpoint, str) and not aws_endpoint(endpoint) else None

    def _answers(self, url: str) -> Probe:
        def read() -> list[Reading]:
            status = self.http_get(url)
            detail = f"GET {url}: " + (f"HTTP {status}" if status else "no answer")
            if 200 <= status < 400:
                return [Reading("load balancer answers", PASSED, detail)]
            if 400 <= status < 500:
                return [Reading("load balancer answers", FAILED, detail)]
            waiting = f"HTTP {status}" if status else "no answer"
            hint = "the load balancer answers once a target is healthy (see targets healthy)"
            return [Reading("load balancer answers", PENDING, f"GET {url}", waiting, hint)]

        return read

    def _health_path(self, lb_arn: str) -> str:
        groups = self.client("elbv2").describe_target_groups(LoadBalancerArn=lb_arn)
        for group in groups.get("TargetGroups", []):
            return str(group.get("HealthCheckPath") or "/")
        return "/"


_TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
_DATABASES = {"AWS::RDS::DBInstance", "AWS::RDS::DBCluster"}
_LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
_FLEET = {"AWS::EC2::Instance", "AWS::AutoScaling::AutoScalingGroup"}
_SECURITY_GROUP = "AWS::EC2::SecurityGroup"
_SECURITY_GROUP_EGRESS = "AWS::EC2::SecurityGroupEgress"
_GROUP_PARAMETER_TYPES = {"AWS::EC2::SecurityGroup::Id", "List<AWS::EC2::SecurityGroup::Id>"}
_GROUP_ID = re.compile(r"sg-[0-9a-zA-Z]+")
_MOST_LISTED = 5  # instances or rules named in a failed check's detail; the rest are counted

# An egress rule as compared: (protocol, from port, to port, destination). In a declared rule,
# None is a part the template computes in a way relight does not follow: any value matches.
Rule = tuple[str | None, int | None, int | None, str | None]
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
_DESTINATIONS = ("CidrIp", "CidrIpv6", "DestinationSecurityGroupId", "DestinationPrefixListId")
# AWS's rules for a group that declares no egress: all IPv4 traffic, and all IPv6 traffic when
# the VPC has an IPv6 block (allowed, not required).
_DEFAULT_EGRESS: Rule = ("-1", None, None, "0.0.0.0/0")
_DEFAULT_EGRESS_V6: Rule = ("-1", None, None, "::/0")


def _unreadable(exc: Exception) -> Reading:
    return Reading("read what the stack holds", FAILED, str(exc))


def _pending(readings: list[Reading]) -> bool:
    return any(r.result == PENDING for r in readings)


def _running(ids: list[str], instances: list[dict[str, Any]]) -> Reading:
    states = {i["InstanceId"]: i["State"]["Name"] for i in instances}
    running = sum(1 for state in states.values() if state == "running")
    detail = f"{running} of {len(ids)}"
    gone = sorted(f"{i} {state}" for i, state in states.items() if state in _GONE)
    if gone:
        return Reading("instances running", FAILED, f"{detail}; {', '.join(gone)}")
    if running == len(ids):
        return Reading("instances running", PASSED, detail)
    waiting = _counted(s for s in states.values() if s != "running") or "not described"
    return Reading("instances running", PENDING, f"{detail} running", waiting)


def _made_from(instances: list[dict[str, Any]], ami: str) -> Reading:
    wrong = sorted({i["ImageId"] for i in instances} - {ami})
    return Reading(
        "instances made from the expected AMI",
        FAILED if wrong else PASSED,
        f"expected {ami}" + (f", found {', '.join(wrong)}" if wrong else ""),
    )


def _capacity(group: dict[str, Any]) -> Reading:
    check = "auto scaling group at desired capacity"
    name = group["AutoScalingGroupName"]
    members = group.get("Instances", [])
    serving = sum(1 for i in members if i["LifecycleState"] == "InService")
    desired = group["DesiredCapacity"]
    detail = f"{name}: {serving} in service of {desired} desired"
    if serving >= desired:
        return Reading(check, PASSED, detail)
    waiting = _counted(i["LifecycleState"] for i in members if i["LifecycleState"] != "InService")
    return Reading(
        check,
        PENDING,
        detail,
        waiting or "no instance launched",
        "see why with aws autoscaling describe-scaling-activities "
        f"--auto-scaling-group-name {name}",
    )


def _in_groups(instances: list[dict[str, Any]], declared: set[str]) -> Reading:
    """Every instance is in some of the declared groups and in no other."""
    wrong = []
    for instance in instances:
        found = sorted(g["GroupId"] for g in instance.get("SecurityGroups", []))
        if not found or not set(found) <= declared:
            wrong.append(f"{instance['InstanceId']} in {', '.join(found) or 'no group'}")
    detail = f"{len(instances) - len(wrong)} of {len(instances)} in {', '.join(sorted(declared))}"
    if not wrong:
        return Reading("instances in the declared security groups", PASSED, detail)
    return Reading(
        "instances in the declared security groups", FAILED, f"{detail}; {_listed(wrong)}"
    )


def _listed(items: list[str]) -> str:
    shown = "; ".join(items[:_MOST_LISTED])
    more = len(items) - _MOST_LISTED
    return f"{shown}; and {more} more" if more > 0 else shown


def _resolved(value: Any, physical: dict[str, str], given: dict[str, str]) -> str | None:
    """A template value as deployed: a literal, a Parameter's value, a resource's physical id
    (Ref, or GetAtt ...GroupId); None for anything computed otherwise."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        return given.get(value["Ref"]) or physical.get(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        logical, attribute = target.split(".", 1) if isinstance(target, str) else target
        return physical.get(logical) if attribute == "GroupId" else None
    return None


def _logical_target(value: Any) -> str | None:
    """The logical id a GroupId names (Ref or GetAtt ...GroupId), if it names one."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    if isinstance(target, str):
        target = target.split(".", 1)
    return str(target[0]) if isinstance(target, list) and target[1:] == ["GroupId"] else None


def _port(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _protocol(value: Any) -> str:
    name = str(value).lower()
    return _PROTOCOLS.get(name, name)


def _declared_rule(rule: Any, physical: dict[str, str], given: dict[str, str]) -> Rule | None:
    """An egress rule of the template as compared; None for one with no destination (AWS adds
    no rule for it)."""
    if not isinstance(rule, dict):
        return (None, None, None, None)  # computed (Fn::If, say): matches any one rule
    peer = next((rule[k] for k in _DESTINATIONS if k in rule), None)
    if peer is None:
        return None
    protocol = _resolved(rule.get("IpProtocol"), physical, given)
    protocol = _protocol(protocol) if protocol is not None else None
    destination = _resolved(peer, physical, given)
    if protocol == "-1":
        return (protocol, None, None, destination)
    low = _port(_resolved(rule.get("FromPort"), physical, given))
    high = _port(_resolved(rule.get("ToPort"), physical, given))
    return (protocol, low, high, destination)


def _declared_egress(
    template: dict[str, Any], physical: dict[str, str], given: dict[str, str]
) -> dict[str, tuple[list[Rule], list[Rule]]]:
    """Each security group the template makes → (the egress rules it must have, those it may
    have): its own SecurityGroupEgress, or AWS's default allow-all when it declares none, plus
    the template's SecurityGroupEgress resources for it (one with a Condition: may). A group
    whose SecurityGroupEgress is computed (Fn::If around the list) is not compared."""
    resources = template.get("Resources", {})
    declared: dict[str, tuple[list[Rule], list[Rule]]] = {}
    for logical, resource in resources.items():
        if resource.get("Type") != _SECURITY_GROUP:
            continue
        inline = resource.get("Properties", {}).get("SecurityGroupEgress")
        if not inline:
            declared[logical] = ([_DEFAULT_EGRESS], [_DEFAULT_EGRESS_V6])
        elif isinstance(inline, list):
            rules = [_declared_rule(rule, physical, given) for rule in inline]
            declared[logical] = ([r for r in rules if r is not None], [])
    for resource in resources.values():
        if resource.get("Type") != _SECURITY_GROUP_EGRESS:
            continue
        properties = resource.get("Properties", {})
        group = _logical_target(properties.get("GroupId"))
        rule = _declared_rule(properties, physical, given)
        if group in declared and rule is not None:
            declared[group][1 if "Condition" in resource else 0].append(rule)
    return declared


def _described_egress(group: dict[str, Any]) -> list[Rule]:
    """A group's egress rules as DescribeSecurityGroups gives them, one per destination."""
    rules: list[Rule] = []
    for permission in group.get("IpPermissionsEgress", []):
        protocol = _protocol(permission.get("IpProtocol"))
        low, high = (
            (None, None)
            if protocol == "-1"
            else (permission.get("FromPort"), permission.get("ToPort"))
        )
        peers = (
            [r["CidrIp"] for r in permission.get("IpRanges", [])]
            + [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
            + [p["GroupId"] for p in permission.get("UserIdGroupPairs", [])]
            + [p["PrefixListId"] for p in permission.get("PrefixListIds", [])]
        )
        rules += [(protocol, low, high, peer) for peer in peers]
    return rules


def _matches(declared: Rule, found: Rule) -> bool:
    return all(d is None or d == f for d, f in zip(declared, found, strict=True))


def _compare_rules(
    required: list[Rule], allowed: list[Rule], found: list[Rule]
) -> tuple[list[Rule], list[Rule]]:
    """(declared rules not found, found rules not declared). Exact rules are matched first,
    so a partly computed one cannot take the rule an exact one needs."""
    left = list(found)
    missing = []
    for rule in sorted(required, key=lambda r: sum(part is None for part in r)):
        match = next((f for f in left if _matches(rule, f)), None)
        if match is None:
            missing.append(rule)
        else:
            left.remove(match)
    for rule in allowed:
        match = next((f for f in left if _matches(rule, f)), None)
        if match is not None:
            left.remove(match)
    return missing, left


def _rule_text(rule: Rule) -> str:
    protocol, low, high, peer = rule
    if protocol == "-1":
        what = "all traffic"
    elif low == high:
        what = f"{protocol or 'any protocol'} {low if low is not None else 'any port'}"
    else:
        what = f"{protocol or 'any protocol'} {low}-{high}"
    return f"{what} to {peer or 'any destination'}"


def _egress_difference(group_id: str, logical: str, missing: list[Rule], extra: list[Rule]) -> str:
    parts = []
    if extra:
        parts.append("not declared: " + ", ".join(_rule_text(r) for r in extra))
    if missing:
        parts.append("missing: " + ", ".join(_rule_text(r) for r in missing))
    return f"{group_id} ({logical}) {'; '.join(parts)}"


def _restored_from(given: dict[str, str], snapshot: str | None) -> Reading:
    """The stack's snapshot parameter, as CloudFormation holds it, is the expected one."""
    result = PASSED if snapshot in given.values() else FAILED
    return Reading("database restored from the expected snapshot", result, str(snapshot))


def _database(status: str) -> Reading:
    if status == "available":
        return Reading("database available", PASSED, status)
    if status in _DB_SETTLING:
        return Reading("database available", PENDING, "not yet available", status)
    return Reading("database available", FAILED, status)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect (HTTP to HTTPS, when the listener has a certificate) is an answer in itself:
    following it would meet a certificate for the site's name, not the load balancer's."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _resolves(name: str) -> bool:
    """`name` resolves to an address from this machine."""
    try:
        return bool(socket.getaddrinfo(name, 80, proto=socket.IPPROTO_TCP))
    except (OSError, UnicodeError):  # socket.gaierror included; a name IDNA cannot encode
        return False


def _http_status(url: str) -> int:
    """The HTTP status of a GET, redirects not followed (0 when nothing answers within 10 s)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:  # URLError included
        return 0


def verify(
    aws: Aws,
    plan: Plan,
    discovery: Discovery,
    outcome: Outcome,
    *,
    stand_in: bool,
    http_get: Callable[[str], int] | None = None,
    resolves: Callable[[str], bool] | None = None,
    deadline_seconds: float = DEADLINE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[str], None] | None = None,
) -> list[Check]:
    """Every check of what was built, waiting up to `deadline_seconds` for those AWS still
    reports as settling (never on the stand-in); `on_progress` hears one line a round.
    `http_get` (a URL's HTTP status, 0 for no answer) and `resolves` (a DNS name resolves
    from here) reach the load balancers; AwsError when the endpoint fails (see above)."""
    return Verifier(
        aws,
        plan,
        discovery,
        outcome,
        stand_in=stand_in,
        http_get=http_get,
        resolves=resolves,
        deadline_seconds=deadline_seconds,
        clock=clock,
        sleep=sleep,
        on_progress=on_progress,
    ).run()
