"""Capture: what a load balancer and its target group are set to (the health check, the
attributes), as the load_balancer blueprint's options where it has one, else a Note.

Two attributes the blueprint sets on purpose are neither: deletion protection (on for a
failover) and dropping invalid header fields (on for an ALB). Production with them off is a
difference relight makes by design, which the coverage ledger lists as "changed on purpose"
(`CHANGED_ON_PURPOSE`), not a Note."""

from __future__ import annotations

from typing import Any

from relight.capture.common import Note, _call, _Section

# The blueprint's target group speaks HTTP (ALB) or TCP (NLB) to its targets.
TARGET_PROTOCOL = {"application": "HTTP", "network": "TCP"}

# (attribute, production's value) the blueprint replaces on purpose → why
CHANGED_ON_PURPOSE = {
    ("deletion_protection.enabled", "false"): "relight turns deletion protection on for a "
    "failover (off for a drill or a test copy), so a rebuilt production is not deleted by mistake",
    ("routing.http.drop_invalid_header_fields.enabled", "false"): "relight's ALBs drop header "
    "fields that are not valid HTTP (request smuggling guard)",
}


def health_check(tg: dict[str, Any], kind: str, params: dict[str, Any], section: _Section) -> None:
    """The target group's health check as the options that make it, as read."""
    where = section.source
    protocol = tg.get("Protocol")
    if protocol and protocol != TARGET_PROTOCOL[kind]:
        section.notes.append(
            Note(
                where,
                "TargetGroup Protocol",
                f"{tg['TargetGroupName']} speaks {protocol} to its targets: the blueprint's "
                f"target group speaks {TARGET_PROTOCOL[kind]}",
            )
        )
    version = tg.get("ProtocolVersion", "HTTP1")
    if version != "HTTP1":
        codes = tg.get("Matcher", {}).get("GrpcCode")
        section.notes.append(
            Note(
                where,
                "TargetGroup ProtocolVersion",
                f"{tg['TargetGroupName']} is {version}"
                + (f" (healthy gRPC codes {codes})" if codes else "")
                + ": the blueprint's target group is HTTP/1.1: not reproduced",
            )
        )
    check = tg.get("HealthCheckProtocol", TARGET_PROTOCOL[kind])
    if check in ("HTTP", "HTTPS", "TCP"):
        params["health_check_protocol"] = check
    else:
        section.notes.append(
            Note(where, "HealthCheckProtocol", f"{check} health checks not reproduced")
        )
        check = TARGET_PROTOCOL[kind]
    params["health_check_port"] = str(tg.get("HealthCheckPort", "traffic-port"))
    for option, key in (
        ("health_check_interval", "HealthCheckIntervalSeconds"),
        ("health_check_timeout", "HealthCheckTimeoutSeconds"),
        ("healthy_threshold", "HealthyThresholdCount"),
        ("unhealthy_threshold", "UnhealthyThresholdCount"),
    ):
        if key in tg:
            params[option] = int(tg[key])
    if check != "TCP":
        if tg.get("HealthCheckPath"):
            params["health_check_path"] = tg["HealthCheckPath"]
        code = tg.get("Matcher", {}).get("HttpCode")
        if code:
            params["health_check_matcher"] = str(code)


def target_group_attributes(
    elbv2: Any, tg: dict[str, Any], params: dict[str, Any], section: _Section
) -> None:
    """The target group's attributes: the deregistration delay as read; stickiness, slow
    start, the algorithm and the others the blueprint leaves at AWS's default a Note each
    when production's differ."""
    found = _call(
        f"attributes of {tg['TargetGroupName']}",
        elbv2.describe_target_group_attributes,
        TargetGroupArn=tg["TargetGroupArn"],
    )["Attributes"]
    attrs = {a["Key"]: a["Value"] for a in found}
    delay = attrs.get("deregistration_delay.timeout_seconds")
    if delay is not None:
        params["deregistration_delay"] = int(delay)
    name = tg["TargetGroupName"]
    if attrs.get("stickiness.enabled") == "true":
        kind = attrs.get("stickiness.type", "")
        seconds = attrs.get(f"stickiness.{kind}.duration_seconds")
        cookie = attrs.get("stickiness.app_cookie.cookie_name")
        detail = ", ".join(
            x
            for x in (
                kind,
                f"{seconds} s" if seconds else "",
                f"cookie {cookie}" if kind == "app_cookie" and cookie else "",
            )
            if x
        )
        section.notes.append(
            Note(
                section.source,
                "TargetGroup stickiness",
                f"{name} keeps clients on one target ({detail}): the blueprint's target group "
                "has no stickiness: not reproduced",
            )
        )
    _differs(section, name, attrs, TARGET_GROUP_DEFAULTS)


