"""Drift: how production in the home region differs from what the environment file declares.

Production is what the environment's stacks built at home (`<env>-<stack>`, purpose `home`).
For each stack relight renders its template as a home deploy would, lists the live stack's
resources, and reads the properties that matter for a rebuild with describe calls:

- network: the VPC's CIDR; each subnet's CIDR and AZ; subnets in the VPC the stack did not make;
- security groups: every ingress and egress rule (protocol, ports, CIDR, group or prefix list),
  the template's inline rules and its standalone rule resources together;
- compute: the Auto Scaling group's min, max and desired size; the instance type of the
  launch template version the group launches with, and a fixed instance's;
- load balancer: each listener's port and protocol, listeners the stack did not make; the
  target group's port, protocol and health check path and port;
- database: engine, instance class, Multi-AZ.

The template's references are resolved with the live stack's own parameters and physical ids
(what the stack was given and made), its conditions likewise; a value relight cannot resolve
is not compared. Read-only: describe and list calls only, no lock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.drift.differences import (
    CHANGED,
    ONLY_DECLARED,
    ONLY_LIVE,
    Difference,
    Drift,
    StackDrift,
    same,
)
from relight.drift.reading import Described, Reader
from relight.model.plan import Plan, stack_name
from relight.model.shapes import parameter_dict, tag_dict

_UNKNOWN = object()  # a template value relight cannot resolve: not compared
_NO_VALUE = object()  # AWS::NoValue


# resolving the template ------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a template's references mean in one live stack."""

    stack_name: str
    region: str
    parameters: Mapping[str, str]  # the live stack's parameter values
    physical: Mapping[str, str]  # logical id → physical id
    conditions: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """`value` with Ref, GetAtt (GroupId), Select, If and NoValue resolved; `_UNKNOWN` where
        a part cannot be."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            if any(i is _UNKNOWN for i in items):
                return _UNKNOWN
            return [i for i in items if i is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::GetAtt":
            name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.physical.get(name, _UNKNOWN) if attribute == "GroupId" else _UNKNOWN
        if fn == "Fn::Select":
            items = self.resolve(arg[1])
            if isinstance(items, str):  # a CommaDelimitedList ("a,b"; moto says "['a', 'b']")
                items = [i.strip().strip("'\"") for i in items.strip("[]").split(",")]
            index = self.resolve(arg[0])
            if not isinstance(items, list) or int(index) >= len(items):
                return _UNKNOWN
            return items[int(index)]
        if fn == "Fn::If":
            holds = self.condition(arg[0])
            return _UNKNOWN if holds is None else self.resolve(arg[1] if holds else arg[2])
        if fn.startswith("Fn::"):
            return _UNKNOWN
        return {fn: self.resolve(arg)}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name == "AWS::StackName":
            return self.stack_name
        if name == "AWS::Region":
            return self.region
        if name in self.parameters:
            return self.parameters[name]
        return self.physical.get(name, _UNKNOWN)

    def condition(self, name: str) -> bool | None:
        """Whether the template's condition `name` held; None when relight cannot tell."""
        return self._holds(self.conditions.get(name))

    def _holds(self, expression: Any) -> bool | None:
        if not isinstance(expression, dict) or len(expression) != 1:
            return None
        ((fn, arg),) = expression.items()
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            left, right = self.resolve(arg[0]), self.resolve(arg[1])
            return None if _UNKNOWN in (left, right) else str(left) == str(right)
        parts = [self._holds(a) for a in arg] if isinstance(arg, list) else []
        if None in parts:
            return None
        if fn == "Fn::Not":
            return not parts[0]
        if fn == "Fn::Or":
            return any(parts)
        if fn == "Fn::And":
            return all(parts)
        return None


def compare_values(
    where: Callable[[str, Any, Any, str], Difference],
    declared: Mapping[str, Any],
    live: Mapping[str, Any],
) -> list[Difference]:
    """A `changed` difference per property the template states (resolved) and live differs in."""
    found = []
    for name, value in declared.items():
        if value is _UNKNOWN or value is _NO_VALUE or value is None or name not in live:
            continue
        if not same(value, live[name]):
            if isinstance(live[name], int) and str(value).isdigit():
                value = int(value)  # the template's "6" is the group's 6
            found.append(where(name, value, live[name], CHANGED))
    return found


# security group rules --------------------------------------------------------------------------

PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def _rule(protocol: Any, low: Any, high: Any, peer: str) -> str:
    protocol = PROTOCOLS.get(str(protocol).lower(), str(protocol).lower())
    if protocol == "-1":
        return f"all traffic {peer}"
    ports = f"{low}" if str(low) == str(high) else f"{low}-{high}"
    return f"{protocol} {ports} {peer}"


_DECLARED_PEERS = (
    ("CidrIp", ""),
    ("CidrIpv6", ""),
    ("SourceSecurityGroupId", ""),
    ("DestinationSecurityGroupId", ""),
    ("SourcePrefixListId", ""),
    ("DestinationPrefixListId", ""),
)


