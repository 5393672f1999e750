"""Verification: evidence from AWS that the rebuilt environment works, never a pass by default."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from fakes import FakeClock
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.model.config import load_environment
from relight.steps.deploy import Outcome, StackResult, deploy
from relight.steps.discovery import Artifact, Discovery
from relight.steps.render import build_plan
from relight.steps.verify import verified, verify


def _built(write_env: Any) -> tuple[Any, Discovery, Any]:
    found = moto_web_inputs()
    plan = build_plan(load_environment(str(write_env(MINIMAL)), "us-west-2"), "us-west-2")
    outcome = deploy(
        Stacks(boto3.client("cloudformation", "us-west-2"), timeout=30), plan, found, run_id="v"
    )
    assert outcome.ok, outcome.failed()
    return plan, found, outcome


def test_a_good_rebuild_passes_with_evidence(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        results = {c.check: (c.result, c.detail) for c in checks}
        assert results["instances running"] == ("passed", "2 of 2")
        assert results["instances made from the expected AMI"][0] == "passed"
        assert results["data volumes from the expected snapshot"][0] == "passed"
        assert verified(checks)


def test_instances_from_another_ami_fail_verification(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        outcome.results["web"].parameters["ImageId"] = "ami-0other"  # what the stack was given
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        wrong = next(c for c in checks if c.check == "instances made from the expected AMI")
        assert wrong.result == "failed"
        assert "found ami-" in wrong.detail
        assert not verified(checks)


def test_a_stack_that_kept_its_snapshot_is_verified_against_the_kept_one(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        kept = outcome.results["web"].parameters["DataSnapshotId"]
        art = found.artifacts["web_data"]  # a newer copy arrived; the stack kept its own
        found.artifacts["web_data"] = Artifact(
            "web_data", "ebs_snapshot", "snap-0newer", art.region, art.created, 1
        )
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        data = next(c for c in checks if c.check == "data volumes from the expected snapshot")
        assert data.result == "passed" and kept in data.detail
        assert verified(checks)


def test_on_the_stand_in_what_moto_fakes_is_not_simulated_never_passed(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=True)
        status = next(c for c in checks if c.check.startswith("instance status checks"))
        assert status.result == "not simulated locally"


def test_a_stack_that_was_not_built_is_a_failed_check(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        outcome.results["web"].action = "failed"
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        assert ("stack complete", "web", "failed") in {(c.check, c.stack, c.result) for c in checks}
        assert not verified(checks)


def test_nothing_checked_is_not_verified() -> None:
    assert not verified([])


def test_a_redirect_to_https_counts_as_an_answer_and_is_not_followed() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from relight.steps.verify.load_balancers import _http_status

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", "https://127.0.0.1:1/health")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert _http_status(f"http://127.0.0.1:{server.server_port}/health") == 301
        assert _http_status("http://127.0.0.1:1/nothing-listens") == 0
    finally:
        server.shutdown()


# On AWS, in time and at scale ---------------------------------------------------------------
# moto reports every status check "ok" at once and accepts any number of ids, so these run on
# small fakes that behave as AWS documents: DescribeInstanceStatus takes at most 100 explicit
# instance ids; new instances report "initializing" for minutes; groups launch "Pending"
# members; new targets start "initial"; an ALB answers 503 until a target is healthy.


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeEc2:
    """Instances with a status-check schedule: instance → how many DescribeInstanceStatus reads
    it answers "initializing" before "ok" (None: never ok)."""

    def __init__(self, count: int, ami: str, snapshot: str, initializing: dict[str, Any]) -> None:
        self.instances = {
            f"i-{n:017x}": {
                "InstanceId": f"i-{n:017x}",
                "ImageId": ami,
                "State": {"Code": 16, "Name": "running"},
                "BlockDeviceMappings": [
                    {"DeviceName": "/dev/sdf", "Ebs": {"VolumeId": f"vol-{n:017x}"}}
                ],
            }
            for n in range(count)
        }
        self.snapshot = snapshot
        self.initializing = initializing
        self.reads: Counter[str] = Counter()
        self.calls: dict[str, list[int]] = {}  # operation → ids asked per call

    def _asked(self, operation: str, ids: list[str]) -> None:
        self.calls.setdefault(operation, []).append(len(ids))

    def describe_instances(self, InstanceIds: list[str]) -> dict[str, Any]:
        self._asked("DescribeInstances", InstanceIds)
        for i in InstanceIds:
            if i not in self.instances:
                raise _error(
                    "InvalidInstanceID.NotFound",
                    f"The instance ID '{i}' does not exist",
                    "DescribeInstances",
                )
        return {"Reservations": [{"Instances": [self.instances[i] for i in InstanceIds]}]}

    def describe_instance_status(
        self, InstanceIds: list[str], IncludeAllInstances: bool = False
    ) -> dict[str, Any]:
        self._asked("DescribeInstanceStatus", InstanceIds)
        if len(InstanceIds) > 100:
            # AWS's answer, as AWS SDKs have reported it
            raise _error(
                "InvalidRequest",
                f"{len(InstanceIds)} exceeds the maximum number of instance IDs that can be "
                "specificied (100). Please specify fewer than 100 instance IDs.",
                "DescribeInstanceStatus",
            )
        statuses = []
        for i in InstanceIds:
            self.reads[i] += 1
            polls = self.initializing.get(i, 0)
            status = "initializing" if polls is None or self.reads[i] <= polls else "ok"
            statuses.append(
                {
                    "InstanceId": i,
                    "AvailabilityZone": "us-west-2a",
                    "InstanceState": {"Code": 16, "Name": "running"},
                    "InstanceStatus": {"Status": status, "Details": []},
                    "SystemStatus": {"Status": status, "Details": []},
                }
            )
        return {"InstanceStatuses": statuses}

    def describe_volumes(self, VolumeIds: list[str]) -> dict[str, Any]:
        self._asked("DescribeVolumes", VolumeIds)
        return {
            "Volumes": [
                {"VolumeId": v, "SnapshotId": self.snapshot, "State": "in-use"} for v in VolumeIds
            ]
        }


class FakeResources:
    """CloudFormation's ListStackResources: stack name → resource type → physical ids."""

    def __init__(self, stacks: dict[str, dict[str, list[str]]]) -> None:
        self.stacks = stacks

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_stack_resources"
        stacks = self.stacks

        class Pages:
            def paginate(self, StackName: str) -> list[dict[str, Any]]:
                summaries = [
                    {"ResourceType": kind, "PhysicalResourceId": pid, "LogicalResourceId": pid}
                    for kind, ids in stacks.get(StackName, {}).items()
                    for pid in ids
                ]
                return [{"StackResourceSummaries": summaries}]

        return Pages()


