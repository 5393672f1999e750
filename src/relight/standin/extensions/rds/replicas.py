"""A read replica as CloudFormation makes one from `AWS::RDS::DBInstance` with
`SourceDBInstanceIdentifier` (the source's ARN when it is in another region), through moto's
CreateDBInstanceReadReplica.

moto 5.2.6 makes a cross-region replica from an ARN (measured): DescribeDBInstances in the
replica's region reports `ReadReplicaSourceDBInstanceIdentifier` (the source's ARN) and the
source lists the replica's ARN in `ReadReplicaDBInstanceIdentifiers`. What it falls short on,
played here:

- the replica is a copy of its source, so it keeps the source's Availability Zone (in another
  region), backup retention and settings: the template's are applied (class, subnet group,
  security groups, Multi-AZ, groups, monitoring, deletion protection), the zone is one of its
  subnet group's, and its backups are off ("All read replica DB instances are created with
  backups disabled", CreateDBInstanceReadReplica);
- the template's `KmsKeyId` is ignored: the replica is encrypted with it (docs D1);
- deleting a cross-region replica leaves its ARN in the source's list (moto removes the
  identifier): the ARN is removed too.
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend, rds_backends

from relight.standin.extensions.rds.common import _set, _subnet_zones

# CreateDBInstanceReadReplica of a source without automated backups: InvalidDBInstanceState.
NO_BACKUPS = (
    "Automated backups are not enabled for this database instance. To enable automated "
    "backups, use ModifyDBInstance to set the backup retention period to a non-zero value."
)
# The template's properties a replica takes (the rest it inherits from its source).
_REPLICA_PROPERTIES = (
    "db_instance_class",
    "db_subnet_group_name",
    "multi_az",
    "publicly_accessible",
    "auto_minor_version_upgrade",
    "deletion_protection",
    "enable_iam_database_authentication",
    "enable_cloudwatch_logs_exports",
    "copy_tags_to_snapshot",
    "db_parameter_group_name",
    "option_group_name",
    "monitoring_interval",
    "monitoring_role_arn",
    "vpc_security_group_ids",
)


def replica(
    backend: RDSBackend,
    identifier: str,
    properties: dict[str, Any],
    given: dict[str, Any],
    attributes: dict[str, str],
) -> Any:
    """A read replica of `SourceDBInstanceIdentifier`, named `identifier`, in `backend`'s
    region, with the template's settings (`given`, as moto's keywords; `attributes`: where moto
    keeps one under another name)."""
    source = str(properties["SourceDBInstanceIdentifier"])
    if not backend.find_db_from_id(source).backup_retention_period:
        raise RDSClientError("InvalidDBInstanceState", NO_BACKUPS)  # docs D3: RDS's code, text
    settings = {k: v for k, v in given.items() if k in _REPLICA_PROPERTIES}
    zones = _subnet_zones(backend, settings.get("db_subnet_group_name"))
    settings["availability_zone"] = zones[0] if zones else f"{backend.region_name}a"
    settings["backup_retention_period"] = 0
    if properties.get("KmsKeyId"):
        settings["kms_key_id"] = str(properties["KmsKeyId"])
    model = backend.create_db_instance_read_replica(
        {
            "backend": backend,  # first: the subnet group is looked up in the replica's region
            "db_instance_identifier": identifier,
            "source_db_instance_identifier": source,
            **{k: v for k, v in settings.items() if k != "enable_cloudwatch_logs_exports"},
        }
    )
    model.tags = []  # a copy of its source's list until CloudFormation's are set (_adopt)
    _set(model, settings, attributes)
    return model


def unlist_replica(model: Any) -> None:
    """Before RDS deletes `model`: a cross-region replica's ARN leaves its source's list (moto
    removes only a same-region replica's identifier)."""
    source = getattr(model, "source_db_instance_identifier", None)
    if not getattr(model, "is_replica", False) or not source or not source.startswith("arn:"):
        return
    if model.deletion_protection:
        return  # RDS refuses the delete: the replica stays listed
    region = source.split(":")[3]
    found = rds_backends[model.account_id][region].databases.get(source.split(":")[-1])
    if found is not None:
        with contextlib.suppress(ValueError):
            found.replicas.remove(model.db_instance_arn)
        found.replicas.append(model.db_instance_identifier)  # what moto's delete removes
