"""Preflight of a database restore as RDS will make it in the target region: the snapshot's
engine version with the class, storage and flags the template asks for (R13), the parameter
groups a stack names (R12), and a major version past standard support (R14).

RDS answers through a botocore Stubber with the shapes its API documents; moto has no
orderable options or lifecycle dates to give. Every expected call is a describe: preflight
changes nothing, and `assert_no_pending_responses` shows it asked exactly these."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from conftest import MINIMAL
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.steps.discovery import Artifact, Discovery
from relight.steps.preflight.databases import check_databases
from relight.steps.render import build_plan
from test_preflight import _Mixed, _stubbed

DATABASE = """\
  database:
    blueprint: database
    params:
      engine: postgres
      instance_class: db.m5.large
      monitoring_interval: 0
      SnapshotIdentifier: {artifact: orders_db}
      VpcId: {output: network.VpcId}
      SubnetIds: {output: network.PrivateSubnetIds}
      ClientSecurityGroupId: {output: security.WebSecurityGroupId}
"""
ARTIFACT = "  orders_db: {kind: rds_snapshot, db_instance: orders}\n"
SNAPSHOT = "orders-copy-1"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _plan(write_env, extra: str = "") -> Plan:  # type: ignore[no-untyped-def]
    text = MINIMAL.replace("stand_in: true\n", "").replace(
        "artifacts:\n", "artifacts:\n" + ARTIFACT
    )
    text += DATABASE.replace("    params:\n", "    params:\n" + extra)
    return build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")


def _found(version: str = "11.22", storage: str = "gp2") -> Discovery:
    """The copy discovery chose, with what its restore keeps (as DescribeDBSnapshots says)."""
    kept = {
        "engine": "postgres",
        "engine_version": version,
        "port": "5432",
        "storage_type": storage,
        "option_group": "default:postgres-11",
    }
    art = Artifact("orders_db", "rds_snapshot", SNAPSHOT, "us-west-2", NOW, 1, attributes=kept)
    return Discovery(region="us-west-2", at=NOW, artifacts={"orders_db": art})


def _orderable(rds: Stubber, version: str, offered: list[dict[str, Any]]) -> None:
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": offered},
        {
            "Engine": "postgres",
            "EngineVersion": version,
            "DBInstanceClass": "db.m5.large",
            "Vpc": True,
        },
    )


def _any_class(rds: Stubber, version: str, offered: list[dict[str, Any]]) -> None:
    """The same question without the class: is the version offered in the region at all?"""
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": offered},
        {"Engine": "postgres", "EngineVersion": version, "Vpc": True, "MaxRecords": 20},
    )


def _family(rds: Stubber, version: str, family: str) -> None:
    """DescribeDBEngineVersions: the parameter group family of an engine version."""
    rds.add_response(
        "describe_db_engine_versions",
        {
            "DBEngineVersions": [
                {"Engine": "postgres", "EngineVersion": version, "DBParameterGroupFamily": family}
            ]
        },
        {"Engine": "postgres", "EngineVersion": version},
    )


def _support(rds: Stubber, major: str, standard_ends: datetime) -> None:
    """DescribeDBMajorEngineVersions: the phases of a major version and when each ends."""
    rds.add_response(
        "describe_db_major_engine_versions",
        {
            "DBMajorEngineVersions": [
                {
                    "Engine": "postgres",
                    "MajorEngineVersion": major,
                    "SupportedEngineLifecycles": [
                        {
                            "LifecycleSupportName": "open-source-rds-standard-support",
                            "LifecycleSupportStartDate": standard_ends - timedelta(days=1800),
                            "LifecycleSupportEndDate": standard_ends,
                        },
                        {
                            "LifecycleSupportName": "open-source-rds-extended-support",
                            "LifecycleSupportStartDate": standard_ends,
                            "LifecycleSupportEndDate": standard_ends + timedelta(days=1095),
                        },
                    ],
                }
            ]
        },
        {"Engine": "postgres", "MajorEngineVersion": major},
    )


def _option(storage: str, **flags: bool) -> dict[str, Any]:
    return {
        "Engine": "postgres",
        "DBInstanceClass": "db.m5.large",
        "StorageType": storage,
        "MultiAZCapable": True,
        "SupportsPerformanceInsights": True,
        "SupportsEnhancedMonitoring": True,
        "SupportsIAMDatabaseAuthentication": True,
        **flags,
    }


def test_a_class_rds_does_not_offer_for_the_snapshots_engine_version_is_refused(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """db.m5.large runs postgres 16, but the snapshot is postgres 11.22, which the restore keeps:
    RDS would refuse the restore minutes in ("RDS does not support creating a DB instance with
    the following combination: DBInstanceClass=db.m5.large, Engine=postgres,
    EngineVersion=11.22, ..."). Preflight names the stack, the key and how to find a class."""
    rds = _stubbed("rds")
    _orderable(rds, "11.22", [])
    _any_class(rds, "11.22", [_option("gp2") | {"DBInstanceClass": "db.m6g.large"}])
    _support(rds, "11", datetime(2024, 2, 29, tzinfo=UTC))
    problems, notes = check_databases(
        _plan(write_env),
        _Mixed(None, rds=rds.client),
        _found(),
        skip=set(),  # type: ignore[arg-type]
    )
    assert problems == [
        "stacks.database.params.instance_class: RDS does not offer db.m5.large for postgres "
        f"11.22 (the version of {SNAPSHOT}, which the restore keeps) in us-west-2; choose a "
        "class RDS lists for that version (aws rds describe-orderable-db-instance-options "
        "--engine postgres --engine-version 11.22 --region us-west-2), or upgrade production's "
        "engine version and take a new snapshot"
    ]
    assert notes == [
        f"stacks.database: postgres 11 (of {SNAPSHOT}) left RDS standard support on 2024-02-29: "
        "the restore runs in RDS Extended Support, charged per vCPU-hour "
        "(engine_lifecycle_support: open-source-rds-extended-support); upgrade production to a "
        "supported major version to end it"
    ]
    rds.assert_no_pending_responses()


def test_an_engine_version_rds_does_not_offer_in_the_region_blames_the_version_not_the_class(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """No class at all runs the snapshot's 11.22 in the region: changing instance_class cannot
    help ("To restore from a DB snapshot with an unsupported engine version, you must first
    upgrade the engine version of the snapshot"). Preflight names the snapshot and the upgrade."""
    rds = _stubbed("rds")
    _orderable(rds, "11.22", [])
    _any_class(rds, "11.22", [])
    _support(rds, "11", datetime(2024, 2, 29, tzinfo=UTC))
    problems, _ = check_databases(
        _plan(write_env),
        _Mixed(None, rds=rds.client),
        _found(),
        skip=set(),  # type: ignore[arg-type]
    )
    assert problems == [
        "stacks.database.params.SnapshotIdentifier: RDS does not offer postgres 11.22 (the "
        f"version of {SNAPSHOT}, which the restore keeps) in us-west-2 on any class; upgrade "
        "the snapshot's engine version (aws rds modify-db-snapshot --db-snapshot-identifier "
        f"{SNAPSHOT} --engine-version VERSION --region us-west-2), choosing one RDS offers "
        "there (aws rds describe-db-engine-versions --engine postgres --region us-west-2), or "
        "upgrade production's engine version and take a new snapshot"
    ]
    assert "instance_class" not in problems[0]
    rds.assert_no_pending_responses()


def test_a_declared_parameter_group_family_must_be_the_snapshots_versions(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """Production moved to postgres 17: the captured family postgres16 would be created, then
    the restore refused ("can be applied only to a DB instance running a database engine and
    engine version compatible with that DB parameter group family")."""
    rds = _stubbed("rds")
    _orderable(rds, "17.2", [_option("gp2")])
    _support(rds, "17", datetime(2030, 2, 28, tzinfo=UTC))
    _family(rds, "17.2", "postgres17")
    problems, _ = check_databases(
        _plan(write_env, "      parameter_group: {family: postgres16}\n"),
        _Mixed(None, rds=rds.client),
        _found("17.2"),
        skip=set(),  # type: ignore[arg-type]
    )
    assert problems == [
        "stacks.database.params.parameter_group.family: postgres16 does not fit postgres 17.2 "
        f"(the version of {SNAPSHOT}, which the restore keeps), whose parameter group family "
        "is postgres17; RDS would refuse the restore. Set parameter_group.family to postgres17 "
        "(relight capture writes production's), checking its parameters still apply"
    ]
    rds.assert_no_pending_responses()


def test_a_named_parameter_groups_family_must_be_the_snapshots_versions(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """A group named by ParameterGroupName exists, but DescribeDBParameterGroups gives its
    DBParameterGroupFamily as postgres16, and the snapshot is postgres 17.2."""
    rds = _stubbed("rds")
    rds.add_response(
        "describe_db_parameter_groups",
        {
            "DBParameterGroups": [
                {
                    "DBParameterGroupName": "orders-pg16",
                    "DBParameterGroupFamily": "postgres16",
                    "Description": "orders",
                }
            ]
        },
        {"DBParameterGroupName": "orders-pg16"},
    )
    _orderable(rds, "17.2", [_option("gp2")])
    _support(rds, "17", datetime(2030, 2, 28, tzinfo=UTC))
    _family(rds, "17.2", "postgres17")
    problems, _ = check_databases(
        _plan(write_env, "      ParameterGroupName: orders-pg16\n"),
        _Mixed(None, rds=rds.client),
        _found("17.2"),
        skip=set(),  # type: ignore[arg-type]
    )
    assert problems == [
        "stacks.database.params.ParameterGroupName: the group's family, postgres16, does not "
        "fit postgres 17.2 "
        f"(the version of {SNAPSHOT}, which the restore keeps), whose parameter group family "
        "is postgres17; RDS would refuse the restore. Name a postgres17 group that exists in "
        "us-west-2, or declare one under parameter_group"
    ]
    rds.assert_no_pending_responses()


def test_the_snapshots_storage_type_and_the_flags_the_blueprint_sets_must_be_offered(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """The class runs 16.4, but only on gp3 without Performance Insights: the snapshot's gp2
    is named under storage_type; with gp3 asked, Performance Insights is named."""
    offered = [_option("gp3", SupportsPerformanceInsights=False)]
    rds = _stubbed("rds")
    _orderable(rds, "16.4", offered)
    _support(rds, "16", datetime(2029, 2, 28, tzinfo=UTC))
    aws = _Mixed(None, rds=rds.client)
    problems, notes = check_databases(
        _plan(write_env),
        aws,
        _found("16.4"),
        skip=set(),  # type: ignore[arg-type]
    )
    where = f"postgres 16.4 (the version of {SNAPSHOT}, which the restore keeps) in us-west-2"
    assert problems == [
        f"stacks.database.params.storage_type: RDS does not offer db.m5.large for {where} with "
        "gp2 storage (offered: gp3); set storage_type to one of them"
    ]
    assert notes == [], "16 is in standard support until 2029"
    _orderable(rds, "16.4", offered)
    _support(rds, "16", datetime(2029, 2, 28, tzinfo=UTC))
    problems, _ = check_databases(
        _plan(write_env, "      storage_type: gp3\n"),
        aws,
        _found("16.4"),
        skip=set(),  # type: ignore[arg-type]
    )
    assert problems == [
        f"stacks.database.params.performance_insights: RDS does not offer db.m5.large for "
        f"{where} with Performance Insights; turn it off or choose another instance_class"
    ]
    rds.assert_no_pending_responses()


def test_with_extended_support_disabled_the_warning_says_rds_upgrades_the_restore(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """RestoreDBInstanceFromDBSnapshot: with open-source-rds-extended-support-disabled, "RDS
    automatically upgrades your restored DB instance to a higher engine version"."""
    plan = _plan(
        write_env, "      engine_lifecycle_support: open-source-rds-extended-support-disabled\n"
    )
    database = json.loads(plan.stacks["database"].body)["Resources"]["Database"]["Properties"]
    assert database["EngineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    rds = _stubbed("rds")
    _orderable(rds, "11.22", [_option("gp2")])
    _support(rds, "11", datetime(2024, 2, 29, tzinfo=UTC))
    problems, notes = check_databases(
        plan,
        _Mixed(None, rds=rds.client),
        _found(),
        skip=set(),  # type: ignore[arg-type]
    )
    assert problems == []
    assert notes == [
        f"stacks.database: postgres 11 (of {SNAPSHOT}) left RDS standard support on 2024-02-29: "
        "with engine_lifecycle_support open-source-rds-extended-support-disabled, RDS upgrades "
        "the restored database to a newer major version by itself: test the application "
        "against it, or set open-source-rds-extended-support to restore the same version "
        "(charged)"
    ]


def test_a_named_parameter_group_missing_in_the_target_region_is_refused(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """Parameter groups are regional: one named in the file must exist in the target region,
    or the restore fails with DBParameterGroupNotFound."""
    rds = _stubbed("rds")
    rds.add_client_error(
        "describe_db_parameter_groups",
        "DBParameterGroupNotFound",
        "DBParameterGroup not found: orders-pg11",
        404,
        expected_params={"DBParameterGroupName": "orders-pg11"},
    )
    _orderable(rds, "11.22", [_option("gp2")])
    _support(rds, "11", datetime(2030, 1, 1, tzinfo=UTC))
    problems, _ = check_databases(
        _plan(write_env, "      ParameterGroupName: orders-pg11\n"),
        _Mixed(None, rds=rds.client),  # type: ignore[arg-type]
        _found(),
        skip=set(),
    )
    assert problems == [
        "stacks.database.params.ParameterGroupName: orders-pg11 does not exist in us-west-2 "
        "(DBParameterGroupNotFound); create it there before a disaster, or declare its family "
        "and settings under parameter_group (relight capture writes them) and the stack makes it"
    ]
    rds.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("engine", "version", "major"),
    [
        ("postgres", "16.4", "16"),
        ("postgres", "9.6.22", "9.6"),
        ("aurora-postgresql", "15.4", "15"),
        ("mysql", "8.0.35", "8.0"),
        ("aurora-mysql", "8.0.mysql_aurora.3.05.2", "8.0"),
    ],
)
def test_the_major_version_asked_about_is_rdss(engine: str, version: str, major: str) -> None:
    """DescribeDBMajorEngineVersions takes MajorEngineVersion as RDS names it."""
    from relight.steps.preflight.databases import _major

    assert _major(engine, version) == major


class _Emulator:
    """RDS at an emulator's endpoint, as moto's server answers: no instance class listed for
    postgres, and HTTP 500 (no AWS error, unreadable) for DescribeDBMajorEngineVersions, which
    it does not implement. The orderable-options questions go to a Stubber."""

    def __init__(self, stub: Stubber) -> None:
        self._client = stub.client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_db_major_engine_versions(self, **_: Any) -> dict[str, Any]:
        from botocore.parsers import ResponseParserError

        from relight.aws.failures import CALL, Call

        failure = ResponseParserError("Unable to parse response (syntax error: line 1, column 0)")
        setattr(failure, CALL, Call("DescribeDBMajorEngineVersions", EMULATOR))
        raise failure


EMULATOR = "http://127.0.0.1:5000"


def test_an_emulator_listing_no_classes_or_unable_to_answer_is_a_note_not_a_refusal(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    """On AWS an empty catalogue refuses the restore (the two tests above) and an unreadable
    answer fails the run; an emulator (AWS_ENDPOINT_URL: moto's server, LocalStack) lists no
    class for postgres and cannot answer the support dates, so those are not checked, said so."""
    from relight.steps.preflight.capacity import _db_classes

    stub = Stubber(boto3.client("rds", "us-west-2", endpoint_url=EMULATOR))
    stub.activate()
    empty: dict[str, Any] = {"OrderableDBInstanceOptions": []}
    stub.add_response(
        "describe_orderable_db_instance_options", empty, {"Engine": "postgres", "MaxRecords": 20}
    )
    rds = _Emulator(stub)
    plan = _plan(write_env)
    problems, notes = check_databases(plan, _Mixed(None, rds=rds), _found(), skip=set())  # type: ignore[arg-type]
    assert problems == []
    assert notes == [
        "the instance class and version of the postgres 11.22 restore of stack database not "
        f"checked: the endpoint {EMULATOR} is not AWS and lists no classes for postgres",
        "the support dates of the postgres 11.22 restore of stack database not checked: the "
        f"endpoint {EMULATOR} is not AWS and cannot answer DescribeDBMajorEngineVersions",
    ]
    stub.add_response(
        "describe_orderable_db_instance_options",
        empty,
        {"Engine": "postgres", "DBInstanceClass": "db.m5.large", "MaxRecords": 20},
    )
    stub.add_response("describe_orderable_db_instance_options", empty, {"Engine": "postgres"})
    problems, notes = _db_classes(plan, _Mixed(None, rds=rds))  # type: ignore[arg-type]
    assert problems == []
    assert notes == [
        f"DB instance class db.m5.large for postgres not checked: the endpoint {EMULATOR} is "
        "not AWS and lists no classes for postgres"
    ]
    stub.assert_no_pending_responses()