class FakeAutoScaling:
    """Groups whose members are "Pending" for their first `pending` reads; pages of
    `page_size` groups, as DescribeAutoScalingGroups pages with NextToken."""

    def __init__(self, groups: dict[str, list[str]], pending: int = 0, page_size: int = 50) -> None:
        self.groups, self.pending, self.page_size = groups, pending, page_size
        self.reads = 0
        self.names_per_call: list[int] = []

    def describe_auto_scaling_groups(
        self, AutoScalingGroupNames: list[str], NextToken: str = "0"
    ) -> dict[str, Any]:
        self.names_per_call.append(len(AutoScalingGroupNames))
        self.reads += 1
        start = int(NextToken)
        names = AutoScalingGroupNames[start : start + self.page_size]
        state = "Pending" if self.reads <= self.pending else "InService"
        page: dict[str, Any] = {
            "AutoScalingGroups": [
                {
                    "AutoScalingGroupName": name,
                    "DesiredCapacity": len(self.groups[name]),
                    "Instances": [
                        {"InstanceId": i, "LifecycleState": state, "HealthStatus": "Healthy"}
                        for i in self.groups[name]
                    ],
                }
                for name in names
            ]
        }
        if start + self.page_size < len(AutoScalingGroupNames):
            page["NextToken"] = str(start + self.page_size)
        return page


