"""What the operator reads after a failed failover: what was kept, the command that continues."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from relight.aws.clients import Aws, AwsTarget
from relight.cli.common import _continue_command
from relight.commands.connection import Connection
from relight.commands.failover import FailoverResult
from relight.commands.summary import failover_json, print_failover
from relight.steps.deploy import deploy
from test_deploy import _fake, _inputs, _newer, _plan, _stacks


def _printed(result: FailoverResult, continue_with: str) -> str:
    out = StringIO()
    print_failover(Console(file=out, width=200, highlight=False), result, continue_with)
    return out.getvalue()


def _result(write_env, outcome, plan, discovery) -> FailoverResult:  # type: ignore[no-untyped-def]
    conn = Connection(Aws(AwsTarget()), "us-west-2", "123456789012")
    return FailoverResult("r1", plan, conn, discovery, outcome)


def test_a_failed_failover_says_what_it_kept_and_the_exact_command_that_continues(
    write_env,
) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-web": "fail-once"})
    plan = _plan(write_env)
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    command = _continue_command(
        "failover",
        {"--env": "stacks/shop.yaml", "--region": "us-west-2", "--aws": True, "--profile": "dr"},
    )
    text = _printed(_result(write_env, outcome, plan, _inputs()), command)
    assert "shop-web: Instance1: The image id '[ami-0bad]' does not exist" in text
    assert "kept (made before the failure; CloudFormation keeps them): Database" in text
    assert (
        "continue with: relight failover --env stacks/shop.yaml --region us-west-2 --aws "
        "--profile dr" in text
    )
    data = failover_json(_result(write_env, outcome, plan, _inputs()), command)
    assert data["continue_with"] == command
    web = next(s for s in data["stacks"] if s["stack"] == "web")
    assert web["kept_resources"] == ["Database"]


def test_a_kept_snapshot_is_said_with_the_flag_that_replaces_it(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    newer = _newer(web_data="snap-0999")
    outcome = deploy(_stacks(cfn, clock), plan, newer, run_id="r2")
    text = _printed(_result(write_env, outcome, plan, newer), "")
    assert (
        "data kept: web.DataSnapshotId stays snap-0123, the snapshot it was restored from; "
        "the artifacts above list the newest copy, snap-0999, which web does not use "
        "(--replace-data web restores from it" in " ".join(text.split())
    )
    assert "continue with" not in text, "nothing failed: nothing to continue"


def test_the_continue_command_repeats_every_option_the_run_was_given() -> None:
    options = {
        "--env": "shop",
        "--region": "eu-west-1",
        "--as": None,
        "--yes": True,
        "--stand-in": False,
        "--accept-stale": True,
        "--replace-data": ["database", "web"],
        "--stack-timeout": 5400.0,
        "--verify-timeout": None,
    }
    assert _continue_command("failover", options) == (
        "relight failover --env shop --region eu-west-1 --yes --accept-stale "
        "--replace-data database --replace-data web --stack-timeout 5400"
    )
    assert _continue_command("launch", {"--env": "my shop.yaml", "--as": "qa"}) == (
        "relight launch --env 'my shop.yaml' --as qa"
    )


def test_the_cli_defaults_agree_with_the_engines() -> None:
    from relight.cli import options as cli
    from relight.model.scheduler import DEFAULT_CONCURRENCY
    from relight.steps.verify import DEADLINE_SECONDS

    assert (cli.DEFAULT_VERIFY, cli.DEFAULT_CONCURRENCY) == (DEADLINE_SECONDS, DEFAULT_CONCURRENCY)


def test_teardown_names_the_final_snapshot_a_deleted_database_left() -> None:
    from datetime import UTC, datetime, timedelta

    from fakes import StubbedAws
    from relight.commands.teardown import final_snapshots

    aws = StubbedAws()
    cfn, rds = aws.stub("cloudformation", "us-west-2"), aws.stub("rds", "us-west-2")
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "Database",
                    "PhysicalResourceId": "shop-database-db-1a2b",
                    "ResourceType": "AWS::RDS::DBInstance",
                    "ResourceStatus": "CREATE_COMPLETE",
                    "LastUpdatedTimestamp": datetime.now(UTC),
                }
            ]
        },
        {"StackName": "shop-database"},
    )
    conn = Connection(aws, "us-west-2", "123456789012")  # type: ignore[arg-type]
    later, earlier = datetime.now(UTC) + timedelta(minutes=5), datetime(2026, 1, 1, tzinfo=UTC)
    rds.add_response(  # before the delete: the manual snapshots the database has already
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {"DBSnapshotIdentifier": "an-older-manual-one", "SnapshotCreateTime": earlier}
            ]
        },
        {"DBInstanceIdentifier": "shop-database-db-1a2b", "SnapshotType": "manual"},
    )
    after = final_snapshots(conn, "shop-database")  # read before the delete
    rds.add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {
                    "DBSnapshotIdentifier": "shop-database-snapshot-1a2b",
                    "SnapshotCreateTime": later,
                },
                {"DBSnapshotIdentifier": "an-older-manual-one", "SnapshotCreateTime": earlier},
            ]
        },
        {"DBInstanceIdentifier": "shop-database-db-1a2b", "SnapshotType": "manual"},
    )
    assert after() == ["shop-database-snapshot-1a2b (of shop-database-db-1a2b)"]
    rds.assert_no_pending_responses()


def test_the_summary_counts_every_aws_call_per_service_and_keeps_cloudformations(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """The summary's "N AWS calls" is every request the run's connection sent (here three the
    deploy never saw); `api_calls` keeps meaning the deploy's CloudFormation calls."""
    import boto3
    from moto import mock_aws

    cfn, clock = _fake()
    plan = _plan(write_env)
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    with mock_aws():
        aws = Aws(AwsTarget())
        aws.client("ec2", "us-west-2").describe_instances()
        aws.client("ec2", "us-west-2").describe_volumes()
        aws.client("cloudformation", "us-west-2").list_stacks()
        boto3.client("sts").get_caller_identity()  # not through relight's Aws: not its call
    result = FailoverResult("r1", plan, Connection(aws, "us-west-2", "1"), _inputs(), outcome)
    data = failover_json(result)
    assert data["aws_calls"] == {"ec2": 2, "cloudformation": 1}
    assert (data["aws_calls_total"], data["aws_retries"]) == (3, 0)
    assert data["api_calls"] == outcome.api_calls > 0
    assert "; 3 AWS calls: ec2 2, cloudformation 1\n" in _printed(result, "")


def test_a_load_balancer_not_verifiable_from_here_is_shown_as_neither_pass_nor_failure(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    from relight.steps.verify import NOT_VERIFIABLE, Check

    cfn, clock = _fake()
    plan = _plan(write_env)
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    result = _result(write_env, outcome, plan, _inputs())
    result.checks = [Check("load balancer answers", "web", NOT_VERIFIABLE, "lb.example")]
    assert result.ok
    text = _printed(result, "")
    assert "│ not verifiable from here │" in text
    assert failover_json(result)["verification"][0]["result"] == "not verifiable from here"
