"""Step 5 of the data flow: prove the rebuilt environment works, with evidence from AWS.

Each stack's resources (from CloudFormation) are checked by what they are:

- instances: running, made from the expected AMI, status checks passed;
- Auto Scaling groups: at desired capacity, every instance InService;
- target groups: every target healthy;
- databases: available, restored from the expected snapshot;
- volumes: made from the expected snapshots;
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
  terminated; instances from another AMI; a running instance without a
  volume from the expected snapshot; a database failed, stopped or deleting;
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
locally", never "passed". Nothing waits on the stand-in. Against another
emulator (an endpoint that is not AWS's: `AWS_ENDPOINT_URL`, the target's
`endpoint_url`), a load balancer whose DNS name does not resolve from here is
"not verifiable from here": like "not simulated locally", never a pass and
never a failure. On AWS a name that does not resolve yet is pending, read
again until the deadline (a new load balancer's name takes a while to appear).

When AWS refuses a read (AccessDenied on one resource, say), that check
fails and says why. When the endpoint itself fails (no answer, an answer that
cannot be read, HTTP 5xx after botocore's retries) nothing more can be read:
verification stops with an AwsError (exit 1) naming the operation and the
endpoint; the stacks stay as they were built. Used by `failover` and `drill`.
"""

from __future__ import annotations

import math
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from relight.aws import Aws, aws_endpoint, aws_failure, is_aws_failure, parameter_dict, refused
from relight.deploy import Outcome
from relight.discovery import Discovery
from relight.environment import ArtifactRef
from relight.render import Plan

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
        probes = [self._fleet(resources, expected)]
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

    def _fleet(self, resources: dict[str, list[str]], expected: dict[str, str]) -> Probe:
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
            readings = self._instances(ids, expected) if ids else []
            return readings + [_capacity(group) for group in groups]

        return read

    def _instances(self, ids: list[str], expected: dict[str, str]) -> list[Reading]:
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
        if self.stand_in and not restored:
            return Reading(check, NOT_LOCAL, snapshot)
        detail = f"{len(restored)} volume(s) from {snapshot} for {len(instances)} instance(s)"
        if len(restored) >= len(instances):
            return Reading(check, PASSED, detail)
        starting = sum(1 for i in instances if i["State"]["Name"] == "pending")
        if starting:  # volumes are attached as an instance starts
            return Reading(check, PENDING, detail, f"{starting} instance(s) starting")
        return Reading(check, FAILED, detail)

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