class FakeElbv2:
    """A target group whose targets are "initial" for their first `initial` reads."""

    def __init__(self, targets: list[str], initial: int) -> None:
        self.targets, self.initial, self.reads = targets, initial, 0

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        self.reads += 1
        state = "initial" if self.reads <= self.initial else "healthy"
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": t, "Port": 8080}, "TargetHealth": {"State": state}}
                for t in self.targets
            ]
        }

    def describe_load_balancers(self, LoadBalancerArns: list[str]) -> dict[str, Any]:
        return {
            "LoadBalancers": [
                {
                    "LoadBalancerArn": arn,
                    "DNSName": "shop-lb-1.us-west-2.elb.amazonaws.com",
                    "Scheme": "internet-facing",
                }
                for arn in LoadBalancerArns
            ]
        }

    def describe_target_groups(self, LoadBalancerArn: str) -> dict[str, Any]:
        return {"TargetGroups": [{"TargetGroupArn": TG, "HealthCheckPath": "/health"}]}


class FakeAws:
    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str, region: str, bounded: bool = False) -> Any:
        return self.clients[service]


TG = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/shop-web/73e2d6bc24d8a067"
LB = "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/shop-lb/50dc6c495c0c9188"


def _on_aws(write_env: Any) -> tuple[Any, Discovery, Outcome]:
    """MINIMAL's plan, as built: every stack complete, web from ami-0web and snap-0data."""
    plan = build_plan(load_environment(str(write_env(MINIMAL)), "us-west-2"), "us-west-2")
    now = datetime.now(UTC)
    found = Discovery(
        region="us-west-2",
        at=now,
        artifacts={
            "web_ami": Artifact("web_ami", "ami", "ami-0web", "us-west-2", now, 1),
            "web_data": Artifact("web_data", "ebs_snapshot", "snap-0data", "us-west-2", now, 1),
        },
    )
    outcome = Outcome(
        results={key: StackResult(key, sp.name, "created") for key, sp in plan.stacks.items()}
    )
    return plan, found, outcome


def _fleet(ec2: FakeEc2, **more: Any) -> FakeAws:
    return FakeAws(
        ec2=ec2,
        cloudformation=FakeResources({"shop-web": {"AWS::EC2::Instance": list(ec2.instances)}}),
        **more,
    )


def _result(checks: list[Any], name: str) -> tuple[str, str]:
    found = [c for c in checks if c.check == name]
    assert len(found) == 1, found
    return found[0].result, found[0].detail


def test_the_fake_refuses_more_than_100_instance_ids_as_aws_does() -> None:
    ec2 = FakeEc2(101, "ami-0web", "snap-0data", {})
    with pytest.raises(ClientError) as caught:
        ec2.describe_instance_status(InstanceIds=list(ec2.instances), IncludeAllInstances=True)
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"


def test_250_instances_are_verified_in_batches_of_100(write_env: Any) -> None:
    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(250, "ami-0web", "snap-0data", {})
    clock = FakeClock()
    checks = verify(
        _fleet(ec2), plan, found, outcome, stand_in=False, clock=clock, sleep=clock.sleep
    )
    assert _result(checks, "instances running") == ("passed", "250 of 250")
    assert _result(checks, "instance status checks passed") == (
        "passed",
        "250 of 250 status checks ok",
    )
    assert _result(checks, "data volumes from the expected snapshot")[0] == "passed"
    assert ec2.calls == {
        "DescribeInstances": [100, 100, 50],
        "DescribeInstanceStatus": [100, 100, 50],
        "DescribeVolumes": [100, 100, 50],
    }
    assert verified(checks)
    assert clock.sleeps == []


def _verify_in_fake_time(
    ec2: Any, plan: Any, found: Any, outcome: Any
) -> tuple[list[Any], FakeClock, list[str]]:
    """Verify against the fake fleet in fake time: the checks, the clock and the progress lines."""
    clock, lines = FakeClock(), []
    checks = verify(
        _fleet(ec2),
        plan,
        found,
        outcome,
        stand_in=False,
        clock=clock,
        sleep=clock.sleep,
        on_progress=lines.append,
    )
    return checks, clock, lines


