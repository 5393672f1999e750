"""Capture: the load_balancer stacks (each ALB and NLB of the VPC, its target group and
listeners)."""

from __future__ import annotations

from typing import Any

from relight.capture.certificates import certificate_value
from relight.capture.common import TIERS, Note, _call, _Found, _key, _pages, _Section
from relight.capture.forced import TLS_POLICY, TLS_WHY, tls_differs
from relight.capture.lb_settings import balancer_attributes, health_check, target_group_attributes


def _load_balancers(
    elbv2: Any,
    vpc_id: str,
    found: _Found,
    unplaced: list[Note],
    recovery_regions: list[str] | None = None,
) -> tuple[list[_Section], dict[str, str]]:
    """Every ALB and NLB of the VPC as a load_balancer stack, by name: the first keeps the key
    `load_balancer`, the others are named after theirs. And each one's target group's ARN →
    the output of its own stack that replaces it."""
    balancers = sorted(
        (
            b
            for b in _pages(elbv2, "describe_load_balancers", "LoadBalancers")
            if b.get("VpcId") == vpc_id
        ),
        key=lambda b: b["LoadBalancerName"],
    )
    sections: list[_Section] = []
    arns: dict[str, str] = {}
    for lb in balancers:
        kind = lb.get("Type", "application")
        if kind not in ("application", "network"):
            unplaced.append(
                Note(
                    lb["LoadBalancerName"],
                    "Type",
                    f"a {kind} load balancer: not captured (the load_balancer blueprint makes "
                    "ALBs and NLBs)",
                )
            )
            continue
        key = "load_balancer" if not sections else _key(lb["LoadBalancerName"], found.taken)
        sections.append(_balancer(elbv2, lb, key, found, arns, recovery_regions or []))
    return sections, arns


def _balancer(
    elbv2: Any,
    lb: dict[str, Any],
    key: str,
    found: _Found,
    arns: dict[str, str],
    recovery_regions: list[str],
) -> _Section:
    """One load balancer as the stack `key`; its first target group's ARN into `arns`."""
    where = lb["LoadBalancerName"]
    section = _Section(
        key, {"blueprint": "load_balancer"}, source=where, dns_name=lb.get("DNSName", "")
    )
    params: dict[str, Any] = {
        "type": lb.get("Type", "application"),
        "scheme": lb.get("Scheme", "internet-facing"),
    }
    tgs = _call(
        f"target groups of {where}",
        elbv2.describe_target_groups,
        LoadBalancerArn=lb["LoadBalancerArn"],
    )["TargetGroups"]
    if tgs:
        _target_group(params, section, tgs, arns)
        health_check(tgs[0], params["type"], params, section)
        target_group_attributes(elbv2, tgs[0], params, section)
        section.instances = _registered(elbv2, tgs[0])
    for attribute, value, why in balancer_attributes(elbv2, lb, params, section):
        section.comments.append(f"changed on purpose: {attribute} is {value} in production: {why}")
    certificate = _listener_notes(elbv2, lb, section)
    tier = _lb_tier(lb, found.subnet_tier, section)
    groups = [found.sg_keys[g] for g in lb.get("SecurityGroups", []) if g in found.sg_keys]
    params["VpcId"] = {"output": "network.VpcId"}
    params["SubnetIds"] = {"output": f"network.{tier.capitalize()}SubnetIds"}
    if groups:
        params["SecurityGroupId"] = {"output": f"security.{groups[0].capitalize()}SecurityGroupId"}
        for extra in groups[1:]:
            section.notes.append(Note(where, "SecurityGroups", f"{extra} not attached"))
    params["CertificateArn"] = ""
    if certificate:
        params["CertificateArn"], note = certificate_value(
            found.client("acm"), certificate, where, "Listener 443 Certificates", recovery_regions
        )
        section.notes.append(note)
    section.body["params"] = params
    return section


