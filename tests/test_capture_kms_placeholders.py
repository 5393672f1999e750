"""Capture writes `kms_keys` placeholders for encrypted artifacts (issue 21, item 4): one per
recovery region, naming the artifacts and their home key, and a CAPTURE note saying replicate
needs them. replicate, render, prepare, failover and drill refuse a placeholder with exit 2 before
any AWS change; filled in with a key of the region, replicate copies with it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

from relight.capture import capture
from relight.cli import app
from test_capture import REGION, _production

RUNNER = CliRunner()
WEST = "us-west-2"


def _encrypt(prod: dict[str, Any], *, multi_region: bool = False) -> str:
    """Production's data is encrypted with its own key: a newer data-volume snapshot of an
    encrypted volume, and an encrypted database with its nightly snapshot. The key's ARN."""
    kms = boto3.client("kms", REGION)
    key = kms.create_key(Description="shop data", MultiRegion=multi_region)["KeyMetadata"]["Arn"]
    ec2 = boto3.client("ec2", REGION)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=10, Encrypted=True, KmsKeyId=key)
    ec2.create_snapshot(
        VolumeId=volume["VolumeId"],
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "web-data"}]}
        ],
    )
    rds = boto3.client("rds", REGION)
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
    for db in ("shop-orders", "shop-ledger"):
        rds.create_db_snapshot(DBSnapshotIdentifier=f"{db}-nightly", DBInstanceIdentifier=db)
    return str(key)


def test_capture_writes_a_placeholder_per_recovery_region_naming_artifacts_and_home_key() -> None:
    with mock_aws():
        prod = _production()
        key = _encrypt(prod)
        client = lambda service: boto3.client(service, REGION)  # noqa: E731
        given = capture(
            client, vpc_id=prod["vpc"], region=REGION, name="shop",
            recovery_regions=[WEST, "eu-west-1"],
        )  # fmt: skip
        none_given = capture(
            client, vpc_id=prod["vpc"], region=REGION, name="shop", recovery_regions=[]
        )
    doc = yaml.safe_load(given.text)
    assert set(doc["kms_keys"]) == {WEST, "eu-west-1"}
    for region, placeholder in doc["kms_keys"].items():
        assert placeholder.startswith(f"REPLACE-ME: a KMS key in {region} for ")
        assert "web_data (EBS snapshots)" in placeholder
        assert "shop_ledger_db (DB snapshots of DB shop-ledger)" in placeholder
        assert "shop_orders" not in placeholder  # not encrypted: no key needed
        assert f"home key(s) {key}" in placeholder
        assert f"aws kms create-key --region {region}" in placeholder
    (note,) = [n for n in given.notes if n.resource == "kms_keys"]
    assert f"# CAPTURE: {note.line()}" in given.text
    assert "replicate copies them into each recovery region" in note.text
    assert "kms_keys" not in yaml.safe_load(none_given.text)
    assert "# kms_keys:  # one per recovery region (--recovery-region)" in none_given.text
    assert re.search(r"^#   REGION: REPLACE-ME: a KMS key in REGION", none_given.text, re.M)


def test_nothing_encrypted_writes_no_kms_keys() -> None:
    with mock_aws():
        prod = _production()
        found = capture(
            lambda service: boto3.client(service, REGION),
            vpc_id=prod["vpc"], region=REGION, name="shop", recovery_regions=[WEST],
        )  # fmt: skip
    assert "kms_keys" not in found.text and not any(n.resource == "kms_keys" for n in found.notes)


def _copies_in_west() -> list[Any]:
    ec2 = boto3.client("ec2", WEST)
    rds = boto3.client("rds", WEST)
    return [
        *ec2.describe_snapshots(Filters=[{"Name": "tag-key", "Values": ["relight:copy"]}])[
            "Snapshots"
        ],
        *ec2.describe_images(Owners=["self"])["Images"],
        *rds.describe_db_snapshots()["DBSnapshots"],
    ]