# Attributes the blueprint leaves at AWS's default (ELB API Reference, TargetGroupAttribute and
# LoadBalancerAttribute): production's value differing is a Note.
TARGET_GROUP_DEFAULTS = {
    "slow_start.duration_seconds": ("0", "slow start"),
    "load_balancing.algorithm.type": ("round_robin", "load balancing algorithm"),
    "load_balancing.algorithm.anomaly_mitigation": ("off", "anomaly mitigation"),
    "load_balancing.cross_zone.enabled": (
        "use_load_balancer_configuration",
        "cross-zone load balancing",
    ),
    "proxy_protocol_v2.enabled": ("false", "proxy protocol v2"),
    "deregistration_delay.connection_termination.enabled": (
        "false",
        "connection termination at deregistration",
    ),
}
BALANCER_DEFAULTS = {
    "routing.http2.enabled": ("true", "HTTP/2"),
    "load_balancing.cross_zone.enabled": ("false", "cross-zone load balancing"),
    "routing.http.desync_mitigation_mode": ("defensive", "desync mitigation mode"),
    "routing.http.xff_header_processing.mode": ("append", "X-Forwarded-For processing"),
    "waf.fail_open.enabled": ("false", "WAF fail open"),
}


def _differs(
    section: _Section, name: str, attrs: dict[str, str], defaults: dict[str, tuple[str, str]]
) -> None:
    for key, (default, what) in defaults.items():
        value = attrs.get(key)
        if value is not None and value != default:
            section.notes.append(
                Note(
                    section.source,
                    key,
                    f"{what} of {name} is {value}: the blueprint leaves AWS's default "
                    f"({default}): not reproduced",
                )
            )


def balancer_attributes(
    elbv2: Any, lb: dict[str, Any], params: dict[str, Any], section: _Section
) -> list[tuple[str, str, str]]:
    """The load balancer's attributes: the idle timeout (ALB) as read, access logs and the
    others the blueprint leaves at AWS's default a Note each when production's differ. The
    (attribute, production's value, why) relight changes on purpose."""
    found = _call(
        f"attributes of {lb['LoadBalancerName']}",
        elbv2.describe_load_balancer_attributes,
        LoadBalancerArn=lb["LoadBalancerArn"],
    )["Attributes"]
    attrs = {a["Key"]: a["Value"] for a in found}
    alb = lb.get("Type", "application") == "application"
    idle = attrs.get("idle_timeout.timeout_seconds")
    if alb and idle is not None:
        params["idle_timeout"] = int(idle)
    if attrs.get("access_logs.s3.enabled") == "true":
        bucket = attrs.get("access_logs.s3.bucket", "")
        prefix = attrs.get("access_logs.s3.prefix", "")
        section.notes.append(
            Note(
                section.source,
                "access_logs.s3",
                f"access logs go to s3://{bucket}/{prefix} in the home region: AccessLogsBucket "
                "is left empty, as ELB writes only to a bucket in its own region: give one made "
                "beforehand in the recovery region (with ELB's log delivery policy)",
            )
        )
    defaults = dict(BALANCER_DEFAULTS)
    if alb:  # an ALB's is always on and cannot be changed (NLB: off unless turned on)
        del defaults["load_balancing.cross_zone.enabled"]
    _differs(section, lb["LoadBalancerName"], attrs, defaults)
    return [
        (key, value, why)
        for (key, value), why in CHANGED_ON_PURPOSE.items()
        if attrs.get(key) == value and (alb or not key.startswith("routing."))
    ]
