"""The graceful stop: a maintenance page on the recovery region's load balancers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.aws.clients import Aws
from relight.model.plan import Plan

# stopping writes (graceful): a maintenance page on R's load balancers ---------------------------

# Route 53 answers with the PRIMARY when both records of a failover pair are unhealthy, so
# stopping writes by taking R's fleet away would send users to the home region's stale
# stack until the failback has restored it. Instead R keeps answering Route 53's health check
# and answers everything else with a 503: traffic stays in R, where nothing is written.
MAINTENANCE_BODY = "Down for maintenance: this service is moving back to its home region."
HEALTH_BODY = "ok: relight failback maintenance"


@dataclass(frozen=True)
class Maintenance:
    """The listener rules a graceful failback adds in R (their ARNs, to remove them)."""

    listener: str
    rules: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"listener": self.listener, "rules": list(self.rules)}


def listeners(aws: Aws, region: str, stack_names: list[str]) -> tuple[list[str], list[str]]:
    """The HTTP and HTTPS listeners of the stacks' load balancers (ARNs), and the others (a
    network load balancer's TCP or TLS listeners: no rule can answer for them)."""
    cfn = aws.client("cloudformation", region)
    found: list[str] = []
    for name in stack_names:
        try:
            pages = list(cfn.get_paginator("list_stack_resources").paginate(StackName=name))
        except (ClientError, BotoCoreError):  # a stack that is gone serves nothing
            continue
        found += [
            r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::ElasticLoadBalancingV2::Listener"
            and r.get("PhysicalResourceId")
        ]
    if not found:
        return [], []
    elbv2 = aws.client("elbv2", region)
    described = elbv2.describe_listeners(ListenerArns=found)["Listeners"]
    web = [x["ListenerArn"] for x in described if x.get("Protocol") in ("HTTP", "HTTPS")]
    return web, [x["ListenerArn"] for x in described if x["ListenerArn"] not in web]


def health_paths(plan: Plan) -> list[str]:
    """The paths Route 53's checks of the environment's records ask for in R (the dns
    blueprint's ResourcePath): they must keep answering while R is in maintenance."""
    import json

    paths = set()
    for sp in [*plan.stacks.values(), *plan.prepared.values()]:
        for resource in json.loads(sp.body).get("Resources", {}).values():
            if resource.get("Type") != "AWS::Route53::HealthCheck":
                continue
            path = resource.get("Properties", {}).get("HealthCheckConfig", {}).get("ResourcePath")
            if isinstance(path, str):
                paths.add(path)
    return sorted(paths)


def start_maintenance(
    aws: Aws, region: str, web_listeners: list[str], paths: list[str]
) -> list[Maintenance]:
    """On every listener: the health check paths answer 200, every other request 503 (rules
    ahead of the listener's own, at the first free priorities)."""
    elbv2 = aws.client("elbv2", region)
    made = []
    for arn in web_listeners:
        rules_now = elbv2.describe_rules(ListenerArn=arn)["Rules"]
        taken = {int(r["Priority"]) for r in rules_now if r["Priority"] != "default"}
        free = (n for n in range(1, 50001) if n not in taken)
        rules = []
        if paths:
            rules.append(
                elbv2.create_rule(
                    ListenerArn=arn,
                    Priority=next(free),
                    Conditions=[{"Field": "path-pattern", "Values": paths[:3]}],
                    Actions=[_fixed(200, HEALTH_BODY)],
                )["Rules"][0]["RuleArn"]
            )
        rules.append(
            elbv2.create_rule(
                ListenerArn=arn,
                Priority=next(free),
                Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                Actions=[_fixed(503, MAINTENANCE_BODY)],
            )["Rules"][0]["RuleArn"]
        )
        made.append(Maintenance(arn, tuple(rules)))
    return made


def _fixed(status: int, body: str) -> dict[str, Any]:
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": {
            "StatusCode": str(status),
            "ContentType": "text/plain",
            "MessageBody": body,
        },
    }


def end_maintenance(aws: Aws, region: str, made: list[dict[str, Any]]) -> None:
    """Remove the maintenance rules (a rule already gone is nothing to remove)."""
    elbv2 = aws.client("elbv2", region)
    for entry in made:
        for rule in entry.get("rules", []):
            try:
                elbv2.delete_rule(RuleArn=rule)
            except ClientError as exc:
                if "NotFound" not in str(exc.response.get("Error", {}).get("Code", "")):
                    raise


def reopen_commands(region: str, made: list[dict[str, Any]]) -> list[str]:
    """The commands that remove the maintenance rules by hand (R serves again)."""
    return [
        f"aws elbv2 delete-rule --region {region} --rule-arn {rule}"
        for entry in made
        for rule in entry.get("rules", [])
    ]
