"""Stand-in additions for RDS under CloudFormation: databases restored from snapshots.

Written against moto 5.2.5, whose CloudFormation falls short of AWS here:

- `AWS::RDS::DBInstance` ignores `DBSnapshotIdentifier`: without `Engine` it fails ("engine None
  not supported"), with it it makes an empty database;
- `AWS::RDS::DBCluster` is not modelled at all (the resource is skipped with a warning);
- a DB instance in a cluster is made as a stand-alone one (`DBClusterIdentifier` is dropped);
- `VPCSecurityGroups`, `DeletionProtection`, `MultiAZ` and the monitoring, IAM and log settings
  are dropped; `DeletionPolicy` (Snapshot by default for these resources) is ignored on delete,
  and a stack update that changes a DB instance leaves `None` where the instance was.

The two models below play these resource types as AWS does, through the RDS backend's own
restore and delete, so DescribeDBInstances, DescribeDBClusters and the snapshots a delete leaves
agree with what the stack made. They subclass moto's models and list `CloudFormationModel` among
their bases so `moto.cloudformation.parsing.get_model_map` (built from
`CloudFormationModel.__subclasses__()`) finds them after moto's own and picks them; `install()`
clears that map's caches should a template have been parsed before they existed.

moto's backend builds plain `DBInstance`/`DBCluster` objects; the one a stack makes is re-classed
to the model below (`_adopt`), so that CloudFormation's delete and GetAtt reach the behaviour
here while every RDS API sees the same object. A cluster member keeps moto's class (its storage
and keys are its cluster's), and moto's delete, as its DeletionPolicy is Delete by default.
"""

from __future__ import annotations

import contextlib
import random
import string
from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.rds.exceptions import InvalidParameterCombination, RDSClientError
from moto.rds.models import DBCluster, DBInstance, RDSBackend, rds_backends

from relight.model.shapes import tag_dict
from relight.standin.extensions.common import template_flag as _flag

Convert = Callable[[Any], Any]


def _name(value: Any) -> str:
    """A Ref to a resource moto gives no physical id (DBSubnetGroup) is the object itself."""
    return str(getattr(value, "name", value))


def _names(value: Any) -> list[str] | None:
    """A list of names; None when none is known (a Ref moto lost in a stack update is None)."""
    names = [_name(v) for v in value if v is not None]
    return names or None


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
# (RestoreDBInstanceFromDBSnapshot: Single-AZ by default; the rest are the properties' defaults).
_INSTANCE_RESTORE_DEFAULTS: dict[str, Any] = {
    "multi_az": False,
    "deletion_protection": False,
    "enable_iam_database_authentication": False,
    "enable_cloudwatch_logs_exports": [],
    "copy_tags_to_snapshot": False,
    "monitoring_interval": 0,
    "monitoring_role_arn": None,
}
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
}
_CLUSTER_RESTORE_DEFAULTS: dict[str, Any] = {
    "deletion_protection": False,
    "enable_iam_database_authentication": False,
    "enable_cloudwatch_logs_exports": [],
    "copy_tags_to_snapshot": False,
}
# Where moto keeps a setting under another name than the keyword it is created with.
_INSTANCE_ATTRIBUTES = {"enable_cloudwatch_logs_exports": "enabled_cloudwatch_logs_exports"}
_CLUSTER_ATTRIBUTES = {
    "enable_cloudwatch_logs_exports": "enabled_cloudwatch_logs_exports",
    "enable_iam_database_authentication": "iam_auth",
    "db_cluster_parameter_group_name": "parameter_group",
}
# Given at a restore, these come from the snapshot and cannot be set (the DBSnapshotIdentifier
# property's documentation lists them); a template that names them keeps the snapshot's.
_FROM_THE_SNAPSHOT = {"master_username", "master_user_password", "database_name"}


def _settings(properties: dict[str, Any], table: dict[str, tuple[str, Convert]]) -> dict[str, Any]:
    given = {
        keyword: convert(properties[prop])
        for prop, (keyword, convert) in table.items()
        if properties.get(prop) is not None
    }
    return {keyword: value for keyword, value in given.items() if value is not None}


def _set(model: Any, settings: dict[str, Any], attributes: dict[str, str]) -> None:
    """Settings as given, falsy ones included: moto's restore applies only truthy overrides."""
    for keyword, value in settings.items():
        setattr(model, attributes.get(keyword, keyword), value)


def _identifier(resource_name: str) -> str:
    """A DB identifier: CloudFormation's generated name (stack-LogicalId-SUFFIX) kept within
    RDS's rule (63 letters, digits and hyphens, no two hyphens together), suffix kept."""
    stem, _, suffix = resource_name.replace("_", "-").rpartition("-")
    stem = "-".join(p for p in stem.split("-") if p)[: 62 - len(suffix)].rstrip("-")
    return f"{stem}-{suffix}".lower() if stem else suffix.lower()


def _final_snapshot_name(identifier: str) -> str:
    """A final snapshot's name. AWS documents no format for it (docs/aws-behaviours.md R3)."""
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    return f"{identifier}-final-{suffix}"