def test_initializing_status_checks_are_waited_for_until_they_pass(write_env: Any) -> None:
    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(6, "ami-0web", "snap-0data", {})
    ec2.initializing = {i: 3 for i in list(ec2.instances)[4:]}  # 2 of 6 ok on the 4th look
    checks, clock, lines = _verify_in_fake_time(ec2, plan, found, outcome)
    assert _result(checks, "instance status checks passed") == ("passed", "6 of 6 status checks ok")
    assert verified(checks)
    assert clock.sleeps == [5, 10, 20]  # the backoff: three waits, 35 s in all
    assert lines == [
        "waiting: web: 4 of 6 status checks ok, 2 initializing (15 min left)",
        "waiting: web: 4 of 6 status checks ok, 2 initializing (15 min left)",
        "waiting: web: 4 of 6 status checks ok, 2 initializing (15 min left)",
    ]


def test_status_checks_that_never_pass_fail_at_the_deadline_saying_how_long(
    write_env: Any,
) -> None:
    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(6, "ami-0web", "snap-0data", {})
    ec2.initializing = {i: None for i in list(ec2.instances)[4:]}
    checks, clock, lines = _verify_in_fake_time(ec2, plan, found, outcome)
    result, detail = _result(checks, "instance status checks passed")
    assert result == "failed"
    assert detail.startswith("4 of 6 status checks ok; waited 900 s, still 2 initializing; see why")
    assert clock.now == 900, "it stopped at the default deadline (900 s), not before, not after"
    assert clock.sleeps == [5, 10, 20, *[30] * 28, 25]  # the last wait ends at the deadline
    assert lines[-1] == "waiting: web: 4 of 6 status checks ok, 2 initializing (25 s left)"
    assert not verified(checks)


def test_a_definitive_failure_is_not_waited_for(write_env: Any) -> None:
    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(3, "ami-0web", "snap-0data", {})
    ec2.initializing = {i: None for i in ec2.instances}
    gone = next(iter(ec2.instances))
    ec2.instances[gone]["State"] = {"Code": 48, "Name": "terminated"}
    clock = FakeClock()
    checks = verify(
        _fleet(ec2), plan, found, outcome, stand_in=False, clock=clock, sleep=clock.sleep
    )
    assert _result(checks, "instances running") == ("failed", f"2 of 3; {gone} terminated")
    result, detail = _result(checks, "instance status checks passed")
    assert result == "skipped"
    assert "because another check failed" in detail
    assert clock.sleeps == []


def test_a_group_its_targets_and_its_load_balancer_are_waited_for_until_they_serve(
    write_env: Any,
) -> None:
    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(2, "ami-0web", "snap-0data", {})
    members = list(ec2.instances)
    answers = iter([0, 503, 503, 200])  # no answer, then 503 while no target is healthy
    seen: list[str] = []

    def http_get(url: str) -> int:
        seen.append(url)
        return next(answers)

    aws = FakeAws(
        ec2=ec2,
        cloudformation=FakeResources(
            {
                "shop-web": {"AWS::AutoScaling::AutoScalingGroup": ["shop-web-asg"]},
                "shop-security": {
                    "AWS::ElasticLoadBalancingV2::TargetGroup": [TG],
                    "AWS::ElasticLoadBalancingV2::LoadBalancer": [LB],
                },
            }
        ),
        autoscaling=FakeAutoScaling({"shop-web-asg": members}, pending=1),
        elbv2=FakeElbv2(members, initial=2),
    )
    clock, lines = FakeClock(), []
    checks = verify(
        aws,
        plan,
        found,
        outcome,
        stand_in=False,
        http_get=http_get,
        clock=clock,
        sleep=clock.sleep,
        on_progress=lines.append,
    )
    assert _result(checks, "auto scaling group at desired capacity") == (
        "passed",
        "shop-web-asg: 2 in service of 2 desired",
    )
    assert _result(checks, "targets healthy") == ("passed", "shop-web: 2 of 2 healthy")
    assert _result(checks, "load balancer answers") == (
        "passed",
        "GET http://shop-lb-1.us-west-2.elb.amazonaws.com/health: HTTP 200",
    )
    assert verified(checks)
    assert lines[0] == (
        "waiting: security: shop-web: 0 of 2 healthy, 2 initial; "
        "security: GET http://shop-lb-1.us-west-2.elb.amazonaws.com/health, no answer; "
        "web: shop-web-asg: 0 in service of 2 desired, 2 Pending (15 min left)"
    )
    assert clock.sleeps == [5, 10, 20]


