"""AWS::RDS::DBCluster under CloudFormation (moto has no model for it): an Aurora cluster
restored from a DB cluster snapshot or made new; changed in place or replaced by an update, and
deleted as DeletionProtection and DeletionPolicy say."""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.rds.exceptions import InvalidParameterCombination, RDSClientError
from moto.rds.models import DBCluster, RDSBackend, rds_backends

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

# CloudFormation property → (moto's keyword, conversion). What a restore takes from the template.
_CLUSTER_PROPERTIES: dict[str, tuple[str, Convert]] = {
    "Engine": ("engine", str),
    "EngineVersion": ("engine_version", str),
    "EngineMode": ("engine_mode", str),
    "Port": ("port", int),
    "DBSubnetGroupName": ("db_subnet_group_name", _name),
    "VpcSecurityGroupIds": ("vpc_security_group_ids", _names),
    "AvailabilityZones": ("availability_zones", list),
    "DBClusterParameterGroupName": ("db_cluster_parameter_group_name", _name),
    "KmsKeyId": ("kms_key_id", str),
    "StorageEncrypted": ("storage_encrypted", _flag),
    "StorageType": ("storage_type", str),
    "AllocatedStorage": ("allocated_storage", int),
    "Iops": ("iops", int),
    "BackupRetentionPeriod": ("backup_retention_period", int),
    "PreferredBackupWindow": ("preferred_backup_window", str),
    "PreferredMaintenanceWindow": ("preferred_maintenance_window", str),
    "DeletionProtection": ("deletion_protection", _flag),
    "EnableIAMDatabaseAuthentication": ("enable_iam_database_authentication", _flag),
    "EnableCloudwatchLogsExports": ("enable_cloudwatch_logs_exports", list),
    "CopyTagsToSnapshot": ("copy_tags_to_snapshot", _flag),
    "MasterUsername": ("master_username", str),
    "MasterUserPassword": ("master_user_password", str),
    "DatabaseName": ("database_name", str),
    # A secondary cluster of an Aurora global database (data: replica): it joins it, as a
    # reader, and replicates the primary (no master user of its own).
    "GlobalClusterIdentifier": ("global_cluster_identifier", str),
}
_CLUSTER_RESTORE_DEFAULTS: dict[str, Any] = {
    "deletion_protection": False,
    "enable_iam_database_authentication": False,
    "enable_cloudwatch_logs_exports": [],
    "copy_tags_to_snapshot": False,
}


# Where moto keeps a setting under another name than the keyword it is created with.
_CLUSTER_ATTRIBUTES = {
    "enable_cloudwatch_logs_exports": "enabled_cloudwatch_logs_exports",
    "enable_iam_database_authentication": "iam_auth",
    "db_cluster_parameter_group_name": "parameter_group",
}
# Given at a restore, these come from the snapshot and cannot be set (the DBSnapshotIdentifier
# property's documentation lists them); a template that names them keeps the snapshot's.
_FROM_THE_SNAPSHOT = {"master_username", "master_user_password", "database_name"}


