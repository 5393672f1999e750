"""Step 5 of the data flow: prove the rebuilt environment works, with evidence from AWS.

Each stack's resources (from CloudFormation) are checked by what they are:

- instances: running, made from the expected AMI, status checks passed;
- Auto Scaling groups: at desired capacity, every instance InService;
- target groups: every target healthy;
- databases: available, restored from the expected snapshot;
- volumes: made from the expected snapshots;
- load balancers: answering their health path over HTTP, where this machine can reach them.

On the local stand-in some of these cannot be shown (moto reports every
status check "ok" and every target "healthy" without checking anything, and
its load balancer names do not resolve): those checks say "not simulated
locally", never "passed". Used by `failover` and `drill`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.aws import Aws
from relight.deploy import Outcome
from relight.discovery import Discovery
from relight.environment import ArtifactRef
from relight.render import Plan

PASSED, FAILED, NOT_LOCAL, SKIPPED = "passed", "failed", "not simulated locally", "skipped"


@dataclass
class Check:
    check: str
    stack: str | None
    result: str  # passed, failed, not simulated locally, skipped
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verified(checks: list[Check]) -> bool:
    """The environment is verified when nothing failed and something was actually checked."""
    return not any(c.result == FAILED for c in checks) and any(c.result == PASSED for c in checks)


class Verifier:
    def __init__(
        self,
        aws: Aws,
        plan: Plan,
        discovery: Discovery,
        outcome: Outcome,
        *,
        stand_in: bool,
        http_get: Callable[[str], int] | None = None,
    ) -> None:
        self.aws = aws
        self.region = plan.region
        self.plan = plan
        self.discovery = discovery
        self.outcome = outcome
        self.stand_in = stand_in
        self.http_get = http_get or _http_status
        self.checks: list[Check] = []

    def client(self, service: str) -> Any:
        return self.aws.client(service, self.region)

    def add(self, check: str, stack: str | None, result: str, detail: str = "") -> None:
        self.checks.append(Check(check, stack, result, detail))

    def run(self) -> list[Check]:
        for key, sp in self.plan.stacks.items():
            if not self.outcome.results[key].ok:
                self.add("stack complete", key, FAILED, "not built")
                continue
            try:
                self._stack(key, sp.name)
            except (ClientError, BotoCoreError) as exc:
                self.add("read what the stack holds", key, FAILED, str(exc))
        return self.checks

    def _stack(self, key: str, name: str) -> None:
        resources = self._resources(name)
        expected = self._expected_artifacts(key)
        names = resources.get("AWS::AutoScaling::AutoScalingGroup", [])
        groups = (
            self.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=names)[
                "AutoScalingGroups"
            ]
            if names
            else []
        )
        self._instances(key, resources, groups, expected)
        self._auto_scaling(key, groups)
        self._target_groups(key, resources)
        self._databases(key, resources, expected)
        self._load_balancers(key, resources)

    # what the stacks hold ------------------------------------------------------------------

    def _resources(self, name: str) -> dict[str, list[str]]:
        """resource type → physical ids, from CloudFormation."""
        found: dict[str, list[str]] = {}
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=name):
            for res in page["StackResourceSummaries"]:
                if res.get("PhysicalResourceId"):
                    found.setdefault(res["ResourceType"], []).append(res["PhysicalResourceId"])
        return found

    def _expected_artifacts(self, key: str) -> dict[str, str]:
        """artifact kind → the id this stack was given (from the plan and discovery)."""
        expected = {}
        for value in self.plan.stacks[key].parameters.values():
            if isinstance(value, ArtifactRef) and value.artifact in self.discovery.artifacts:
                artifact = self.discovery.artifacts[value.artifact]
                expected[artifact.kind] = artifact.id
        return expected

    # checks ----------------------------------------------------------------------------------

    def _instances(
        self,
        key: str,
        resources: dict[str, list[str]],
        groups: list[dict[str, Any]],
        expected: dict[str, str],
    ) -> None:
        ids = list(resources.get("AWS::EC2::Instance", []))
        ids += [i["InstanceId"] for g in groups for i in g.get("Instances", [])]
        ec2 = self.client("ec2")
        if not ids:
            return
        reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        running = [i for i in instances if i["State"]["Name"] == "running"]
        self.add(
            "instances running",
            key,
            PASSED if len(running) == len(ids) else FAILED,
            f"{len(running)} of {len(ids)}",
        )
        if "ami" in expected:
            wrong = sorted({i["ImageId"] for i in instances} - {expected["ami"]})
            self.add(
                "instances made from the expected AMI",
                key,
                FAILED if wrong else PASSED,
                f"expected {expected['ami']}" + (f", found {', '.join(wrong)}" if wrong else ""),
            )
        self._status_checks(key, ids)
        if "ebs_snapshot" in expected:
            self._volumes(key, instances, expected["ebs_snapshot"])

    def _status_checks(self, key: str, ids: list[str]) -> None:
        if self.stand_in:
            self.add("instance status checks", key, NOT_LOCAL, "moto reports every check ok")
            return
        statuses = self.client("ec2").describe_instance_status(
            InstanceIds=ids, IncludeAllInstances=True
        )["InstanceStatuses"]
        ok = [
            s
            for s in statuses
            if s["InstanceStatus"]["Status"] == "ok" and s["SystemStatus"]["Status"] == "ok"
        ]
        self.add(
            "instance status checks passed",
            key,
            PASSED if len(ok) == len(ids) else FAILED,
            f"{len(ok)} of {len(ids)} (new instances need a few minutes)",
        )

    def _volumes(self, key: str, instances: list[dict[str, Any]], snapshot: str) -> None:
        volume_ids = [
            m["Ebs"]["VolumeId"]
            for i in instances
            for m in i.get("BlockDeviceMappings", [])
            if "Ebs" in m
        ]
        volumes = (
            self.client("ec2").describe_volumes(VolumeIds=volume_ids)["Volumes"]
            if volume_ids
            else []
        )
        restored = [v for v in volumes if v.get("SnapshotId") == snapshot]
        if self.stand_in and not restored:
            self.add("data volumes from the expected snapshot", key, NOT_LOCAL, snapshot)
            return
        self.add(
            "data volumes from the expected snapshot",
            key,
            PASSED if len(restored) >= len(instances) else FAILED,
            f"{len(restored)} volume(s) from {snapshot} for {len(instances)} instance(s)",
        )

    def _auto_scaling(self, key: str, groups: list[dict[str, Any]]) -> None:
        for group in groups:
            serving = [i for i in group.get("Instances", []) if i["LifecycleState"] == "InService"]
            desired = group["DesiredCapacity"]
            self.add(
                "auto scaling group at desired capacity",
                key,
                PASSED if len(serving) >= desired else FAILED,
                f"{group['AutoScalingGroupName']}: {len(serving)} in service of {desired} desired",
            )

    def _target_groups(self, key: str, resources: dict[str, list[str]]) -> None:
        for arn in resources.get("AWS::ElasticLoadBalancingV2::TargetGroup", []):
            health = self.client("elbv2").describe_target_health(TargetGroupArn=arn)
            states = [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]]
            if self.stand_in:
                self.add(
                    "targets healthy", key, NOT_LOCAL, f"{len(states)} registered; moto checks none"
                )
                continue
            healthy = states.count("healthy")
            self.add(
                "targets healthy",
                key,
                PASSED if states and healthy == len(states) else FAILED,
                f"{healthy} of {len(states)} healthy",
            )

    def _databases(
        self, key: str, resources: dict[str, list[str]], expected: dict[str, str]
    ) -> None:
        rds = self.client("rds")
        for ident in resources.get("AWS::RDS::DBInstance", []):
            found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            status = found["DBInstanceStatus"]
            self.add("database available", key, PASSED if status == "available" else FAILED, status)
        for ident in resources.get("AWS::RDS::DBCluster", []):
            found = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
            status = found["Status"]
            self.add("database available", key, PASSED if status == "available" else FAILED, status)
        if "AWS::RDS::DBInstance" in resources:
            self._restored_from(key, expected.get("rds_snapshot"))
        if "AWS::RDS::DBCluster" in resources:
            self._restored_from(key, expected.get("rds_cluster_snapshot"))

    def _restored_from(self, key: str, snapshot: str | None) -> None:
        """The stack's snapshot parameter, as CloudFormation holds it, is the discovered one."""
        if snapshot is None:
            return
        stack = self.client("cloudformation").describe_stacks(StackName=self.plan.stacks[key].name)[
            "Stacks"
        ][0]
        given = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        self.add(
            "database restored from the expected snapshot",
            key,
            PASSED if snapshot in given.values() else FAILED,
            snapshot,
        )

    def _load_balancers(self, key: str, resources: dict[str, list[str]]) -> None:
        for arn in resources.get("AWS::ElasticLoadBalancingV2::LoadBalancer", []):
            if self.stand_in:
                self.add("load balancer answers", key, NOT_LOCAL, "moto's DNS names do not resolve")
                continue
            lb = self.client("elbv2").describe_load_balancers(LoadBalancerArns=[arn])
            found = lb["LoadBalancers"][0]
            if found.get("Scheme") == "internal":
                self.add("load balancer answers", key, SKIPPED, "internal: not reachable from here")
                continue
            path = self._health_path(arn)
            url = f"http://{found['DNSName']}{path}"
            status = self.http_get(url)
            self.add(
                "load balancer answers",
                key,
                PASSED if 200 <= status < 400 else FAILED,
                f"GET {url}: " + (f"HTTP {status}" if status else "no answer"),
            )

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


def verify(
    aws: Aws,
    plan: Plan,
    discovery: Discovery,
    outcome: Outcome,
    *,
    stand_in: bool,
    http_get: Callable[[str], int] | None = None,
) -> list[Check]:
    return Verifier(aws, plan, discovery, outcome, stand_in=stand_in, http_get=http_get).run()
