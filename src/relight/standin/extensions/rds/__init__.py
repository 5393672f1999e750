"""Stand-in additions for RDS under CloudFormation: databases restored from snapshots.

Written against moto 5.2.5, whose CloudFormation falls short of AWS here:

- `AWS::RDS::DBInstance` ignores `DBSnapshotIdentifier`: without `Engine` it fails ("engine None
  not supported"), with it it makes an empty database;
- `AWS::RDS::DBCluster` is not modelled at all (the resource is skipped with a warning);
- a DB instance in a cluster is made as a stand-alone one (`DBClusterIdentifier` is dropped);
- `VPCSecurityGroups`, `DeletionProtection`, `MultiAZ` and the monitoring, IAM and log settings
  are dropped; `DeletionPolicy` (Snapshot by default for these resources) is ignored on delete,
  and a stack update that changes a DB instance leaves `None` where the instance was.

The two models, `RestoredDBInstance` (instances.py) and `RestoredDBCluster` (clusters.py),
play these resource types as AWS does, through the RDS backend's own restore and delete, so
DescribeDBInstances, DescribeDBClusters and the snapshots a delete leaves agree with what the
stack made. They subclass moto's models and list `CloudFormationModel` among their bases so
`moto.cloudformation.parsing.get_model_map` (built from `CloudFormationModel.__subclasses__()`)
finds them after moto's own and picks them; `install()` clears that map's caches should a
template have been parsed before they existed.

moto's backend builds plain `DBInstance`/`DBCluster` objects; the one a stack makes is re-classed
to its model (`_adopt`, common.py), so that CloudFormation's delete and GetAtt reach the
behaviour here while every RDS API sees the same object. A cluster member keeps moto's class
(its storage and keys are its cluster's), and moto's delete, as its DeletionPolicy is Delete by
default. What the two models share (reading a template's properties, identifiers, tags, how an
update and a delete treat a database) is in common.py. What a failover does to a replica-mode
database (PromoteReadReplica, RemoveFromGlobalCluster, a replica's StatusInfos) is in
promotion.py; the replica CloudFormation makes, replicas.py.
"""

from __future__ import annotations

from moto.cloudformation import parsing

from relight.standin.extensions.rds import globals as _globals
from relight.standin.extensions.rds import promotion
from relight.standin.extensions.rds.clusters import RestoredDBCluster
from relight.standin.extensions.rds.instances import RestoredDBInstance


def install() -> None:
    """Make moto's CloudFormation use the models above (written against moto 5.2.5).

    They exist once this module is imported; moto's model map is an lru_cache built when the
    first template is parsed, so it is rebuilt here if it was built without them. moto's
    CreateGlobalCluster is wrapped so its source cluster is the writer (globals.py). Read
    replicas' promotion and Aurora global databases' detach: promotion.py."""
    _globals.install()
    promotion.install()
    models = parsing.get_model_map()
    if models.get("AWS::RDS::DBInstance") is not RestoredDBInstance or (
        models.get("AWS::RDS::DBCluster") is not RestoredDBCluster
    ):
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()
