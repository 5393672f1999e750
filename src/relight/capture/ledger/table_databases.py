"""The ledger's table (table.py), its database part: RDS instances and Aurora clusters, their
subnet and parameter groups."""

from __future__ import annotations

from relight.capture.ledger.kinds import CLUSTER, CLUSTER_PARAMS, DB, DB_PARAMS, DB_SUBNETS
from relight.capture.ledger.predicates import other_logs, same_logs
from relight.capture.ledger.rows import Row, at_default, changed, empty, is_, noted, reproduced

P = "stacks.{stack}.params"
_TAGS = reproduced("tags")  # the file's top-level tags: CloudFormation propagates them

DATABASE_ROWS: dict[str, dict[str, Row]] = {
    DB: {
        "DBInstanceClass": reproduced(f"{P}.instance_class"),
        "Engine": reproduced(f"{P}.engine", notes=("Engine",)),
        "MultiAZ": reproduced(f"{P}.multi_az"),
        "BackupRetentionPeriod": reproduced(f"{P}.backup_retention_days"),
        "DBParameterGroups": reproduced(f"{P}.parameter_group", "stacks.{stack}"),
        "OptionGroupMemberships": reproduced("stacks.{stack}", notes=("OptionGroupMemberships",)),
        "VpcSecurityGroups": reproduced(
            f"{P}.ClientSecurityGroupId", notes=("VpcSecurityGroups", "ClientSecurityGroupId")
        ),
        "DBSubnetGroup": reproduced(f"{P}.SubnetIds", notes=("DBSubnetGroup",)),
        "EngineLifecycleSupport": reproduced(f"{P}.engine_lifecycle_support", "stacks.{stack}"),
        "MonitoringRoleArn": reproduced(f"{P}.MonitoringRoleArn"),
        "TagList": _TAGS,
        "DBSecurityGroups": at_default(empty),  # EC2-Classic's, none in a VPC
        "EnabledCloudwatchLogsExports": reproduced(
            default=same_logs,
            by="the database blueprint exports the engine's logs, as production does",
            changed_when=other_logs,
            rebuild="the engine's logs exported to CloudWatch Logs (blueprints/database.py)",
            why="the database blueprint exports the engine's logs so a restored database's "
            "errors can be read from its first minute",
        ),
        # the snapshot's: a restore keeps them
        **{
            k: reproduced("artifacts.{artifact}")
            for k in (
                "EngineVersion",
                "AllocatedStorage",
                "StorageType",
                "Iops",
                "StorageThroughput",
                "StorageEncrypted",
                "Port",
                "MasterUsername",
                "DBName",
                "LicenseModel",
            )
        },
        "KmsKeyId": reproduced("kms_keys", notes=("KmsKeyId",)),
        "MonitoringInterval": changed(
            "60 (enhanced monitoring every minute)",
            "the database blueprint turns on enhanced monitoring so a restored database "
            "can be watched from its first minute",
            is_(60),
        ),
        "PerformanceInsightsEnabled": changed(
            "true",
            "the database blueprint turns on Performance Insights (7 days are free)",
            is_(True),
        ),
        "IAMDatabaseAuthenticationEnabled": changed(
            "true",
            "the database blueprint allows IAM authentication beside passwords",
            is_(True),
        ),
        "DeletionProtection": changed(
            "true (false in a drill)",
            "a restored database is protected from deletion by mistake",
            is_(True),
        ),
        "PubliclyAccessible": changed(
            "false", "the database blueprint never makes a public database", is_(False)
        ),
        "AutoMinorVersionUpgrade": changed(
            "true", "the database blueprint takes minor engine patches", is_(True)
        ),
        "CopyTagsToSnapshot": changed(
            "true", "snapshots carry the tags relight's lookups find them by", is_(True)
        ),
    },
    DB_SUBNETS: {"Subnets": reproduced(f"{P}.SubnetIds", notes=("DBSubnetGroup",))},
    DB_PARAMS: {"DBParameterGroupFamily": reproduced(f"{P}.parameter_group.family")},
    CLUSTER_PARAMS: {"DBParameterGroupFamily": reproduced(f"{P}.cluster_parameter_group.family")},
}

_DB_COMMON = {
    k: DATABASE_ROWS[DB][k]
    for k in (
        "DeletionProtection",
        "IAMDatabaseAuthenticationEnabled",
        "CopyTagsToSnapshot",
        "BackupRetentionPeriod",
        "TagList",
        "KmsKeyId",
        "VpcSecurityGroups",
        "EngineLifecycleSupport",
    )
}
DATABASE_ROWS[CLUSTER] = {
    **_DB_COMMON,
    "Engine": reproduced(f"{P}.engine", notes=("Engine",)),
    "EngineMode": reproduced(f"{P}.mode", notes=("EngineMode",)),
    "DBClusterMembers": reproduced(f"{P}.aurora_instances", notes=("DBClusterMembers",)),
    "DBClusterParameterGroup": reproduced(f"{P}.cluster_parameter_group", "stacks.{stack}"),
    "DBSubnetGroup": reproduced(f"{P}.SubnetIds", notes=("DBSubnetGroup",)),
    "ServerlessV2ScalingConfiguration": noted("ServerlessV2ScalingConfiguration"),
    "GlobalClusterIdentifier": noted("GlobalClusterIdentifier"),
    "StorageType": reproduced("stacks.{stack}", notes=("StorageType",)),
    "StorageEncrypted": reproduced("artifacts.{artifact}", notes=("StorageEncrypted",)),
    **{
        k: reproduced("artifacts.{artifact}")
        for k in ("EngineVersion", "Port", "MasterUsername", "DatabaseName", "AllocatedStorage")
    },
}
