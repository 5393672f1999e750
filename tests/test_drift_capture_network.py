"""`relight drift` of a captured production reads what capture now reads of the network:
public addresses at launch and production's own tags (issue 21, items 2 and 5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto import mock_aws

REGION = "us-east-1"


def test_drift_compares_what_capture_now_writes_public_ips_and_production_tags(
    tmp_path: Path,
) -> None:
    """Drift reads production as capture does: a VPC tag changed and a public subnet that no
    longer maps public addresses are named by their file keys; before, no drift."""
    from typer.testing import CliRunner

    from relight.cli import app
    from relight.drift.differences import CHANGED, ONLY_DECLARED
    from test_capture import _production as shop

    runner = CliRunner()
    path = tmp_path / "shop.yaml"

    def drift() -> tuple[int, list[tuple[str, str, Any, Any]]]:
        result = runner.invoke(app, ["drift", "--env", str(path), "--aws", "--json"])
        assert result.exit_code in (0, 1), result.output
        report = json.loads(result.stdout)
        found = [
            (d["key_path"], d["kind"], d["declared"], d["live"])
            for s in report["stacks"]
            for d in s["differences"]
        ]
        return result.exit_code, found

    with mock_aws():
        prod = shop()
        ec2 = boto3.client("ec2", REGION)
        ec2.create_tags(
            Resources=[prod["vpc"]],
            Tags=[{"Key": "app", "Value": "shop"}, {"Key": "Team", "Value": "payments"}],
        )
        public = ec2.describe_subnets(
            Filters=[{"Name": "cidr-block", "Values": ["10.50.0.0/24", "10.50.1.0/24"]}]
        )["Subnets"]
        for subnet in public:
            ec2.modify_subnet_attribute(
                SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True}
            )
        args = ["capture", "--tag", "app=shop", "--region", REGION, "--name", "shop"]
        made = runner.invoke(app, [*args, "--out", str(path), "--recovery-region", "us-west-2"])
        assert made.exit_code == 0, made.output
        written = yaml.safe_load(path.read_text())
        assert written["tags"] == {"Team": "payments", "app": "shop"}
        assert written["stacks"]["network"]["params"]["public_ip_on_launch"] == ["public"]
        before, clean = drift()
        ec2.create_tags(Resources=[prod["vpc"]], Tags=[{"Key": "Team", "Value": "billing"}])
        ec2.modify_subnet_attribute(
            SubnetId=public[1]["SubnetId"], MapPublicIpOnLaunch={"Value": False}
        )
        after, found = drift()
    assert (before, clean) == (0, [])
    assert after == 1
    assert ("tags.Team", CHANGED, "payments", "billing") in found
    assert ("stacks.network.params.public_ip_on_launch", ONLY_DECLARED, ["public"], None) in found