def test_sixty_groups_are_read_in_batches_of_50_with_every_page(write_env: Any) -> None:
    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(60, "ami-0web", "snap-0data", {})
    groups = {f"shop-web-{n}": [i] for n, i in enumerate(ec2.instances)}
    autoscaling = FakeAutoScaling(groups, page_size=20)
    aws = FakeAws(
        ec2=ec2,
        cloudformation=FakeResources(
            {"shop-web": {"AWS::AutoScaling::AutoScalingGroup": list(groups)}}
        ),
        autoscaling=autoscaling,
    )
    clock = FakeClock()
    checks = verify(aws, plan, found, outcome, stand_in=False, clock=clock, sleep=clock.sleep)
    capacity = [c for c in checks if c.check == "auto scaling group at desired capacity"]
    assert len(capacity) == 60 and all(c.result == "passed" for c in capacity)
    assert autoscaling.names_per_call == [50, 50, 50, 10]  # 50 names: pages of 20, 20, 10
    assert _result(checks, "instances running") == ("passed", "60 of 60")


# Against an emulator -------------------------------------------------------------------------
# An endpoint that is not AWS's (AWS_ENDPOINT_URL, the target's endpoint_url) gives load
# balancer names that need not resolve from this machine; on AWS a new name appears in DNS
# after a while, so there it is waited for.


class EmulatedElbv2(FakeElbv2):
    """FakeElbv2 as a client of an emulator: its endpoint is not AWS's."""

    meta = SimpleNamespace(endpoint_url="http://127.0.0.1:4566")  # botocore's client.meta


def _balanced(elbv2: FakeElbv2) -> FakeAws:
    ec2 = FakeEc2(2, "ami-0web", "snap-0data", {})
    return FakeAws(
        ec2=ec2,
        cloudformation=FakeResources(
            {
                "shop-web": {"AWS::EC2::Instance": list(ec2.instances)},
                "shop-security": {"AWS::ElasticLoadBalancingV2::LoadBalancer": [LB]},
            }
        ),
        elbv2=elbv2,
    )


def test_on_an_emulator_a_name_that_does_not_resolve_is_not_verifiable_from_here(
    write_env: Any,
) -> None:
    from relight.steps.verify import NOT_VERIFIABLE

    plan, found, outcome = _on_aws(write_env)
    asked: list[str] = []
    clock = FakeClock()
    checks = verify(
        _balanced(EmulatedElbv2([], initial=0)),
        plan,
        found,
        outcome,
        stand_in=False,
        http_get=lambda url: asked.append(url) or 0,  # type: ignore[func-returns-value]
        resolves=lambda name: False,
        clock=clock,
        sleep=clock.sleep,
    )
    result, detail = _result(checks, "load balancer answers")
    assert result == NOT_VERIFIABLE == "not verifiable from here"
    assert detail == (
        "shop-lb-1.us-west-2.elb.amazonaws.com does not resolve here: the endpoint "
        "http://127.0.0.1:4566 is not AWS, and the names it gives need not be in this "
        "machine's DNS"
    )
    assert asked == [] and clock.sleeps == [], "nothing asked of it, nothing waited for"
    assert verified(checks), "the other checks passed: it fails nothing"
    assert not verified([c for c in checks if c.check == "load balancer answers"]), "no pass"


def test_on_an_emulator_a_name_that_resolves_is_asked_as_on_aws(write_env: Any) -> None:
    plan, found, outcome = _on_aws(write_env)
    checks = verify(
        _balanced(EmulatedElbv2([], initial=0)),
        plan,
        found,
        outcome,
        stand_in=False,
        http_get=lambda url: 200,
        resolves=lambda name: True,
    )
    assert _result(checks, "load balancer answers")[0] == "passed"


