"""What capture left as REPLACE-ME for a recovery region is refused before the outage, at
every rung: prepare, plan and readiness look at every stack's entries for the region, not
only the stacks the phase builds. At backup_restore prepare builds no load balancer, yet its
certificate must exist in the region before a failover ("you must request or import a
certificate for each region", ACM), and requesting one then means DNS validation through
Route 53, whose control plane is in us-east-1 (docs/aws-behaviours.md K5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from conftest import BLUEPRINTS, NETWORK_AND_SECURITY
from relight.cli import app

RUNNER = CliRunner()
WriteEnv = Callable[..., Path]
HOME_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/home-1111"
KEY = "stacks.lb.params.CertificateArn.per_region.us-west-2: still the placeholder"


def _env(strategy: str) -> str:
    return f"""\
name: shop
home_region: us-east-1
recovery_regions: [us-west-2]
strategy: {strategy}
blueprints_dir: {BLUEPRINTS}
objectives: {{rpo: 4h, rto: 1h}}
zones: {{count: 2}}
stacks:
{NETWORK_AND_SECURITY}  lb:
    blueprint: load_balancer
    params:
      VpcId: {{output: network.VpcId}}
      SubnetIds: {{output: network.PublicSubnetIds}}
      SecurityGroupId: {{output: security.WebSecurityGroupId}}
      CertificateArn: {{per_region: {{us-east-1: {HOME_ARN}, us-west-2: 'REPLACE-ME: request it'}}}}
"""


def _nothing_made() -> bool:
    cfn = boto3.client("cloudformation", "us-west-2").list_stacks()["StackSummaries"]
    buckets = boto3.client("s3", "us-west-2").list_buckets()["Buckets"]
    roles = boto3.client("iam", "us-east-1").list_roles()["Roles"]
    return cfn == [] and buckets == [] and roles == []


@pytest.mark.parametrize("rung", ["backup_restore", "pilot_light", "warm_standby"])
def test_prepare_at_every_rung_refuses_a_certificate_placeholder_and_makes_nothing(
    write_env: WriteEnv, rung: str
) -> None:
    path = write_env(_env(rung))
    with mock_aws():
        result = RUNNER.invoke(
            app, ["prepare", "--env", str(path), "--region", "us-west-2", "--aws", "--yes"]
        )
        untouched = _nothing_made()
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert path.name in text and KEY in text
    assert untouched, "prepare refused before any stack, bucket or role"


def test_plan_at_backup_restore_refuses_the_placeholder_with_exit_2(write_env: WriteEnv) -> None:
    path = write_env(_env("backup_restore"))
    with mock_aws():
        result = RUNNER.invoke(app, ["plan", "--env", str(path), "--region", "us-west-2", "--aws"])
        untouched = _nothing_made()
    assert result.exit_code == 2, result.output
    assert KEY in " ".join(result.output.split())
    assert untouched


def test_readiness_names_the_placeholder_as_a_finding_to_fill_before_the_outage(
    write_env: WriteEnv, tmp_path: Path
) -> None:
    path = write_env(_env("backup_restore"))
    reports = tmp_path / "reports"
    with mock_aws():
        result = RUNNER.invoke(
            app,
            [
                *("readiness", "--env", str(path), "--region", "us-west-2", "--aws"),
                *("--json", "--reports", str(reports)),
            ],
        )
        untouched = _nothing_made()
    assert result.exit_code == 1, result.output
    shown = json.loads(result.stdout)
    assert shown["ready"] is False and shown["checks"]["preflight"] == "error"
    (finding,) = shown["findings"]
    assert finding["severity"] == "error"
    assert finding["message"].startswith(f"{path}:") and KEY in finding["message"]
    assert finding["fix"].startswith("before the outage") and str(path) in finding["fix"]
    assert shown["checks"]["artifacts"] == "not checked"
    assert untouched, "readiness changes nothing"
