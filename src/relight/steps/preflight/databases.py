"""Databases as RDS will restore them in the target region: what the snapshot keeps (engine
version, storage type) with what the template asks for (class, Multi-AZ, Performance
Insights, Enhanced Monitoring, IAM authentication) is a combination RDS offers there
(DescribeOrderableDBInstanceOptions); the parameter groups a stack names exist there; and a
major version past its end of standard support is said aloud (DescribeDBMajorEngineVersions),
since its restore runs in paid Extended Support, or is upgraded by RDS when that is disabled.

RDS refuses a combination it does not offer only once the restore is under way ("RDS does not
support creating a DB instance with the following combination: DBInstanceClass=...,
Engine=..., EngineVersion=..."), minutes into a failover: here it is a problem before anything
changes, naming the stack, the key and what RDS offers instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relight.aws.failures import CALL, aws_endpoint, aws_failure, is_aws_failure, refused
from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.steps.discovery import Artifact, Discovery

EXTENDED = "open-source-rds-extended-support"
STANDARD = "open-source-rds-standard-support"
# Template property, the orderable option's flag that must be true for it, the params key.
FLAGS = (
    ("MultiAZ", "MultiAZCapable", "multi_az", "Multi-AZ"),
    ("EnablePerformanceInsights", "SupportsPerformanceInsights", "performance_insights",
     "Performance Insights"),
    ("MonitoringInterval", "SupportsEnhancedMonitoring", "monitoring_interval",
     "Enhanced Monitoring"),
    ("EnableIAMDatabaseAuthentication", "SupportsIAMDatabaseAuthentication",
     "(the blueprint turns it on)", "IAM database authentication"),
)  # fmt: skip


# A declared group's resource type → the params key that declares its family.
GROUPS = {
    "AWS::RDS::DBParameterGroup": "parameter_group.family",
    "AWS::RDS::DBClusterParameterGroup": "cluster_parameter_group.family",
}


@dataclass
class Restore:
    """One database a stack restores: from which snapshot, as what."""

    stack: str
    artifact: Artifact
    engine: str
    version: str
    klass: str | None = None  # None: a cluster alone (its members carry the class)
    storage: str | None = None  # None: not an instance's (Aurora's is the cluster's)
    wants: dict[str, bool] = field(default_factory=dict)  # FLAGS property → asked for
    lifecycle: str = EXTENDED
    key: str = "SnapshotIdentifier"  # the params key naming the snapshot
    families: dict[str, str] = field(default_factory=dict)  # params key → group family


def _snapshot_parameter(props: dict[str, Any]) -> str | None:
    ref = props.get("DBSnapshotIdentifier") or props.get("SnapshotIdentifier")
    return ref.get("Ref") if isinstance(ref, dict) else None


def _restores(plan: Plan, discovery: Discovery) -> Iterator[Restore]:
    """The databases the plan restores from a discovered DB (cluster) snapshot that reports its
    engine and version (a literal snapshot id, or an artifact without them, is not asked)."""
    for key, sp in plan.stacks.items():
        resources = json.loads(sp.body).get("Resources", {})
        for resource in resources.values():
            props = resource.get("Properties", {})
            ref = sp.parameters.get(_snapshot_parameter(props) or "")
            if not isinstance(ref, ArtifactRef) or ref.attribute:
                continue
            art = discovery.artifacts.get(ref.artifact)
            if art is None or not {"engine", "engine_version"} <= set(art.attributes):
                continue
            cluster = resource.get("Type") == "AWS::RDS::DBCluster"
            restore = Restore(
                key,
                art,
                art.attributes["engine"],
                art.attributes["engine_version"],
                lifecycle=str(props.get("EngineLifecycleSupport", EXTENDED)),
                key=_snapshot_parameter(props) or "SnapshotIdentifier",
            )
            for resource_type, said in GROUPS.items():
                for r in resources.values():
                    family = r.get("Properties", {}).get("Family")
                    if r.get("Type") == resource_type and isinstance(family, str):
                        restore.families[said] = family
            members = [
                r.get("Properties", {})
                for r in resources.values()
                if r.get("Type") == "AWS::RDS::DBInstance" and cluster
            ] or [props]
            first = members[0]
            restore.klass = (
                first.get("DBInstanceClass")
                if isinstance(first.get("DBInstanceClass"), str)
                else None
            )
            if not cluster:
                literal = props.get("StorageType")
                restore.storage = (
                    literal if isinstance(literal, str) else art.attributes.get("storage_type")
                ) or None
            for prop, _flag, _key, _what in FLAGS:
                value = (props if prop == "EnableIAMDatabaseAuthentication" else first).get(prop)
                restore.wants[prop] = value is True or (isinstance(value, int) and value > 0)
            yield restore


def _why(exc: Exception, rds: Any, what: str, notes: list[str]) -> None:
    """RDS refusing the question is a note, as is an emulator that does not implement it (moto
    in process; a moto server answers HTTP 500 with no AWS error, unreadable: a note too when
    the endpoint is not AWS's); an endpoint failing is the run failing (exit 1)."""
    if refused(exc) or isinstance(exc, NotImplementedError):
        notes.append(f"{what} not checked ({exc})")
        return
    from botocore.parsers import ResponseParserError

    endpoint = str(rds.meta.endpoint_url)
    if isinstance(exc, ResponseParserError) and not aws_endpoint(endpoint):
        operation = getattr(getattr(exc, CALL, None), "operation", "the question")
        notes.append(f"{what} not checked: the endpoint {endpoint} is not AWS and cannot "
                     f"answer {operation}")  # fmt: skip
        return
    if is_aws_failure(exc):
        raise aws_failure(exc, f"cannot check {what}", rds) from exc
    raise exc


def _no_catalogue(rds: Any, engine: str) -> bool:
    """An emulator's endpoint (not AWS's) that lists no instance class at all for `engine`:
    AWS lists classes for every engine it runs, moto's server for none of the open-source
    ones, so there is nothing to check against."""
    if aws_endpoint(str(rds.meta.endpoint_url)):
        return False
    answer = rds.describe_orderable_db_instance_options(Engine=engine, MaxRecords=20)
    return not answer.get("OrderableDBInstanceOptions")


def _offered(rds: Any, restore: Restore) -> list[dict[str, Any]]:
    pages = rds.get_paginator("describe_orderable_db_instance_options").paginate(
        Engine=restore.engine,
        EngineVersion=restore.version,
        DBInstanceClass=restore.klass,
        Vpc=True,
    )
    return [o for page in pages for o in page["OrderableDBInstanceOptions"]]


def _version_offered(rds: Any, restore: Restore) -> bool:
    """Whether RDS offers the snapshot's engine version in the region at all, on any class."""
    answer = rds.describe_orderable_db_instance_options(
        Engine=restore.engine, EngineVersion=restore.version, Vpc=True, MaxRecords=20
    )
    return bool(answer.get("OrderableDBInstanceOptions"))


def _combination(
    plan: Plan, restore: Restore, offered: list[dict[str, Any]], version_offered: bool = True
) -> list[str]:
    where = f"stacks.{restore.stack}.params"
    what = (
        f"RDS does not offer {restore.klass} for {restore.engine} {restore.version} (the "
        f"version of {restore.artifact.id}, which the restore keeps) in {plan.region}"
    )
    if not offered and not version_offered:
        return [
            f"{where}.{restore.key}: RDS does not offer {restore.engine} {restore.version} (the "
            f"version of {restore.artifact.id}, which the restore keeps) in {plan.region} on "
            "any class; upgrade the snapshot's engine version (aws rds modify-db-snapshot "
            f"--db-snapshot-identifier {restore.artifact.id} --engine-version VERSION "
            f"--region {plan.region}), choosing one RDS offers there (aws rds "
            f"describe-db-engine-versions --engine {restore.engine} --region {plan.region}), "
            "or upgrade production's engine version and take a new snapshot"
        ]
    if not offered:
        return [
            f"{where}.instance_class: {what}; choose a class RDS lists for that version "
            f"(aws rds describe-orderable-db-instance-options --engine {restore.engine} "
            f"--engine-version {restore.version} --region {plan.region}), or upgrade "
            "production's engine version and take a new snapshot"
        ]
    if restore.storage:
        fitting = [o for o in offered if o.get("StorageType") == restore.storage]
        if not fitting:
            types = sorted({str(o.get("StorageType")) for o in offered})
            return [
                f"{where}.storage_type: {what} with {restore.storage} storage (offered: "
                f"{', '.join(types)}); set storage_type to one of them"
            ]
        offered = fitting
    problems = []
    for prop, flag, key, said in FLAGS:
        if not restore.wants.get(prop) or any(o.get(flag) for o in offered):
            continue
        if key.startswith("("):
            problems.append(f"{where}.instance_class: {what} with {said} {key}; choose another")
        else:
            problems.append(
                f"{where}.{key}: {what} with {said}; turn it off or choose another instance_class"
            )
    return problems


def _major(engine: str, version: str) -> str:
    """RDS's major version: 16 of postgres 16.4, 8.0 of mysql 8.0.35 (and of Aurora MySQL's
    8.0.mysql_aurora.3.05.2)."""
    parts = version.split(".")
    postgres = engine.endswith("postgresql") or engine == "postgres"
    if postgres and parts[0].isdigit() and int(parts[0]) >= 10:
        return parts[0]
    return ".".join(parts[:2])


def _lifecycle(rds: Any, restore: Restore, now: datetime, notes: list[str]) -> None:
    if restore.engine == "mariadb":  # no Extended Support: its lifecycle is standard only
        return
    major = _major(restore.engine, restore.version)
    answer = rds.describe_db_major_engine_versions(Engine=restore.engine, MajorEngineVersion=major)
    for version in answer.get("DBMajorEngineVersions", []):
        for phase in version.get("SupportedEngineLifecycles", []):
            ended = phase.get("LifecycleSupportEndDate")
            if phase.get("LifecycleSupportName") != STANDARD or ended is None or ended > now:
                continue
            said = (
                f"stacks.{restore.stack}: {restore.engine} {major} (of {restore.artifact.id}) "
                f"left RDS standard support on {ended:%Y-%m-%d}: "
            )
            if restore.lifecycle == EXTENDED:
                notes.append(
                    said + "the restore runs in RDS Extended Support, charged per vCPU-hour "
                    "(engine_lifecycle_support: open-source-rds-extended-support); upgrade "
                    "production to a supported major version to end it"
                )
            else:
                notes.append(
                    said + "with engine_lifecycle_support "
                    f"{restore.lifecycle}, RDS upgrades the restored database to a newer major "
                    "version by itself: test the application against it, or set "
                    f"{EXTENDED} to restore the same version (charged)"
                )


def _groups(
    plan: Plan, rds: Any, notes: list[str], families: dict[str, dict[str, str]]
) -> list[str]:
    """Every parameter group a stack names exists in the target region (RDS refuses the
    restore otherwise: DBParameterGroupNotFound, DBClusterParameterGroupNotFound). The family
    of each one found is put in `families` (stack → params key → family)."""
    from botocore.exceptions import ClientError

    asks = {
        "ParameterGroupName": (
            "describe_db_parameter_groups",
            "DBParameterGroupName",
            "DBParameterGroups",
        ),
        "ClusterParameterGroupName": (
            "describe_db_cluster_parameter_groups",
            "DBClusterParameterGroupName",
            "DBClusterParameterGroups",
        ),
    }
    problems = []
    for key, sp in plan.stacks.items():
        for name, (operation, argument, listed) in asks.items():
            group = sp.parameters.get(name)
            if not isinstance(group, str) or not group:
                continue
            try:
                answer = getattr(rds, operation)(**{argument: group})
                for found in answer.get(listed, []):
                    if found.get("DBParameterGroupFamily"):
                        families.setdefault(key, {})[name] = found["DBParameterGroupFamily"]
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code.endswith("NotFound"):
                    problems.append(
                        f"stacks.{key}.params.{name}: {group} does not exist in {plan.region} "
                        f"({code}); create it there before a disaster, or declare its family "
                        "and settings under "
                        + ("cluster_parameter_group" if "Cluster" in name else "parameter_group")
                        + " (relight capture writes them) and the stack makes it"
                    )
                    continue
                _why(exc, rds, f"DB parameter group {group}", notes)
            except Exception as exc:
                _why(exc, rds, f"DB parameter group {group}", notes)
    return problems


def _family(rds: Any, restore: Restore, plan: Plan) -> list[str]:
    """A parameter group "can be applied only to a DB instance running a database engine and
    engine version compatible with that DB parameter group family": the snapshot's version's
    family (DescribeDBEngineVersions) must be every group's."""
    if not restore.families:
        return []
    answer = rds.describe_db_engine_versions(Engine=restore.engine, EngineVersion=restore.version)
    wanted = {v.get("DBParameterGroupFamily") for v in answer.get("DBEngineVersions", [])}
    wanted.discard(None)
    if len(wanted) != 1:
        return []
    family = str(wanted.pop())
    return [
        f"stacks.{restore.stack}.params.{key}: "
        + (got if key.endswith(".family") else f"the group's family, {got},")
        + f" does not fit {restore.engine} "
        f"{restore.version} (the version of {restore.artifact.id}, which the restore keeps), "
        f"whose parameter group family is {family}; RDS would refuse the restore. "
        + (
            f"Set {key} to {family} (relight capture writes production's), checking its "
            "parameters still apply"
            if key.endswith(".family")
            else f"Name a {family} group that exists in {plan.region}, or declare one under "
            + ("cluster_parameter_group" if "Cluster" in key else "parameter_group")
        )
        for key, got in sorted(restore.families.items())
        if got != family
    ]


def check_databases(
    plan: Plan, aws: Any, discovery: Discovery, skip: set[str]
) -> tuple[list[str], list[str]]:
    """Problems (the restore would be refused) and notes (it would cost, or change, more than
    it says). `skip`: stacks whose instance class is already named as not offered at all."""
    restores = [r for r in _restores(plan, discovery) if r.stack not in skip]
    if plan.stand_in:
        return [], (
            ["DB engine versions, classes and groups not checked on the stand-in (moto offers "
             "no orderable options or lifecycle dates)"] if restores else []
        )  # fmt: skip
    rds = aws.client("rds", plan.region)
    notes: list[str] = []
    named: dict[str, dict[str, str]] = {}
    problems = _groups(plan, rds, notes, named)
    for restore in restores:
        what = f"the {restore.engine} {restore.version} restore of stack {restore.stack}"
        if restore.klass:
            try:
                if _no_catalogue(rds, restore.engine):
                    notes.append(
                        f"the instance class and version of {what} not checked: the endpoint "
                        f"{rds.meta.endpoint_url} is not AWS and lists no classes for "
                        f"{restore.engine}"
                    )
                else:
                    offered = _offered(rds, restore)
                    version = bool(offered) or _version_offered(rds, restore)
                    problems += _combination(plan, restore, offered, version)
            except Exception as exc:
                _why(exc, rds, what, notes)
        try:
            _lifecycle(rds, restore, discovery.at, notes)
        except Exception as exc:
            _why(exc, rds, f"the support dates of {what}", notes)
        restore.families.update(named.get(restore.stack, {}))
        try:
            problems += _family(rds, restore, plan)
        except Exception as exc:
            _why(exc, rds, f"the parameter group family of {what}", notes)
    return problems, notes
