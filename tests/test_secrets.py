"""The application's secret: named by the database stack, replicated before a disaster, handed
to the application as its ARN in the recovery region, never as its value (docs/aws-behaviours.md
S1-S4)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import REPO
from fakes import StubbedAws
from relight.aws.clients import Aws, AwsTarget
from relight.errors import InputError
from relight.model.config import load_environment
from relight.model.environment import ArtifactRef, OutputRef, SecretRef
from relight.steps.discovery import Discovery, find_secrets
from relight.steps.preflight.artifacts import _KeyBook
from relight.steps.preflight.secrets import app_secret_problems
from relight.steps.render import build_plan, placeholder, resolve_parameters

SECRET = "demo/orders-app"
DEMO = (REPO / "stacks" / "demo.yaml").read_text(encoding="utf-8")
WriteEnv = Callable[..., Path]


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(AwsTarget())


def _demo(write_env: WriteEnv, text: str = DEMO) -> Path:
    return write_env(text, "demo")


def _plan(path: Path, region: str = "us-west-2", phase: str = "failover") -> Any:
    return build_plan(load_environment(str(path), region), region, phase=phase)


def _home_secret(replicas: list[dict[str, str]] | None = None) -> str:
    """The secret in the home region (us-east-1), replicated as asked; its ARN there."""
    sm = boto3.client("secretsmanager", "us-east-1")
    arn = str(sm.create_secret(Name=SECRET, SecretString="s3cr3t-value")["ARN"])
    if replicas:
        sm.replicate_secret_to_regions(SecretId=SECRET, AddReplicaRegions=replicas)
    return arn


def _discovery(aws: Aws, plan: Any) -> Discovery:
    found = find_secrets(aws, plan.loaded.env, plan.region)
    return Discovery(region=plan.region, at=datetime.now(UTC), secrets=found)


def _problems(aws: Aws, plan: Any) -> list[str]:
    book = _KeyBook(aws.client("kms", plan.region), plan.region)
    return app_secret_problems(plan, _discovery(aws, plan), book)


# 1. the database stack names the secret ----------------------------------------------------------


def test_an_app_secret_given_as_an_arn_is_refused_because_it_names_one_region(
    write_env: WriteEnv,
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/orders-app-AbCdEf"
    path = _demo(write_env, DEMO.replace(f"app_secret: {SECRET}", f'app_secret: "{arn}"'))
    with pytest.raises(InputError) as caught:
        _plan(path)
    message = str(caught.value)
    assert f"{path}:" in message
    assert "stacks.database.params.app_secret" in message
    assert "is an ARN, and a secret's ARN names one region" in message
    assert "would point at the region that is lost" in message
    assert "give the secret's name" in message
    assert caught.value.exit_code == 2


def test_an_app_secret_with_characters_secrets_manager_refuses_is_refused(
    write_env: WriteEnv,
) -> None:
    path = _demo(write_env, DEMO.replace(f"app_secret: {SECRET}", "app_secret: 'orders app!'"))
    with pytest.raises(InputError) as caught:
        _plan(path)
    assert "stacks.database.params.app_secret" in str(caught.value)
    assert "is not a Secrets Manager secret name" in str(caught.value)


def test_the_database_stack_takes_the_secrets_arn_and_gives_it_to_the_web_tier(
    write_env: WriteEnv,
) -> None:
    plan = _plan(_demo(write_env))
    database, web = plan.stacks["database"], plan.stacks["web"]
    assert database.parameters["AppSecretArn"] == SecretRef(secret=SECRET)
    assert placeholder(database.parameters["AppSecretArn"]) == "${secret:demo/orders-app}"
    template = json.loads(database.body)
    assert template["Outputs"]["AppSecretArn"]["Value"] == {"Ref": "AppSecretArn"}
    assert "secretsmanager" in template["Parameters"]["AppSecretArn"]["AllowedPattern"]
    assert str(web.parameters["AppSecretArn"]) == "stack='database' output='AppSecretArn'"
    script = json.dumps(json.loads(web.body)["Resources"]["LaunchTemplate"])
    assert "APP_SECRET_ARN=%s" in script and "'${AppSecretArn}'" in script


def test_the_file_cannot_give_appsecretarn_itself(write_env: WriteEnv) -> None:
    text = DEMO.replace(
        f"app_secret: {SECRET}\n",
        f"app_secret: {SECRET}\n      AppSecretArn: arn:aws:secretsmanager:x\n",
    )
    with pytest.raises(InputError) as caught:
        _plan(_demo(write_env, text))
    assert "stacks.database.params.AppSecretArn: reserved; relight fills it" in str(caught.value)


def test_the_instance_role_may_read_only_its_secrets_in_the_region_it_runs_in(
    write_env: WriteEnv,
) -> None:
    plan = _plan(_demo(write_env), phase="prepare")
    role = json.loads(plan.stacks["identity"].body)["Resources"]["WebInstanceRole"]
    (policy,) = role["Properties"]["Policies"]
    read, decrypt = policy["PolicyDocument"]["Statement"]
    assert read["Action"] == ["secretsmanager:GetSecretValue"]
    assert read["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:"
            "${AWS::AccountId}:secret:demo/orders-app-??????"
        }
    ]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}
        }
    }


# 2. and 3. the replica in the recovery region --------------------------------------------------


def test_the_stack_is_handed_the_replicas_arn_in_the_region_not_the_home_one(
    aws: Aws, write_env: WriteEnv
) -> None:
    home_arn = _home_secret([{"Region": "us-west-2"}])
    plan = _plan(_demo(write_env))
    found = _discovery(aws, plan)
    assert _problems(aws, plan) == []
    database = plan.stacks["database"]
    refs = database.parameters.values()
    outputs: dict[str, dict[str, str]] = {}
    for ref in refs:
        if isinstance(ref, OutputRef):
            outputs.setdefault(ref.stack, {})[ref.output] = "given"
    artifacts = {ref.key: "given" for ref in refs if isinstance(ref, ArtifactRef)}
    resolved = resolve_parameters(
        database,
        artifact_ids={**found.artifact_ids(), **artifacts},
        zone_names=["us-west-2a"],
        outputs=outputs,
    )
    # S1: the replica's ARN is the primary's with the region changed
    assert resolved["AppSecretArn"] == home_arn.replace(":us-east-1:", ":us-west-2:")
    assert "s3cr3t-value" not in json.dumps(resolved)


def test_a_secret_with_no_replica_in_the_region_is_refused_with_the_command_that_fixes_it(
    aws: Aws, write_env: WriteEnv
) -> None:
    _home_secret([{"Region": "eu-west-1"}])
    path = _demo(write_env)
    for phase in ("prepare", "failover"):  # prepare checks it too, though it builds no database
        plan = _plan(path, phase=phase)
        assert _problems(aws, plan) == [
            f"{path}: stacks.database.params.app_secret: secret demo/orders-app has no replica "
            "in us-west-2; the application would get no secret in us-west-2: run `aws "
            "secretsmanager replicate-secret-to-regions --secret-id demo/orders-app "
            "--add-replica-regions Region=us-west-2,KmsKeyId=alias/relight-demo "
            "--region us-east-1`"
        ]


def test_at_home_the_primary_itself_serves_and_its_absence_says_to_create_it(
    aws: Aws, write_env: WriteEnv
) -> None:
    """A failback (or a test copy) builds in the home region, where the primary lives."""
    path = _demo(write_env)
    assert _problems(aws, _plan(path, "us-east-1")) == [
        f"{path}: stacks.database.params.app_secret: secret demo/orders-app does not exist in "
        "us-east-1: create it there (`aws secretsmanager create-secret --name demo/orders-app "
        "--region us-east-1`), then replicate it to the recovery regions"
    ]
    home_arn = _home_secret()
    plan = _plan(path, "us-east-1")
    assert _problems(aws, plan) == []
    assert _discovery(aws, plan).artifact_ids()[f"secret:{SECRET}"] == home_arn


def test_a_secret_of_the_same_name_that_is_not_the_homes_replica_is_refused(
    aws: Aws, write_env: WriteEnv
) -> None:
    _home_secret()
    boto3.client("secretsmanager", "us-west-2").create_secret(Name=SECRET, SecretString="x")
    path = _demo(write_env)
    (problem,) = _problems(aws, _plan(path))
    assert problem.startswith(
        f"{path}: stacks.database.params.app_secret: secret demo/orders-app in us-west-2 is a "
        "secret of its own, not a replica of us-east-1's primary (arn:aws:secretsmanager:"
        "us-west-2:"
    )
    assert problem.endswith("--region us-east-1 --force-overwrite-replica-secret`")


def test_a_replica_under_a_customer_key_not_enabled_in_the_region_is_refused(
    write_env: WriteEnv,
) -> None:
    """moto 5.2 ignores a replica's KmsKeyId (it answers aws/secretsmanager): a Stubber plays
    DescribeSecret in R as AWS answers for a replica under a customer managed key, and
    DescribeKey in R for that key, Disabled, then Enabled."""
    key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/orders-app-AbCdEf"
    path = _demo(write_env)
    for state in ("Disabled", "Enabled"):
        stubbed = StubbedAws()
        stubbed.stub("secretsmanager", "us-west-2").add_response(
            "describe_secret",
            {"ARN": arn, "Name": SECRET, "PrimaryRegion": "us-east-1", "KmsKeyId": key},
            {"SecretId": SECRET},
        )
        stubbed.stub("kms", "us-west-2").add_response(
            "describe_key", {"KeyMetadata": {"KeyId": key, "KeyState": state}}, {"KeyId": key}
        )
        problems = _problems(stubbed, _plan(path))  # type: ignore[arg-type]
        if state == "Enabled":
            assert problems == []
            continue
        assert problems == [
            f"{path}: stacks.database.params.app_secret: secret demo/orders-app in us-west-2 is "
            f"encrypted with KMS key {key}, which is Disabled there, not Enabled; enable the "
            "key, or replicate it under another; the application would get no secret in "
            "us-west-2: run `aws secretsmanager replicate-secret-to-regions --secret-id "
            "demo/orders-app --add-replica-regions Region=us-west-2,KmsKeyId=alias/relight-demo "
            "--region us-east-1`"
        ]


def test_the_replica_is_asked_of_the_recovery_region_alone_and_its_value_never(
    write_env: WriteEnv,
) -> None:
    """Static stability: DescribeSecret in R (metadata), nothing of the home region, and no
    GetSecretValue (a botocore Stubber fails on any request it was not told of)."""
    stubbed = StubbedAws()
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/orders-app-AbCdEf"
    stubbed.stub("secretsmanager", "us-west-2").add_response(
        "describe_secret",
        {"ARN": arn, "Name": SECRET, "PrimaryRegion": "us-east-1"},
        {"SecretId": SECRET},
    )
    plan = _plan(_demo(write_env))
    found = find_secrets(stubbed, plan.loaded.env, "us-west-2")  # type: ignore[arg-type]
    assert found[SECRET] is not None and found[SECRET].arn == arn
    assert set(stubbed.clients) == {("secretsmanager", "us-west-2")}
    stubbed.stub("secretsmanager", "us-west-2").assert_no_pending_responses()


def test_a_region_secrets_manager_cannot_be_asked_in_is_a_failure_not_a_missing_replica(
    write_env: WriteEnv,
) -> None:
    from relight.errors import AwsError

    stubbed = StubbedAws()
    stubbed.stub("secretsmanager", "us-west-2").add_client_error(
        "describe_secret",
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: "
        "secretsmanager:DescribeSecret",
        http_status_code=400,
    )
    plan = _plan(_demo(write_env))
    with pytest.raises(AwsError) as caught:
        find_secrets(stubbed, plan.loaded.env, "us-west-2")  # type: ignore[arg-type]
    assert "cannot describe secret demo/orders-app in us-west-2" in caught.value.message


# 4. capture records the secret's name -----------------------------------------------------------


def _captured(secrets: dict[str, dict[str, str]]) -> Any:
    """The hand-built production (tests/handbuilt_world.py) with these secrets (name → tags)
    in its region, captured by its tags."""
    from handbuilt_world import REGION, VPC_TAGS, build_world
    from relight.capture import capture, find_vpc

    build_world()
    sm = boto3.client("secretsmanager", REGION)
    for name, tags in secrets.items():
        sm.create_secret(
            Name=name,
            SecretString=f"value-of-{name}",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    def factory(service: str) -> Any:
        return boto3.client(service, REGION)

    return capture(
        factory,
        vpc_id=find_vpc(factory, VPC_TAGS),
        region=REGION,
        name="shop",
        recovery_regions=["us-west-2"],
        tags=VPC_TAGS,
    )


def test_capture_names_the_one_secret_tagged_as_production_as_the_databases_app_secret() -> None:
    import yaml

    with mock_aws():
        result = _captured(
            {
                "shop/app": {"team": "shop", "env": "prod"},
                "shop/staging-app": {"team": "shop", "env": "staging"},  # not production's
            }
        )
    written = yaml.safe_load(result.text)
    database = written["stacks"]["database"]["params"]
    assert database["app_secret"] == "shop/app"
    computes = [s for s in written["stacks"].values() if s["blueprint"] == "compute"]
    assert computes and all(
        s["params"]["AppSecretArn"] == {"output": "database.AppSecretArn"} for s in computes
    )
    roles = written["stacks"]["identity"]["params"]["instance_roles"]
    assert roles and all(role["secrets"] == ["shop/app"] for role in roles.values())
    assert "# CAPTURE: secrets app_secret: shop/app (tagged team=shop, env=prod)" in result.text
    assert "value-of-" not in result.text
    assert "value-of-" not in json.dumps(result.ledger, default=str)


def test_capture_notes_several_tagged_secrets_instead_of_choosing_one() -> None:
    import yaml

    with mock_aws():
        result = _captured(
            {
                "shop/app": {"team": "shop", "env": "prod"},
                "shop/api": {"team": "shop", "env": "prod"},
            }
        )
    assert "app_secret" not in yaml.safe_load(result.text)["stacks"]["database"]["params"]
    assert (
        "# CAPTURE: secrets app_secret: secrets tagged team=shop, env=prod: shop/api, shop/app; "
        "name the one each database's application reads as its app_secret" in result.text
    )


def test_an_rds_managed_master_password_is_noted_by_name_never_taken_as_the_app_secret() -> None:
    """DescribeDBInstances' MasterUserSecret, as RDS documents it (moto does not manage master
    passwords): the note names the secret, and says a restore keeps the snapshot's password."""
    from relight.capture.common import Note
    from relight.capture.databases import _managed_password

    notes: list[Note] = []
    db = {
        "DBInstanceIdentifier": "orders",
        "MasterUserSecret": {
            "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
            "rds!db-0123abcd-4567-89ef-0123-456789abcdef-AbC123",
            "SecretStatus": "active",
        },
    }
    _managed_password(db, "orders", notes)
    (note,) = notes
    assert note.property == "MasterUserSecret"
    assert note.text.startswith(
        "the master password is an RDS-managed secret "
        "(rds!db-0123abcd-4567-89ef-0123-456789abcdef) in the home region only: the restored "
        "database keeps the snapshot's password, and relight does not name RDS's secret as "
        "app_secret"
    )
    _managed_password({"DBInstanceIdentifier": "plain"}, "plain", notes)
    assert len(notes) == 1, "no note for a password RDS does not manage"