def test_every_run_into_the_region_refuses_the_placeholder_then_replicate_copies_with_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stacks" / "shop.yaml"
    with mock_aws():
        prod = _production()
        _encrypt(prod)
        args = ["--vpc", prod["vpc"], "--region", REGION, "--name", "shop", "--out", str(path)]
        captured = RUNNER.invoke(app, ["capture", *args, "--recovery-region", WEST])
        assert captured.exit_code == 0, captured.output
        env = ["--env", str(path), "--aws"]
        runs = {
            "replicate": ["replicate", *env, "--from", REGION, "--to", WEST],
            "render": [
                "render",
                "--env",
                str(path),
                "--region",
                WEST,
                "--out",
                str(tmp_path / "r"),
            ],
            "prepare": ["prepare", *env, "--region", WEST, "--yes"],
            "failover": ["failover", *env, "--region", WEST, "--yes"],
            "drill": ["drill", *env, "--region", WEST, "--reports", str(tmp_path / "reports")],
        }
        refused = {name: RUNNER.invoke(app, argv) for name, argv in runs.items()}
        stacks = boto3.client("cloudformation", WEST).list_stacks()["StackSummaries"]
        buckets = boto3.client("s3", WEST).list_buckets()["Buckets"]
        before = _copies_in_west()

        west_key = boto3.client("kms", WEST).create_key()["KeyMetadata"]["Arn"]
        text = path.read_text()
        text = re.sub(rf"^  {WEST}: '?REPLACE-ME.*$", f"  {WEST}: {west_key}", text, flags=re.M)
        path.write_text(text)
        replicated = RUNNER.invoke(app, runs["replicate"])
        snapshots = boto3.client("ec2", WEST).describe_snapshots(
            Filters=[{"Name": "tag-key", "Values": ["relight:copy"]}]
        )["Snapshots"]
        db_copies = boto3.client("rds", WEST).describe_db_snapshots()["DBSnapshots"]
    for name, result in refused.items():
        assert result.exit_code == 2, (name, result.output)
        said = " ".join(result.output.split())
        assert str(path) in said.replace(" ", "") or path.name in said, (name, said)
        assert f"kms_keys.{WEST}: still the placeholder capture wrote" in said, (name, said)
        assert f"aws kms create-key --region {WEST}" in said, (name, said)
    assert stacks == [] and buckets == [] and before == [], "nothing was made in us-west-2"
    assert replicated.exit_code == 0, replicated.output
    data = [s for s in snapshots if s.get("Encrypted")]
    assert data and all(s.get("KmsKeyId") == west_key for s in data)
    ledger = [s for s in db_copies if "shop-ledger" in s["DBSnapshotIdentifier"]]
    assert ledger and all(s.get("KmsKeyId") == west_key for s in ledger)


@pytest.mark.parametrize("multi_region", [True, False])
def test_replicate_key_is_offered_only_for_a_multi_region_key_with_its_id_and_region(
    tmp_path: Path, multi_region: bool
) -> None:
    """ReplicateKey replicates a multi-Region primary key (KeyId: its id or ARN), called in
    its own region; whether a key is multi-Region is fixed at CreateKey ("You cannot change
    this value after you create the KMS key"). So the placeholder, and the refusal of every
    run into the region, give the home key's own replicate-key command for an `mrk-` key,
    and for a single-Region key only create-key and create-alias (docs K6)."""
    path = tmp_path / "stacks" / "shop.yaml"
    with mock_aws():
        prod = _production()
        key = _encrypt(prod, multi_region=multi_region)
        args = ["--vpc", prod["vpc"], "--region", REGION, "--name", "shop", "--out", str(path)]
        captured = RUNNER.invoke(app, ["capture", *args, "--recovery-region", WEST])
        assert captured.exit_code == 0, captured.output
        before = path.read_text()
        refused = RUNNER.invoke(
            app, ["render", "--env", str(path), "--region", WEST, "--out", str(tmp_path / "r")]
        )
    key_id = key.rsplit("/", 1)[1]
    assert key_id.startswith("mrk-") is multi_region
    placeholder = yaml.safe_load(before)["kms_keys"][WEST]
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert "kms_keys.us-west-2" in said and path.name in said and "HOME_KEY_ID" not in said
    replicate = f"aws kms replicate-key --key-id {key_id} --region {REGION} --replica-region {WEST}"
    for text in (placeholder, said):
        assert f"aws kms create-key --region {WEST}" in text
        assert f"aws kms create-alias --region {WEST} --alias-name alias/relight-dr" in text
        if multi_region:
            assert replicate in text
        else:
            assert "replicate-key" not in text
            assert f"{key} is a single-Region key, which cannot be replicated" in text
    assert path.read_text() == before and not (tmp_path / "r").exists()
