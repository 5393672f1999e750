"""The day the home region is gone: what runs during an outage needs nothing from it.

Dead endpoints here are real sockets on 127.0.0.1: a port nobody listens on (refused at
once) and a server that accepts connections and never answers (a black hole). The tests
count the connections an endpoint received, never the seconds a call took: the seconds are
measured by bench/dead_endpoint.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from conftest import MINIMAL
from relight.aws.clients import Aws, AwsTarget, check_account
from relight.aws.sessions import sts_client
from relight.errors import AwsError
from relight.model.config import load_environment
from relight.steps.discovery import discover


class BlackHole:
    """A TCP server that accepts every connection and never answers; counts them."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)  # held open, never answered

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def refused() -> str:
    """The URL of a port nobody listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def test_a_bounded_client_asks_once_where_a_normal_one_retries(black_hole: BlackHole) -> None:
    bounded = Aws(AwsTarget(endpoint_url=black_hole.url, bounded_seconds=0.3))
    with pytest.raises(ReadTimeoutError):
        bounded.client("ec2", "us-east-1", bounded=True).describe_images(Owners=["self"])
    assert len(black_hole.accepted) == 1, "one attempt, no retry"
    config = bounded.client("ec2", "us-east-1", bounded=True).meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.3, 0.3)
    normal = Aws(AwsTarget(endpoint_url=black_hole.url, max_attempts=3)).client("ec2", "us-east-1")
    assert normal.meta.config.read_timeout == 60, "what a normal call would wait, per attempt"
    assert normal.meta.config.retries["total_max_attempts"] == 4, "the first try and 3 retries"


def test_the_home_regions_hint_says_unreachable_and_discovery_goes_on(
    write_env: Any, black_hole: BlackHole
) -> None:
    dead = Aws(AwsTarget(endpoint_url=black_hole.url, bounded_seconds=0.3))

    found = _discover_with_home(write_env, dead.target, dead.client)
    assert found.missing["web_ami"] == (
        "no AMI tagged Role=web in us-west-2; home region us-east-1 unreachable (one attempt, "
        "0.3 s): what it holds is not known; going on without it"
    )
    assert len(black_hole.accepted) == 1, "one attempt at the home region, then on"
    assert [z.id for z in found.zones], "the target region's answers are all there"


def test_an_unanswered_account_check_names_sts_and_the_region_and_is_no_bad_input(
    refused: str,
) -> None:
    aws = Aws(AwsTarget(endpoint_url=refused, max_attempts=1))
    with pytest.raises(AwsError) as caught:
        check_account(aws, "us-west-2", "123456789012", "stacks/shop.yaml")
    assert caught.value.message.startswith("STS in us-west-2 did not answer")
    assert "act in another recovery region" in str(caught.value)
    assert caught.value.exit_code == 1, "an unreachable region is a failure, not bad input"


def test_a_role_is_assumed_through_the_target_regions_sts() -> None:
    base = boto3.session.Session(region_name="us-east-1")  # the operator's default: home
    sts = sts_client(base, "eu-west-1", None)
    assert sts.meta.region_name == "eu-west-1"
    assert sts.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"


def test_connect_assumes_the_role_in_the_region_it_acts_in(
    write_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relight.aws.sessions
    from relight.commands.connection import connect

    asked: list[str | None] = []
    real = relight.aws.sessions.sts_client

    def spy(base: Any, region: str | None, endpoint_url: str | None) -> Any:
        asked.append(region)
        return real(base, region, endpoint_url)

    monkeypatch.setattr(relight.aws.sessions, "sts_client", spy)
    text = MINIMAL.replace("stand_in: true", "role_arn: arn:aws:iam::210987654321:role/relight")
    loaded = load_environment(str(write_env(text)), "eu-west-1")
    with mock_aws():
        conn = connect(loaded, "eu-west-1")
    assert conn.aws.target.sts_region == "eu-west-1"
    assert asked == ["eu-west-1"], "AssumeRole went through STS in the target region"
    assert conn.account_id == "210987654321"


def test_an_unanswered_route53_is_a_note_and_never_blocks_a_failover(write_env: Any) -> None:
    from relight.steps.preflight.names import _hosted_zones
    from relight.steps.render import build_plan
    from test_preflight import DNS

    class Route53Down:
        def down(self, service: str, region: str) -> str | None:
            return None  # relight was not told: it asks, and the endpoint does not answer

        def client(self, service: str, region: str, bounded: bool = False) -> Any:
            assert bounded, "a control plane homed elsewhere is asked with a bounded client"

            class Dead:
                def list_hosted_zones_by_name(self, **_: Any) -> Any:
                    raise EndpointConnectionError(endpoint_url="https://route53.amazonaws.com/")

            return Dead()

    loaded = load_environment(str(write_env(MINIMAL + DNS)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", phase="prepare")  # the DNS stack stands: global
    problems, notes = _hosted_zones(plan, Route53Down())
    assert problems == []
    assert notes == [
        "stacks.dns.params.HostedZoneName: hosted zone shop.example.com. not checked: Route 53 "
        "(its control plane is in us-east-1) did not answer (EndpointConnectionError)"
    ]


def test_plan_names_what_only_the_prepare_needs_from_control_planes_in_other_regions() -> None:
    from conftest import REPO
    from relight.model.control_planes import outside_dependencies
    from relight.steps.render import build_plan

    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), "us-west-2")
    for strategy in ("backup_restore", "pilot_light", "warm_standby"):
        failing_over = build_plan(loaded, "us-west-2", strategy=strategy)
        assert outside_dependencies(failing_over) == [], strategy
    found = {
        (d.stack, d.resource, d.service, d.region)
        for d in outside_dependencies(
            build_plan(loaded, "us-west-2", strategy="pilot_light", phase="prepare")
        )
    }
    assert ("identity", "WebInstanceRole", "IAM", "us-east-1") in found
    assert ("dns", "Record", "Route 53", "us-east-1") in found
    assert ("dns", "HealthCheck", "Route 53", "us-east-1") in found
    assert {stack for stack, *_ in found} == {"identity", "dns"}
    at_home = outside_dependencies(build_plan(loaded, "us-east-1", phase="prepare"))
    assert all(d.region != "us-east-1" for d in at_home), "us-east-1's own control planes"


GLOBAL_TYPES = ("AWS::IAM::", "AWS::Route53", "AWS::CloudFront::", "AWS::GlobalAccelerator::")


@pytest.mark.parametrize("stand_in", [False, True], ids=["aws", "stand-in"])
@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1"])
def test_no_failover_time_template_of_the_demo_holds_a_global_resource(
    region: str, stand_in: bool
) -> None:
    """The rule of the issue, on the rendered templates themselves (not on relight's own list
    of control planes): IAM, Route 53, CloudFront and Global Accelerator never at failover."""
    from conftest import REPO
    from relight.steps.render import build_plan

    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), region)
    for strategy in ("backup_restore", "pilot_light", "warm_standby"):
        for purpose, namespace in (("failover", None), ("drill", "drill-x"), ("test", "qa")):
            plan = build_plan(
                loaded, region, purpose=purpose, namespace=namespace, stand_in=stand_in,
                strategy=strategy,
            )  # fmt: skip
            assert plan.stacks, "something is built at failover"
            for key, sp in plan.stacks.items():
                types = {r["Type"] for r in json.loads(sp.body)["Resources"].values()}
                assert not [t for t in types if t.startswith(GLOBAL_TYPES)], (strategy, key)


def test_render_refuses_a_global_resource_in_a_failover_time_stack(write_env: Any) -> None:
    """A stack without `stands:` that holds an IAM role is refused, naming the stack, the
    resource, the service and where to move it; a `stands: global` one is prepared instead."""
    from relight.errors import ConfigError
    from relight.steps.render import build_plan

    identity = "  roles:\n    blueprint: identity\n    params:\n      flow_logs: true\n"
    loaded = load_environment(str(write_env(MINIMAL + identity)), "us-west-2")
    with pytest.raises(ConfigError) as refused:
        build_plan(loaded, "us-west-2")
    said = str(refused.value)
    assert "stacks.roles (blueprint identity) is built at failover time in us-west-2" in said
    assert "FlowLogRole (AWS::IAM::Role: IAM, control plane in us-east-1)" in said
    assert "stands: global" in said and "relight prepare" in said
    standing = identity.replace("    params:", "    stands: global\n    params:")
    loaded = load_environment(str(write_env(MINIMAL + standing)), "us-west-2")
    assert "roles" in build_plan(loaded, "us-west-2").prepared
    assert "roles" in build_plan(loaded, "us-west-2", phase="prepare").stacks


def test_a_home_region_that_refuses_is_said_to_refuse_not_to_be_unreachable(
    write_env: Any,
) -> None:
    from botocore.stub import Stubber

    home = boto3.client("ec2", "us-east-1")
    stub = Stubber(home)
    stub.add_client_error(
        "describe_images",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        403,
    )
    stub.activate()

    found = _discover_with_home(write_env, AwsTarget(bounded_seconds=0.3), lambda *_, **__: home)
    said = found.missing["web_ami"]
    assert "home region us-east-1 refused the question" in said
    assert "UnauthorizedOperation" in said and "unreachable" not in said


def _discover_with_home(write_env: Any, target: AwsTarget, home: Any) -> Any:
    """Discovery into us-west-2 (moto answers there) while us-east-1, the home region,
    answers through `home(service, region, bounded=...)`."""

    class SplitAws:
        def down(self, service: str, region: str) -> str | None:
            return None  # no outage rehearsal: every region is asked

        def client(self, service: str, region: str, bounded: bool = False) -> Any:
            if region == "us-east-1":
                return home(service, region, bounded=bounded)
            return boto3.client(service, region)

    aws = SplitAws()
    aws.target = target  # type: ignore[attr-defined]
    env = load_environment(str(write_env(MINIMAL)), "us-west-2").env
    with mock_aws():
        return discover(
            aws,  # type: ignore[arg-type]
            env,
            "us-west-2",
            account_id="123456789012",
            now=lambda: datetime.now(UTC),
        )
