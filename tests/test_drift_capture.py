"""`relight drift` on a captured production: production built with plain boto3 (not by
relight), captured, changed; drift names exactly what changed, by the file's keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from relight.cli import app
from relight.drift.captured import compare, compare_values, notes_by_stack
from relight.drift.differences import CHANGED, NOTE, ONLY_DECLARED, ONLY_LIVE, Difference
from test_capture import REGION, _allow, _production

runner = CliRunner()


def _capture(path: Path, *selector: str) -> None:
    args = ["capture", *selector, "--region", REGION, "--name", "shop", "--out", str(path)]
    result = runner.invoke(app, [*args, "--recovery-region", "us-west-2"])
    assert result.exit_code == 0, result.output


def _drift(path: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["drift", "--env", str(path), "--aws", "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def _found(report: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    return sorted(
        (d["key_path"], d["kind"], d["declared"], d["live"])
        for s in report["stacks"]
        for d in s["differences"]
    )


def test_drift_of_a_captured_production_names_exactly_what_changed(tmp_path: Path) -> None:
    """The issue's done-when: an added security group rule, a changed instance type and a
    removed subnet are reported, and nothing else; before them, no drift (exit 0)."""
    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        ec2 = boto3.client("ec2", REGION)
        ec2.create_tags(Resources=[prod["vpc"]], Tags=[{"Key": "app", "Value": "shop"}])
        _capture(path, "--tag", "app=shop")
        assert "production:\n  tags: {app: shop}" in path.read_text()
        before, clean = _drift(path)

        _allow(ec2, prod["web"], "10.0.0.0/8", 9100, description="metrics")
        # moto does not copy SourceVersion's data into the new version as AWS does, so the
        # new version states all of it
        ec2.create_launch_template_version(
            LaunchTemplateName="shop-web",
            LaunchTemplateData={
                "ImageId": prod["ami"],
                "InstanceType": "t3.large",
                "SecurityGroupIds": [prod["web"]],
                "BlockDeviceMappings": [
                    {"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": prod["data"]}}
                ],
            },
        )
        gone = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.50.21.0/24"]}])
        ec2.delete_subnet(SubnetId=gone["Subnets"][0]["SubnetId"])
        after, report = _drift(path)

    assert before == 0 and not clean["drift"], _found(clean)
    assert clean["production"].startswith("captured production vpc-")
    assert after == 1 and report["drift"]
    rule = {"cidr": "10.0.0.0/8", "port": 9100, "description": "metrics"}
    found = _found(report)
    # the removed subnet, from the blueprint's side too: what a failover will make instead
    ((where, kind, _, note),) = [f for f in found if f[0].endswith("(CAPTURE comment)")]
    assert (where, kind) == ("stacks.network (CAPTURE comment)", ONLY_LIVE)
    assert note.startswith("data tier subnets: no data subnet in use1-az1")
    assert [f for f in found if not f[0].endswith("(CAPTURE comment)")] == [
        ("stacks.network.params.subnets.data", ONLY_DECLARED, "10.50.21.0/24", None),
        ("stacks.security.params.groups.web.ingress", ONLY_LIVE, None, rule),
        ("stacks.web.params.instance_type", CHANGED, "t3.small", "t3.large"),
    ]


def test_the_cli_says_each_difference_by_its_file_key(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _capture(path, "--vpc", prod["vpc"])
        boto3.client("rds", REGION).delete_db_instance(
            DBInstanceIdentifier="shop-orders", SkipFinalSnapshot=True
        )
        result = runner.invoke(app, ["drift", "--env", str(path), "--aws"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"production: captured production {prod['vpc']} in {REGION}" in text
    assert "stacks.database" in text and "in the file, not in production" in text
    assert "drift: " in text and f"shop's home region {REGION}" in text


def test_a_stack_whose_source_is_gone_and_one_production_grew() -> None:
    declared = {"stacks": {"database": {"blueprint": "database", "params": {"engine": "mysql"}}}}
    live = {"stacks": {"api": {"blueprint": "compute", "params": {"instance_type": "t3.micro"}}}}
    stacks = compare(declared, "", live, "", {"database": "shop-orders", "api": "shop-api"})
    described = [d.describe() for s in stacks for d in s.differences]
    assert described == [
        "stacks.database: production no longer has what this stack was captured from",
        "stacks.api: production has a compute stack the file does not declare (shop-api)",
    ]


def test_values_compare_as_a_rebuild_sees_them() -> None:
    assert list(compare_values("p", {"size": "2", "on": "true"}, {"size": 2, "on": True})) == []
    # subnets are listed in AZ order: the same CIDRs in another order is one change
    assert list(compare_values("p.s", ["a", "b"], ["b", "a"])) == [
        ("p.s", ["a", "b"], ["b", "a"], CHANGED)
    ]
    assert list(compare_values("p", {"x": 1}, {"y": 2})) == [
        ("p.x", 1, None, ONLY_DECLARED),
        ("p.y", None, 2, ONLY_LIVE),
    ]
    assert list(compare_values("p", {"a": [1]}, {"a": {"b": 1}})) == [
        ("p.a", [1], {"b": 1}, CHANGED)
    ]


def test_capture_comments_belong_to_the_stack_they_precede() -> None:
    text = (
        "# CAPTURE: vpc-1 CidrBlock: secondary CIDR 10.1.0.0/16 not reproduced\n"
        "name: shop\n"
        "stacks:\n"
        "\n"
        "  # CAPTURE: shop-lb Listener 8081: not reproduced\n"
        "  # a plain comment\n"
        "  load_balancer:\n"
        "    blueprint: load_balancer\n"
        "  web:\n"
        "    params:\n"
        "      # CAPTURE: inner note\n"
        "      x: 1\n"
    )
    assert notes_by_stack(text) == {
        "environment": {"vpc-1 CidrBlock: secondary CIDR 10.1.0.0/16 not reproduced"},
        "load_balancer": {"shop-lb Listener 8081: not reproduced"},
        "web": {"inner note"},
    }


def test_a_new_and_a_resolved_capture_comment_are_drift() -> None:
    doc = {"stacks": {"load_balancer": {"blueprint": "load_balancer", "params": {}}}}
    old = "stacks:\n  # CAPTURE: shop-lb Listener 8081: not reproduced\n  load_balancer:\n"
    new = "stacks:\n  # CAPTURE: shop-lb Listener 9090: not reproduced\n  load_balancer:\n"
    stacks = compare(doc, old, doc, new, {})
    notes = [d for s in stacks for d in s.differences]
    assert [(d.property, d.kind) for d in notes] == [(NOTE, ONLY_LIVE), (NOTE, ONLY_DECLARED)]
    assert notes[0].describe() == (
        "stacks.load_balancer (CAPTURE comment): production now has what the blueprints "
        "cannot reproduce: "
        "shop-lb Listener 9090: not reproduced"
    )


@pytest.mark.parametrize(
    ("production", "message"),
    [
        ("{vpc: vpc-1, tags: {app: shop}}", "give vpc: VPC_ID or tags: {Key: Value}"),
        ("{}", "give vpc: VPC_ID or tags: {Key: Value}"),
        ("{vpc: shop}", "vpc"),
    ],
)
def test_production_names_one_vpc(tmp_path: Path, production: str, message: str) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(
        "name: shop\nhome_region: us-east-1\nobjectives: {rpo: 1h, rto: 1h}\n"
        f"production: {production}\n"
        "stacks:\n  network:\n    blueprint: network\n    params: {cidr: 10.0.0.0/16}\n"
    )
    result = runner.invoke(app, ["drift", "--env", str(path), "--aws"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert str(path.name) in text and "production" in text and message in text


def test_a_difference_keeps_its_file_key_in_json() -> None:
    d = Difference("web", "shop-web", "params", "shop-web", "x", 1, 2, CHANGED, "stacks.web.x")
    assert d.as_dict()["key_path"] == "stacks.web.x"
    assert d.describe() == "stacks.web.x: the file declares 1, production has 2"


def test_what_cannot_be_read_today_is_not_checked_not_a_change(tmp_path: Path) -> None:
    """Route 53 refuses the drift run's read (it answered at capture): drift says the records
    were not checked, and reports no difference for them."""
    from botocore.exceptions import ClientError

    from relight.drift.production import drift_of
    from relight.model.config import load_environment

    def refusing(name: str) -> Any:
        if name == "route53":
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
                "ListHostedZones",
            )
        return boto3.client(name, REGION)

    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _capture(path, "--vpc", prod["vpc"])
        found = drift_of(load_environment(str(path)), refusing, stand_in=False)
    assert found.differences == []
    ((note,),) = [found.notes]
    assert note.startswith("not checked: route53 hosted zones: not read: ")
    assert "AccessDenied" in note


# Item 5 of issue 21: what capture only notes is listed once as "not compared", never as a
# difference; and a per-region value is compared by its home region's entry.

HOME_CERT_DOMAIN = "shop.example.com"
WEST_ARN = "arn:aws:acm:us-west-2:123456789012:certificate/west-2222"


def test_what_capture_only_notes_is_listed_once_as_not_compared(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _capture(path, "--vpc", prod["vpc"])
        written = [
            line.strip().removeprefix("# CAPTURE: ")
            for line in path.read_text().splitlines()
            if line.strip().startswith("# CAPTURE: ")
        ]
        code, report = _drift(path)
        shown = runner.invoke(app, ["drift", "--env", str(path), "--aws", "--home-only"])
    assert code == 0 and not report["drift"], _found(report)
    listed = report["not_compared"]
    assert written and len(listed) == len(set(written)) == len(set(listed))
    assert {item.split(": ", 1)[1] for item in listed} == set(written)
    assert any(i.startswith("stacks.web: ") and "UserData: not captured" in i for i in listed)
    text = " ".join(shown.output.split())
    assert shown.exit_code == 0, shown.output
    assert text.count("not compared:") == 1
    assert f"not compared: {len(listed)} properties capture only notes" in text
    assert "not_compared in `relight drift --json`" in text
    assert "UserData" not in text  # the list is in --json, not on every run's screen


def test_a_noted_property_new_in_production_is_still_a_difference(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _capture(path, "--vpc", prod["vpc"])
        elbv2 = boto3.client("elbv2", REGION)
        (lb,) = elbv2.describe_load_balancers()["LoadBalancers"]
        (tg,) = elbv2.describe_target_groups()["TargetGroups"]
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=8082,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )
        code, report = _drift(path)
    assert code == 1
    ((where, kind, declared, live),) = [f for f in _found(report) if "8082" in str(f[3])]
    assert where.endswith("(CAPTURE comment)") and kind == ONLY_LIVE and declared is None
    assert "Listener 8082" in str(live)
    assert not any("8082" in item for item in report["not_compared"])
    assert report["not_compared"]  # the notes both hold stay listed, not compared


def test_readiness_does_not_turn_noted_properties_into_findings(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from relight.commands.readiness import _drift as readiness_drift
    from relight.model.config import load_environment

    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _capture(path, "--vpc", prod["vpc"])
        loaded = load_environment(str(path))
        aws = SimpleNamespace(
            client=lambda service, region, bounded=False: boto3.client(service, region)
        )
        conn = SimpleNamespace(aws=aws, stand_in=None)
        findings = readiness_drift(loaded, conn, "relight drift --env shop")  # type: ignore[arg-type]
    assert "# CAPTURE: " in path.read_text()
    assert findings == []


def _certificate_listener() -> str:
    """An HTTPS listener on production's load balancer, with an ACM certificate; its ARN."""
    acm = boto3.client("acm", REGION)
    arn: str = acm.request_certificate(DomainName=HOME_CERT_DOMAIN)["CertificateArn"]
    elbv2 = boto3.client("elbv2", REGION)
    (lb,) = elbv2.describe_load_balancers()["LoadBalancers"]
    (tg,) = elbv2.describe_target_groups()["TargetGroups"]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    return arn


