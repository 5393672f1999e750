"""RTO forecast: how long a failover would take on AWS, before doing one.

Each stack's time is the longest chain of resources inside its template
(CloudFormation creates independent resources in parallel; a resource waits for
what it Refs, GetAtts or DependsOn), each resource taking the typical creation
time of its type from TYPICAL_SECONDS below. The environment's time is the
critical path through the stack graph (relight starts a stack as soon as its
own dependencies are done), plus the steps around the deploy.

Past drills refine it: a stack that an AWS drill (not the stand-in) created
gets the median of its recorded times instead of the estimate.

A database in data mode replica is not restored at failover: relight promotes its standing
replica (PromoteReadReplica; an Aurora secondary: RemoveFromGlobalCluster), and the stacks
reading its outputs wait for the promotion instead of a restore. The promotion starts with
the deploy and takes TYPICAL_PROMOTION_SECONDS, or the median of the promotion times past
AWS drills measured (a `replicas` entry of their report.json whose `promotion_label` says
"measured"; a drill that only forecasts it is not counted).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relight.model.data_modes import replica_keys
from relight.model.environment import StackSpec
from relight.model.plan import Plan

# Typical creation time in seconds on AWS, per resource type: what CloudFormation usually
# takes until the resource is CREATE_COMPLETE (observed ranges; the slow ones dominate).
TYPICAL_SECONDS: dict[str, float] = {
    "AWS::EC2::VPC": 10,
    "AWS::EC2::Subnet": 5,
    "AWS::EC2::InternetGateway": 15,
    "AWS::EC2::VPCGatewayAttachment": 15,
    "AWS::EC2::RouteTable": 5,
    "AWS::EC2::Route": 5,
    "AWS::EC2::SubnetRouteTableAssociation": 5,
    "AWS::EC2::EIP": 5,
    "AWS::EC2::NatGateway": 150,  # one to three minutes
    "AWS::EC2::VPCEndpoint": 60,
    "AWS::EC2::FlowLog": 10,
    "AWS::EC2::SecurityGroup": 5,
    "AWS::EC2::SecurityGroupIngress": 3,
    "AWS::EC2::SecurityGroupEgress": 3,
    "AWS::EC2::LaunchTemplate": 5,
    "AWS::EC2::Instance": 60,  # until running; status checks follow in verify
    "AWS::EC2::Volume": 10,
    "AWS::AutoScaling::AutoScalingGroup": 240,  # instances launched and healthy
    "AWS::ElasticLoadBalancingV2::LoadBalancer": 180,
    "AWS::ElasticLoadBalancingV2::TargetGroup": 15,
    "AWS::ElasticLoadBalancingV2::Listener": 5,
    "AWS::ElasticLoadBalancingV2::ListenerRule": 5,
    "AWS::RDS::DBSubnetGroup": 5,
    "AWS::RDS::DBInstance": 1200,  # a restore from snapshot: 10-30 min, by size
    "AWS::RDS::DBCluster": 900,
    "AWS::IAM::Role": 20,
    "AWS::IAM::InstanceProfile": 120,  # IAM propagation makes these slow
    "AWS::IAM::Policy": 20,
    "AWS::Route53::RecordSet": 60,  # until INSYNC
    "AWS::Route53::HealthCheck": 10,
    "AWS::KMS::Key": 10,
    "AWS::KMS::Alias": 5,
    "AWS::S3::Bucket": 10,
    "AWS::Logs::LogGroup": 5,
}
DEFAULT_SECONDS = 10.0
# Typical promotion of a standing replica, until it is available and writable (docs D41, D42):
# an RDS read replica "can take several minutes or longer to complete, depending on the size
# of the read replica" (RDS reboots it); an Aurora global database's detach-and-promote: "RTO
# can be in the order of minutes". Forecasts, replaced by drills' measured times.
TYPICAL_PROMOTION_SECONDS: dict[str, float] = {"instance": 300.0, "cluster": 120.0}
# Around the deploy: discovery, preflight and rendering (cfn-lint) before; verification after.
BEFORE_DEPLOY_SECONDS = 60.0
VERIFY_SECONDS = 60.0


@dataclass
class Forecast:
    seconds: float
    critical_path: list[str]
    stacks: dict[str, float]
    from_drills: list[str] = field(default_factory=list)  # stacks timed by past AWS drills
    drills: int = 0
    # Replicas promoted instead of restored: stack → seconds (on the critical path by key).
    promotions: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rto_seconds": round(self.seconds),
            "critical_path": self.critical_path,
            "stacks": {k: round(v) for k, v in self.stacks.items()},
            "promotions": {k: round(v) for k, v in self.promotions.items()},
            "from_drills": self.from_drills,
            "drills": self.drills,
        }

    def path_text(self) -> str:
        """The critical path for people: `database (promotion) → web`."""
        return " → ".join(
            f"{key} (promotion)" if key in self.promotions else key for key in self.critical_path
        )


def _references(value: Any) -> set[str]:
    """Every logical id a template fragment Refs or GetAtts."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        for inner in value.values():
            found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def stack_seconds(body: str) -> float:
    """The longest chain of typical creation times through one template's resources."""
    resources: dict[str, Any] = json.loads(body).get("Resources", {})
    needs: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        refs = _references(resource.get("Properties", {})) | set(depends)
        needs[name] = {r for r in refs if r in resources and r != name}
    finish: dict[str, float] = {}

    def end(name: str, seen: frozenset[str] = frozenset()) -> float:
        if name not in finish:
            own = TYPICAL_SECONDS.get(resources[name]["Type"], DEFAULT_SECONDS)
            earlier = [end(n, seen | {name}) for n in needs[name] if n not in seen]
            finish[name] = own + max(earlier, default=0.0)
        return finish[name]

    return max((end(name) for name in resources), default=0.0)


