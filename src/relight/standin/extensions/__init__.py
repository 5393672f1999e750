"""relight's additions to moto: what the local stand-in plays that moto alone does not.

The stand-in server (server.py) calls `install()` after importing moto and before serving its
first request; the tests' in-process moto (tests/conftest.py) does too. One module (or, for
the larger, a package) per service moto plays:

- `rds`: DB instances and Aurora clusters restored from snapshots under CloudFormation;
- `ec2`: instances with their security groups, IMDSv2 and block devices, Auto Scaling spread
  over its subnets, volumes restored from snapshots, egress as declared, route-table
  associations; `ec2_network`: subnets' public addresses at launch and network ACLs;
- `cloudwatch`: alarms under CloudFormation (the DNS failback latch);
- `replica_lag`: read replicas' ReplicaLag (and Aurora secondaries' replication lag) in
  CloudWatch, their StatusInfos, and the replica faults of faults.py;
- `quotas`: Service Quotas' documented defaults, RDS's account quotas (DescribeAccountAttributes);
- `s3`: the bucket owner condition (ExpectedBucketOwner) and bucket policies' conditions
  (the TLS-only policy of relight's bucket);
- `autoscaling`: a CloudFormation update's rolling replacement of a group's instances (called
  by `cloudformation`);
- `cloudformation`: resources created, updated and deleted one by one with AWS's states,
  events and failure semantics (rollback, DisableRollback), termination protection, deletes
  that remove what the stack made, and the fault injection of faults.py.

Each addition's docstring names the AWS behaviour it plays (with AWS's page) and the moto
version it was written against: `MOTO_TESTED`; pyproject.toml pins moto to that minor version.
What several additions share (a CloudFormation Boolean) is in `common`.
Nothing here runs against AWS.

moto's CloudFormation builds its map of resource types from `CloudFormationModel`'s direct
subclasses the first time a template is parsed (`moto.cloudformation.parsing.get_model_map`, an
lru_cache): an addition that plays a resource type differently subclasses moto's model and lists
`CloudFormationModel` among its bases, so it is found, and later than moto's own, so it wins.
"""

from __future__ import annotations

MOTO_TESTED = "5.2.5"
_installed: list[bool] = []


def install() -> None:
    """Install every addition (once per process)."""
    if _installed:
        return
    from relight.standin.extensions import (
        cloudformation,
        cloudwatch,
        ec2,
        ec2_network,
        iam,
        quotas,
        rds,
        replica_lag,
        s3,
    )

    rds.install()
    ec2.install()
    ec2_network.install()
    cloudwatch.install()
    replica_lag.install()
    cloudformation.install()
    iam.install()
    quotas.install()
    s3.install()
    _installed.append(True)