def _fill_recovery_certificate(path: Path) -> None:
    """Do what capture's note asks: the recovery region's certificate ARN, in the per-region
    form (capture writes it so; a file captured before writes a plain value: made the home
    region's entry)."""
    import re

    text = path.read_text()
    if "REPLACE-ME" in text and "per_region" in text:
        # the us-west-2 entry under per_region, with the lines a long placeholder wraps onto
        text = re.sub(
            r"(per_region:\n(?:\s+us-east-1: [^\n]*\n)?(\s+)us-west-2: )['\"]?REPLACE-ME[^\n]*"
            r"(?:\n\2\s+[^\n]*)*",
            rf"\g<1>{WEST_ARN}",
            text,
        )
    else:
        text = re.sub(
            r"CertificateArn: (.*)",
            lambda m: (
                "CertificateArn: {per_region: {us-east-1: "
                + (m.group(1) if m.group(1) not in ("", "''") else "''")
                + f", us-west-2: {WEST_ARN}}}}}"
            ),
            text,
        )
    path.write_text(text)


def test_a_filled_in_recovery_regions_certificate_is_not_drift(tmp_path: Path) -> None:
    from relight.model.config import load_environment
    from relight.steps.render import build_plan

    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _certificate_listener()
        _capture(path, "--vpc", prod["vpc"])
        _fill_recovery_certificate(path)
        code, report = _drift(path)
    assert code == 0 and not report["drift"], _found(report)
    loaded = load_environment(str(path))
    (lb,) = [k for k, s in loaded.env.stacks.items() if s.blueprint == "load_balancer"]
    plan = build_plan(loaded, "us-west-2")
    assert plan.stacks[lb].parameters["CertificateArn"] == WEST_ARN


