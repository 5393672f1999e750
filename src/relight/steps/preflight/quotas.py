"""Quotas: what is in use in the target region plus what the plan adds, against what the region
allows (relight.aws.quotas reads the applied value, or the default).

What the plan adds is counted from the rendered templates: the stacks not made yet add their
VPCs, Elastic IPs, NAT gateways (per zone), load balancers, DB instances and themselves (stacks);
every stack adds the vCPUs of the instances it runs (fixed instances, an Auto Scaling group's
desired size) beyond those it already runs, so a rerun adds nothing and a warm standby's scale-up
adds what it launches. A drill also adds the final snapshots its databases leave when it tears
down (manual DB snapshots, deleted afterwards).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from relight.aws.failures import aws_failure, is_aws_failure, refused, translated
from relight.aws.quotas import (
    QUOTAS,
    QuotaBook,
    dedicated_host_only,
    request_command,
    vcpu_quota,
)
from relight.model.environment import ZonesRef
from relight.model.plan import Plan, StackPlan

_SIMPLE = {  # quota → the resource type a new stack adds one of
    "vpcs": "AWS::EC2::VPC",
    "eips": "AWS::EC2::EIP",
    "db_instances": "AWS::RDS::DBInstance",
}


def quota_problems(
    plan: Plan, aws: Any, existing: list[dict[str, Any]], zones: Iterable[Any] = ()
) -> tuple[list[str], list[str]]:
    """Every quota the plan would exceed (problems) and what could not be checked (notes)."""
    new_names = {sp.name for sp in plan.stacks.values()} - {s["StackName"] for s in existing}
    new = [sp for sp in plan.stacks.values() if sp.name in new_names]
    zone_names = [z.name for z in zones]
    adds: dict[str, tuple[int, list[str]]] = {}  # quota → (how many, by which stacks)
    for key, resource_type in _SIMPLE.items():
        adds[key] = _count(new, lambda r, t=resource_type: r.get("Type") == t)  # type: ignore[misc]
    for kind, key in (("application", "albs"), ("network", "nlbs")):
        adds[key] = _count(new, lambda r, k=kind: _is_load_balancer(r, k))  # type: ignore[misc]
    adds["stacks"] = (len(new), [sp.key for sp in new])
    if plan.purpose == "drill":  # the final snapshots its teardown leaves, then deletes
        adds["manual_snapshots"] = _count(new, _leaves_final_snapshot)
        adds["manual_cluster_snapshots"] = _count(new, _leaves_final_cluster_snapshot)
    wanted = {k: v for k, v in adds.items() if v[0]}
    nat = _nat_gateways(new, zone_names)
    runs = _instances(plan)
    if not wanted and not nat and not runs:
        return [], []
    book = QuotaBook(aws.client("service-quotas", plan.region), plan.region)
    usage = _Usage(aws, plan.region)
    problems = [
        _shortfall(book, key, usage.count(key, existing), n, stacks, plan.region)
        for key, (n, stacks) in sorted(wanted.items())
    ]
    if nat:
        problems += _nat_shortfalls(book, usage, nat, plan.region)
    if runs:
        problems += _vcpu_shortfalls(book, usage, runs, plan)
    return [p for p in problems if p], book.notes + list(dict.fromkeys(usage.notes))


def _shortfall(
    book: QuotaBook, key: str, used: int, adds: int, stacks: list[str], region: str, where: str = ""
) -> str:
    limit = book.value(key)
    if limit is None or used + adds <= limit:
        return ""
    quota = QUOTAS[key]
    by = f" ({', '.join(sorted(set(stacks)))})" if stacks else ""
    return (
        f"quota {quota.name}{where} ({quota.service} {quota.code}): {used} in use + {adds} the "
        f"plan adds{by} > {limit} allowed in {region}; free some, or ask for more: "
        f"{request_command(quota, used + adds, region)}"
    )


def _resources(sp: StackPlan) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(sp.body).get("Resources", {})
    return found


def _count(
    stacks: list[StackPlan], match: Callable[[dict[str, Any]], bool]
) -> tuple[int, list[str]]:
    n, by = 0, []
    for sp in stacks:
        here = sum(1 for r in _resources(sp).values() if match(r))
        n += here
        by += [sp.key] if here else []
    return n, by


def _is_load_balancer(resource: dict[str, Any], kind: str) -> bool:
    if resource.get("Type") != "AWS::ElasticLoadBalancingV2::LoadBalancer":
        return False
    declared = resource.get("Properties", {}).get("Type", "application")  # AWS's default
    return declared == kind or (not isinstance(declared, str) and kind == "application")


def _leaves_final_snapshot(resource: dict[str, Any]) -> bool:
    """A DB instance outside a cluster leaves a manual DB snapshot when its stack is deleted
    (DeletionPolicy Snapshot, AWS's default for it: R3); a cluster's leaves a cluster snapshot,
    which counts against Q10 (_leaves_final_cluster_snapshot)."""
    props = resource.get("Properties", {})
    return (
        resource.get("Type") == "AWS::RDS::DBInstance"
        and "DBClusterIdentifier" not in props
        and resource.get("DeletionPolicy", "Snapshot") == "Snapshot"
    )


def _leaves_final_cluster_snapshot(resource: dict[str, Any]) -> bool:
    """An Aurora DB cluster leaves a manual DB cluster snapshot when its stack is deleted
    (DeletionPolicy Snapshot, AWS's default for AWS::RDS::DBCluster too): quota Q10."""
    return (
        resource.get("Type") == "AWS::RDS::DBCluster"
        and resource.get("DeletionPolicy", "Snapshot") == "Snapshot"
    )


def _param(sp: StackPlan, body: dict[str, Any], name: str) -> Any:
    given = sp.parameters.get(name)
    if given not in (None, ""):
        return given
    return body.get("Parameters", {}).get(name, {}).get("Default")


def _literal(sp: StackPlan, body: dict[str, Any], value: Any) -> list[Any]:
    """What a property may resolve to: a literal, a Parameter's literal value or default, and
    either branch of an Fn::If (so a count is never under-estimated)."""
    if isinstance(value, dict) and "Ref" in value:
        found = _param(sp, body, value["Ref"])
        return [found] if found not in (None, "") else []
    if isinstance(value, dict) and "Fn::If" in value:
        return [v for branch in value["Fn::If"][1:] for v in _literal(sp, body, branch)]
    return [] if isinstance(value, dict | list) else [value]


def _number(sp: StackPlan, body: dict[str, Any], value: Any) -> int:
    found = [int(v) for v in _literal(sp, body, value) if str(v).isdigit()]
    return max(found, default=0)


def _instances(plan: Plan) -> dict[tuple[str, str], tuple[int, int]]:
    """(stack name, instance type) → how many instances the stack runs once deployed, and how
    many it may scale to (an Auto Scaling group's MaxSize)."""
    runs: dict[tuple[str, str], tuple[int, int]] = {}
    for sp in plan.stacks.values():
        body = json.loads(sp.body)
        resources = body.get("Resources", {})
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource.get("Type") == "AWS::EC2::Instance":
                count, most, kind = 1, 1, props.get("InstanceType")
            elif resource.get("Type") == "AWS::AutoScaling::AutoScalingGroup":
                count = _number(sp, body, props.get("DesiredCapacity", props.get("MinSize")))
                most = max(count, _number(sp, body, props.get("MaxSize")))
                ref = props.get("LaunchTemplate", {}).get("LaunchTemplateId", {})
                template = resources.get(ref.get("Ref", "") if isinstance(ref, dict) else "", {})
                data = template.get("Properties", {}).get("LaunchTemplateData", {})
                kind = data.get("InstanceType")
            else:
                continue
            for literal in _literal(sp, body, kind)[:1]:
                if most:
                    was = runs.get((sp.name, str(literal)), (0, 0))
                    runs[(sp.name, str(literal))] = (was[0] + count, was[1] + most)
    return runs


def _nat_gateways(stacks: list[StackPlan], zones: list[str]) -> Counter[str]:
    """Zone → NAT gateways the new stacks add there; "" for one whose zone is not known yet."""
    added: Counter[str] = Counter()
    for sp in stacks:
        body = json.loads(sp.body)
        resources = body.get("Resources", {})
        for resource in resources.values():
            if resource.get("Type") != "AWS::EC2::NatGateway":
                continue
            subnet = resources.get(resource.get("Properties", {}).get("SubnetId", {}).get("Ref"))
            zone = (subnet or {}).get("Properties", {}).get("AvailabilityZone")
            added[_zone(sp, zone, zones)] += 1
    return added


def _zone(sp: StackPlan, zone: Any, zones: list[str]) -> str:
    """A subnet's zone: a literal, or `Fn::Select [i, Ref AvailabilityZones]` of discovery's."""
    if isinstance(zone, str):
        return zone
    picked = zone.get("Fn::Select") if isinstance(zone, dict) else None
    if isinstance(picked, list) and len(picked) == 2 and str(picked[0]).isdigit():
        listed = picked[1].get("Ref") if isinstance(picked[1], dict) else None
        if listed is not None and isinstance(sp.parameters.get(listed), ZonesRef):
            index = int(picked[0])  # {zones: names}: the zones discovery chose, in order
            return zones[index] if index < len(zones) else ""
    return ""


def _nat_shortfalls(book: QuotaBook, usage: _Usage, nat: Counter[str], region: str) -> list[str]:
    in_use = usage.nat_gateways_by_zone()
    problems = []
    for zone, adds in sorted(nat.items()):
        used = in_use.get(zone, 0) if zone else max(in_use.values(), default=0)
        where = f" in {zone}" if zone else " in the fullest zone (the zone is chosen at deploy)"
        problems.append(_shortfall(book, "nat_gateways", used, adds, [], region, where))
    return problems


def _vcpu_shortfalls(
    book: QuotaBook, usage: _Usage, runs: dict[tuple[str, str], tuple[int, int]], plan: Plan
) -> list[str]:
    """A shortfall for the instances the stacks run once deployed; a note where only their
    groups' maximum size would not fit (a scale-out during the incident would be refused)."""
    vcpus = usage.vcpus_of({kind for _, kind in runs})
    running = usage.running()  # (stack, type) → instances running now
    adds: Counter[str] = Counter()
    at_most: Counter[str] = Counter()
    by: dict[str, list[str]] = {}
    keys = {sp.name: sp.key for sp in plan.stacks.values()}
    for (stack, kind), (count, most) in runs.items():
        quota = vcpu_quota(kind)
        if dedicated_host_only(kind):
            usage.notes.append(
                f"vCPU quota for {kind} not checked: it runs only on a Dedicated Host, which "
                "the On-Demand vCPU quotas do not count (allocate the host in the target "
                "region before a disaster)"
            )
            continue
        if quota is None or kind not in vcpus:
            usage.notes.append(f"vCPU quota for {kind} not checked (family class not known)")
            continue
        now = running.get((stack, kind), 0)
        at_most[quota] += max(0, most - now) * vcpus[kind]
        if count > now:
            adds[quota] += (count - now) * vcpus[kind]
            by.setdefault(quota, []).append(f"{keys[stack]}: {count - now} x {kind}")
    used = usage.vcpus_in_use(vcpus)
    problems = []
    for quota, peak in sorted(at_most.items()):
        short = _shortfall(book, quota, used.get(quota, 0), adds[quota], by.get(quota, []),
                           plan.region, " (vCPUs)")  # fmt: skip
        limit = book.value(quota)
        if short or adds[quota]:
            problems.append(short)
        if not short and limit is not None and used.get(quota, 0) + peak > limit:
            q = QUOTAS[quota]
            usage.notes.append(
                f"quota {q.name} ({q.service} {q.code}): room for what the plan launches, not "
                f"for its Auto Scaling groups' maximum size ({used.get(quota, 0)} vCPUs in use + "
                f"{peak} > {limit} in {plan.region}); a scale-out would be refused: "
                f"{request_command(q, used.get(quota, 0) + peak, plan.region)}"
            )
    return problems


class _Usage:
    """What is in use in the region, each listing read once."""

    def __init__(self, aws: Any, region: str) -> None:
        self.aws, self.region = aws, region
        self.notes: list[str] = []
        self._instances: list[dict[str, Any]] | None = None

    def _all(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        client = self.aws.client(service, self.region)
        with translated(f"cannot count what is in use in {self.region} ({operation})", client):
            pages = client.get_paginator(operation).paginate(**kwargs)
            return [item for page in pages for item in page[key]]

    def count(self, key: str, existing: list[dict[str, Any]]) -> int:
        if key == "stacks":
            return len(existing)
        if key == "vpcs":
            return len(self._all("ec2", "describe_vpcs", "Vpcs"))
        if key == "eips":
            client = self.aws.client("ec2", self.region)
            with translated(f"cannot count the Elastic IPs in use in {self.region}", client):
                return len(client.describe_addresses()["Addresses"])
        if key in ("albs", "nlbs"):
            kind = "application" if key == "albs" else "network"
            found = self._all("elbv2", "describe_load_balancers", "LoadBalancers")
            return sum(1 for lb in found if lb.get("Type") == kind)
        if key == "db_instances":
            return len(self._all("rds", "describe_db_instances", "DBInstances"))
        if key == "manual_snapshots":
            return len(
                self._all("rds", "describe_db_snapshots", "DBSnapshots", SnapshotType="manual")
            )
        if key == "manual_cluster_snapshots":
            return len(
                self._all(
                    "rds",
                    "describe_db_cluster_snapshots",
                    "DBClusterSnapshots",
                    SnapshotType="manual",
                )
            )
        raise KeyError(key)

    def nat_gateways_by_zone(self) -> Counter[str]:
        """NAT gateways pending, available or deleting, per zone (Q3: those count)."""
        gateways = self._all(
            "ec2", "describe_nat_gateways", "NatGateways",
            Filter=[{"Name": "state", "Values": ["pending", "available", "deleting"]}],
        )  # fmt: skip
        subnets = {g["SubnetId"] for g in gateways}
        if not subnets:
            return Counter()
        zone_of = {
            s["SubnetId"]: s["AvailabilityZone"]
            for s in self._all("ec2", "describe_subnets", "Subnets", SubnetIds=sorted(subnets))
        }
        return Counter(zone_of.get(g["SubnetId"], "") for g in gateways)

    def _running_instances(self) -> list[dict[str, Any]]:
        if self._instances is None:
            reservations = self._all(
                "ec2", "describe_instances", "Reservations",
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}],
            )  # fmt: skip
            self._instances = [
                i
                for r in reservations
                for i in r["Instances"]
                if i.get("InstanceLifecycle") != "spot"  # Spot counts against other quotas
            ]
        return self._instances

    def running(self) -> Counter[tuple[str, str]]:
        counted: Counter[tuple[str, str]] = Counter()
        for i in self._running_instances():
            tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            stack = tags.get("aws:cloudformation:stack-name")
            if stack:
                counted[(stack, i["InstanceType"])] += 1
        return counted

    def vcpus_of(self, kinds: set[str]) -> dict[str, int]:
        """Instance type → its default vCPUs (EC2 DescribeInstanceTypes, Q2)."""
        kinds = kinds | {i["InstanceType"] for i in self._running_instances()}
        if not kinds:
            return {}
        ec2 = self.aws.client("ec2", self.region)
        try:
            pages = ec2.get_paginator("describe_instance_types").paginate(
                InstanceTypes=sorted(kinds)
            )
            found = [t for page in pages for t in page["InstanceTypes"]]
        except Exception as exc:
            if refused(exc):  # EC2 said no (a type it does not know: zones name it): a note
                self.notes.append(f"vCPU quotas not checked in {self.region} ({exc})")
                return {}
            if is_aws_failure(exc):
                raise aws_failure(exc, "cannot read the instance types' vCPUs", ec2) from exc
            raise
        return {t["InstanceType"]: int(t["VCpuInfo"]["DefaultVCpus"]) for t in found}

    def vcpus_in_use(self, vcpus: dict[str, int]) -> Counter[str]:
        used: Counter[str] = Counter()
        for i in self._running_instances():
            quota = vcpu_quota(i["InstanceType"])
            if quota:
                used[quota] += vcpus.get(i["InstanceType"], 0)
        return used
