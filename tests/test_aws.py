"""The one way in to AWS: endpoints, retries, the stand-in's credentials, roles, account checks."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from relight.aws.clients import Aws, AwsTarget, check_account
from relight.errors import AccountError, AwsError, InputError
from relight.model.values import is_role_arn


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
    from relight.commands.connection import connect
    from relight.model.config import load_environment

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


# Every call counted, at the one way in ----------------------------------------------------------


class CountingMoto:
    """moto's server on 127.0.0.1 (what the stand-in runs), counting the requests it receives
    per service, as the request's signature names it (its credential scope)."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self.received: Counter[str] = Counter()

        def counted(environ: dict[str, Any], start_response: Any) -> Any:
            signed = environ.get("HTTP_AUTHORIZATION", "")
            scope = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", signed)
            if scope:  # a request signed for a service (moto's own reset call is not)
                self.received[scope.group(1)] += 1
            return app(environ, start_response)

        self.server = make_server(
            "127.0.0.1", 0, counted, threaded=True, request_handler=MotoRequestHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def counting_moto() -> Iterator[CountingMoto]:
    import urllib.request

    server = CountingMoto()
    yield server
    # moto's backends live in this process: forget what the test made (moto's reset call)
    urllib.request.urlopen(urllib.request.Request(f"{server.url}/moto-api/reset", method="POST"))
    server.close()


def test_every_request_of_a_failover_is_counted_verifications_included(
    write_env: Any, counting_moto: CountingMoto
) -> None:
    """Discovery, deploy and verification on moto's server: the counter says what the
    endpoint received, per service, where CloudFormation's own count saw only the deploy."""
    from datetime import UTC, datetime

    from conftest import MINIMAL, make_instance_profile
    from relight.aws.cloudformation import Stacks
    from relight.model.config import load_environment
    from relight.steps.deploy import deploy
    from relight.steps.discovery import discover
    from relight.steps.preflight import instance_types
    from relight.steps.render import build_plan
    from relight.steps.verify import verified, verify

    aws = Aws(AwsTarget(endpoint_url=counting_moto.url))
    # the test's own setup, not relight's calls (the call log checks relight's against its table)
    make_instance_profile(boto3.client("iam", "us-east-1", endpoint_url=counting_moto.url))
    counting_moto.received.clear()  # what relight's Aws sends is counted from here
    ec2 = aws.client("ec2", "us-west-2")  # the backups a failover restores from
    image = ec2.register_image(Name="web-1", RootDeviceName="/dev/xvda")["ImageId"]
    volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.create_tags(Resources=[image], Tags=[{"Key": "Role", "Value": "web"}])
    ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "Role", "Value": "web-data"}])

    loaded = load_environment(str(write_env(MINIMAL)), "us-west-2")
    plan = build_plan(loaded, "us-west-2")
    now = lambda: datetime.now(UTC)  # noqa: E731
    found = discover(
        aws,
        loaded.env,
        "us-west-2",
        account_id="123456789012",
        now=now,
        instance_types=instance_types(plan),
    )
    stacks = Stacks(aws.client("cloudformation", "us-west-2"), timeout=30)
    outcome = deploy(stacks, plan, found, run_id="count")
    assert outcome.ok, outcome.failed()
    checks = verify(aws, plan, found, outcome, stand_in=False, sleep=lambda _: None)
    assert verified(checks)

    assert aws.calls == dict(counting_moto.received)
    assert aws.total_calls == sum(counting_moto.received.values())
    assert aws.retries == 0
    assert aws.calls["cloudformation"] > stacks.calls == outcome.api_calls, (
        "verification's ListStackResources are counted too"
    )
    assert list(aws.calls) == sorted(aws.calls, key=lambda s: -aws.calls[s]), "most first"


def test_clients_of_one_aws_share_its_counter_across_threads() -> None:
    with mock_aws():
        aws = Aws(AwsTarget())
        workers = [
            threading.Thread(target=lambda: aws.client("sts", "us-west-2").get_caller_identity())
            for _ in range(8)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        aws.client("ec2", "eu-west-1").describe_availability_zones()
    assert aws.calls == {"sts": 8, "ec2": 1}
    assert aws.total_calls == 9
