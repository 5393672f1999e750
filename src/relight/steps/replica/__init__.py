"""A database stack in replica mode (issue 23): a replica of the home database standing in the
recovery region, promoted at failover.

- `state`: `ReplicaState` and `read_replica_state`, what RDS in the recovery region says of a
  replica (exists, replicates, promoted, its endpoint), read in that region only;
- `promote`: `promote_replicas`, the failover's promotion (PromoteReadReplica for an
  instance, RemoveFromGlobalCluster for an Aurora secondary cluster), waited for until the
  database is available and writable, and `Promotion`, what each took;
- `lag`: the replica's lag from CloudWatch in the recovery region (readiness's part).
"""
