"""CloudFormation's limits: a stack over one is refused by name and count; a large body goes via S3.

Decision: relight does not split a stack by itself (that would change stack names and the
outputs other stacks read); it refuses before any AWS call and says how to split.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from relight.aws.bucket import READY_KEY, TemplateBucket
from relight.aws.cloudformation import Stacks
from relight.errors import RenderError
from relight.model.config import load_environment
from relight.model.plan import MAX_INLINE_BODY
from relight.steps.deploy import deploy
from relight.steps.render import build_plan

WriteEnv = Callable[..., Path]


def _with_instances(count: int) -> str:
    return MINIMAL.replace(
        "mode: instances\n      count: 2\n", f"mode: instances\n      count: {count}\n"
    )


def test_an_environment_of_300_instances_renders_within_the_limits(write_env: WriteEnv) -> None:
    plan = build_plan(
        load_environment(str(write_env(_with_instances(300))), "us-west-2"), "us-west-2"
    )
    web = plan.stacks["web"]
    # 300 instances and nothing else: their role and profile are the identity stack's, made
    # ahead of time (no IAM resource in a stack a failover deploys)
    assert web.resource_count == 300
    assert len(web.body.encode()) > MAX_INLINE_BODY, "too large to pass inline: S3 it is"


def test_a_stack_over_500_resources_is_refused_by_name_and_count(write_env: WriteEnv) -> None:
    loaded = load_environment(str(write_env(_with_instances(600))), "us-west-2")
    with pytest.raises(RenderError) as caught:
        build_plan(loaded, "us-west-2")
    assert "stack shop-web: more than 500 resources, over CloudFormation's limit" in str(
        caught.value
    )
    assert "split it into several stacks" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("what", "limit"), [("parameters", 200), ("outputs", 200)])
def test_too_many_parameters_or_outputs(tmp_path: Path, what: str, limit: int) -> None:
    (tmp_path / "wide.py").write_text(
        textwrap.dedent(
            f"""
            from troposphere import Output, Parameter, Template, sqs
            from relight.model.blueprint import Options, blueprint

            class WideOptions(Options):
                pass

            @blueprint("wide")
            def wide(options: WideOptions) -> Template:
                t = Template()
                t.add_resource(sqs.Queue("Queue"))
                for i in range({limit + 1}):
                    if "{what}" == "parameters":
                        t.add_parameter(Parameter(f"P{{i}}", Type="String", Default="x"))
                    else:
                        t.add_output(Output(f"O{{i}}", Value="x"))
                return t
            """
        )
    )
    env = tmp_path / "stacks"
    env.mkdir()
    (env / "wide.yaml").write_text(
        f"name: wide\nhome_region: us-east-1\nobjectives: {{rpo: 1h, rto: 1h}}\n"
        f"blueprints_dir: {tmp_path}\nstacks: {{wide: {{blueprint: wide}}}}\n"
    )
    loaded = load_environment(str(env / "wide.yaml"), "us-west-2")
    with pytest.raises(RenderError, match=f"stack wide-wide: more than {limit} {what}, over"):
        build_plan(loaded, "us-west-2")


def test_a_large_template_is_deployed_from_relights_own_bucket(write_env: WriteEnv) -> None:
    plan = build_plan(
        load_environment(str(write_env(_with_instances(300))), "us-west-2"), "us-west-2"
    )
    with mock_aws():
        inputs = moto_web_inputs()
        s3 = boto3.client("s3", "us-west-2")
        bucket = TemplateBucket(s3, "us-west-2", "123456789012")
        stacks = Stacks(
            boto3.client("cloudformation", "us-west-2"), timeout=60, template_url=bucket.url_for
        )
        outcome = deploy(stacks, plan, inputs, run_id="big")
        assert outcome.ok, outcome.failed()
        assert bucket.uploads == 1, "only the large template went to S3"
        assert len(outcome.results["web"].outputs["InstanceIds"].split(",")) == 300
        name = "relight-templates-123456789012-us-west-2"
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"])
        assert keys[0] == READY_KEY, "the bucket was marked configured once it was"
        (stored,) = keys[1:]
        assert stored.startswith("templates/")