class RestoredDBCluster(_StackDatabase, DBCluster, CloudFormationModel):
    """AWS::RDS::DBCluster as CloudFormation makes it, written against moto 5.2.5 (which has
    no model for it: the resource was skipped).

    `SnapshotIdentifier` (https://docs.aws.amazon.com/AWSCloudFormation/latest/
    TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-snapshotidentifier):
    the cluster is restored from that DB cluster snapshot, as RestoreDBClusterFromSnapshot
    does: engine version, storage, encryption and its key (unless `KmsKeyId` is given: then
    that key), master user and port come from the snapshot; an `Engine` other than the
    snapshot's is refused; the template gives subnet group, security groups, parameter group,
    deletion protection and the rest. A restored cluster has no instances until the
    template's DB instances join it. Without it: a new cluster from the template. It is
    available once the stack has made it (CloudFormation reports CREATE_COMPLETE only then).

    GetAtt: Endpoint.Address, Endpoint.Port, ReadEndpoint.Address, DBClusterArn,
    DBClusterResourceId; Ref: the identifier. Tags as for an instance. On delete,
    `DeletionProtection` refuses as RDS does (R2), its instances must be gone first, and
    `DeletionPolicy` Snapshot, the default, leaves a final cluster snapshot (R3). On update,
    another SnapshotIdentifier (or identifier, engine, key) replaces the cluster (R1);
    anything else is changed in place.
    """

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DBClusterIdentifier"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::DBCluster"

    @property
    def physical_resource_id(self) -> str:
        return str(self.db_cluster_identifier)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in _CLUSTER_GETATT

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in _CLUSTER_GETATT:
            raise UnformattedGetAttTemplateException()
        return getattr(self, _CLUSTER_GETATT[attribute_name])

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
        identifier = properties.get("DBClusterIdentifier") or _identifier(resource_name)
        given = _settings(properties, _CLUSTER_PROPERTIES)
        zones = _subnet_zones(backend, given.get("db_subnet_group_name"))
        given.setdefault("availability_zones", zones or [f"{region_name}{z}" for z in "abc"])
        if given.get("global_cluster_identifier") and not given.get("engine_version"):
            given["engine_version"] = _global_version(backend, given["global_cluster_identifier"])
        if properties.get("SnapshotIdentifier"):
            model = cls._restore(backend, identifier, str(properties["SnapshotIdentifier"]), given)
        else:
            model = backend.create_db_cluster({"db_cluster_identifier": identifier, **given})
        model.status = "available"
        return _adopt(model, cls, cloudformation_json, cls._replaced_by(properties), kwargs)

    @staticmethod
    def _replaced_by(properties: dict[str, Any]) -> tuple[Any, ...]:
        return (
            properties.get("SnapshotIdentifier") or None,
            properties.get("DBClusterIdentifier") or None,
            properties.get("Engine"),
            properties.get("KmsKeyId") or None,
        )

    @classmethod
    def _restore(
        cls, backend: RDSBackend, identifier: str, snapshot_id: str, given: dict[str, Any]
    ) -> Any:
        snapshot_id = snapshot_id.rsplit(":", 1)[-1]  # a name, or the end of an ARN
        snapshot = backend.describe_db_cluster_snapshots(None, snapshot_id)[0]
        if given.get("engine", snapshot.engine) != snapshot.engine:
            raise InvalidParameterCombination(
                f"Engine {given['engine']} does not match the engine of DB cluster snapshot "
                f"{snapshot_id} ({snapshot.engine})"
            )
        for keyword in _FROM_THE_SNAPSHOT | {"storage_encrypted", "engine_version"}:
            given.pop(keyword, None)
        if given.get("kms_key_id"):
            given["storage_encrypted"] = True
        settings = {**_CLUSTER_RESTORE_DEFAULTS, **given}
        model = backend.restore_db_cluster_from_snapshot(
            snapshot_id, {"db_cluster_identifier": identifier, **settings}
        )
        _set(model, settings, _CLUSTER_ATTRIBUTES)
        return model

    @classmethod
    def _change(cls, model: Any, properties: dict[str, Any]) -> dict[str, Any]:
        settings = {**_CLUSTER_RESTORE_DEFAULTS, **_settings(properties, _CLUSTER_PROPERTIES)}
        for keyword in _FROM_THE_SNAPSHOT | {"engine", "kms_key_id", "storage_encrypted"}:
            settings.pop(keyword, None)
        _set(model, settings, _CLUSTER_ATTRIBUTES)
        return {}

    @staticmethod
    def _replicates(model: Any) -> bool:
        """A secondary of an Aurora global database (a member, not its writer); detached at
        failover (RemoveFromGlobalCluster, promotion.py) it stands alone."""
        return bool(getattr(model, "global_cluster_identifier", None)) and not getattr(
            model, "is_writer", False
        )

    @staticmethod
    def _remove(model: Any, final_snapshot: str | None) -> None:
        model.backend.delete_db_cluster(model.db_cluster_identifier, final_snapshot)


def _global_version(backend: RDSBackend, identifier: str) -> str | None:
    """A secondary's engine version: its global database's (the template gives none:
    AWS::RDS::DBCluster EngineVersion, "Don't use this property if your DB cluster is a member
    of a global database cluster", docs D57). None when there is no such global database."""
    from relight.standin.extensions.rds.promotion import _find_global

    try:
        return str(_find_global(backend, identifier).engine_version)
    except RDSClientError:
        return None


_CLUSTER_GETATT = {
    "Endpoint.Address": "endpoint",
    "Endpoint.Port": "port",
    "ReadEndpoint.Address": "reader_endpoint",
    "DBClusterArn": "db_cluster_arn",
    "DBClusterResourceId": "db_cluster_resource_id",
}
