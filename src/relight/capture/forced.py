"""What the blueprints set whatever production has, and why: the listener's TLS policy and the
instances' metadata options. Production with other values is a difference relight makes by
design: capture writes it in the file as a `# changed on purpose:` comment beside the stack,
and the coverage ledger lists it as "changed on purpose", both with the same reason (one
source). The values are the blueprints' own (blueprints/load_balancer.py TLS_POLICY,
blueprints/compute.py MetadataOptions); tests/test_capture_forced.py checks they agree."""

from __future__ import annotations

from typing import Any

# ELB: ELBSecurityPolicy-TLS13-1-2-2021-06 takes TLS 1.3 and 1.2 only; CloudFormation's and
# the CLI's default, ELBSecurityPolicy-2016-08, also takes TLS 1.0 and 1.1
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
TLS_WHY = (
    f"the load_balancer blueprint's HTTPS listener uses {TLS_POLICY} (TLS 1.3 and 1.2 only): "
    "after a failover, clients that speak only TLS 1.0 or 1.1 cannot connect"
)

# EC2: HttpTokens required is IMDSv2 only; a hop limit of 1 keeps the token on the instance
METADATA = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
METADATA_REBUILD = "HttpTokens required (IMDSv2), HttpPutResponseHopLimit 1, HttpEndpoint enabled"
METADATA_WHY = (
    "the compute blueprint requires IMDSv2 with a hop limit of 1, relight's secure default: "
    "code in a container on the instance is one hop further and gets no metadata token (no "
    "role credentials) with a hop limit of 1; AWS recommends 2 for containers"
)


def tls_differs(listener: dict[str, Any]) -> bool:
    """An HTTPS or TLS listener whose policy is not the blueprint's."""
    return listener.get("Protocol") in ("HTTPS", "TLS") and listener.get("SslPolicy") != TLS_POLICY


def metadata_same(options: Any) -> bool:
    """Production's metadata options are the blueprint's (a hop limit left out is EC2's
    default, 1; the endpoint left out is enabled)."""
    if not isinstance(options, dict):
        return False
    found = {**{"HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}, **options}
    return all(found.get(k) == v for k, v in METADATA.items())


def metadata_shown(options: Any) -> str:
    """Production's metadata options as the comment names them."""
    if not isinstance(options, dict) or not options:
        return "not set (EC2's defaults)"
    return ", ".join(f"{k} {options[k]}" for k in METADATA if k in options) or "not set"


def metadata_comment(options: Any) -> list[str]:
    """The `changed on purpose:` comment when production's metadata options differ."""
    if metadata_same(options):
        return []
    return [
        f"changed on purpose: MetadataOptions is {metadata_shown(options)} in production; "
        f"the rebuild's: {METADATA_REBUILD}: {METADATA_WHY}"
    ]
