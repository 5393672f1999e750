"""Discovery speed and API calls: 50 lookups, one listing per kind against one per lookup.

Two runs, each beside a baseline measured in the same run: one paginated listing
per lookup, filtered on the server by that lookup's own tag values (or DB
instance), which is what relight avoids by listing each kind once:

1. Full scale (10,000 EBS snapshots, 2,000 AMIs, 500 RDS snapshots) against an
   in-memory fake of EC2 and RDS that pages like AWS (1,000 items a page for
   EC2, 100 for RDS) and applies the same server-side filters. This measures
   relight's own work and its API calls. The local stand-in cannot serve this
   scale: moto's DescribeImages did not answer within 60 s with 2,000 AMIs
   beside 10,000 snapshots (measured; it looks each image's snapshots up in
   all of them).
2. The local stand-in over HTTP, at a scale it serves (2,000 snapshots, 200
   AMIs, 100 RDS snapshots): the same code end to end.

Target: under 2 s, and no more calls than pages plus kinds.
Usage: .venv/bin/python bench/discovery.py   (the stand-in seeding takes about a minute)
       .venv/bin/python bench/discovery.py --quick   (a hundredth of the scale: the suite's check
                                                   that this script still works, no figure)
"""

from __future__ import annotations

import fnmatch
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EBS_ROLES, AMI_ROLES, DATABASES = 30, 15, 5  # 50 lookups
ACCOUNT = "123456789012"


def environment():  # type: ignore[no-untyped-def]
    from relight.model.environment import Environment

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


# 1. the in-memory fake -------------------------------------------------------------------------


def _passes(item: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    tags = {t["Key"]: t["Value"] for t in item.get("Tags") or item.get("TagList") or []}
    for f in filters:
        name, values = f["Name"], f["Values"]
        if name == "tag-key":
            ok = any(v in tags for v in values)
        elif name.startswith("tag:"):
            ok = tags.get(name[4:]) in values
        elif name == "name":
            ok = any(fnmatch.fnmatchcase(item["Name"], v) for v in values)
        elif name in ("state", "status"):
            ok = item.get("State") in values
        elif name == "db-instance-id":
            ok = item["DBInstanceIdentifier"] in values
        else:
            raise NotImplementedError(name)
        if not ok:
            return False
    return True


class FakeClient:
    """Pages like AWS; counts one call per page."""

    def __init__(self, data: dict[str, tuple[str, list[dict[str, Any]]]], counter: list[int]):
        self.data = data  # operation → (result key, items)
        self.counter = counter

    def get_paginator(self, operation: str) -> Any:
        client = self

        class Paginator:
            def paginate(self, **kw: Any) -> Iterator[dict[str, Any]]:
                key, items = client.data[operation]
                size = kw.get("PaginationConfig", {}).get("PageSize", 1000)
                chosen = [i for i in items if _passes(i, kw.get("Filters", []))]
                for start in range(0, max(len(chosen), 1), size):
                    client.counter[0] += 1
                    yield {key: chosen[start : start + size]}

        return Paginator()

    def describe_availability_zones(self, **_: Any) -> dict[str, Any]:
        self.counter[0] += 1
        return {
            "AvailabilityZones": [
                {"ZoneName": "us-west-2a", "ZoneId": "usw2-az1"},
                {"ZoneName": "us-west-2b", "ZoneId": "usw2-az2"},
            ]
        }


class FakeAws:
    def __init__(self, snapshots: int, images: int, db_snapshots: int) -> None:
        self.calls = [0]
        base = datetime(2030, 1, 1, tzinfo=UTC)
        snaps = [
            {
                "SnapshotId": f"snap-{i:017x}",
                "StartTime": base + timedelta(seconds=i),
                "OwnerId": ACCOUNT,
                "State": "completed",
                "VolumeId": f"vol-{i % 50:017x}",
                "Tags": [{"Key": "Role", "Value": f"data{i % EBS_ROLES}"}],
            }
            for i in range(snapshots)
        ]
        imgs = [
            {
                "ImageId": f"ami-{i:017x}",
                "Name": f"web-{i}",
                "OwnerId": ACCOUNT,
                "State": "available",
                "CreationDate": (base + timedelta(seconds=i)).isoformat(),
                "Tags": [{"Key": "Role", "Value": f"app{i % AMI_ROLES}"}],
            }
            for i in range(images)
        ]
        dbs = [
            {
                "DBSnapshotIdentifier": f"db{i % DATABASES}-{i}",
                "Status": "available",
                "DBInstanceIdentifier": f"db{i % DATABASES}",
                "SnapshotCreateTime": base + timedelta(seconds=i),
                "DBSnapshotArn": f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:db-{i}",
                "TagList": [],
            }
            for i in range(db_snapshots)
        ]
        self.ec2 = FakeClient(
            {"describe_snapshots": ("Snapshots", snaps), "describe_images": ("Images", imgs)},
            self.calls,
        )
        self.rds = FakeClient({"describe_db_snapshots": ("DBSnapshots", dbs)}, self.calls)

    def client(self, service: str, region: str, *, bounded: bool = False) -> Any:
        return self.ec2 if service == "ec2" else self.rds  # as Aws.client; nothing to bound here


# 2. the stand-in ------------------------------------------------------------------------------


def seed_stand_in(endpoint: str, snapshots: int, images: int, db_snapshots: int) -> None:
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
        for _ in range(20)
    ]

    def snapshot(i: int) -> None:
        client("ec2").create_snapshot(
            VolumeId=volumes[i % len(volumes)],
            TagSpecifications=[
                {
                    "ResourceType": "snapshot",
                    "Tags": [{"Key": "Role", "Value": f"data{i % EBS_ROLES}"}],
                }
            ],
        )

    def image(i: int) -> None:
        ec2 = client("ec2")
        made = ec2.register_image(Name=f"web-{i}", RootDeviceName="/dev/xvda")["ImageId"]
        ec2.create_tags(Resources=[made], Tags=[{"Key": "Role", "Value": f"app{i % AMI_ROLES}"}])

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

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(snapshot, range(snapshots)))
        list(pool.map(image, range(images)))
        list(pool.map(db_snapshot, range(db_snapshots)))


