"""`relight capture` reads a load balancer's health check and attributes as production has
them, and the load_balancer blueprint makes them so; what it cannot make is a Note, what it
changes on purpose is said so; a health check AWS would refuse is refused at render, naming
the key. Production is built with plain boto3 (moto); where moto is laxer than AWS (it takes a
matcher on a TCP health check, a timeout not below the interval) the rule is the blueprint's,
written in docs/aws-behaviours.md (L5, L6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

import aws_rules
from conftest import BLUEPRINTS, NETWORK_AND_SECURITY, REPO
from relight.capture import capture
from relight.errors import ConfigError, OptionError, RenderError
from relight.model.blueprint import load_registry
from relight.model.config import load_environment
from relight.steps.render import build_plan
from test_capture import REGION, _production
from test_capture_more import _capture, _renders

WriteEnv = Callable[[str], Path]


def _elbv2() -> Any:
    return boto3.client("elbv2", REGION)


def _shop_lb() -> tuple[str, str]:
    """shop-lb's ARN and its target group's (shop-web)."""
    elbv2 = _elbv2()
    lb = elbv2.describe_load_balancers(Names=["shop-lb"])["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.describe_target_groups(Names=["shop-web"])["TargetGroups"][0]["TargetGroupArn"]
    return lb, tg


def _tune_health_check() -> None:
    """Production's health check is not the blueprint's: 200-299 only, every 10 s with a 4 s
    timeout, healthy after 4, unhealthy after 5; 120 s to drain; 5 min idle."""
    lb, tg = _shop_lb()
    elbv2 = _elbv2()
    elbv2.modify_target_group(
        TargetGroupArn=tg,
        HealthCheckPath="/ready",
        HealthCheckPort="8081",
        HealthCheckIntervalSeconds=10,
        HealthCheckTimeoutSeconds=4,
        HealthyThresholdCount=4,
        UnhealthyThresholdCount=5,
        Matcher={"HttpCode": "200-299"},
    )
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "120"}],
    )
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}]
    )


def _resource(plan: Any, stack: str, kind: str) -> dict[str, Any]:
    body = json.loads(plan.stacks[stack].body)
    (found,) = [r["Properties"] for r in body["Resources"].values() if r["Type"] == kind]
    return dict(found)


def test_the_health_check_is_captured_as_read_and_the_rebuild_checks_the_same(
    tmp_path: Path,
) -> None:
    with mock_aws():
        _production()
        _tune_health_check()
        result = _capture()
    doc, plan = _renders(result, tmp_path)  # zero cfn-lint findings, warnings included
    params = doc["stacks"]["load_balancer"]["params"]
    assert {k: params[k] for k in params if k.startswith("health") or "threshold" in k} == {
        "health_check_path": "/ready",
        "health_check_protocol": "HTTP",
        "health_check_port": "8081",
        "health_check_interval": 10,
        "health_check_timeout": 4,
        "healthy_threshold": 4,
        "unhealthy_threshold": 5,
        "health_check_matcher": "200-299",
    }
    assert (params["deregistration_delay"], params["idle_timeout"]) == (120, 300)
    group = _resource(plan, "load_balancer", "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {k: v for k, v in group.items() if k.startswith("Health") or "Threshold" in k} == {
        "HealthCheckEnabled": True,
        "HealthCheckPath": "/ready",
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPort": "8081",
        "HealthCheckIntervalSeconds": 10,
        "HealthCheckTimeoutSeconds": 4,
        "HealthyThresholdCount": 4,
        "UnhealthyThresholdCount": 5,
    }
    assert group["Matcher"] == {"HttpCode": "200-299"}
    assert group["TargetGroupAttributes"] == [
        {"Key": "deregistration_delay.timeout_seconds", "Value": "120"}
    ]
    balancer = _resource(plan, "load_balancer", "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "300"} in balancer[
        "LoadBalancerAttributes"
    ]
    # read, so no note says the blueprint's defaults replaced them
    assert not [n for n in result.notes if n.resource == "shop-lb" and "health" in n.text.lower()]


def test_attributes_the_blueprint_cannot_make_are_notes_and_its_deliberate_ones_are_said(
    tmp_path: Path,
) -> None:
    with mock_aws():
        _production()
        lb, tg = _shop_lb()
        elbv2 = _elbv2()
        elbv2.modify_target_group_attributes(
            TargetGroupArn=tg,
            Attributes=[
                {"Key": "stickiness.enabled", "Value": "true"},
                {"Key": "stickiness.type", "Value": "lb_cookie"},
                {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "3600"},
                {"Key": "slow_start.duration_seconds", "Value": "60"},
                {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
            ],
        )
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=lb,
            Attributes=[
                {"Key": "routing.http2.enabled", "Value": "false"},
                {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"},
                {"Key": "deletion_protection.enabled", "Value": "false"},
                {"Key": "access_logs.s3.enabled", "Value": "true"},
                {"Key": "access_logs.s3.bucket", "Value": "shop-logs"},
                {"Key": "access_logs.s3.prefix", "Value": "lb"},
            ],
        )
        result = _capture()
    doc, _ = _renders(result, tmp_path)
    notes = {n.property: n.text for n in result.notes if n.resource == "shop-lb"}
    assert notes["TargetGroup stickiness"] == (
        "shop-web keeps clients on one target (lb_cookie, 3600 s): the blueprint's target "
        "group has no stickiness: not reproduced"
    )
    assert notes["slow_start.duration_seconds"] == (
        "slow start of shop-web is 60: the blueprint leaves AWS's default (0): not reproduced"
    )
    assert "least_outstanding_requests" in notes["load_balancing.algorithm.type"]
    assert "HTTP/2 of shop-lb is false" in notes["routing.http2.enabled"]
    assert notes["access_logs.s3"].startswith("access logs go to s3://shop-logs/lb in the home")
    assert "a bucket in its own region" in notes["access_logs.s3"]
    assert doc["stacks"]["load_balancer"]["params"].get("AccessLogsBucket") is None
    # what relight changes on purpose is said beside the stack, and is no Note
    assert "deletion_protection.enabled" not in notes
    assert "routing.http.drop_invalid_header_fields.enabled" not in notes
    lines = result.text.splitlines()
    assert (
        "  # changed on purpose: deletion_protection.enabled is false in production: relight "
        "turns deletion protection on for a failover (off for a drill or a test copy), so a "
        "rebuilt production is not deleted by mistake"
    ) in lines
    assert any(
        line.startswith(
            "  # changed on purpose: routing.http.drop_invalid_header_fields.enabled is false"
        )
        for line in lines
    )


def test_a_network_load_balancers_health_checks_are_captured_tcp_without_a_matcher(
    tmp_path: Path,
) -> None:
    with mock_aws():
        prod = _production()
        elbv2 = _elbv2()
        ec2 = boto3.client("ec2", REGION)
        public = [
            s["SubnetId"]
            for s in ec2.describe_subnets(
                Filters=[{"Name": "cidr-block", "Values": ["10.50.0.0/24", "10.50.1.0/24"]}]
            )["Subnets"]
        ]
        nlb = elbv2.create_load_balancer(
            Name="shop-nlb", Subnets=public, Type="network", SecurityGroups=[prod["lb"]]
        )
        arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
        for name, extra in (
            ("shop-tcp", {}),
            (
                "shop-http",
                {
                    "HealthCheckProtocol": "HTTP",
                    "HealthCheckPath": "/ping",
                    "Matcher": {"HttpCode": "200-499"},
                },
            ),
        ):
            tg = elbv2.create_target_group(
                Name=name,
                Protocol="TCP",
                Port=9000,
                VpcId=prod["vpc"],
                HealthCheckIntervalSeconds=20,
                HealthCheckTimeoutSeconds=8,
                HealthyThresholdCount=3,
                UnhealthyThresholdCount=3,
                **extra,
            )["TargetGroups"][0]["TargetGroupArn"]
            if name == "shop-tcp":
                elbv2.create_listener(
                    LoadBalancerArn=arn,
                    Protocol="TCP",
                    Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
                )
        tcp = _capture()
        elbv2.delete_listener(
            ListenerArn=elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"][0]["ListenerArn"]
        )
        elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="TCP",
            Port=80,
            DefaultActions=[
                {
                    "Type": "forward",
                    "TargetGroupArn": elbv2.describe_target_groups(Names=["shop-http"])[
                        "TargetGroups"
                    ][0]["TargetGroupArn"],
                }
            ],
        )
        http = _capture()
    doc, plan = _renders(tcp, tmp_path)
    params = doc["stacks"]["shopnlb"]["params"]
    assert params["health_check_protocol"] == "TCP"
    assert "health_check_matcher" not in params and "health_check_path" not in params
    group = _resource(plan, "shopnlb", "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert (group["HealthCheckProtocol"], group["HealthCheckTimeoutSeconds"]) == ("TCP", 8)
    assert "Matcher" not in group and "HealthCheckPath" not in group
    doc, plan = _renders(http, tmp_path)
    params = doc["stacks"]["shopnlb"]["params"]
    assert (params["health_check_protocol"], params["health_check_matcher"]) == ("HTTP", "200-499")
    group = _resource(plan, "shopnlb", "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert (group["Protocol"], group["HealthCheckProtocol"]) == ("TCP", "HTTP")
    assert (group["HealthCheckPath"], group["Matcher"]) == ("/ping", {"HttpCode": "200-499"})


LB = f"""\
name: shop
home_region: us-east-1
recovery_regions: [us-west-2]
stand_in: true
blueprints_dir: {BLUEPRINTS}
objectives: {{rpo: 4h, rto: 1h}}
zones: {{count: 2}}
stacks:
{NETWORK_AND_SECURITY}  lb:
    blueprint: load_balancer
    params:
      type: TYPE
      VpcId: {{output: network.VpcId}}
      SubnetIds: {{output: network.PublicSubnetIds}}
      SecurityGroupId: {{output: security.WebSecurityGroupId}}