def _tags(model: Any, properties: dict[str, Any]) -> list[dict[str, str]]:
    """The tags CloudFormation gives what it makes: the stack's tags, the template's, and
    aws:cloudformation:stack-name, stack-id and logical-id."""
    from moto.cloudformation.models import cloudformation_backends

    stack_id = str(getattr(model, "cfn_stack_id", ""))
    backend = cloudformation_backends[model.account_id][model.region]
    stack = backend.stacks.get(stack_id)
    found: dict[str, str] = dict(getattr(stack, "tags", None) or {})
    found.update(tag_dict(properties.get("Tags")))
    if stack is not None:
        found["aws:cloudformation:stack-name"] = stack.name
        found["aws:cloudformation:stack-id"] = stack_id
        found["aws:cloudformation:logical-id"] = str(getattr(model, "cfn_logical_id", ""))
    return [{"Key": k, "Value": v} for k, v in found.items()]


def _adopt(
    model: Any,
    cls: type | None,
    resource: dict[str, Any],
    replaced_by: tuple[Any, ...],
    stack: dict[str, Any],
) -> Any:
    """The backend's object as the stack's resource: re-classed to `cls` (when given) so the
    stack's delete and GetAtt reach it, with the resource's DeletionPolicy (Snapshot unless
    given: the default for these types, DeletionPolicy attribute page), what an update
    replaces it for (`replaced_by`), the stack it belongs to, and the tags CloudFormation
    gives it."""
    if cls is not None:
        model.__class__ = cls
    model.cfn_deletion_policy = resource.get("DeletionPolicy", "Snapshot")
    model.cfn_replaced_by = replaced_by
    model.cfn_stack_id = stack.get("StackId", "")
    model.cfn_logical_id = stack.get("LogicalId", "")
    model.tags = _tags(model, resource.get("Properties") or {})
    return model


def _subnet_zones(backend: RDSBackend, group: str | None) -> list[str]:
    if not group:
        return []
    subnets = backend.describe_db_subnet_groups(group)[0].subnets
    return sorted({s["SubnetAvailabilityZone"]["Name"] for s in subnets})


def _snapshot_id(backend: RDSBackend, id_or_arn: str) -> str:
    return (
        backend.extract_snapshot_name_from_arn(id_or_arn)
        if id_or_arn.startswith("arn:")
        else id_or_arn
    )


class _StackDatabase:
    """What the two models below share: how a stack update and a stack delete treat them.

    A subclass says what an update replaces it for (`_replaced_by`), how it changes in place
    (`_change`) and how RDS deletes it (`_remove`)."""

    @staticmethod
    def _replaced_by(properties: dict[str, Any]) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def _change(cls, model: Any, properties: dict[str, Any]) -> dict[str, Any]:
        """Change `model` in place to `properties`; returns the resource attributes whose
        default depends on what it is (a cluster member's DeletionPolicy is Delete)."""
        raise NotImplementedError

    @staticmethod
    def _remove(model: Any, final_snapshot: str | None) -> None:
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        """Changed in place, or replaced: a new one made, then the old one goes by the new
        resource's UpdateReplacePolicy (Delete unless given; Snapshot leaves a final snapshot
        first). One RDS will not delete (deletion protection) stays: CloudFormation's clean-up
        leaves what it cannot delete, and the update still completes."""
        properties = cloudformation_json.get("Properties") or {}
        old = original_resource
        stack = {"StackId": getattr(old, "cfn_stack_id", ""), "LogicalId": old.logical_resource_id}
        if cls._replaced_by(properties) == getattr(old, "cfn_replaced_by", None):
            defaults = cls._change(old, properties)
            resource = {**defaults, **cloudformation_json}
            return _adopt(old, None, resource, cls._replaced_by(properties), stack)
        new = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            new_resource_name, cloudformation_json, account_id, region_name, **stack
        )
        policy = cloudformation_json.get("UpdateReplacePolicy", "Delete")
        if policy != "Retain":
            final = _final_snapshot_name(old.physical_resource_id) if policy == "Snapshot" else None
            with contextlib.suppress(RDSClientError):
                cls._remove(old, final)
        return new

    def delete(self, account_id: str, region_name: str) -> None:
        """The stack's delete: refused by RDS while DeletionProtection is on; DeletionPolicy
        Snapshot (the default) leaves a final snapshot."""
        final = None
        if getattr(self, "cfn_deletion_policy", "Snapshot") == "Snapshot":
            final = _final_snapshot_name(self.physical_resource_id)  # type: ignore[attr-defined]
        self._remove(self, final)


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
    exist fails the create. Without it (or empty): moto's own create, or with
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
    def _remove(model: Any, final_snapshot: str | None) -> None:
        model.backend.delete_db_instance(
            model.db_instance_identifier, final_db_snapshot_identifier=final_snapshot
        )


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
    def _remove(model: Any, final_snapshot: str | None) -> None:
        model.backend.delete_db_cluster(model.db_cluster_identifier, final_snapshot)


_CLUSTER_GETATT = {
    "Endpoint.Address": "endpoint",
    "Endpoint.Port": "port",
    "ReadEndpoint.Address": "reader_endpoint",
    "DBClusterArn": "db_cluster_arn",
    "DBClusterResourceId": "db_cluster_resource_id",
}


def install() -> None:
    """Make moto's CloudFormation use the models above (written against moto 5.2.5).

    They exist once this module is imported; moto's model map is an lru_cache built when the
    first template is parsed, so it is rebuilt here if it was built without them."""
    models = parsing.get_model_map()
    if models.get("AWS::RDS::DBInstance") is not RestoredDBInstance or (
        models.get("AWS::RDS::DBCluster") is not RestoredDBCluster
    ):
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()
