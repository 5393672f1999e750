"""Per-region values: `{per_region: {REGION: VALUE}}` resolves to the target region's entry
when a plan is built; a region without an entry, or an entry still capture's REPLACE-ME, is
refused (exit 2) naming the file, the stack, the param and the region, before any AWS call."""

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
from relight.errors import ConfigError
from relight.model.config import load_environment
from relight.model.per_region import PerRegion
from relight.steps.render import build_plan, lint_plan

RUNNER = CliRunner()
WriteEnv = Callable[..., Path]

HOME_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/home-1111"
WEST_ARN = "arn:aws:acm:us-west-2:123456789012:certificate/west-2222"


def _env(certificate: str) -> str:
    """An environment whose load balancer serves HTTPS with `certificate` (YAML text)."""
    return f"""\
name: shop
home_region: us-east-1
recovery_regions: [us-west-2, eu-west-1]
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
      CertificateArn: {certificate}
"""


FILLED = f"{{per_region: {{us-east-1: {HOME_ARN}, us-west-2: {WEST_ARN}}}}}"


def test_a_per_region_value_is_the_target_regions_entry(write_env: WriteEnv) -> None:
    loaded = load_environment(str(write_env(_env(FILLED))))
    assert loaded.env.stacks["lb"].params["CertificateArn"] == PerRegion(
        per_region={"us-east-1": HOME_ARN, "us-west-2": WEST_ARN}
    )
    for region, arn in (("us-east-1", HOME_ARN), ("us-west-2", WEST_ARN)):
        plan = build_plan(loaded, region)
        assert plan.stacks["lb"].parameters["CertificateArn"] == arn
        template = json.loads(plan.stacks["lb"].body)
        assert any(
            r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
            and r["Properties"].get("Protocol") == "HTTPS"
            for r in template["Resources"].values()
        )
    home = build_plan(loaded, "us-east-1", purpose="home")
    assert home.stacks["lb"].parameters["CertificateArn"] == HOME_ARN
    assert lint_plan(build_plan(loaded, "us-west-2"))["lb"] == []


@pytest.mark.parametrize(
    ("value", "region", "says"),
    [
        (
            FILLED,
            "eu-west-1",
            "stacks.lb.params.CertificateArn: per_region has no entry for eu-west-1 (it has "
            "us-east-1, us-west-2): add `eu-west-1: VALUE`",
        ),
        (
            f"{{per_region: {{us-east-1: {HOME_ARN}, us-west-2: 'REPLACE-ME: a certificate "
            "for shop.example.com in us-west-2'}}",
            "us-west-2",
            "stacks.lb.params.CertificateArn.per_region.us-west-2: still the placeholder "
            "capture wrote (REPLACE-ME: a certificate for shop.example.com in us-west-2): "
            "replace it with the value in us-west-2",
        ),
    ],
)
def test_a_region_without_a_real_entry_is_refused_by_file_stack_param_and_region(
    write_env: WriteEnv, value: str, region: str, says: str
) -> None:
    path = write_env(_env(value))
    loaded = load_environment(str(path))
    with pytest.raises(ConfigError) as caught:
        build_plan(loaded, region)
    assert str(path) in str(caught.value)
    assert says in " ".join(str(caught.value).split())
    assert build_plan(loaded, "us-east-1").stacks["lb"].parameters["CertificateArn"] == HOME_ARN


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{per_region: {us-west-9: x}}", "'us-west-9' is not an AWS region"),
        ("{per_region: {}}", "per_region names at least one region and its value"),
        ("{per_region: arn}", "per_region maps each region to its value"),
        ("{per_region: {us-west-2: {a: b}}}", "per_region.us-west-2: a value per region is"),
    ],
)
def test_a_malformed_per_region_value_is_refused_when_the_file_loads(
    write_env: WriteEnv, value: str, says: str
) -> None:
    path = write_env(_env(value))
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path))
    text = " ".join(str(caught.value).split())
    assert str(path) in text and "stacks.lb.params.CertificateArn" in text and says in text


def test_a_per_region_option_is_refused_it_shapes_the_template(write_env: WriteEnv) -> None:
    """An option shapes the template (one template serves every region): it takes a literal,
    the Jinja form `{{ region }}` being the home for an option that differs per region."""
    text = _env(FILLED).replace(
        "      VpcId:", "      idle_timeout: {per_region: {us-east-1: 60}}\n      VpcId:"
    )
    with pytest.raises(ConfigError) as caught:
        load_environment(str(write_env(text)))
    assert "stacks.lb.params.idle_timeout" in str(caught.value)
    assert "takes a literal value, not a reference" in str(caught.value)


