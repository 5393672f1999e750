"""What `relight prepare` checks and makes at home before it stands a replica up in a recovery
region (data: replica, model/data_modes.py).

Prepare runs while every region is healthy, so it may read the home region (and, for Aurora,
make the global database there). Before any change, `check_sources` reads each replica's
source and refuses (PreflightError, exit 2, nothing changed), naming what to do, a source RDS
will not replicate across regions (docs/aws-behaviours.md D14-D18):

- a source that is not encrypted (StorageEncrypted false): the replica is made encrypted with
  the region's key (kms_keys), and "You can't create an encrypted read replica from an
  unencrypted DB instance" (D55);
- an RDS instance without automated backups (backup retention 0);
- an engine without cross-region read replicas (RDS Custom; D15: AWS's pages disagree on SQL
  Server, whose cross-Region replicas the user guide's feature table lists);
- a source that already has its engine's most read replicas (15; Oracle, SQL Server 5; Db2 3),
  unless this region's replica is one of them (a rerun);
- an Aurora cluster whose engine version does not support global databases
  (DescribeDBEngineVersions `SupportsGlobalDatabases`), or whose global database already has
  its most secondary regions (10), this region not among them.

Once the run is checked, confirmed and holds its lock, `ensure_global_clusters` makes the
home cluster's global database (CreateGlobalCluster in the home region, with the home cluster
as its source), or uses the one the home cluster already belongs to, and fills the secondary's
`GlobalClusterIdentifier` Parameter with that database's (the secondary takes its engine
version from it: the template gives none, docs D57).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relight.aws.failures import translated
from relight.errors import PreflightError, RelightError
from relight.model.data_modes import (
    GLOBAL_PARAMETER,
    global_cluster_id,
    replica_keys,
    replica_source,
    replicates,
    source_arn,
)
from relight.model.plan import REPLICA_PREPARED, Plan

# CreateDBInstanceReadReplica, SourceDBInstanceIdentifier: "Each DB instance can have up to 15
# read replicas, except for the following engines: Db2 - Can have up to three replicas. Oracle
# - Can have up to five read replicas. SQL Server - Can have up to five read replicas."
REPLICA_LIMIT = 15
REPLICA_LIMITS = {"db2": 3, "oracle": 5, "sqlserver": 5}
# Same page: "This doesn't apply to SQL Server or RDS Custom, which don't support cross-Region
# replicas." But the RDS user guide's "Supported Regions and DB engines for cross-Region read
# replicas" lists SQL Server among the engines that have them ("you can create a ... SQL
# Server read replica in a different Region", all Regions but a listed few), so only RDS
# Custom is refused here; a SQL Server source goes to CloudFormation (docs D15).
NO_CROSS_REGION = ("custom-",)
# Configuration requirements of an Amazon Aurora global database: "an Aurora global database
# can have up to 10 secondary AWS Regions".
MAX_SECONDARY_REGIONS = 10
# Same page: "An Aurora global database requires DB instance classes that are optimized for
# memory-intensive applications" (the memory-optimized types: db.r*, db.x*; and Aurora
# Serverless v2, db.serverless, which the page gives capacity requirements for). A burstable
# (db.t*) or general-purpose (db.m*) class is not one (docs D56).
MEMORY_OPTIMIZED = ("db.r", "db.x", "db.serverless")


def _family(engine: str) -> str:
    return engine.split("-")[0]


def check_sources(plan: Plan, aws: Any) -> list[str]:
    """Refuse (PreflightError) a prepare whose replicas' sources RDS will not replicate into the
    plan's region; the notes of what could not be checked. Reads the home region only."""
    env = plan.loaded.env
    home = env.home_region
    rds = aws.client("rds", home)
    problems: list[str] = []
    notes: list[str] = []
    for key in replica_keys(plan):
        if key not in plan.stacks:
            continue  # read, not made, by this run
        found = replica_source(env, key)
        if found is None:
            continue  # refused at load
        kind, identifier = found
        where = f"stacks.{key} (data: replica)"
        if kind == "instance":
            problems += _instance_problems(rds, plan, key, where, identifier)
        else:
            more, said = _cluster_problems(rds, plan, key, where, identifier)
            problems += more
            notes += said
    if problems:
        raise PreflightError(
            problems,
            hint="nothing was changed; fix the home database (or give the stack data: "
            "snapshot) and prepare again",
        )
    return notes