def drilled_seconds(reports_dir: Path, env: str) -> tuple[dict[str, list[float]], int]:
    """Per stack, the creation times recorded by past drills on AWS (not the stand-in)."""
    times: dict[str, list[float]] = {}
    drills = 0
    for path in sorted((reports_dir / env).glob("*/report.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(report, dict) or report.get("stand_in", True):
            continue
        drills += 1
        for stack in report.get("stacks", []):
            if stack.get("action") in ("created", "recreated") and stack.get("seconds"):
                times.setdefault(stack["stack"], []).append(float(stack["seconds"]))
        for replica in report.get("replicas") or []:  # a promotion it measured, not forecast
            if not isinstance(replica, dict) or not replica.get("promotion_seconds"):
                continue
            if str(replica.get("promotion_label", "")).startswith("measured"):
                key = promotion_key(str(replica.get("stack")))
                times.setdefault(key, []).append(float(replica["promotion_seconds"]))
    return times, drills


def promotion_key(stack: str) -> str:
    """Where drilled_seconds keeps a stack's measured promotion times: `<stack>:promotion`."""
    return f"{stack}:promotion"


def promotion_seconds(
    key: str, kind: str, history: Mapping[str, list[float]] | None = None
) -> tuple[float, bool]:
    """How long promoting the replica of stack `key` (kind "instance" or "cluster") takes:
    the median of past AWS drills' measured times, else the typical time; and whether drilled."""
    measured = (history or {}).get(promotion_key(key))
    if measured:
        return statistics.median(measured), True
    return TYPICAL_PROMOTION_SECONDS[kind], False


def replica_kind(spec: StackSpec) -> str:
    """What a database stack's replica is: an RDS read replica ("instance") or an Aurora
    global database's secondary cluster ("cluster", its `mode: aurora`)."""
    return "cluster" if spec.params.get("mode") == "aurora" else "instance"


def promotions_of(plan: Plan, history: Mapping[str, list[float]] | None = None) -> dict[str, float]:
    """The replicas a failover of `plan` promotes, each with its promotion time."""
    stacks = plan.loaded.env.stacks
    return {
        key: promotion_seconds(key, replica_kind(stacks[key]), history)[0]
        for key in replica_keys(plan)
    }


def forecast(
    plan: Plan,
    history: Mapping[str, list[float]] | None = None,
    drills: int = 0,
    promotions: Mapping[str, float] | None = None,
) -> Forecast:
    """The RTO on AWS: the critical path through the stacks, plus the steps around the deploy.

    `promotions`: the standing replicas the failover promotes (stack → seconds); None: the
    plan's replica-mode databases (model.data_modes.replica_keys), each timed by
    promotion_seconds. A stack reading a promoted one's outputs starts once it is done."""
    history = history or {}
    promoted = dict(promotions_of(plan, history) if promotions is None else promotions)
    per_stack: dict[str, float] = {}
    from_drills = []
    for key, sp in plan.stacks.items():
        if history.get(key):
            per_stack[key] = statistics.median(history[key])
            from_drills.append(key)
        else:
            per_stack[key] = stack_seconds(sp.body)
    from_drills += [k for k in promoted if history.get(promotion_key(k))]
    finish: dict[str, float] = dict(promoted)  # a promotion starts with the deploy
    before: dict[str, str | None] = dict.fromkeys(promoted)
    for key, sp in plan.stacks.items():  # creation order: dependencies come first
        reads = plan.loaded.env.stacks[key].dependencies(plan.stand_in) & set(promoted)
        prior = max([*sp.depends_on, *sorted(reads)], key=lambda d: finish[d], default=None)
        finish[key] = per_stack[key] + (finish[prior] if prior else 0.0)
        before[key] = prior
    last = max(finish, key=lambda k: finish[k], default=None)
    path: list[str] = []
    while last is not None:
        path.insert(0, last)
        last = before[last]
    deploy = max(finish.values(), default=0.0)
    return Forecast(
        seconds=BEFORE_DEPLOY_SECONDS + deploy + VERIFY_SECONDS,
        critical_path=path,
        stacks=per_stack,
        from_drills=from_drills,
        drills=drills,
        promotions=promoted,
    )