def test_drift_compares_the_home_regions_entry_of_a_per_region_value() -> None:
    home = "arn:aws:acm:us-east-1:123456789012:certificate/home-1111"
    other = "arn:aws:acm:us-east-1:123456789012:certificate/new-3333"

    def doc(entries: dict[str, str]) -> dict[str, Any]:
        return {
            "home_region": REGION,
            "stacks": {"lb": {"params": {"CertificateArn": {"per_region": entries}}}},
        }

    from relight.drift.captured import home_entries

    declared = home_entries(doc({REGION: home, "us-west-2": WEST_ARN}), REGION)
    fresh = home_entries(doc({REGION: home, "us-west-2": "REPLACE-ME: a certificate"}), REGION)
    changed = home_entries(doc({REGION: other, "us-west-2": "REPLACE-ME: a certificate"}), REGION)
    assert [d for s in compare(declared, "", fresh, "", {}) for d in s.differences] == []
    ((difference,),) = [
        s.differences for s in compare(declared, "", changed, "", {}) if s.differences
    ]
    assert difference.key_path == "stacks.lb.params.CertificateArn"
    assert (difference.declared, difference.live, difference.kind) == (home, other, CHANGED)


def test_drift_right_after_capture_of_encrypted_data_compares_and_notes_the_unready_region(
    tmp_path: Path,
) -> None:
    """A fresh capture holds REPLACE-ME placeholders (kms_keys here): drift still compares
    production (exit 0, no difference) and says the recovery region was not checked, rather
    than refusing the file."""
    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        rds = boto3.client("rds", REGION)
        key = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
        rds.create_db_instance(
            DBInstanceIdentifier="shop-ledger",
            Engine="postgres",
            DBInstanceClass="db.t4g.medium",
            DBSubnetGroupName="shop-data",
            AllocatedStorage=20,
            MasterUsername="app",
            MasterUserPassword="not-a-secret-1",
            StorageEncrypted=True,
            KmsKeyId=key,
        )
        _capture(path, "--vpc", prod["vpc"])
        code, report = _drift(path)
    assert "REPLACE-ME" in path.read_text()
    assert code == 0 and not report["drift"], _found(report)
    assert any(
        n.startswith("us-west-2: prepared stacks not checked: ") and "kms_keys.us-west-2" in n
        for n in report["notes"]
    ), report["notes"]