def _unencrypted(plan: Plan, key: str, what: str, identifier: str, copy: str) -> str:
    """The problem of an unencrypted source (`copy`: the AWS CLI command that copies its
    snapshot with a key), placed at the file's stacks.<key>.data."""
    from relight.model.config import placed

    home = plan.loaded.env.home_region
    return placed(
        plan.loaded,
        f"stacks.{key}.data: replica: the home {what} {identifier} in {home} is not encrypted "
        f"(StorageEncrypted false), and its replica in {plan.region} is made encrypted with "
        f"kms_keys.{plan.region}; RDS: \"You can't create an encrypted read replica from an "
        f'unencrypted DB instance": encrypt the home database (copy a snapshot of it with a '
        f"KMS key, aws rds {copy} --kms-key-id KEY --region {home}, restore the database from "
        f"the copy and point the artifact at it), or give the stack data: snapshot",
    )


def _instance_problems(rds: Any, plan: Plan, key: str, where: str, identifier: str) -> list[str]:
    home = plan.loaded.env.home_region
    with translated(f"cannot read the home DB instance {identifier} in {home}", rds):
        found = rds.describe_db_instances(
            Filters=[{"Name": "db-instance-id", "Values": [identifier]}]
        )["DBInstances"]
    if not found:
        return [f"{where}: the home DB instance {identifier} does not exist in {home}"]
    source = found[0]
    engine = str(source.get("Engine", ""))
    if engine.startswith(NO_CROSS_REGION):
        return [
            f"{where}: {identifier} runs {engine}, which has no cross-region read replicas "
            "(RDS: RDS Custom has none): give the stack data: snapshot"
        ]
    problems = []
    if not source.get("StorageEncrypted"):
        problems.append(_unencrypted(plan, key, "DB instance", identifier, "copy-db-snapshot"))
    if not source.get("BackupRetentionPeriod"):
        problems.append(
            f"{where}: {identifier} keeps no automated backups (backup retention 0), and RDS "
            "makes a read replica only of a source with backups on: set its backup retention "
            f"above 0 (aws rds modify-db-instance --db-instance-identifier {identifier} "
            f"--backup-retention-period 7 --region {home}), then prepare again"
        )
    limit = REPLICA_LIMITS.get(_family(engine), REPLICA_LIMIT)
    replicas = list(source.get("ReadReplicaDBInstanceIdentifiers") or [])
    ours = [r for r in replicas if f":{plan.region}:" in r]
    if len(replicas) >= limit and not ours:
        problems.append(
            f"{where}: {identifier} has {len(replicas)} read replicas already, the most RDS "
            f"allows a {engine} source ({limit}): remove one, or give the stack data: snapshot"
        )
    return problems


def _cluster_problems(
    rds: Any, plan: Plan, key: str, where: str, identifier: str
) -> tuple[list[str], list[str]]:
    home = plan.loaded.env.home_region
    with translated(f"cannot read the home DB cluster {identifier} in {home}", rds):
        found = rds.describe_db_clusters(
            Filters=[{"Name": "db-cluster-id", "Values": [identifier]}]
        )["DBClusters"]
    if not found:
        return [f"{where}: the home DB cluster {identifier} does not exist in {home}"], []
    cluster = found[0]
    engine, version = str(cluster.get("Engine", "")), str(cluster.get("EngineVersion", ""))
    problems: list[str] = []
    notes: list[str] = []
    problems += _class_problems(plan, key)
    if not cluster.get("StorageEncrypted"):
        problems.append(
            _unencrypted(plan, key, "DB cluster", identifier, "copy-db-cluster-snapshot")
        )
    try:
        with translated(f"cannot read engine version {engine} {version} in {home}", rds):
            versions = rds.describe_db_engine_versions(Engine=engine, EngineVersion=version)
    except RelightError as exc:  # moto 5.2.6 answers 500 here: said, not refused
        versions = {}
        notes.append(f"{where}: {exc.message}")
    offered = versions.get("DBEngineVersions") or []
    supports = {v.get("SupportsGlobalDatabases") for v in offered}
    if supports == {False}:
        problems.append(
            f"{where}: {identifier} runs {engine} {version}, which does not support Aurora "
            "global databases (DescribeDBEngineVersions SupportsGlobalDatabases false): upgrade "
            "it to a version that does, or give the stack data: snapshot"
        )
    elif True not in supports:
        notes.append(
            f"{where}: whether {engine} {version} supports global databases is not reported "
            f"in {home}; CloudFormation will say when the secondary is made"
        )
    member = _global_of(rds, cluster)
    if member is not None:
        regions = {
            str(m.get("DBClusterArn", "")).split(":")[3]
            for m in member.get("GlobalClusterMembers", [])
            if not m.get("IsWriter")
        }
        if len(regions) >= MAX_SECONDARY_REGIONS and plan.region not in regions:
            problems.append(
                f"{where}: the global database {member['GlobalClusterIdentifier']} has "
                f"{len(regions)} secondary regions, the most Aurora allows "
                f"({MAX_SECONDARY_REGIONS}): remove one, or give the stack data: snapshot"
            )
    return problems, notes


