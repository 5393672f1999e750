"""The application's secret end to end on the stand-in: its value appears in nothing relight
writes, and a failover into a region that holds no replica of it is refused before any change.

The stand-in story makes the demo's secret (`demo/orders-app`) in us-east-1 with a random value
and replicates it to us-west-2 and eu-west-1. The test reads that value from the stand-in (relight
never does: it calls no GetSecretValue), then scans every output of a demo drill for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import REPO, relight
from relight import standin

pytestmark = pytest.mark.e2e
SECRET = "demo/orders-app"
ACCOUNT = "123456789012"  # moto's, the stand-in's account
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def client(world: dict[str, Any], service: str, region: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, region, endpoint_url=found.endpoint)


def leaks(value: str, outputs: dict[str, str]) -> list[str]:
    """Where (by the output's name) `value` appears."""
    return sorted(where for where, text in outputs.items() if value in text)


def _files(folder: Path, label: str) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        f"{label}/{path.relative_to(folder)}": path.read_bytes().decode("utf-8", "replace")
        for path in folder.rglob("*")
        if path.is_file()
    }


def _aws_outputs(world: dict[str, Any]) -> dict[str, str]:
    """What relight left in the stand-in: every stack's parameters, outputs and template, and
    every object of relight's bucket, in every region of the demo."""
    found: dict[str, str] = {}
    for region in REGIONS:
        cfn = client(world, "cloudformation", region)
        for stack in cfn.describe_stacks()["Stacks"]:
            name = stack["StackName"]
            found[f"{region} stack {name}"] = json.dumps(
                [stack.get("Parameters", []), stack.get("Outputs", [])], default=str
            )
            body = cfn.get_template(StackName=name)["TemplateBody"]
            found[f"{region} template {name}"] = json.dumps(body, default=str)
        s3 = client(world, "s3", region)
        bucket = f"relight-templates-{ACCOUNT}-{region}"
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            continue
        for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
            found[f"s3://{bucket}/{listed['Key']}"] = body.decode("utf-8", "replace")
    return found


def test_no_output_of_a_demo_drill_holds_the_secrets_value(
    world: dict[str, Any], tmp_path: Path
) -> None:
    outputs: dict[str, str] = {}
    for how in ((), ("--json",)):
        label = "drill " + " ".join(how) if how else "drill"
        run = relight(
            world, "drill", "--env", "demo", "--region", "us-west-2",
            "--reports", str(tmp_path / "reports"), *how,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr + run.stdout
        outputs[f"{label}: stdout"], outputs[f"{label}: stderr"] = run.stdout, run.stderr
    value = client(world, "secretsmanager", "us-east-1").get_secret_value(SecretId=SECRET)
    value = value["SecretString"]
    replica = client(world, "secretsmanager", "us-west-2").describe_secret(SecretId=SECRET)
    assert replica["PrimaryRegion"] == "us-east-1", "the story replicated it"
    reports = _files(tmp_path / "reports", "reports")
    assert len([k for k in reports if k.endswith("/report.json")]) == 2
    assert any(k.endswith("/report.md") for k in reports)
    assert any(k.endswith("/report.html") for k in reports)
    outputs.update(reports)
    outputs.update(_aws_outputs(world))
    outputs.update(_files(world["state"], "stand-in state"))  # its log and lint cache
    outputs.update(_files(REPO / ".relight", ".relight"))
    database = next(v for k, v in outputs.items() if k == "us-east-1 stack demo-database")
    assert replica["ARN"].replace(":us-west-2:", ":us-east-1:") in database, (
        "the scan reads the stacks: the home build's database was handed the ARN"
    )
    assert leaks(value, outputs) == []
    # the scan can fail: the value planted in a report is found, and named
    report = next(k for k in reports if k.endswith("/report.json"))
    planted = {**outputs, report: outputs[report].replace('"ok"', f'"{value}"', 1)}
    assert leaks(value, planted) == [report]


def test_a_failover_into_a_region_without_the_replica_is_refused_and_changes_nothing(
    world: dict[str, Any], tmp_path: Path
) -> None:
    relight(world, "local", "status")  # the stand-in runs (its story told by the test above)
    home = client(world, "secretsmanager", "us-east-1")
    cfn = client(world, "cloudformation", "us-west-2")
    home.describe_secret(SecretId=SECRET)  # the story made it (a drill ran first, or fails)
    home.remove_regions_from_replication(SecretId=SECRET, RemoveReplicaRegions=["us-west-2"])
    try:
        before = sorted((s["StackName"], s["StackStatus"]) for s in cfn.describe_stacks()["Stacks"])
        run = relight(world, "failover", "--env", "demo", "--region", "us-west-2", "--yes")
        assert run.returncode == 2, run.stderr + run.stdout
        fix = (
            "aws secretsmanager replicate-secret-to-regions --secret-id demo/orders-app "
            "--add-replica-regions Region=us-west-2,KmsKeyId=alias/relight-demo "
            "--region us-east-1"
        )
        said = " ".join(run.stderr.split())
        assert (
            f"{REPO / 'stacks' / 'demo.yaml'}: stacks.database.params.app_secret: secret "
            "demo/orders-app has no replica in us-west-2" in said
        )
        assert fix in said
        after = sorted((s["StackName"], s["StackStatus"]) for s in cfn.describe_stacks()["Stacks"])
        assert after == before, "nothing was created or changed"
        # readiness, on its schedule, says the same, with the command as its fix
        ready = relight(
            world, "readiness", "--env", "demo", "--region", "us-west-2",
            "--reports", str(tmp_path), "--json",
        )  # fmt: skip
        assert ready.returncode == 1, ready.stderr
        findings = json.loads(ready.stdout)["findings"]
        assert [f["fix"] for f in findings if "app_secret" in f["message"]] == [fix]
    finally:
        home.replicate_secret_to_regions(
            SecretId=SECRET, AddReplicaRegions=[{"Region": "us-west-2"}]
        )
