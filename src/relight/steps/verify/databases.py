"""A stack's databases (RDS instances and Aurora clusters): available, restored from the
expected snapshot; and a database the failover promoted (replica mode, issue 23): writable (no
longer a replica; for Aurora, out of its global database), and every stack that reads its
`Endpoint` (`{output: KEY.Endpoint}`) deployed with the promoted database's endpoint."""

from __future__ import annotations

from relight.aws.cloudformation import outputs_of
from relight.model.environment import OutputRef
from relight.model.shapes import parameter_dict
from relight.steps.replica.state import CLUSTER, INSTANCE, ReplicaState, read_replica_state
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
WRITABLE = "promoted database writable"
READS = "reads the promoted endpoint"


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

    def _promoted(self, key: str) -> list[Probe]:
        """The database of stack `key`, promoted by this failover: writable, and the endpoint
        every stack reading its `Endpoint` was deployed with."""
        name = (self.plan.stacks.get(key) or self.plan.prepared[key]).name
        stack = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        outputs = outputs_of(stack)
        kind = CLUSTER if outputs.get("GlobalClusterIdentifier") else INSTANCE
        identifier = outputs.get("DatabaseIdentifier", "")
        readers = self._endpoint_readers(key)

        def read() -> list[Reading]:
            state = read_replica_state(self.client("rds"), key, kind, identifier, self.region)
            return [_writable(state)] + [
                _reads(reader, param, given, state) for reader, param, given in readers
            ]

        return [read]

    def _endpoint_readers(self, key: str) -> list[tuple[str, str, str | None]]:
        """(stack, parameter, the value it was deployed with) of each stack given `key`'s
        Endpoint output."""
        found = []
        for reader, sp in [*self.plan.stacks.items(), *self.plan.prepared.items()]:
            for param, value in sp.parameters.items():
                if isinstance(value, OutputRef) and value.stack == key:
                    if value.output != "Endpoint":
                        continue
                    if reader in self.plan.stacks and not self.outcome.results[reader].ok:
                        continue  # not built: its own check says so
                    found.append((reader, param, self._given(reader).get(param)))
        return found


def _writable(state: ReplicaState) -> Reading:
    if not state.exists:
        return Reading(WRITABLE, FAILED, state.detail)
    if state.promoted and state.available:
        return Reading(WRITABLE, PASSED, f"{state.detail}; available, takes writes")
    if state.writable:  # backing-up: its first backup after promotion runs, writes go on (D25)
        return Reading(WRITABLE, PASSED, f"{state.detail}; writable; its first backup is running")
    if state.promoted and (state.status in _DB_SETTLING or state.status == "promoting"):
        return Reading(WRITABLE, PENDING, state.detail, f"{state.status}, not yet available")
    if state.promoted:
        return Reading(WRITABLE, FAILED, f"{state.detail}; status {state.status}")
    return Reading(WRITABLE, FAILED, f"{state.detail}: still a replica, read-only")


def _reads(reader: str, param: str, given: str | None, state: ReplicaState) -> Reading:
    check = f"{READS} ({reader}.{param})"
    if given and given == state.endpoint:
        return Reading(check, PASSED, f"{reader} was deployed with {param}={given}")
    return Reading(
        check,
        FAILED,
        f"{reader} was deployed with {param}={given or '(nothing)'}, not the promoted "
        f"database's endpoint {state.endpoint}",
    )


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
