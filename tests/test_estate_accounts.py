"""Reaching an estate's accounts through their roles: the external id sent, the stand-in's
accounts kept apart, the account checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from conftest import MINIMAL, REPO, make_instance_profile
from relight.aws.accounts import as_role
from relight.aws.clients import Aws, AwsTarget, assume_role_session
from relight.cli import app
from relight.errors import AccountError, AwsError
from relight.estate.accounts import connect_env
from relight.model.estate import load_estate
from relight.standin.story import marker_bucket, story_exists

SHOP, PLATFORM = "210987654321", "123456789012"
ROLE = f"arn:aws:iam::{SHOP}:role/relight-estate"
ESTATE = f"""\
name: corp
stand_in: true
administrator: platform
objectives: {{rto: 2h}}
accounts:
  platform: {{id: "{PLATFORM}", role: "arn:aws:iam::{PLATFORM}:role/relight-estate"}}
  shop: {{id: "{SHOP}", role: "{ROLE}", external_id: corp-dr}}
environments:
  hub: {{account: platform}}
  shop: {{account: shop, after: [hub]}}
"""
CREDENTIALS = {
    "AccessKeyId": "ASIAEXAMPLEEXAMPLE",
    "SecretAccessKey": "secret",
    "SessionToken": "token",
    "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
}


def _sts_stubbed(
    stub: Callable[[Stubber], None],
) -> Callable[[Any, str], None]:
    """A `watch` for assume_role_session that puts a Stubber on the STS client it builds."""
    stubbers: list[Stubber] = []

    def watch(client: Any, service: str) -> None:
        stubber = Stubber(client)
        stub(stubber)
        stubber.activate()
        stubbers.append(stubber)

    return watch


def test_the_external_id_is_sent_when_the_role_is_assumed() -> None:
    def stub(stubber: Stubber) -> None:
        stubber.add_response(
            "assume_role",
            {"Credentials": CREDENTIALS},
            {
                "RoleArn": ROLE,
                "RoleSessionName": "relight",
                "DurationSeconds": 43_200,
                "ExternalId": "corp-dr",
            },
        )

    base = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b")
    session = assume_role_session(
        base, ROLE, None, "us-west-2", watch=_sts_stubbed(stub), external_id="corp-dr"
    )
    assert session.get_credentials().access_key == "ASIAEXAMPLEEXAMPLE"


def test_no_external_id_is_sent_without_one() -> None:
    def stub(stubber: Stubber) -> None:
        stubber.add_response(
            "assume_role",
            {"Credentials": CREDENTIALS},
            {"RoleArn": ROLE, "RoleSessionName": "relight", "DurationSeconds": 43_200},
        )

    base = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b")
    assume_role_session(base, ROLE, None, "us-west-2", watch=_sts_stubbed(stub))


def test_a_trust_policy_refusing_the_external_id_names_the_role_and_the_external_id() -> None:
    # STS's answer when the trust policy's sts:ExternalId condition does not match.
    message = (
        f"User: arn:aws:iam::{PLATFORM}:user/oncall is not authorized to perform: "
        f"sts:AssumeRole on resource: {ROLE}"
    )

    def stub(stubber: Stubber) -> None:
        stubber.add_client_error("assume_role", "AccessDenied", message, 403)

    base = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b")
    with pytest.raises(AwsError) as caught:
        assume_role_session(
            base, ROLE, None, "us-west-2", watch=_sts_stubbed(stub), external_id="wrong"
        )
    said = str(caught.value)
    assert f"cannot assume role {ROLE} with external id 'wrong'" in said
    assert "sts:ExternalId condition must match the external id sent" in said


def test_a_stack_role_does_not_inherit_the_estate_roles_external_id() -> None:
    base = Aws(AwsTarget(role_arn=ROLE, external_id="corp-dr"))
    other = as_role(base, f"arn:aws:iam::{PLATFORM}:role/dns", "us-west-2")
    assert other.target.external_id is None


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    (tmp_path / "estates").mkdir()
    (tmp_path / "stacks").mkdir()
    for name, account in (("hub", PLATFORM), ("shop", SHOP)):
        text = MINIMAL.replace("name: shop", f"name: {name}") + f'account_id: "{account}"\n'
        text = text.replace(f"{PLATFORM}:instance-profile", f"{account}:instance-profile")
        text = text.replace("artifacts:\n", "kms_keys: {us-west-2: alias/corp-dr}\nartifacts:\n")
        (tmp_path / "stacks" / f"{name}.yaml").write_text(text, encoding="utf-8")
    path = tmp_path / "estates" / "corp.yaml"
    path.write_text(ESTATE, encoding="utf-8")
    return path


def test_an_environment_in_another_account_is_reached_through_its_role_on_the_stand_in(
    estate: Path, state_dir: Path
) -> None:
    from relight import standin

    loaded = load_estate(str(estate), "us-west-2")
    endpoint = standin.ensure_running(state_dir).endpoint
    for account in (PLATFORM, SHOP):  # what each account's identity stack made before
        role = f"arn:aws:iam::{account}:role/relight-estate"
        aws = Aws(AwsTarget(endpoint_url=endpoint, stand_in=True, role_arn=role))
        # (a client of its session, not of relight's Aws: these calls are not relight's)
        make_instance_profile(aws.session().client("iam", "us-east-1", endpoint_url=endpoint))
    said: list[str] = []
    conn = connect_env(loaded, "shop", "us-west-2", command="failover", say=said.append)
    assert conn.account_id == SHOP
    assert conn.aws.target.role_arn == ROLE and conn.aws.target.external_id == "corp-dr"
    sts = conn.aws.client("sts", "us-west-2")
    assert sts.get_caller_identity()["Arn"].startswith(
        f"arn:aws:sts::{SHOP}:assumed-role/relight-estate/"
    )
    # its story (the simulated production at home) was told in its own account
    assert story_exists(conn.aws, "shop", "us-east-1")
    plain = Aws(AwsTarget(endpoint_url=conn.aws.target.endpoint_url, stand_in=True))
    assert plain.account_id("us-east-1") == PLATFORM
    names = [b["Name"] for b in plain.client("s3", "us-east-1").list_buckets()["Buckets"]]
    assert marker_bucket(SHOP) not in names, "the shop account's bucket is not the platform's"
    assert not story_exists(plain, "shop", "us-east-1")
    # the platform environment, through its own role, in its own account
    hub = connect_env(loaded, "hub", "us-west-2", command="failover")
    assert hub.account_id == PLATFORM
    assert story_exists(hub.aws, "hub", "us-east-1")


def test_a_role_in_another_account_than_the_file_says_is_refused_before_anything_changes(
    estate: Path, state_dir: Path
) -> None:
    from dataclasses import replace

    from relight.commands.connection import connect

    loaded = load_estate(str(estate), "us-west-2")
    other = f"arn:aws:iam::{PLATFORM}:role/relight-estate"
    with pytest.raises(AccountError) as caught:
        connect(replace(loaded.envs["shop"]), "us-west-2", role_arn=other, command="failover")
    assert caught.value.exit_code == 2
    assert f"account_id is {SHOP}, but the credentials act in account {PLATFORM}" in str(
        caught.value
    )


def test_the_cli_still_refuses_a_role_arn_with_the_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("RELIGHT_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(
        app, ["discover", "-e", "demo", "-r", "us-west-2", "--role-arn", ROLE]
    )
    assert result.exit_code == 2
    assert "--profile and --role-arn do not apply to the local stand-in" in result.output
    assert not (tmp_path / "state").exists(), "the stand-in was never started"