"""


@pytest.mark.parametrize(
    ("kind", "options", "key", "says"),
    [
        (
            "application",
            "health_check_interval: 10, health_check_timeout: 10",
            "health_check_timeout",
            '10 is not below health_check_interval 10, and ELB refuses that ("Health check '
            'interval must be greater than the timeout")',
        ),
        (
            "application",
            "health_check_interval: 5",
            "health_check_timeout",
            "health_check_interval 5 is not above AWS's default timeout for this target group "
            "(6 s)",
        ),
        (
            "application",
            "health_check_timeout: 1",
            "health_check_timeout",
            "greater than or equal to 2",
        ),
        (
            "application",
            "health_check_interval: 301",
            "health_check_interval",
            "less than or equal to 300",
        ),
        ("application", "healthy_threshold: 1", "healthy_threshold", "greater than or equal to 2"),
        (
            "application",
            "unhealthy_threshold: 11",
            "unhealthy_threshold",
            "less than or equal to 10",
        ),
        (
            "application",
            "health_check_matcher: '200-'",
            "health_check_matcher",
            "'200-' is not HTTP codes between 200 and 499, which an Application Load Balancer's "
            'target group takes: one code ("200"), a list ("200,202") or a range ("200-299")',
        ),
        (
            "application",
            "health_check_matcher: '200,502'",
            "health_check_matcher",
            "between 200 and 499",
        ),
        (
            "application",
            "health_check_matcher: '299-200'",
            "health_check_matcher",
            "between 200 and 499",
        ),
        (
            "application",
            "health_check_protocol: TCP",
            "health_check_protocol",
            '"The TCP protocol is not supported for health checks if the protocol of the target '
            'group is HTTP or HTTPS"',
        ),
        ("application", "health_check_port: '70000'", "health_check_port", "not a port"),
        (
            "network",
            "health_check_matcher: '200'",
            "health_check_matcher",
            'a TCP health check takes no matcher (ELB: "Health check matchers are not supported '
            'for TCP health checks")',
        ),
        ("network", "health_check_interval: 10", "health_check_timeout", "(10 s)"),
        (
            "network",
            "health_check_protocol: HTTP, health_check_matcher: '600'",
            "health_check_matcher",
            "between 200 and 599, which a Network Load Balancer's",
        ),
    ],
)
def test_a_health_check_aws_refuses_is_refused_at_render_naming_the_key(
    write_env: WriteEnv, kind: str, options: str, key: str, says: str
) -> None:
    text = LB.replace("type: TYPE", f"type: {kind}\n      " + options.replace(", ", "\n      "))
    path = write_env(text)
    with pytest.raises((ConfigError, RenderError)) as caught:
        build_plan(load_environment(str(path), "us-west-2"), "us-west-2", stand_in=True)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert f"{path}" in message and f"stacks.lb.params.{key}" in message
    assert says in message


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("application", "health_check_matcher: '200,202,300-302'"),
        ("application", "health_check_interval: 5, health_check_timeout: 2"),
        ("network", "health_check_protocol: HTTP, health_check_matcher: '200-599'"),
        ("network", "health_check_interval: 11"),
    ],
)
def test_a_health_check_aws_takes_renders(write_env: WriteEnv, kind: str, options: str) -> None:
    text = LB.replace("type: TYPE", f"type: {kind}\n      " + options.replace(", ", "\n      "))
    plan = build_plan(
        load_environment(str(write_env(text)), "us-west-2"), "us-west-2", stand_in=True
    )
    assert "lb" in plan.stacks


def test_the_demo_files_load_balancer_renders_as_before_the_new_options() -> None:
    """The new options' defaults are today's (matcher 200-399, thresholds 3/3, no timeout, the
    target group's own protocol): the demo's template is the one rendered before them
    (tests/golden_demo/load_balancer.json, made from the blueprint before this change)."""
    plan = build_plan(load_environment(str(REPO / "stacks" / "demo.yaml")), "us-west-2")
    rendered = json.loads(plan.stacks["load_balancer"].body)
    assert rendered == json.loads(
        (REPO / "tests" / "golden_demo" / "load_balancer.json").read_text()
    )


def _https(certificate: str) -> None:
    """shop-lb serves HTTPS on 443 with `certificate`."""
    lb, tg = _shop_lb()
    _elbv2().create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )


def _capture_to(regions: list[str], client: Any = None) -> Any:
    vpc = boto3.client("ec2", REGION).describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.50.0.0/16"]}]
    )["Vpcs"][0]["VpcId"]
    return capture(
        client or (lambda service: boto3.client(service, REGION)),
        vpc_id=vpc,
        region=REGION,
        name="shop",
        recovery_regions=regions,
        account_id="123456789012",
        stand_in=True,
    )


def _certificate_note(result: Any) -> Any:
    (note,) = [n for n in result.notes if n.property == "Listener 443 Certificates"]
    assert f"# CAPTURE: {note.line()}" in result.text
    return note


def test_an_acm_issued_certificate_is_written_per_region_with_the_request_command() -> None:
    with mock_aws():
        _production()
        arn = boto3.client("acm", REGION).request_certificate(
            DomainName="shop.example.com",
            SubjectAlternativeNames=["shop.example.com", "www.shop.example.com"],
            ValidationMethod="DNS",
        )["CertificateArn"]
        _https(arn)
        result = _capture_to(["us-west-2", "eu-west-1"])
    certificate = yaml.safe_load(result.text)["stacks"]["load_balancer"]["params"]["CertificateArn"]
    assert certificate == {
        "per_region": {
            "us-east-1": arn,
            "us-west-2": "REPLACE-ME: the ARN of an ACM certificate in us-west-2 for "
            "shop.example.com",
            "eu-west-1": "REPLACE-ME: the ARN of an ACM certificate in eu-west-1 for "
            "shop.example.com",
        }
    }
    note = _certificate_note(result)
    assert note.resource == "shop-lb" and not note.unread
    assert f"{arn} (AMAZON_ISSUED) is for shop.example.com, www.shop.example.com" in note.text
    assert "ACM certificates are regional" in note.text
    assert "CertificateArn.per_region.<region>" in note.text
    for region in ("us-west-2", "eu-west-1"):
        assert (
            f"{region}: `aws acm request-certificate --region {region} --domain-name "
            "shop.example.com --subject-alternative-names www.shop.example.com "
            "--validation-method DNS`"
        ) in note.text
    assert "import-certificate" not in note.text


def _self_signed(name: str) -> tuple[bytes, bytes]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime(2026, 1, 1, tzinfo=UTC)  # fixed: the test never depends on the clock
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )


def test_an_imported_certificate_names_the_import_command_for_each_recovery_region() -> None:
    body, key = _self_signed("legacy.example.com")
    with mock_aws():
        _production()
        arn = boto3.client("acm", REGION).import_certificate(Certificate=body, PrivateKey=key)[
            "CertificateArn"
        ]
        _https(arn)
        result = _capture_to(["us-west-2"])
    certificate = yaml.safe_load(result.text)["stacks"]["load_balancer"]["params"]["CertificateArn"]
    assert certificate["per_region"]["us-east-1"] == arn
    assert certificate["per_region"]["us-west-2"].startswith("REPLACE-ME: ")
    note = _certificate_note(result)
    assert f"{arn} (IMPORTED) is for legacy.example.com" in note.text
    assert "import the same certificate, key and chain in each recovery region" in note.text
    assert note.text.endswith(
        "us-west-2: `aws acm import-certificate --region us-west-2 --certificate "
        "fileb://certificate.pem --private-key fileb://private-key.pem --certificate-chain "
        "fileb://certificate-chain.pem`"
    )


class _NoAcm:
    """The home region's clients, but acm:DescribeCertificate refused as IAM refuses it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, service: str) -> Any:
        real = boto3.client(service, REGION)
        if service != "acm":
            return real
        asked = self.asked

        class Refusing:
            def describe_certificate(self, CertificateArn: str) -> Any:
                asked.append(CertificateArn)
                raise ClientError(
                    {
                        "Error": {
                            "Code": "AccessDeniedException",
                            "Message": "User: arn:aws:iam::123456789012:user/capture is not "
                            "authorized to perform: acm:DescribeCertificate on resource: "
                            f"{CertificateArn}",
                        }
                    },
                    "DescribeCertificate",
                )

        return Refusing()


def test_a_certificate_that_cannot_be_read_is_said_so_and_capture_goes_on() -> None:
    refusing = _NoAcm()
    with mock_aws():
        _production()
        arn = boto3.client("acm", REGION).request_certificate(DomainName="shop.example.com")[
            "CertificateArn"
        ]
        _https(arn)
        result = _capture_to(["us-west-2"], refusing)
    assert refusing.asked == [arn]
    note = _certificate_note(result)
    assert note.unread
    assert note.text.startswith(
        f"{arn} could not be read (acm:DescribeCertificate in us-east-1: AccessDeniedException), "
        "so its domains are not known here"
    )
    certificate = yaml.safe_load(result.text)["stacks"]["load_balancer"]["params"]["CertificateArn"]
    assert certificate["per_region"] == {
        "us-east-1": arn,
        "us-west-2": f"REPLACE-ME: the ARN of a certificate in us-west-2 for {arn}'s domains",
    }


def test_the_captured_certificate_renders_for_the_home_region_and_refuses_the_placeholder(
    tmp_path: Path,
) -> None:
    with mock_aws():
        _production()
        arn = boto3.client("acm", REGION).request_certificate(DomainName="shop.example.com")[
            "CertificateArn"
        ]
        _https(arn)
        result = _capture_to(["us-west-2"])
    path = tmp_path / "shop.yaml"
    path.write_text(result.text)
    home = build_plan(load_environment(str(path), REGION), REGION, stand_in=True)
    assert home.stacks["load_balancer"].parameters["CertificateArn"] == arn
    with pytest.raises((ConfigError, RenderError)) as caught:
        build_plan(load_environment(str(path), "us-west-2"), "us-west-2", stand_in=True)
    assert caught.value.exit_code == 2
    assert "stacks.load_balancer.params.CertificateArn" in str(caught.value)
    assert "us-west-2" in str(caught.value)


def test_drift_names_a_health_check_production_changed_after_the_capture(tmp_path: Path) -> None:
    """Drift compares what capture reads: a matcher and an unhealthy threshold changed in
    production after the capture are named by their keys, and nothing else."""
    from test_drift_capture import _capture as _capture_file
    from test_drift_capture import _drift, _found

    path = tmp_path / "shop.yaml"
    with mock_aws():
        _production()
        vpc = boto3.client("ec2", REGION).describe_vpcs(
            Filters=[{"Name": "cidr", "Values": ["10.50.0.0/16"]}]
        )["Vpcs"][0]["VpcId"]
        _capture_file(path, "--vpc", vpc)
        clean, _ = _drift(path)
        _, tg = _shop_lb()
        _elbv2().modify_target_group(
            TargetGroupArn=tg, Matcher={"HttpCode": "200-202"}, UnhealthyThresholdCount=6
        )
        changed, report = _drift(path)
    assert (clean, changed) == (0, 1)
    assert _found(report) == [
        ("stacks.load_balancer.params.health_check_matcher", "changed", "200", "200-202"),
        ("stacks.load_balancer.params.unhealthy_threshold", "changed", 2, 6),
    ]


# ELB's health check rules (docs/aws-behaviours.md L5, L6), played by tests/aws_rules.py ------

REGISTRY = load_registry(BLUEPRINTS)
CODES = st.sampled_from(
    [
        "200",
        "200,202",
        "200-299",
        "200-399",
        "200-499",
        "200-599",
        "300-302,200",
        "199",
        "600",
        "200-",
        "299-200",
        "abc",
        "2000",
    ]
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(["application", "network"]),
    check=st.sampled_from([None, "HTTP", "HTTPS", "TCP"]),
    interval=st.integers(1, 320),
    timeout=st.none() | st.integers(1, 130),
    healthy=st.integers(1, 11),
    unhealthy=st.integers(1, 11),
    matcher=st.none() | CODES,
)
def test_the_blueprint_takes_exactly_the_health_checks_elb_takes(
    kind: str,
    check: str | None,
    interval: int,
    timeout: int | None,
    healthy: int,
    unhealthy: int,
    matcher: str | None,
) -> None:
    """What the blueprint renders ELB creates; what it refuses (naming the key) ELB refuses."""
    options: dict[str, Any] = {
        "type": kind,
        "health_check_interval": interval,
        "healthy_threshold": healthy,
        "unhealthy_threshold": unhealthy,
    }
    given_ = {"health_check_protocol": check, "health_check_timeout": timeout}
    options |= {k: v for k, v in given_.items() if v is not None}
    if matcher is not None:
        options["health_check_matcher"] = matcher
    protocol = "HTTP" if kind == "application" else "TCP"
    raw = {
        "Protocol": protocol,
        "HealthCheckProtocol": check or protocol,
        "HealthCheckIntervalSeconds": interval,
        "HealthyThresholdCount": healthy,
        "UnhealthyThresholdCount": unhealthy,
    }
    if timeout is not None:
        raw["HealthCheckTimeoutSeconds"] = timeout
    if matcher is not None:
        raw["Matcher"] = {"HttpCode": matcher}
    try:
        template = REGISTRY["load_balancer"].render(options).to_dict()
    except OptionError as refused:
        # the key to fix: the one given, or the timeout the file must add (interval 5, say)
        assert refused.path.startswith(("health_check_", "healthy_", "unhealthy_"))
        group = {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": raw}
        with pytest.raises(ClientError):
            aws_rules.target_group_health_check({"TargetGroup": group})
        return
    resources = aws_rules.resolve(template, {"RelightPurpose": "failover"})
    aws_rules.target_group_health_check(resources)  # raises ELB's error otherwise


@pytest.mark.parametrize(
    ("props", "code", "text"),
    [
        (
            {"HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 10},
            "ValidationError",
            "Health check interval must be greater than the timeout.",
        ),
        ({"HealthCheckIntervalSeconds": 5}, "ValidationError", "greater than the timeout"),
        (
            {"Protocol": "TCP", "HealthCheckProtocol": "TCP", "Matcher": {"HttpCode": "200"}},
            "InvalidConfigurationRequest",
            "Health check matchers are not supported for TCP health checks",
        ),
        (
            {"Protocol": "HTTP", "HealthCheckProtocol": "TCP"},
            "InvalidConfigurationRequest",
            "The TCP protocol is not supported for health checks if the protocol of the target "
            "group is HTTP or HTTPS",
        ),
        ({"Matcher": {"HttpCode": "500"}}, "ValidationError", "between 200 and 499"),
        ({"HealthyThresholdCount": 11}, "ValidationError", "less than or equal to 10"),
    ],
)
def test_the_elb_rule_refuses_what_elb_refuses_with_its_code_and_text(
    props: dict[str, Any], code: str, text: str
) -> None:
    group = {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": props}
    with pytest.raises(ClientError) as caught:
        aws_rules.target_group_health_check({"TargetGroup": group})
    assert caught.value.response["Error"]["Code"] == code
    assert text in caught.value.response["Error"]["Message"]


def test_a_wildcard_certificates_command_keeps_its_names_whole_in_a_shell(tmp_path: Path) -> None:
    """The Note's command is pasted into a shell: an unquoted `*.shop.example.com` would be
    expanded into the files that match it. Each name is quoted, so the shell (here bash, in
    a directory holding such a file) hands the AWS CLI the names as ACM gave them."""
    import re
    import shlex
    import subprocess

    with mock_aws():
        _production()
        arn = boto3.client("acm", REGION).request_certificate(
            DomainName="*.shop.example.com",
            SubjectAlternativeNames=["*.shop.example.com", "shop.example.com"],
            ValidationMethod="DNS",
        )["CertificateArn"]
        _https(arn)
        result = _capture_to(["us-west-2"])
    (command,) = re.findall(
        r"us-west-2: `(aws acm request-certificate [^`]*)`", _certificate_note(result).text
    )
    (tmp_path / "www.shop.example.com").write_text("")  # what the glob would match
    shown = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + command.removeprefix("aws ")],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    expected = [
        *("acm", "request-certificate", "--region", "us-west-2"),
        *("--domain-name", "*.shop.example.com"),
        *("--subject-alternative-names", "shop.example.com", "--validation-method", "DNS"),
    ]
    assert shown == expected == shlex.split(command)[1:]
