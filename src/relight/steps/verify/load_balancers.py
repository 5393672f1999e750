"""Every target of a target group healthy, and load balancers answering their health path
over HTTP where this machine can reach them."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Any

from relight.aws.failures import aws_endpoint
from relight.steps.verify.common import (
    FAILED,
    LOAD_BALANCERS_PER_CALL,
    NOT_LOCAL,
    NOT_VERIFIABLE,
    PASSED,
    PENDING,
    SKIPPED,
    Probe,
    Reading,
    VerifierBase,
    _constant,
    _counted,
    batched,
)


class LoadBalancerChecks(VerifierBase):
    """The checks of a stack's target groups and load balancers."""

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