def _leaves_of(value: Any, path: str, where: tuple[Any, ...] = ()) -> Any:
    """(key path as drift names it, the route to the leaf) for every scalar in `value`; a list
    item is named by its list's path (drift compares a list item by item)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves_of(item, f"{path}.{key}", (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from ((path, r) for _, r in _leaves_of(item, path, (*where, index)))
    else:
        yield path, where


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return f"{value}-changed"


def test_every_value_capture_writes_is_compared_by_drift() -> None:
    """Generic over what capture writes (so also over params added later): change any one
    value of a fresh capture's stacks (blueprint, params), zones or artifacts in the file,
    and drift names exactly that key; each stack's `compared` counts all its values."""
    import copy

    import yaml

    from relight.capture import capture
    from relight.drift.captured import home_entries

    with mock_aws():
        prod = _production()
        _certificate_listener()
        fresh = capture(
            lambda service: boto3.client(service, REGION),
            vpc_id=prod["vpc"], region=REGION, name="shop", recovery_regions=["us-west-2"],
        )  # fmt: skip
    live = home_entries(yaml.safe_load(fresh.text), REGION)
    parts = [("zones", live["zones"]), ("artifacts", live.get("artifacts") or {})]
    for key, spec in live["stacks"].items():
        parts += [(f"stacks.{key}.{part}", spec[part]) for part in ("blueprint", "params")]
    routes = [
        (path, (*prefix.split("."), *route))
        for prefix, value in parts
        for path, route in _leaves_of(value, prefix)
    ]
    assert len(routes) > 60, "production's capture has values in every part"
    for path, route in routes:
        declared = copy.deepcopy(live)
        holder = declared
        for step in route[:-1]:
            holder = holder[step]
        holder[route[-1]] = _changed(holder[route[-1]])
        found = [
            d.key_path
            for s in compare(declared, fresh.text, live, fresh.text, fresh.sources)
            for d in s.differences
        ]
        assert found and set(found) == {path}, (path, found)
    stacks = compare(live, fresh.text, live, fresh.text, fresh.sources)
    for stack in stacks[1:]:
        spec = live["stacks"][stack.key]
        count = sum(1 for part in ("blueprint", "params") for _ in _leaves_of(spec[part], ""))
        assert stack.compared == count, stack.key


def test_a_recovery_regions_certificate_placeholder_is_a_note_not_drift(tmp_path: Path) -> None:
    """Not drift (production is the home region's), but said: every run into us-west-2 refuses
    it, and requesting the certificate then needs Route 53's control plane (docs K5)."""
    path = tmp_path / "shop.yaml"
    with mock_aws():
        prod = _production()
        _certificate_listener()
        _capture(path, "--vpc", prod["vpc"])
        before = path.read_text()
        code, report = _drift(path)
    assert code == 0 and not report["drift"], _found(report)
    notes = [n for n in report["notes"] if "REPLACE-ME" in n]
    (note,) = notes
    assert note.startswith("us-west-2: stacks.")
    assert ".params.CertificateArn.per_region.us-west-2: still the placeholder" in note
    assert "before the outage" in note
    assert path.read_text() == before