def test_render_and_failover_refuse_a_placeholder_entry_with_exit_2_and_change_nothing(
    write_env: WriteEnv, tmp_path: Path
) -> None:
    value = f"{{per_region: {{us-east-1: {HOME_ARN}, us-west-2: 'REPLACE-ME: import one'}}}}"
    path = write_env(_env(value))
    out = tmp_path / "rendered"
    with mock_aws():
        rendered = RUNNER.invoke(
            app, ["render", "--env", str(path), "--region", "us-west-2", "--out", str(out)]
        )
        failover = RUNNER.invoke(
            app, ["failover", "--env", str(path), "--region", "us-west-2", "--aws", "--yes"]
        )
        stacks = boto3.client("cloudformation", "us-west-2").list_stacks()["StackSummaries"]
        buckets = boto3.client("s3", "us-west-2").list_buckets()["Buckets"]
    for result in (rendered, failover):
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert str(path.name) in text
        assert "stacks.lb.params.CertificateArn.per_region.us-west-2: still the placeholder" in text
    assert not out.exists() or not any(out.iterdir())
    assert stacks == [] and buckets == []


def test_the_jinja_form_is_the_other_home_of_a_per_region_value(write_env: WriteEnv) -> None:
    text = _env(
        "\"{{ {'us-east-1': '" + HOME_ARN + "', 'us-west-2': '" + WEST_ARN + "'}[region] }}\""
    )
    path = write_env(text)
    for region, arn in (("us-east-1", HOME_ARN), ("us-west-2", WEST_ARN)):
        plan = build_plan(load_environment(str(path), region), region)
        assert plan.stacks["lb"].parameters["CertificateArn"] == arn


def test_a_certificate_or_key_of_another_region_is_refused_as_a_regions_entry(
    write_env: WriteEnv,
) -> None:
    """ACM certificates and KMS keys are regional (docs/aws-behaviours.md K4, K5): the home
    certificate pasted as the recovery region's entry would fail the failover's listener."""
    pasted = f"{{per_region: {{us-east-1: {HOME_ARN}, us-west-2: {HOME_ARN}}}}}"
    path = write_env(_env(pasted))
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path))
    text = " ".join(str(caught.value).split())
    assert str(path) in text
    assert (
        f"stacks.lb.params.CertificateArn: per_region.us-west-2: {HOME_ARN} is an ACM "
        "certificate in us-east-1, not us-west-2: certificates are regional, so us-west-2 needs "
        "its own (aws acm import-certificate or request-certificate --region us-west-2)"
    ) in text

    home_key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    keyed = _env(FILLED).replace("stacks:\n", f"kms_keys: {{us-west-2: '{home_key}'}}\nstacks:\n")
    with pytest.raises(ConfigError) as caught:
        load_environment(str(write_env(keyed, name="keyed")))
    text = " ".join(str(caught.value).split())
    assert f"kms_keys: us-west-2: {home_key} is a KMS key in us-east-1, not us-west-2" in text


@pytest.mark.parametrize("key", ["", "relight copies in us-west-2", "my-key"])
def test_a_kms_keys_entry_that_is_not_a_key_is_refused_when_the_file_loads(
    write_env: WriteEnv, key: str
) -> None:
    """KMS takes a key id, a key ARN, an alias name or an alias ARN (K7); a description or an
    empty value would pass validation and fail replicate half-way, copying nothing."""
    text = _env_with_kms_key(key)
    with pytest.raises(ConfigError) as caught:
        load_environment(str(write_env(text)), "us-west-2")
    message = str(caught.value)
    assert "kms_keys" in message and "is not a KMS key" in message, message
    assert "alias/NAME" in message, "names the forms it takes"


@pytest.mark.parametrize(
    "key",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/shop-dr",
        "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-west-2:111122223333:alias/shop-dr",
    ],
)
def test_each_form_kms_takes_is_a_kms_keys_entry(write_env: WriteEnv, key: str) -> None:
    loaded = load_environment(str(write_env(_env_with_kms_key(key))), "us-west-2")
    assert loaded.env.kms_keys["us-west-2"] == key


def _env_with_kms_key(key: str) -> str:
    quoted = json.dumps(key)
    return (
        "name: shop\nhome_region: us-east-1\nrecovery_regions: [us-west-2]\n"
        "objectives: {rpo: 24h, rto: 4h}\n"
        f"kms_keys: {{us-west-2: {quoted}}}\n"
        f"blueprints_dir: {BLUEPRINTS}\nstacks:\n{NETWORK_AND_SECURITY}"
    )