def _target_group(
    params: dict[str, Any], section: _Section, tgs: list[Any], arns: dict[str, str]
) -> None:
    """The first target group's settings; the stack's own TargetGroupArn replaces its ARN
    (unless an earlier load balancer's stack already does: a group shared by both)."""
    where, tg = section.source, tgs[0]
    params["target_port"] = tg.get("Port", 8080)
    if tg.get("HealthCheckPath"):
        params["health_check_path"] = tg["HealthCheckPath"]
    if tg.get("TargetType", "instance") in ("instance", "ip"):
        params["target_type"] = tg.get("TargetType", "instance")
    if tg["TargetGroupArn"] in arns:
        section.notes.append(
            Note(
                where,
                "TargetGroups",
                f"{tg['TargetGroupName']} also serves another load balancer: its targets "
                f"register with {arns[tg['TargetGroupArn']]}, not this stack's",
            )
        )
    else:
        arns[tg["TargetGroupArn"]] = f"{section.key}.TargetGroupArn"
    for other in tgs[1:]:
        section.notes.append(
            Note(where, "TargetGroups", f"{other['TargetGroupName']} not reproduced")
        )


def _registered(elbv2: Any, tg: dict[str, Any]) -> list[str]:
    """The instances registered in an instance target group."""
    if tg.get("TargetType", "instance") != "instance":
        return []
    found = _call(
        f"targets of {tg['TargetGroupName']}",
        elbv2.describe_target_health,
        TargetGroupArn=tg["TargetGroupArn"],
    )["TargetHealthDescriptions"]
    return sorted({d["Target"]["Id"] for d in found})


def _fixed_targets(lbs: list[_Section], sections: list[_Section]) -> None:
    """Fixed instances registered in a load balancer's target group: the compute blueprint
    registers only an Auto Scaling group (TargetGroupArn); the load balancer stack registers
    fixed instances itself (TargetInstanceIds), which the file leaves to the reader."""
    for s in sections:
        if s.body.get("params", {}).get("mode") != "instances":
            continue
        for lb in lbs:
            if set(s.instances) & set(lb.instances):
                s.notes.append(
                    Note(
                        s.source,
                        "TargetGroup",
                        f"registered with {lb.source}'s target group: not reproduced (fixed "
                        f"instances register through the load balancer: give {lb.key} "
                        f"target_instance_count: {s.body['params']['count']} and "
                        f"TargetInstanceIds: {{output: {s.key}.InstanceIds}})",
                    )
                )


def _listener_notes(elbv2: Any, lb: dict[str, Any], section: _Section) -> str:
    """Notes for the listeners the blueprint does not make; the certificate ARN of the one it
    makes on 443 (HTTPS or TLS), or ""."""
    where = lb["LoadBalancerName"]
    listeners = _call(
        f"listeners of {where}", elbv2.describe_listeners, LoadBalancerArn=lb["LoadBalancerArn"]
    )["Listeners"]
    certificate = ""
    for listener in sorted(listeners, key=lambda x: x.get("Port", 0)):
        port = listener.get("Port")
        if port not in (80, 443):
            section.notes.append(
                Note(
                    where,
                    f"Listener {port}",
                    f"{listener.get('Protocol')} on {port} not reproduced "
                    "(the blueprint listens on 80, and 443 with a certificate)",
                )
            )
        certificates = [c["CertificateArn"] for c in listener.get("Certificates", [])]
        if port == 443 and certificates:
            certificate = certificates[0]
            if tls_differs(listener):
                section.comments.append(
                    f"changed on purpose: SslPolicy is {listener.get('SslPolicy')} in "
                    f"production; the rebuild's: {TLS_POLICY}: {TLS_WHY}"
                )
        elif certificates:
            section.notes.append(
                Note(
                    where,
                    f"Listener {port} Certificates",
                    f"{', '.join(certificates)} not reproduced (the blueprint's HTTPS listener "
                    "is on 443)",
                )
            )
    return certificate


def _lb_tier(lb: dict[str, Any], subnet_tier: dict[str, str], section: _Section) -> str:
    """The tier of the load balancer's subnets (public when none is known)."""
    found = {
        subnet_tier[z["SubnetId"]]
        for z in lb.get("AvailabilityZones", [])
        if z.get("SubnetId") in subnet_tier
    }
    tiers = sorted(found, key=TIERS.index) or ["public"]
    if len(tiers) > 1:
        section.notes.append(
            Note(
                section.source,
                "Subnets",
                f"in the {' and '.join(tiers)} tiers: the stack uses the {tiers[0]} subnets",
            )
        )
    return tiers[0]