def declared_rule(rule: Mapping[str, Any], ctx: Context) -> str | None:
    """One template rule (inline, or a standalone SecurityGroupIngress/Egress) as text, e.g.
    "tcp 8080 sg-0abc"; None when a part cannot be resolved."""
    values = {k: ctx.resolve(v) for k, v in rule.items()}
    if any(v is _UNKNOWN for v in values.values()):
        return None
    peers = [values[k] for k, _ in _DECLARED_PEERS if values.get(k) not in (None, _NO_VALUE)]
    if len(peers) != 1:
        return None
    return _rule(values.get("IpProtocol"), values.get("FromPort"), values.get("ToPort"), peers[0])


def live_rules(permissions: Iterable[Mapping[str, Any]]) -> set[str]:
    """EC2's IpPermissions (or IpPermissionsEgress), one text per rule and peer."""
    rules: set[str] = set()
    for p in permissions:
        protocol, low, high = p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort")
        peers = [r["CidrIp"] for r in p.get("IpRanges", [])]
        peers += [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
        peers += [r["GroupId"] for r in p.get("UserIdGroupPairs", [])]
        peers += [r["PrefixListId"] for r in p.get("PrefixListIds", [])]
        rules.update(_rule(protocol, low, high, peer) for peer in peers)
    return rules


def compare_rules(
    where: Callable[[str, Any, Any, str], Difference],
    direction: str,
    declared: set[str],
    live: set[str],
) -> list[Difference]:
    """Rules in production but not in the file, and in the file but not in production."""
    return [where(direction, None, r, ONLY_LIVE) for r in sorted(live - declared)] + [
        where(direction, r, None, ONLY_DECLARED) for r in sorted(declared - live)
    ]


ALL_EGRESS = "all traffic 0.0.0.0/0"  # the rule EC2 gives a group that declares no egress


def declared_group_rules(
    template: Mapping[str, Any], logical: str, ctx: Context
) -> dict[str, set[str]]:
    """The rules the template gives group `logical`: inline and standalone, per direction."""
    resources = template.get("Resources", {})
    props = resources[logical].get("Properties", {})
    rules: dict[str, set[str]] = {"SecurityGroupIngress": set(), "SecurityGroupEgress": set()}
    unresolved = False
    for direction in rules:
        for rule in props.get(direction, []):
            text = declared_rule(rule, ctx)
            unresolved |= text is None
            rules[direction].add(text or "")
    for resource in resources.values():
        direction = resource.get("Type", "").rsplit("::", 1)[-1]
        if direction not in rules or not _holds(resource, ctx):
            continue
        own = dict(resource.get("Properties", {}))
        target = ctx.resolve(own.pop("GroupId", None))
        if target != ctx.physical.get(logical) or target is None:
            continue
        text = declared_rule(own, ctx)
        unresolved |= text is None
        rules[direction].add(text or "")
    if not props.get("SecurityGroupEgress") and not _any_standalone_egress(resources, logical):
        rules["SecurityGroupEgress"].add(ALL_EGRESS)
    for direction in rules:
        rules[direction].discard("")
    return rules


def _any_standalone_egress(resources: Mapping[str, Any], logical: str) -> bool:
    for resource in resources.values():
        if resource.get("Type") == "AWS::EC2::SecurityGroupEgress":
            group = resource.get("Properties", {}).get("GroupId")
            if group in ({"Ref": logical}, {"Fn::GetAtt": [logical, "GroupId"]}):
                return True
    return False


def _holds(resource: Mapping[str, Any], ctx: Context) -> bool:
    """The resource is part of the stack: no condition, or one that held (or is unknown)."""
    condition = resource.get("Condition")
    return condition is None or ctx.condition(condition) is not False


# reading production ----------------------------------------------------------------------------


# comparing, resource by resource ---------------------------------------------------------------

# resource type → the template properties compared (a live description names them alike)
COMPARED: dict[str, tuple[str, ...]] = {
    "AWS::EC2::VPC": ("CidrBlock",),
    "AWS::EC2::Subnet": ("CidrBlock", "AvailabilityZone"),
    "AWS::AutoScaling::AutoScalingGroup": ("MinSize", "MaxSize", "DesiredCapacity"),
    "AWS::EC2::Instance": ("InstanceType",),
    "AWS::ElasticLoadBalancingV2::Listener": ("Port", "Protocol"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        "Port",
        "Protocol",
        "HealthCheckPath",
        "HealthCheckPort",
    ),
    "AWS::RDS::DBInstance": ("Engine", "DBInstanceClass", "MultiAZ"),
}


def compare_stack(
    key: str, name: str, template: Mapping[str, Any], live_stack: Mapping[str, Any], reader: Reader
) -> StackDrift:
    """One live stack against its rendered template."""
    physical = reader.stack_resources(name)
    ctx = Context(
        stack_name=name,
        region="",
        parameters=parameter_dict(live_stack),
        physical=physical,
        conditions=template.get("Conditions", {}),
    )
    result = StackDrift(key, name, exists=True)
    resources = template.get("Resources", {})
    describe = Described(reader, resources, physical)
    for logical, resource in resources.items():
        kind = resource.get("Type", "")
        watched = kind in COMPARED or kind in (
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::LaunchTemplate",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
        )
        if not watched or not _holds(resource, ctx):
            continue
        physical_id = physical.get(logical)

        def where(
            prop: str, declared: Any, live: Any, how: str, _l: str = logical, _p: Any = physical_id
        ) -> Difference:
            return Difference(key, name, _l, _p, prop, declared, live, how)

        if kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            if physical_id:
                result.differences += _extra_listeners(
                    resources, physical, physical_id, reader, where
                )
            continue
        live = describe(kind, physical_id) if physical_id else None
        if live is None:
            result.differences.append(where("exists", True, False, ONLY_DECLARED))
            continue
        result.compared += 1
        props = resource.get("Properties", {})
        if kind == "AWS::EC2::SecurityGroup":
            rules = declared_group_rules(template, logical, ctx)
            result.differences += compare_rules(
                where,
                "SecurityGroupIngress",
                rules["SecurityGroupIngress"],
                live_rules(live.get("IpPermissions", [])),
            )
            result.differences += compare_rules(
                where,
                "SecurityGroupEgress",
                rules["SecurityGroupEgress"],
                live_rules(live.get("IpPermissionsEgress", [])),
            )
            continue
        if kind == "AWS::EC2::LaunchTemplate":
            data = props.get("LaunchTemplateData", {})
            declared = {"InstanceType": ctx.resolve(data.get("InstanceType"))}
            result.differences += compare_values(where, declared, live)
            continue
        names = COMPARED[kind]
        declared = {p: ctx.resolve(props[p]) for p in names if p in props}
        live_values = {p: live[p] for p in names if p in live}
        result.differences += compare_values(where, declared, live_values)
        if kind == "AWS::EC2::VPC" and physical_id:
            result.differences += _extra_subnets(physical, physical_id, reader, where)
    return result


def _extra_subnets(
    physical: Mapping[str, str],
    vpc_id: str,
    reader: Reader,
    where: Callable[[str, Any, Any, str], Difference],
) -> list[Difference]:
    """Subnets in the stack's VPC that the stack did not make."""
    own = set(physical.values())
    extra = [s for s in reader.subnets(vpc_id) if s["SubnetId"] not in own]
    return [
        where(
            "Subnets",
            None,
            f"{s['SubnetId']} {s['CidrBlock']} in {s['AvailabilityZone']}",
            ONLY_LIVE,
        )
        for s in sorted(extra, key=lambda s: str(s["CidrBlock"]))
    ]


def _extra_listeners(
    resources: Mapping[str, Any],
    physical: Mapping[str, str],
    load_balancer_arn: str,
    reader: Reader,
    where: Callable[[str, Any, Any, str], Difference],
) -> list[Difference]:
    """Listeners on the stack's load balancer that the stack did not make."""
    own = {
        physical[name]
        for name, r in resources.items()
        if r.get("Type") == "AWS::ElasticLoadBalancingV2::Listener" and name in physical
    }
    extra = [li for li in reader.listeners(load_balancer_arn) if li["ListenerArn"] not in own]
    return [
        where("Listeners", None, f"{li['Protocol']} {li['Port']}", ONLY_LIVE)
        for li in sorted(extra, key=lambda li: int(li["Port"]))
    ]


def drift(plan: Plan, client: Callable[[str], Any]) -> Drift:
    """Compare every stack of `plan` (built with purpose "home") with production.

    `client(service)` gives a boto3 client in the plan's region.
    """
    reader = Reader(client)
    stacks = []
    for key, sp in {**plan.prepared, **plan.stacks}.items():
        live = reader.stack(sp.name)
        if live is None:
            missing = StackDrift(key, sp.name, exists=False)
            missing.differences.append(
                Difference(key, sp.name, "-", None, "stack", sp.name, None, ONLY_DECLARED)
            )
            stacks.append(missing)
            continue
        stacks.append(compare_stack(key, sp.name, json.loads(sp.body), live, reader))
    stacks += _undeclared(plan, reader)
    return Drift(plan.env_name, plan.region, stacks, production="the stacks relight built")


def _undeclared(plan: Plan, reader: Reader) -> list[StackDrift]:
    """Production stacks relight built for the environment that the file no longer declares
    (a stack removed from the file, or renamed): a failover would not rebuild them."""
    declared = {sp.name for sp in {**plan.prepared, **plan.stacks}.values()}
    skipped = {stack_name(plan.env_name, key) for key in plan.skipped}
    found = []
    for stack in reader.home_stacks(plan.env_name):
        name = stack["StackName"]
        if name in declared or name in skipped:
            continue
        key = tag_dict(stack.get("Tags")).get("relight:stack", name)
        extra = StackDrift(key, name, exists=True)
        extra.differences.append(
            Difference(key, name, "-", stack.get("StackId"), "stack", None, name, ONLY_LIVE)
        )
        found.append(extra)
    return found
