"""`verify`: the Verifier gathers every stack's checks, reads them all, and reads the pending
ones again, with a backoff, until they settle or the deadline passes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from relight.aws.clients import Aws
from relight.aws.failures import aws_failure, is_aws_failure, refused
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.steps.deploy import Outcome
from relight.steps.discovery import Discovery
from relight.steps.verify.common import (
    _SECURITY_GROUP,
    DEADLINE_SECONDS,
    FAILED,
    FIRST_WAIT,
    LONGEST_WAIT,
    PENDING,
    SKIPPED,
    Check,
    Probe,
    Reading,
    _constant,
)
from relight.steps.verify.databases import DatabaseChecks
from relight.steps.verify.instances import InstanceChecks
from relight.steps.verify.load_balancers import LoadBalancerChecks, _http_status, _resolves
from relight.steps.verify.security_groups import EgressChecks

_TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
_DATABASES = {"AWS::RDS::DBInstance", "AWS::RDS::DBCluster"}
_LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"


class Verifier(InstanceChecks, LoadBalancerChecks, DatabaseChecks, EgressChecks):
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
        promoted: Sequence[str] = (),
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
        self.promoted = tuple(promoted)

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
        # The databases the failover promoted: writable, and read by the stacks that use them.
        for key in self.promoted:
            try:
                probes += [(key, probe) for probe in self._promoted(key)]
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


def _time_left(seconds: float) -> str:
    return f"{math.ceil(seconds / 60)} min" if seconds >= 60 else f"{math.ceil(seconds)} s"


def _unreadable(exc: Exception) -> Reading:
    return Reading("read what the stack holds", FAILED, str(exc))


def _pending(readings: list[Reading]) -> bool:
    return any(r.result == PENDING for r in readings)


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
    promoted: Sequence[str] = (),
) -> list[Check]:
    """Every check of what was built, waiting up to `deadline_seconds` for those AWS still
    reports as settling (never on the stand-in); `on_progress` hears one line a round.
    `http_get` (a URL's HTTP status, 0 for no answer) and `resolves` (a DNS name resolves
    from here) reach the load balancers; AwsError when the endpoint fails (see above).
    `promoted`: the keys of the database stacks the failover promoted (replica mode)."""
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
        promoted=promoted,
    ).run()
