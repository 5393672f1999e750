"""AWS::RDS::DBInstance under CloudFormation: an instance restored from a DB snapshot, a member
of a cluster, or moto's own; changed in place or replaced by an update, and deleted as
DeletionProtection and DeletionPolicy say."""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.rds.exceptions import InvalidParameterCombination
from moto.rds.models import DBInstance, RDSBackend, rds_backends

from relight.standin.extensions.common import template_flag as _flag
from relight.standin.extensions.rds.common import (
    Convert,
    _adopt,
    _identifier,
    _name,
    _names,
    _set,
    _settings,
    _StackDatabase,
    _subnet_zones,
)
from relight.standin.extensions.rds.replicas import replica, unlist_replica

# CloudFormation property → (moto's keyword, conversion). What a restore takes from the template.
_INSTANCE_PROPERTIES: dict[str, tuple[str, Convert]] = {
    "DBInstanceClass": ("db_instance_class", str),
    "DBSubnetGroupName": ("db_subnet_group_name", _name),
    "AvailabilityZone": ("availability_zone", str),
    "MultiAZ": ("multi_az", _flag),
    "Port": ("port", int),
    "PubliclyAccessible": ("publicly_accessible", _flag),
    "AutoMinorVersionUpgrade": ("auto_minor_version_upgrade", _flag),
    "StorageType": ("storage_type", str),
    "AllocatedStorage": ("allocated_storage", int),
    "Iops": ("iops", int),
    "StorageThroughput": ("storage_throughput", int),
    "BackupRetentionPeriod": ("backup_retention_period", int),
    "PreferredBackupWindow": ("preferred_backup_window", str),
    "PreferredMaintenanceWindow": ("preferred_maintenance_window", str),
    "DeletionProtection": ("deletion_protection", _flag),
    "EnableIAMDatabaseAuthentication": ("enable_iam_database_authentication", _flag),
    "EnableCloudwatchLogsExports": ("enable_cloudwatch_logs_exports", list),
    "CopyTagsToSnapshot": ("copy_tags_to_snapshot", _flag),
    "DBParameterGroupName": ("db_parameter_group_name", _name),
    "OptionGroupName": ("option_group_name", _name),
    "MonitoringInterval": ("monitoring_interval", int),
    "MonitoringRoleArn": ("monitoring_role_arn", str),
    "CACertificateIdentifier": ("ca_certificate_identifier", str),
    "VPCSecurityGroups": ("vpc_security_group_ids", _names),
    "PromotionTier": ("promotion_tier", int),
}
# What a restore does not take from the source database when the template leaves it out
# (RestoreDBInstanceFromDBSnapshot: Single-AZ by default; StorageType "Default: io1 if the Iops
# parameter is specified, otherwise gp3"; the rest are the properties' defaults).
_INSTANCE_RESTORE_DEFAULTS: dict[str, Any] = {
    "multi_az": False,
    "storage_type": "gp3",
    "deletion_protection": False,
    "enable_iam_database_authentication": False,
    "enable_cloudwatch_logs_exports": [],
    "copy_tags_to_snapshot": False,
    "monitoring_interval": 0,
    "monitoring_role_arn": None,
}


# Where moto keeps a setting under another name than the keyword it is created with.
_INSTANCE_ATTRIBUTES = {"enable_cloudwatch_logs_exports": "enabled_cloudwatch_logs_exports"}


def _snapshot_id(backend: RDSBackend, id_or_arn: str) -> str:
    return (
        backend.extract_snapshot_name_from_arn(id_or_arn)
        if id_or_arn.startswith("arn:")
        else id_or_arn
    )


