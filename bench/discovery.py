"""Discovery speed: 50 lookups over 10,000 EBS snapshots, 2,000 AMIs and 500 RDS snapshots.

Seeds a private local stand-in (moto's server, over HTTP as relight uses it),
then runs relight's discovery (one paginated listing per kind, all lookups
matched from it) and, in the same run, a baseline that makes one filtered
listing per lookup. Prints seconds and API calls for both. Target: under 2 s,
and no more calls than pages plus kinds.

Usage: .venv/bin/python bench/discovery.py   (seeding takes a minute or two)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SNAPSHOTS, IMAGES, DB_SNAPSHOTS = 10_000, 2_000, 500
EBS_ROLES, AMI_ROLES, DATABASES = 30, 15, 5  # 50 lookups


def seed(endpoint: str) -> None:
    import threading

    import boto3

    local = threading.local()  # one client per thread: building clients is costly

    def client(service: str) -> Any:
        if not hasattr(local, service):
            setattr(
                local,
                service,
                boto3.client(
                    service,
                    "us-west-2",
                    endpoint_url=endpoint,
                    aws_access_key_id="x",
                    aws_secret_access_key="x",
                ),
            )
        return getattr(local, service)

    volumes = [
        client("ec2").create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
        for _ in range(50)
    ]

    def snapshot(i: int) -> None:
        tags = [{"Key": "Role", "Value": f"data{i % EBS_ROLES}"}, {"Key": "n", "Value": str(i)}]
        client("ec2").create_snapshot(
            VolumeId=volumes[i % len(volumes)],
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
        )

    def image(i: int) -> None:
        ec2 = client("ec2")
        image_id = ec2.register_image(Name=f"web-{i}", RootDeviceName="/dev/xvda")["ImageId"]
        ec2.create_tags(
            Resources=[image_id], Tags=[{"Key": "Role", "Value": f"app{i % AMI_ROLES}"}]
        )

    for db in range(DATABASES):
        client("rds").create_db_instance(
            DBInstanceIdentifier=f"db{db}",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            MasterUsername="u",
            MasterUserPassword="p4ssw0rd-long",
            AllocatedStorage=20,
        )

    def db_snapshot(i: int) -> None:
        client("rds").create_db_snapshot(
            DBInstanceIdentifier=f"db{i % DATABASES}", DBSnapshotIdentifier=f"db{i % DATABASES}-{i}"
        )

    with ThreadPoolExecutor(max_workers=2) as pool:  # the machine has two cores
        list(pool.map(snapshot, range(SNAPSHOTS)))
        list(pool.map(image, range(IMAGES)))
        list(pool.map(db_snapshot, range(DB_SNAPSHOTS)))


def environment():  # type: ignore[no-untyped-def]
    from relight.environment import Environment

    artifacts: dict[str, Any] = {}
    for n in range(EBS_ROLES):
        artifacts[f"data{n}"] = {"kind": "ebs_snapshot", "tags": {"Role": f"data{n}"}}
    for n in range(AMI_ROLES):
        artifacts[f"app{n}"] = {"kind": "ami", "tags": {"Role": f"app{n}"}}
    for n in range(DATABASES):
        artifacts[f"db{n}"] = {"kind": "rds_snapshot", "db_instance": f"db{n}"}
    return Environment.model_validate(
        {
            "name": "bench",
            "home_region": "us-west-2",
            "objectives": {"rpo": "1d", "rto": "1h"},
            "artifacts": artifacts,
            "stacks": {"x": {"blueprint": "network"}},
        }
    )


def baseline(aws: Any, env: Any, account: str) -> tuple[float, int]:
    """One filtered, paginated listing per lookup: what relight avoids."""
    from relight.discovery import Lister, matches, newest

    start = time.perf_counter()
    calls = 0
    for lookup in env.artifacts.values():
        lister = Lister(aws, "us-west-2")
        hits = [c for c in lister.list(lookup.kind, [lookup]) if matches(lookup, c, account)]
        newest(hits)
        calls += lister.calls
    return time.perf_counter() - start, calls


def main() -> None:
    from relight import standin
    from relight.aws import Aws, AwsTarget
    from relight.discovery import Lister, discover, list_by_kind

    with tempfile.TemporaryDirectory() as tmp:
        running = standin.ensure_running(Path(tmp))
        try:
            started = time.perf_counter()
            seed(running.endpoint)
            print(
                f"seeded {SNAPSHOTS} EBS snapshots, {IMAGES} AMIs, {DB_SNAPSHOTS} RDS snapshots "
                f"in {time.perf_counter() - started:.0f} s"
            )
            aws = Aws(AwsTarget(endpoint_url=running.endpoint, stand_in=True))
            env = environment()
            account = aws.account_id("us-west-2")
            discover(aws, env, "us-west-2", account_id=account, now=lambda: datetime.now(UTC))
            start = time.perf_counter()
            found = discover(
                aws, env, "us-west-2", account_id=account, now=lambda: datetime.now(UTC)
            )
            ours = time.perf_counter() - start
            assert len(found.artifacts) == len(env.artifacts), found.missing
            lister = Lister(aws, "us-west-2")
            list_by_kind(lister, env.artifacts.values())
            pages, kinds = lister.calls, 3
            base_seconds, base_calls = baseline(aws, env, account)
        finally:
            standin.stop(Path(tmp))
    print(
        f"relight discovery, {len(env.artifacts)} lookups: {ours:.3f} s, {found.calls} API "
        f"calls ({pages} listing pages + 1 zone listing; pages + kinds = {pages + kinds})"
    )
    print(
        f"one listing per lookup (baseline): {base_seconds:.3f} s, {base_calls} API calls; "
        f"relight is {base_seconds / ours:.1f}x faster with {base_calls / found.calls:.1f}x "
        "fewer calls (target < 2 s)"
    )


if __name__ == "__main__":
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    sys.exit(main())
