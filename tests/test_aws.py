"""The one way in to AWS: endpoints, retries, the stand-in's credentials, roles, account checks."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from relight.aws import Aws, AwsTarget, check_account, is_role_arn
from relight.errors import AccountError, AwsError, InputError


def test_the_standard_endpoint_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    client = Aws(AwsTarget()).client("ec2", "us-west-2")
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert "AWS_ENDPOINT_URL" in AwsTarget().describe()


def test_without_it_clients_reach_the_regions_real_endpoint() -> None:
    client = Aws(AwsTarget()).client("cloudformation", "eu-west-1")
    assert client.meta.endpoint_url == "https://cloudformation.eu-west-1.amazonaws.com"
    assert client.meta.config.retries["mode"] == "standard"


def test_the_stand_in_gets_its_endpoint_and_throwaway_credentials() -> None:
    aws = Aws(AwsTarget(endpoint_url="http://127.0.0.1:5999", stand_in=True))
    client = aws.client("ec2", "us-west-2")
    assert client.meta.endpoint_url == "http://127.0.0.1:5999"
    assert aws.session().get_credentials().access_key == "relight-stand-in"
    assert "LOCAL STAND-IN" in aws.target.describe()


def test_clients_are_built_once_per_service_and_region() -> None:
    aws = Aws(AwsTarget())
    assert aws.client("ec2", "us-west-2") is aws.client("ec2", "us-west-2")
    assert aws.client("ec2", "us-west-2") is not aws.client("ec2", "eu-west-1")


def test_an_assumed_role_acts_in_the_recovery_account() -> None:
    with mock_aws():
        role = "arn:aws:iam::210987654321:role/relight-recovery"
        aws = Aws(AwsTarget(role_arn=role))
        assert aws.account_id("us-west-2") == "210987654321"


def test_credentials_for_another_account_are_refused() -> None:
    with mock_aws():
        with pytest.raises(AccountError) as caught:
            check_account(Aws(AwsTarget()), "us-west-2", "999999999999", "stacks/shop.yaml")
        assert "account_id is 999999999999" in str(caught.value)
        assert "act in account 123456789012" in str(caught.value)
        assert caught.value.exit_code == 2
        assert check_account(Aws(AwsTarget()), "us-west-2", "123456789012", "x") == "123456789012"
        assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_the_role_is_checked_against_the_recovery_account_and_sources_use_plain_credentials(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    from conftest import MINIMAL
    from relight.config import load_environment
    from relight.operations import connect

    text = MINIMAL.replace(
        "stand_in: true",
        'account_id: "123456789012"\n'
        "role_arn: arn:aws:iam::210987654321:role/relight\n"
        'recovery_account_id: "210987654321"',
    )
    loaded = load_environment(str(write_env(text)), "us-west-2")
    with mock_aws():
        assert connect(loaded, "us-west-2").account_id == "210987654321"
        assert connect(loaded, "us-east-1", source_side=True).account_id == "123456789012"


def test_a_profile_the_config_does_not_define_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile prod]\nregion = us-west-2\n[default]\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(InputError) as caught:
        Aws(AwsTarget(profile="prdo")).session()
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(
        "AWS profile 'prdo' is not in ~/.aws/config (or AWS_CONFIG_FILE): the profiles there "
        "and in ~/.aws/credentials are default, prod\n"
    )
    assert Aws(AwsTarget(profile="prod")).session().profile_name == "prod"


def test_a_config_file_botocore_cannot_read_stays_an_aws_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile prod\nregion", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(AwsError) as caught:
        Aws(AwsTarget(profile="prod")).session()
    assert not isinstance(caught.value, InputError)
    assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("arn:aws:iam::210987654321:role/relight", True),
        ("arn:aws-us-gov:iam::210987654321:role/dr/relight-recovery", True),
        ("arn:aws-cn:iam::210987654321:role/relight+dr@team", True),
        ("arn:aws:iam::21098765432:role/relight", False),
        ("arn:aws:iam::210987654321:user/relight", False),
        ("arn:aws:iam::210987654321:role/", False),
        ("arn:aws:iam::210987654321:role/has space", False),
        ("relight", False),
    ],
)
def test_a_role_arn_has_an_iam_roles_shape(value: str, ok: bool) -> None:
    assert is_role_arn(value) is ok