def test_on_aws_a_name_that_does_not_resolve_yet_is_waited_for_until_the_deadline(
    write_env: Any,
) -> None:
    plan, found, outcome = _on_aws(write_env)
    resolved: list[str] = []
    clock = FakeClock()
    checks = verify(
        _balanced(FakeElbv2([], initial=0)),  # its endpoint is AWS's
        plan,
        found,
        outcome,
        stand_in=False,
        http_get=lambda url: 0,  # what a name that does not resolve gives: no answer
        resolves=lambda name: resolved.append(name) or False,  # type: ignore[func-returns-value]
        deadline_seconds=60,
        clock=clock,
        sleep=clock.sleep,
    )
    result, detail = _result(checks, "load balancer answers")
    assert result == "failed"
    assert detail.startswith(
        "GET http://shop-lb-1.us-west-2.elb.amazonaws.com/health; waited 60 s, still no answer"
    )
    assert clock.now == 60 and clock.sleeps == [5, 10, 20, 25]
    assert resolved == [], "on AWS the name is asked by HTTP until the deadline, as before"


def test_which_endpoints_are_aws() -> None:
    from relight.aws.failures import aws_endpoint

    for url in (
        "https://elasticloadbalancing.us-west-2.amazonaws.com",
        "https://ec2-fips.us-gov-west-1.amazonaws.com",
        "https://ec2.us-west-2.api.aws",
        "https://ec2.cn-north-1.amazonaws.com.cn",
        "https://vpce-0abc-1234.ec2.us-west-2.vpce.amazonaws.com",
    ):
        assert aws_endpoint(url), url
    for url in (
        "http://127.0.0.1:4566",
        "http://localhost.localstack.cloud:4566",
        "https://amazonaws.com.example.org",
        "http://notamazonaws.com",
    ):
        assert not aws_endpoint(url), url


def test_a_refused_read_fails_its_check_and_verification_goes_on(write_env: Any) -> None:
    """AccessDenied on one stack's resources is about that stack: its check fails, saying
    why; the other stacks are still verified (an endpoint that fails stops it all instead:
    tests/test_endpoint_failures.py)."""

    class Refusing(FakeResources):
        def get_paginator(self, operation: str) -> Any:
            pages = super().get_paginator(operation)

            class Pages:
                def paginate(self, StackName: str) -> list[dict[str, Any]]:
                    if StackName == "shop-network":
                        raise _error("AccessDenied", "not for you", "ListStackResources")
                    return pages.paginate(StackName=StackName)  # type: ignore[no-any-return]

            return Pages()

    plan, found, outcome = _on_aws(write_env)
    ec2 = FakeEc2(2, "ami-0web", "snap-0data", {})
    aws = FakeAws(
        ec2=ec2, cloudformation=Refusing({"shop-web": {"AWS::EC2::Instance": list(ec2.instances)}})
    )
    checks = verify(aws, plan, found, outcome, stand_in=False)
    refused = [c for c in checks if c.check == "read what the stack holds"]
    assert [(c.stack, c.result) for c in refused] == [("network", "failed")]
    assert "AccessDenied" in refused[0].detail
    assert _result(checks, "instances running") == ("passed", "2 of 2")


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("available", "passed"),
        ("backing-up", "pending"),  # RDS backs a restored database up before it is available
        ("modifying", "pending"),
        ("creating", "pending"),
        ("failed", "failed"),
        ("incompatible-restore", "failed"),
        ("stopped", "failed"),
    ],
)
def test_database_states_that_still_lead_to_available_are_waited_for(
    status: str, result: str
) -> None:
    from relight.steps.verify.databases import _database

    assert _database(status).result == result


@pytest.mark.parametrize(
    ("system", "instance", "word"),
    [
        ("ok", "ok", "ok"),
        ("ok", "initializing", "initializing"),
        ("impaired", "initializing", "impaired"),  # the worst one is shown
        ("not-applicable", "not-applicable", "not running yet"),
    ],
)
def test_an_instances_two_status_checks_read_as_one_word(
    system: str, instance: str, word: str
) -> None:
    from relight.steps.verify.instances import _status

    entry = {"SystemStatus": {"Status": system}, "InstanceStatus": {"Status": instance}}
    assert _status(entry) == word
