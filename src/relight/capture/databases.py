"""Capture: the database stacks (RDS instances and Aurora clusters)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from relight.capture.common import Note, _key, _pages, _Section
from relight.capture.db_groups import cluster_parameter_group, groups_of, parameter_group

AURORA_ENGINES = ("aurora-postgresql", "aurora-mysql")
SERVERLESS_CLASS = "db.r6g.large"  # written for Serverless v2 members (the blueprint's classes)


@dataclass
class _Databases:
    """What the database stacks are read with and write into."""

    sg_keys: dict[str, str]
    groups: dict[str, Any]
    artifacts: dict[str, Any]
    unplaced: list[Note]
    taken: set[str]
    sections: list[_Section] = field(default_factory=list)
    rds: Any = None  # to read custom parameter groups

    def key(self, identifier: str) -> str:
        """The first database keeps `database`; the others are named after their identifier."""
        return "database" if not self.sections else _key(identifier, self.taken)

    def artifact(self, identifier: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", identifier.lower()).strip("_") + "_db"
        name, n = base, 2
        while name in self.artifacts:
            name, n = f"{base}{n}", n + 1
        return name


def _databases(rds: Any, vpc_id: str, dbs: _Databases) -> list[_Section]:
    """The VPC's RDS instances (not cluster members) and Aurora clusters, each a database
    stack restored from the newest snapshot of it; the first keeps the key `database`."""
    dbs.rds = rds
    subnet_vpcs = {
        g["DBSubnetGroupName"]: g.get("VpcId")
        for g in _pages(rds, "describe_db_subnet_groups", "DBSubnetGroups")
    }
    everything = _pages(rds, "describe_db_instances", "DBInstances")
    clusters = sorted(
        (
            c
            for c in _pages(rds, "describe_db_clusters", "DBClusters")
            if subnet_vpcs.get(c.get("DBSubnetGroup", "")) == vpc_id
        ),
        key=lambda c: c["DBClusterIdentifier"],
    )
    in_vpc = sorted(
        (d for d in everything if (d.get("DBSubnetGroup") or {}).get("VpcId") == vpc_id),
        key=lambda d: d["DBInstanceIdentifier"],
    )
    for db in in_vpc:
        if not db.get("DBClusterIdentifier"):
            dbs.sections.append(_instance(db, dbs))
    captured: set[str] = set()
    for cluster in clusters:
        name = cluster["DBClusterIdentifier"]
        members = [d for d in everything if d.get("DBClusterIdentifier") == name]
        section = _cluster(cluster, members, dbs)
        if section is not None:
            dbs.sections.append(section)
            captured.add(name)
    _uncaptured_members(in_vpc, captured, dbs.unplaced)
    for later in dbs.sections[1:]:
        later.notes.append(
            Note(
                later.source,
                "Endpoint",
                f"the compute stacks read {dbs.sections[0].key}'s endpoint, not this one's: "
                f"give {later.key}.Endpoint to the stacks that use it",
            )
        )
    return dbs.sections


def _uncaptured_members(in_vpc: list[Any], captured: set[str], unplaced: list[Note]) -> None:
    for member in in_vpc:
        cluster = member.get("DBClusterIdentifier")
        if cluster and cluster not in captured:
            unplaced.append(
                Note(
                    member["DBInstanceIdentifier"],
                    "DBClusterIdentifier",
                    f"a member of cluster {cluster}, which is not captured",
                )
            )


def _instance(db: dict[str, Any], dbs: _Databases) -> _Section:
    """A plain RDS instance as a database stack in instance mode."""
    where = db["DBInstanceIdentifier"]
    section = _Section(dbs.key(where), {"blueprint": "database"}, source=where)
    engine = db["Engine"]
    if engine not in ("postgres", "mysql", "mariadb"):
        section.notes.append(
            Note(
                where,
                "Engine",
                f"{engine}: the blueprint takes postgres, mysql or mariadb; postgres written",
            )
        )
        engine = "postgres"
    artifact = dbs.artifact(where)
    dbs.artifacts[artifact] = {"kind": "rds_snapshot", "db_instance": where}
    section.comments.append(f"from {where} ({db['Engine']} {db.get('EngineVersion', '')})")
    params: dict[str, Any] = {
        "mode": "instance",
        "engine": engine,
        "instance_class": db["DBInstanceClass"],
        "multi_az": bool(db.get("MultiAZ")),
    }
    # Storage type, port and engine version are the snapshot's: the restore keeps them.
    groups_of(dbs.rds, db, params, section.notes)
    if db.get("EngineLifecycleSupport") == "open-source-rds-extended-support-disabled":
        params["engine_lifecycle_support"] = db["EngineLifecycleSupport"]
    retention = db.get("BackupRetentionPeriod", 7)
    if 1 <= retention <= 35:
        params["backup_retention_days"] = retention
    _db_wiring(params, section, artifact, db.get("VpcSecurityGroups", []), dbs)
    _managed_password(db, where, section.notes)
    return section


def _managed_password(db: dict[str, Any], where: str, notes: list[Note]) -> None:
    """An RDS-managed master password (MasterUserSecret): noted by name, never written as the
    application's secret. A restore keeps the snapshot's master password (RestoreDBInstance-
    FromDBSnapshot's ManageMasterUserPassword is for RDS for Oracle only), while RDS manages
    that secret in the home region alone and deletes it with the instance."""
    secret = (db.get("MasterUserSecret") or {}).get("SecretArn")
    if not secret:
        return
    # the secret's name: its ARN's last part without the six characters Secrets Manager adds
    name = re.sub(r"-[A-Za-z0-9]{6}$", "", secret.split(":secret:", 1)[-1])
    notes.append(
        Note(
            where,
            "MasterUserSecret",
            f"the master password is an RDS-managed secret ({name}) in the home region only: "
            "the restored database keeps the snapshot's password, and relight does not name "
            "RDS's secret as app_secret; keep the credentials the application uses in a secret "
            "of your own, replicated to the recovery regions, and name it as app_secret",
        )
    )


def _cluster(cluster: dict[str, Any], members: list[Any], dbs: _Databases) -> _Section | None:
    """An Aurora cluster as a database stack in aurora mode, restored from the newest cluster
    snapshot; a cluster the blueprint cannot take at all (Multi-AZ DB clusters, DocumentDB,
    Neptune) is a note at the file's top."""
    where = cluster["DBClusterIdentifier"]
    engine = cluster.get("Engine", "")
    if engine == "aurora":  # Aurora MySQL 1 (5.6), named before aurora-mysql existed
        engine = "aurora-mysql"
        notes = [Note(where, "Engine", "aurora (MySQL 5.6): aurora-mysql written")]
    elif engine in AURORA_ENGINES:
        notes = []
    else:
        dbs.unplaced.append(
            Note(
                where,
                "Engine",
                f"a {engine} DB cluster: not captured (the database blueprint restores RDS "
                "instances and Aurora clusters only)",
            )
        )
        return None
    section = _Section(dbs.key(where), {"blueprint": "database"}, notes=notes, source=where)
    artifact = dbs.artifact(where)
    dbs.artifacts[artifact] = {"kind": "rds_cluster_snapshot", "db_cluster": where}
    section.comments.append(
        f"from Aurora cluster {where} ({cluster['Engine']} {cluster.get('EngineVersion', '')})"
    )
    params: dict[str, Any] = {
        "mode": "aurora",
        "engine": engine,
        "instance_class": _cluster_class(cluster, members, section.notes),
        "aurora_instances": _cluster_size(where, members, section.notes),
    }
    retention = cluster.get("BackupRetentionPeriod", 7)
    if 1 <= retention <= 35:
        params["backup_retention_days"] = retention
    _cluster_groups(dbs.rds, cluster, members, params)
    _cluster_notes(cluster, section.notes)
    _managed_password(cluster, where, section.notes)
    _db_wiring(params, section, artifact, cluster.get("VpcSecurityGroups", []), dbs)
    return section


def _cluster_groups(
    rds: Any, cluster: dict[str, Any], members: list[Any], params: dict[str, Any]
) -> None:
    """The cluster's custom parameter group, and its members' (the writer's first)."""
    spec = cluster_parameter_group(rds, cluster.get("DBClusterParameterGroup"))
    if spec is not None:
        params["cluster_parameter_group"] = spec
    names = [g["DBParameterGroupName"] for m in members for g in m.get("DBParameterGroups", [])]
    member = parameter_group(rds, names[0] if names else None)
    if member is not None:
        params["parameter_group"] = member
    if cluster.get("EngineLifecycleSupport") == "open-source-rds-extended-support-disabled":
        params["engine_lifecycle_support"] = cluster["EngineLifecycleSupport"]


def _cluster_class(cluster: dict[str, Any], members: list[Any], notes: list[Note]) -> str:
    """The writer's instance class (the blueprint makes every member alike)."""
    where = cluster["DBClusterIdentifier"]
    writers = {
        m["DBInstanceIdentifier"]
        for m in cluster.get("DBClusterMembers", [])
        if m["IsClusterWriter"]
    }
    ordered = sorted(
        members, key=lambda m: (m["DBInstanceIdentifier"] not in writers, m["DBInstanceIdentifier"])
    )
    classes = [m["DBInstanceClass"] for m in ordered]
    scaling = cluster.get("ServerlessV2ScalingConfiguration")
    if scaling or "db.serverless" in classes:
        acu = f" ({scaling.get('MinCapacity')}-{scaling.get('MaxCapacity')} ACU)" if scaling else ""
        notes.append(
            Note(
                where,
                "ServerlessV2ScalingConfiguration",
                f"Aurora Serverless v2{acu}: the blueprint makes provisioned instances; "
                f"{SERVERLESS_CLASS} written, choose the class",
            )
        )
        return SERVERLESS_CLASS
    if not classes:
        return "db.t4g.medium"
    for member in ordered[1:]:
        if member["DBInstanceClass"] != classes[0]:
            notes.append(
                Note(
                    member["DBInstanceIdentifier"],
                    "DBInstanceClass",
                    f"{member['DBInstanceClass']} differs from the writer's {classes[0]}; "
                    "the stack makes every member alike",
                )
            )
    return str(classes[0])


def _cluster_size(where: str, members: list[Any], notes: list[Note]) -> int:
    """aurora_instances: the writer and its readers, 1 to 15."""
    if not members:
        notes.append(Note(where, "DBClusterMembers", "no instances: 1 written"))
        return 1
    if len(members) > 15:
        notes.append(
            Note(where, "DBClusterMembers", f"{len(members)} instances: the blueprint makes 15")
        )
        return 15
    return len(members)


def _cluster_notes(cluster: dict[str, Any], notes: list[Note]) -> None:
    """What the blueprint's Aurora mode does not express."""
    where = cluster["DBClusterIdentifier"]
    mode = cluster.get("EngineMode", "provisioned")
    if mode != "provisioned":
        notes.append(
            Note(where, "EngineMode", f"{mode}: the blueprint makes a provisioned cluster")
        )
    if cluster.get("GlobalClusterIdentifier"):
        notes.append(
            Note(
                where,
                "GlobalClusterIdentifier",
                f"a member of global database {cluster['GlobalClusterIdentifier']}: "
                "the restored cluster stands alone",
            )
        )
    if cluster.get("StorageType") == "aurora-iopt1":
        notes.append(
            Note(where, "StorageType", "aurora-iopt1 (I/O-Optimized): Aurora standard written")
        )
    if cluster.get("StorageEncrypted") is False:
        notes.append(Note(where, "StorageEncrypted", "false: the blueprint's cluster is encrypted"))


def _db_wiring(
    params: dict[str, Any],
    section: _Section,
    artifact: str,
    vpc_groups: list[Any],
    dbs: _Databases,
) -> None:
    """The snapshot, the network, the client group and the monitoring role of a database."""
    where = section.source
    db_groups = [
        dbs.sg_keys[g["VpcSecurityGroupId"]]
        for g in vpc_groups
        if g["VpcSecurityGroupId"] in dbs.sg_keys
    ]
    clients = [r["group"] for g in db_groups for r in dbs.groups[g]["ingress"] if "group" in r]
    params["SnapshotIdentifier"] = {"artifact": artifact}
    params["VpcId"] = {"output": "network.VpcId"}
    params["SubnetIds"] = {"output": "network.DataSubnetIds"}
    if clients:
        params["ClientSecurityGroupId"] = {
            "output": f"security.{clients[0].capitalize()}SecurityGroupId"
        }
    for g in db_groups:
        section.notes.append(
            Note(
                where,
                "VpcSecurityGroups",
                f"{g}: the database blueprint makes its own group, which "
                "admits ClientSecurityGroupId; the captured one stays in "
                "security but is not attached",
            )
        )
    params["MonitoringRoleArn"] = {"output": "identity.MonitoringRoleArn"}
    section.body["params"] = params
