"""The egress of the security groups a stack makes, exactly as its template declares it: the
group's own SecurityGroupEgress, else AWS's default allow-all, plus the stack's
SecurityGroupEgress resources for it. A rule missing or one not declared fails."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from relight.steps.verify.common import (
    _SECURITY_GROUP,
    FAILED,
    PASSED,
    Probe,
    Reading,
    VerifierBase,
)

_SECURITY_GROUP_EGRESS = "AWS::EC2::SecurityGroupEgress"

# An egress rule as compared: (protocol, from port, to port, destination). In a declared rule,
# None is a part the template computes in a way relight does not follow: any value matches.
Rule = tuple[str | None, int | None, int | None, str | None]
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
_DESTINATIONS = ("CidrIp", "CidrIpv6", "DestinationSecurityGroupId", "DestinationPrefixListId")
# AWS's rules for a group that declares no egress: all IPv4 traffic, and all IPv6 traffic when
# the VPC has an IPv6 block (allowed, not required).
_DEFAULT_EGRESS: Rule = ("-1", None, None, "0.0.0.0/0")
_DEFAULT_EGRESS_V6: Rule = ("-1", None, None, "::/0")


class EgressChecks(VerifierBase):
    """The check of the egress of the security groups a stack makes."""

    def _logical_ids(self, name: str) -> dict[str, str]:
        """logical id → physical id, from CloudFormation."""
        found: dict[str, str] = {}
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=name):
            for res in page["StackResourceSummaries"]:
                if res.get("PhysicalResourceId"):
                    found[res["LogicalResourceId"]] = res["PhysicalResourceId"]
        return found

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
