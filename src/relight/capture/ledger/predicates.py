"""The predicates of the ledger's table (table.py): whether production's value is the
default the rebuild gets (AWS's or the blueprint's), or one it changes on purpose. Each takes
(production's value, the resource's properties)."""

from __future__ import annotations

import json
from typing import Any

from relight.capture.forced import tls_differs
from relight.capture.network_acls import ALLOW_ALL, ALLOW_ALL_V6, LAST_RULES


def allow_all(entries: Any) -> bool:
    """AWS's rules of a default NACL (allow all, both ways, with its IPv6 pair when the
    VPC has IPv6; the `*` rules 32767 and, for IPv6, 32768 are AWS's own in every NACL)."""
    found = {
        (
            bool(e.get("Egress")),
            e.get("RuleNumber"),
            str(e.get("Protocol")),
            e.get("RuleAction"),
            e.get("CidrBlock") or e.get("Ipv6CidrBlock"),
        )
        for e in entries or []
        if e.get("RuleNumber") not in LAST_RULES
    }
    return found in (ALLOW_ALL, ALLOW_ALL_V6 | ALLOW_ALL)


def default_nacl(_value: Any, props: dict[str, Any]) -> bool:
    """A tier with no NACL of its own gets the rebuilt VPC's default NACL, AWS's allow-all:
    the same as production's when production's default NACL has AWS's rules."""
    return bool(props.get("IsDefault")) and allow_all(props.get("Entries"))


DEFAULT_NACL = (
    "absent from the file: the subnets of a tier without a NACL of its own have the rebuilt "
    "VPC's default NACL, AWS's allow-all, as production's default NACL"
)


def full_access(value: Any, _props: dict[str, Any]) -> bool:
    """AWS's default endpoint policy (full access), which the network blueprint's gateway
    endpoints keep."""
    try:
        doc = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return False
    statements = (doc or {}).get("Statement") or []
    return (
        len(statements) == 1
        and all(
            statements[0].get(k) in ("*", ["*"], {"AWS": "*"})
            for k in ("Principal", "Action", "Resource")
        )
        and statements[0].get("Effect") == "Allow"
    )


def recurring(_value: Any, props: dict[str, Any]) -> bool:
    return bool(props.get("Recurrence"))


def tls(value: Any, props: dict[str, Any]) -> bool:
    """An HTTPS/TLS listener whose policy is not the blueprint's."""
    return tls_differs({**props, "SslPolicy": value})


def plain_listener(_value: Any, props: dict[str, Any]) -> bool:
    return props.get("Protocol") in ("HTTP", "TCP", "UDP", "TCP_UDP")


def unsticky(_value: Any, props: dict[str, Any]) -> bool:
    """A stickiness setting of a target group that is not sticky: it has no effect."""
    return props.get("Attributes.stickiness.enabled") != "true"


def gateway(_value: Any, props: dict[str, Any]) -> bool:
    """Private DNS is an interface endpoint's setting: a gateway endpoint has none."""
    return props.get("VpcEndpointType") == "Gateway"


DEFAULT_GROUP = (
    "the VPC's default security group: every VPC has one, and the rebuilt VPC's gets AWS's "
    "rules, as production's has"
)


def default_group(rules: Any) -> Any:
    def same(value: Any, props: dict[str, Any]) -> bool:
        if props.get("GroupName") != "default":
            return False
        if rules == "self":  # AWS's default inbound rule: all traffic from the group itself
            pairs = [p.get("GroupId") for r in value or [] for p in r.get("UserIdGroupPairs", [])]
            return (
                len(value or []) == 1
                and value[0].get("IpProtocol") == "-1"
                and pairs == [props.get("GroupId")]
            )
        if rules == "all":  # AWS's default outbound rule: all traffic anywhere
            return [
                (r.get("IpProtocol"), [x.get("CidrIp") for x in r.get("IpRanges", [])])
                for r in value or []
            ] == [("-1", ["0.0.0.0/0"])]
        return bool(value == rules)

    return same


# the engine's logs the database blueprint exports to CloudWatch Logs (blueprints/database.py)
LOG_EXPORTS = {
    "postgres": ["postgresql", "upgrade"],
    "aurora-postgresql": ["postgresql"],
    "mysql": ["error", "general", "slowquery"],
    "mariadb": ["error", "general", "slowquery"],
    "aurora-mysql": ["error", "general", "slowquery"],
}


def other_logs(value: Any, props: dict[str, Any]) -> bool:
    return sorted(value or []) != sorted(LOG_EXPORTS.get(str(props.get("Engine")), []))


def same_logs(value: Any, props: dict[str, Any]) -> bool:
    return not other_logs(value, props)
