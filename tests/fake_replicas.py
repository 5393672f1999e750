"""RDS's read replicas as AWS plays them, over moto (5.2.6 falls short here).

moto keeps `ReadReplicaSourceDBInstanceIdentifier` after PromoteReadReplica (and the replica's
backups off, where PromoteReadReplica's BackupRetentionPeriod is "Default: 1"), promotes a DB
instance that is no replica without a word, and makes a replica of a source whose automated
backups are off. `ReplicaRds` wraps a moto RDS client and answers as RDS does (docs/
aws-behaviours.md D50, D51): a promoted instance names no source; PromoteReadReplica of an
instance that is no replica is `InvalidDBInstanceState` "DB Instance is not a read replica.";
CreateDBInstanceReadReplica of a source with BackupRetentionPeriod 0 is
`InvalidDBInstanceState` with RDS's text. `ReplicaAws` hands it out in place of moto's RDS
client, sharing one record of what was promoted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from relight.steps.failback.replica import NO_BACKUPS


def _refused(operation: str, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class Promotions:
    # "region/identifier" → its backup retention: PromoteReadReplica's BackupRetentionPeriod,
    # "Default: 1" (a read replica has backups off until then)
    promoted: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # PromoteReadReplica, in order


class ReplicaRds:
    def __init__(self, client: Any, region: str, record: Promotions) -> None:
        self._client, self._region, self._record = client, region, record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
        answer = dict(self._client.describe_db_instances(**kwargs))
        for db in answer["DBInstances"]:
            days = self._record.promoted.get(f"{self._region}/{db['DBInstanceIdentifier']}")
            if days is not None:
                db.pop("ReadReplicaSourceDBInstanceIdentifier", None)
                db["BackupRetentionPeriod"] = days
        return answer

    def promote_read_replica(self, **kwargs: Any) -> dict[str, Any]:
        ident = kwargs["DBInstanceIdentifier"]
        (db,) = self.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
        if not db.get("ReadReplicaSourceDBInstanceIdentifier"):
            raise _refused(
                "PromoteReadReplica", "InvalidDBInstanceState", "DB Instance is not a read replica."
            )
        self._record.calls.append(f"{self._region}/{ident}")
        answer = dict(self._client.promote_read_replica(**kwargs))
        self._record.promoted[f"{self._region}/{ident}"] = int(
            kwargs.get("BackupRetentionPeriod", 1)
        )
        answer["DBInstance"].pop("ReadReplicaSourceDBInstanceIdentifier", None)
        return answer

    def create_db_instance_read_replica(self, **kwargs: Any) -> dict[str, Any]:
        source = str(kwargs["SourceDBInstanceIdentifier"])
        region = source.split(":")[3] if source.startswith("arn:") else self._region
        import boto3

        (db,) = boto3.client("rds", region).describe_db_instances(
            DBInstanceIdentifier=source.rsplit(":", 1)[-1]
        )["DBInstances"]
        if not db.get("BackupRetentionPeriod"):
            raise _refused("CreateDBInstanceReadReplica", "InvalidDBInstanceState", NO_BACKUPS)
        return dict(self._client.create_db_instance_read_replica(**kwargs))


class ReplicaAws:
    """An `Aws` whose RDS clients are `ReplicaRds`."""

    def __init__(self, aws: Any, record: Promotions) -> None:
        self._aws, self.record = aws, record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._aws, name)

    def client(self, service: str, region: str, **kwargs: Any) -> Any:
        made = self._aws.client(service, region, **kwargs)
        return ReplicaRds(made, region, self.record) if service == "rds" else made


def home_and_replica(
    home: Any, here: Any, source: str = "orders", replica: str = "orders-replica"
) -> str:
    """On moto: a PostgreSQL instance `source` through the home client (automated backups on,
    as a replica's source needs) and its read replica `replica` through the other region's
    client, made from the source's ARN as a cross-region replica is. Returns that ARN."""
    made = home.create_db_instance(
        DBInstanceIdentifier=source,
        Engine="postgres",
        DBInstanceClass="db.t4g.medium",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )["DBInstance"]
    here.create_db_instance_read_replica(
        DBInstanceIdentifier=replica, SourceDBInstanceIdentifier=made["DBInstanceArn"]
    )
    return str(made["DBInstanceArn"])


@contextmanager
def replica_in_west(faults: str) -> Iterator[dict[str, Any]]:
    """On moto: `home_and_replica` (orders in us-east-1, orders-replica in us-west-2), with
    us-west-2's RDS and both regions' CloudWatch clients; the stand-in faults a test set under
    the source name `faults` are cleared after."""
    import boto3
    from moto import mock_aws

    from relight.standin.faults import REGISTRY

    with mock_aws():
        rds = boto3.client("rds", region_name="us-west-2")
        home_and_replica(boto3.client("rds", region_name="us-east-1"), rds)
        try:
            yield {
                "rds": rds,
                "cloudwatch": boto3.client("cloudwatch", region_name="us-west-2"),
                "home_cloudwatch": boto3.client("cloudwatch", region_name="us-east-1"),
            }
        finally:
            REGISTRY.clear(faults)