def _class_problems(plan: Plan, key: str) -> list[str]:
    """A secondary's instance class Aurora global databases do not take (docs D56)."""
    from relight.model.config import placed

    given = plan.loaded.env.stacks[key].params.get("instance_class")
    wanted = str(given) if given is not None else "db.t4g.medium"  # the blueprint's default
    if wanted.startswith(MEMORY_OPTIMIZED):
        return []
    said = f"stacks.{key}.params.instance_class" if given is not None else f"stacks.{key}.params"
    return [
        placed(
            plan.loaded,
            f"{said}: {wanted}"
            + ("" if given is not None else " (the database blueprint's default)")
            + ' is not memory-optimized, and "An Aurora global database requires DB instance '
            'classes that are optimized for memory-intensive applications": set '
            f"stacks.{key}.params.instance_class to a db.r* class (AWS recommends db.r5 or "
            "higher, e.g. db.r6g.large), or give the stack data: snapshot",
        )
    ]


def _global_of(rds: Any, cluster: dict[str, Any]) -> dict[str, Any] | None:
    """The global database whose primary (writer) is `cluster`, or None."""
    arn = cluster.get("DBClusterArn")
    with translated("cannot read the Aurora global databases", rds):
        pages = rds.get_paginator("describe_global_clusters").paginate()
        every = [g for page in pages for g in page.get("GlobalClusters", [])]
    for found in every:
        for member in found.get("GlobalClusterMembers", []):
            if member.get("DBClusterArn") == arn and member.get("IsWriter"):
                return dict(found)
    return None


def ensure_global_clusters(plan: Plan, aws: Any) -> list[str]:
    """For each Aurora replica this prepare makes: the home cluster's global database, made
    when it has none (CreateGlobalCluster in the home region, while it is up), and the
    secondary's Parameter filled with its identifier. Notes say which."""
    env = plan.loaded.env
    rds = aws.client("rds", env.home_region)
    notes = []
    for key in replica_keys(plan):
        found = replica_source(env, key)
        if key not in plan.stacks or found is None or found[0] != "cluster":
            continue
        identifier = found[1]
        arn = source_arn(env, "cluster", identifier)
        with translated(f"cannot read the home DB cluster {identifier}", rds):
            (cluster,) = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
        existing = _global_of(rds, cluster)
        if existing is None:
            wanted = global_cluster_id(env, key)
            with translated(f"cannot make the global database {wanted} in {env.home_region}", rds):
                made = rds.create_global_cluster(
                    GlobalClusterIdentifier=wanted, SourceDBClusterIdentifier=arn
                )["GlobalCluster"]
            notes.append(
                f"stacks.{key}: made the Aurora global database {wanted} in "
                f"{env.home_region} with {identifier} as its primary"
            )
            existing = dict(made)
        sp = plan.stacks[key]
        parameters = dict(sp.parameters)
        parameters[GLOBAL_PARAMETER] = str(existing["GlobalClusterIdentifier"])
        plan.stacks[key] = replace(sp, parameters=parameters)
    return notes


def refuse_replacing_replicas(
    plan: Plan, existing: dict[str, dict[str, Any]], replace_data: frozenset[str]
) -> None:
    """A run that would build, as a snapshot restore, a stack that holds a standing replica
    (tagged relight:prepared replica; `--data snapshot` over a replica-mode stack) replaces the
    replica: what it replicated, and its replication, would be gone. Refused (PreflightError,
    nothing changed) unless `--replace-data KEY` asks for it. This does not wait for the change
    set to say so: the stand-in's change sets carry no Replacement (docs C8)."""
    problems = []
    for key, sp in plan.stacks.items():
        tags = {t["Key"]: t["Value"] for t in existing.get(sp.name, {}).get("Tags", [])}
        if tags.get("relight:prepared") != REPLICA_PREPARED or replicates(plan, key):
            continue
        if key in replace_data:
            continue
        problems.append(
            f"stack {sp.name} (stacks.{key}) holds the replica relight prepare made; a "
            f"snapshot restore there (--data snapshot) would replace it and lose what it "
            f"replicated: run with its data mode (data: replica), or name it with "
            f"--replace-data {key} to restore it from the newest snapshot instead"
        )
    if problems:
        raise PreflightError(problems, hint="nothing was changed")