# measuring ---------------------------------------------------------------------------------------


def one_listing_per_lookup(aws: Any, env: Any) -> int:
    """The baseline: for every lookup, its own server-filtered listing; returns the calls."""
    from relight.steps.discovery import matches, newest
    from relight.steps.discovery.listing import (
        EC2_PAGE,
        RDS_PAGE,
        _db_snapshot,
        _image,
        _snapshot,
    )

    calls = 0
    for lookup in env.artifacts.values():
        by_tag = [{"Name": f"tag:{k}", "Values": [v]} for k, v in lookup.tags.items()]
        owners = list(lookup.owners)
        if lookup.kind == "ebs_snapshot":
            service, operation, key, page, parse = (
                "ec2", "describe_snapshots", "Snapshots", EC2_PAGE, _snapshot
            )  # fmt: skip
            kw = {"OwnerIds": owners, "Filters": [{"Name": "status", "Values": ["completed"]}]}
        elif lookup.kind == "ami":
            service, operation, key, page, parse = (
                "ec2", "describe_images", "Images", EC2_PAGE, _image
            )  # fmt: skip
            kw = {"Owners": owners, "Filters": [{"Name": "state", "Values": ["available"]}]}
        else:
            service, operation, key, page, parse = (
                "rds", "describe_db_snapshots", "DBSnapshots", RDS_PAGE, _db_snapshot
            )  # fmt: skip
            kw = {"Filters": [{"Name": "db-instance-id", "Values": [lookup.db_instance]}]}
        if by_tag:
            kw["Filters"] = kw["Filters"] + by_tag
        items: list[Any] = []
        paginator = aws.client(service, "us-west-2").get_paginator(operation)
        for result in paginator.paginate(**kw, PaginationConfig={"PageSize": page}):
            calls += 1
            items += result.get(key, [])
        assert newest([c for c in map(parse, items) if matches(lookup, c, ACCOUNT)])
    return calls


def measure(aws: Any, env: Any) -> dict[str, float]:
    from relight.steps.discovery import discover

    start = time.perf_counter()
    found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: datetime.now(UTC))
    ours = time.perf_counter() - start
    assert len(found.artifacts) == len(env.artifacts), found.missing
    start = time.perf_counter()
    base_calls = one_listing_per_lookup(aws, env)
    base = time.perf_counter() - start
    return {"seconds": ours, "calls": found.calls, "base_seconds": base, "base_calls": base_calls}


def pages_plus_kinds(snapshots: int, images: int, db_snapshots: int) -> int:
    """The bound relight should meet: every page of each kind's listing, plus one per kind."""
    from relight.steps.discovery import EC2_PAGE, RDS_PAGE

    pages = -(-snapshots // EC2_PAGE) + -(-images // EC2_PAGE) + -(-db_snapshots // RDS_PAGE)
    return pages + 3


def report(title: str, m: dict[str, float], bound: int) -> None:
    print(
        f"{title}: relight {m['seconds']:.3f} s, {m['calls']:.0f} calls "
        f"(pages + kinds = {bound}); one listing per lookup {m['base_seconds']:.3f} s, "
        f"{m['base_calls']:.0f} calls; {m['base_seconds'] / m['seconds']:.1f}x faster, "
        f"{m['base_calls'] / m['calls']:.1f}x fewer calls"
    )


def main() -> None:
    from relight import standin
    from relight.aws.clients import Aws, AwsTarget

    quick = "--quick" in sys.argv[1:]
    env = environment()
    full = (100, 30, 10) if quick else (10_000, 2_000, 500)
    fake = FakeAws(*full)
    report(
        f"{'quick' if quick else 'full'} scale, in-memory fake "
        f"({full[0]:,} / {full[1]:,} / {full[2]:,})",
        measure(fake, env),
        pages_plus_kinds(*full),
    )

    scale = (60, 30, 10) if quick else (2_000, 200, 100)  # quick: every lookup still finds one
    with tempfile.TemporaryDirectory() as tmp:
        running = standin.ensure_running(Path(tmp))
        try:
            started = time.perf_counter()
            seed_stand_in(running.endpoint, *scale)
            print(
                f"stand-in seeded with {scale[0]} snapshots, {scale[1]} AMIs, {scale[2]} RDS "
                f"snapshots in {time.perf_counter() - started:.0f} s"
            )
            aws = Aws(AwsTarget(endpoint_url=running.endpoint, stand_in=True))
            # moto may add DB snapshots of its own: count what is there for the bound.
            rds = aws.client("rds", "us-west-2").get_paginator("describe_db_snapshots")
            db_snapshots = sum(len(p["DBSnapshots"]) for p in rds.paginate())
            report(
                f"local stand-in over HTTP ({scale[0]:,} / {scale[1]:,} / {scale[2]:,})",
                measure(aws, env),
                pages_plus_kinds(scale[0], scale[1], db_snapshots),
            )
        finally:
            standin.stop(Path(tmp))


if __name__ == "__main__":
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    main()