class RestoredDBInstance(_StackDatabase, DBInstance, CloudFormationModel):
    """AWS::RDS::DBInstance as CloudFormation makes it, written against moto 5.2.5.

    `DBSnapshotIdentifier` (https://docs.aws.amazon.com/AWSCloudFormation/latest/
    TemplateReference/aws-resource-rds-dbinstance.html#cfn-rds-dbinstance-dbsnapshotidentifier):
    the instance is restored from that snapshot, as RestoreDBInstanceFromDBSnapshot does:
    engine, engine version, allocated storage, storage encryption and its key, master user and
    port come from the snapshot; the template gives class, subnet group, security groups,
    Multi-AZ (Single-AZ when not given), storage type, deletion protection and the rest. An
    `Engine` other than the snapshot's is refused; MasterUsername, MasterUserPassword and the
    other properties the page says not to give with it are not used. A snapshot that does not
    exist fails the create. With `SourceDBInstanceIdentifier` (an instance's ARN, in another
    region too): a read replica of it (replicas.py). Without either: moto's own create, or with
    `DBClusterIdentifier` a member of that cluster.

    Tags: the stack's, the template's and the aws:cloudformation:* ones. On delete,
    `DeletionProtection` refuses as RDS does (docs/aws-behaviours.md R2), and `DeletionPolicy`
    Snapshot, the default for an instance outside a cluster, leaves a final manual snapshot
    (R3). On update, another DBSnapshotIdentifier (or identifier, engine, cluster) restores a
    new instance and the old one goes (R1); anything else is changed in place, as
    DeletionProtection is by teardown --force's update to purpose test.
    """

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        backend = rds_backends[account_id][region_name]
        identifier = properties.get("DBInstanceIdentifier") or _identifier(resource_name)
        if properties.get("DBSnapshotIdentifier"):
            model = cls._restore(backend, identifier, properties)
        elif properties.get("SourceDBInstanceIdentifier"):
            given = _settings(properties, _INSTANCE_PROPERTIES)
            model = replica(backend, identifier, properties, given, _INSTANCE_ATTRIBUTES)
        elif properties.get("DBClusterIdentifier"):
            model = cls._member(backend, identifier, properties)
        else:
            model = super().create_from_cloudformation_json(
                identifier, cloudformation_json, account_id, region_name, **kwargs
            )
        # A member keeps moto's class (its cluster's storage and keys); it is deleted, not
        # snapshotted, unless its template says otherwise.
        member = model.db_cluster_identifier is not None
        resource = (
            {"DeletionPolicy": "Delete", **cloudformation_json} if member else cloudformation_json
        )
        replaced_by = cls._replaced_by(properties)
        return _adopt(model, None if member else cls, resource, replaced_by, kwargs)

    @staticmethod
    def _replaced_by(properties: dict[str, Any]) -> tuple[Any, ...]:
        return (
            properties.get("DBSnapshotIdentifier") or None,
            properties.get("DBInstanceIdentifier") or None,
            str(properties.get("Engine") or "").lower(),
            properties.get("DBClusterIdentifier") or None,
            properties.get("SourceDBInstanceIdentifier") or None,
        )

    @classmethod
    def _restore(cls, backend: RDSBackend, identifier: str, properties: dict[str, Any]) -> Any:
        snapshot_id = _snapshot_id(backend, str(properties["DBSnapshotIdentifier"]))
        snapshot = backend.describe_db_snapshots(None, snapshot_id)[0]
        engine = str(properties.get("Engine") or snapshot.engine).lower()
        if engine != snapshot.engine:
            raise InvalidParameterCombination(
                f"Engine {engine} does not match the engine of DB snapshot {snapshot_id} "
                f"({snapshot.engine})"
            )
        given = _settings(properties, _INSTANCE_PROPERTIES)
        zones = _subnet_zones(backend, given.get("db_subnet_group_name"))
        given.setdefault("availability_zone", zones[0] if zones else f"{backend.region_name}a")
        settings = {**_INSTANCE_RESTORE_DEFAULTS, **given}
        model = backend.restore_db_instance_from_db_snapshot(
            snapshot_id, {"db_instance_identifier": identifier, **settings}
        )
        _set(model, settings, _INSTANCE_ATTRIBUTES)
        return model

    @classmethod
    def _member(cls, backend: RDSBackend, identifier: str, properties: dict[str, Any]) -> Any:
        settings = _settings(properties, _INSTANCE_PROPERTIES)
        settings.pop("vpc_security_group_ids", None)  # a member has its cluster's
        return backend.create_db_instance(
            {
                "db_instance_identifier": identifier,
                "engine": properties.get("Engine"),
                "db_cluster_identifier": str(properties["DBClusterIdentifier"]),
                **settings,
            }
        )

    @classmethod
    def _change(cls, model: Any, properties: dict[str, Any]) -> dict[str, Any]:
        settings = _settings(properties, _INSTANCE_PROPERTIES)
        settings.pop("db_subnet_group_name", None)
        member = model.db_cluster_identifier is not None
        _set(
            model,
            settings if member else {**_INSTANCE_RESTORE_DEFAULTS, **settings},
            _INSTANCE_ATTRIBUTES,
        )
        return {"DeletionPolicy": "Delete"} if member else {}

    @staticmethod
    def _replicates(model: Any) -> bool:
        return bool(getattr(model, "is_replica", False))

    @staticmethod
    def _remove(model: Any, final_snapshot: str | None) -> None:
        unlist_replica(model)
        model.backend.delete_db_instance(
            model.db_instance_identifier, final_db_snapshot_identifier=final_snapshot
        )
