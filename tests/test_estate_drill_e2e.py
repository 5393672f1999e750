"""`relight estate drill` end to end on the stand-in: the demo estate's three environments in
two accounts drilled, the estate report written and saying what happened, and nothing of the
drill namespaces left in either account."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conftest import REPO, relight
from relight import standin

pytestmark = pytest.mark.e2e

DRILL_ID = "e2e-estate"
ACCOUNTS = {"123456789012": "platform", "210987654321": "shop"}


def _stacks_left(endpoint: str, account: str) -> list[str]:
    """The stacks of the drill namespace still there in `account` (through its estate role)."""
    sts = boto3.client("sts", region_name="us-west-2", endpoint_url=endpoint)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/relight-estate", RoleSessionName="e2e-check"
    )["Credentials"]
    cfn = boto3.client(
        "cloudformation",
        region_name="us-west-2",
        endpoint_url=endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert (
        boto3.client(
            "sts",
            region_name="us-west-2",
            endpoint_url=endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        ).get_caller_identity()["Account"]
        == account
    )
    names = []
    for page in cfn.get_paginator("list_stacks").paginate():
        names += [
            s["StackName"] for s in page["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
        ]
    return names


def test_the_demo_estate_drills_reports_and_leaves_nothing_behind(
    world: dict[str, Any], tmp_path: Any
) -> None:
    reports = tmp_path / "reports"
    done = relight(
        world, "estate", "drill", "--estate", "demo", "--region", "us-west-2",
        "--drill-id", DRILL_ID, "--reports", str(reports),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "estate drill passed" in done.stdout
    folder = reports / "estates" / "demo"
    report = json.loads((folder / f"{DRILL_ID}.json").read_text())
    states = {e["name"]: e["state"] for e in report["environments"]}
    assert states == {"shared": "verified", "demo": "verified", "storefront": "verified"}
    assert report["ok"] is True and report["objectives"]["rto_met"] is True
    assert report["rto_path"][0] == "shared" and report["rto_seconds"] > 0
    html = (folder / f"{DRILL_ID}.html").read_text()
    assert html.count('class="bar ok') == 3
    assert (folder / "index.html").exists()
    for env in states:  # each environment's own drill report, linked from the estate's
        own = json.loads((reports / env / DRILL_ID / "report.json").read_text())
        assert own["teardown"]["status"] == "ok" and own["namespace"] == f"drill-{DRILL_ID}"
        assert f"../../{env}/{DRILL_ID}/report.html" in html
    running = standin.find(world["state"])
    assert running is not None
    for account in ACCOUNTS:
        left = [n for n in _stacks_left(running.endpoint, account) if f"-drill-{DRILL_ID}-" in n]
        assert left == [], f"{ACCOUNTS[account]} ({account}) still has {left}"


def test_a_drill_that_fails_stops_its_dependents_and_tears_down_what_it_built(
    world: dict[str, Any], tmp_path: Any
) -> None:
    """shared's security stack fails on the stand-in (an injected fault): shared's drill tears
    down its network, demo and storefront never start, and the report and summary say so."""
    (tmp_path / "estates").mkdir()
    (tmp_path / "stacks").mkdir()
    (tmp_path / "estates" / "demo.yaml").write_text((REPO / "estates" / "demo.yaml").read_text())
    for env in ("demo", "storefront"):
        (tmp_path / "stacks" / f"{env}.yaml").write_text(
            (REPO / "stacks" / f"{env}.yaml").read_text()
        )
    faults = (
        "\nstand_in_faults:\n  resources:\n"
        '    - {stack: "shared-drill-*-security", resource: "*", mode: fail, '
        'message: "injected: no capacity"}\n'
    )
    (tmp_path / "stacks" / "shared.yaml").write_text(
        (REPO / "stacks" / "shared.yaml").read_text() + faults
    )
    reports = tmp_path / "reports"
    failed = relight(
        world, "estate", "drill", "--estate", str(tmp_path / "estates" / "demo.yaml"),
        "--region", "us-west-2", "--drill-id", "e2e-failed", "--reports", str(reports),
    )  # fmt: skip
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "estate drill FAILED" in failed.stdout
    said = " ".join(failed.stdout.split())
    assert "continue the estate with: relight estate drill --estate" in said
    assert "--only shared,demo,storefront --drill-id e2e-failed" in said
    report = json.loads((reports / "estates" / "demo" / "e2e-failed.json").read_text())
    rows = {e["name"]: e for e in report["environments"]}
    assert rows["shared"]["state"] == "failed" and rows["shared"]["teardown"] == "ok"
    assert "injected: no capacity" in rows["shared"]["line"]
    for env in ("demo", "storefront"):
        assert (rows[env]["state"], rows[env]["stopped_by"]) == ("stopped", "shared")
        assert rows[env]["teardown"] == "nothing built"
        assert not (reports / env).exists(), f"{env} never started: no drill, no report"
    html = (reports / "estates" / "demo" / "e2e-failed.html").read_text()
    assert "stopped: after shared, which failed" in html
    running = standin.find(world["state"])
    assert running is not None
    for account in ACCOUNTS:
        left = [n for n in _stacks_left(running.endpoint, account) if "-drill-e2e-failed-" in n]
        assert left == [], f"{ACCOUNTS[account]} ({account}) still has {left}"
