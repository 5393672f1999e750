"""A stack's databases (RDS instances and Aurora clusters): available, restored from the
expected snapshot."""

from __future__ import annotations

from relight.model.shapes import parameter_dict
from relight.steps.verify.common import FAILED, PASSED, PENDING, Probe, Reading, VerifierBase

_DB_SETTLING = {
    "backing-up",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "creating",
    "maintenance",
    "modifying",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "starting",
    "storage-optimization",
    "upgrading",
}


class DatabaseChecks(VerifierBase):
    """The checks of a stack's RDS instances and Aurora clusters."""

    def _databases(
        self, key: str, resources: dict[str, list[str]], expected: dict[str, str]
    ) -> Probe:
        # Read once, not per round: the stack's parameters do not change while it is watched.
        name = (self.plan.stacks.get(key) or self.plan.prepared[key]).name
        stack = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        given = parameter_dict(stack)
        restored = [
            _restored_from(given, expected.get(kind))
            for resource, kind in (
                ("AWS::RDS::DBInstance", "rds_snapshot"),
                ("AWS::RDS::DBCluster", "rds_cluster_snapshot"),
            )
            if resource in resources and expected.get(kind)
        ]

        def read() -> list[Reading]:
            rds = self.client("rds")
            statuses = [
                rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0][
                    "DBInstanceStatus"
                ]
                for ident in resources.get("AWS::RDS::DBInstance", [])
            ] + [
                rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]["Status"]
                for ident in resources.get("AWS::RDS::DBCluster", [])
            ]
            return [_database(status) for status in statuses] + restored

        return read


def _restored_from(given: dict[str, str], snapshot: str | None) -> Reading:
    """The stack's snapshot parameter, as CloudFormation holds it, is the expected one."""
    result = PASSED if snapshot in given.values() else FAILED
    return Reading("database restored from the expected snapshot", result, str(snapshot))


def _database(status: str) -> Reading:
    if status == "available":
        return Reading("database available", PASSED, status)
    if status in _DB_SETTLING:
        return Reading("database available", PENDING, "not yet available", status)
    return Reading("database available", FAILED, status)
