"""Step 2 of the data flow: find, in the target region, what to restore from.

For each kind of artifact (AMIs, EBS snapshots, RDS snapshots, Aurora cluster
snapshots, AWS Backup recovery points) there is one paginated listing per
region, with the server-side filters every lookup of that kind shares; every
lookup is then matched against that listing, never with an API call per
lookup. Only usable states count (available / completed). The match with the
newest *data* wins: by its source's capture time (a copy's own time is when
it was copied, so a copy made later of older data loses), then by its own
time; ties (moto's times have one-second resolution, AWS's can collide too)
go to the highest id, so the choice is deterministic.

Lineage (where a copy came from) is read from the AWS fields where they are
set (SourceImageId/SourceRegion, a copied snapshot's description,
SourceDBSnapshotIdentifier, SourceBackupVaultArn), otherwise from the tags
relight writes on the copies it makes (`relight:source-id`,
`relight:source-region`, `relight:source-time`); a DB snapshot's time is AWS's
`OriginalSnapshotCreateTime`, which a copy keeps. An artifact's *age* (and the
RPO check) is the age of its data: the source's time when known, else the
copy's.

An AWS Backup recovery point is listed by its recovery point ARN but given to
templates as what they restore from: the AMI id, EBS snapshot id or DB snapshot
identifier in that ARN (`Artifact.arn` keeps the ARN). EC2 recovery point ARNs
have no account field (`arn:aws:ec2:REGION::image/ami-...`): the owner is the
vault's account.

Misses are returned, not raised: preflight reports every problem together.

The package:

- `listing`: the listings of a region (`Lister`), each item read as a `Candidate`
- `choosing`: the newest match of each lookup (`Artifact`), ages and lineage, what the
  home region holds for a miss, `stale`, and `Discovery`, all that was found
- `zones`: the availability zones chosen by AZ ID, or kept where a deployed stack stands
  (`Zone`, `Standing`, `choose_zones`)
- here: `discover`, which does it all for an environment and a region
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from relight.aws.clients import Aws
from relight.aws.secrets import SecretReplica, describe_secret
from relight.model.app_secrets import app_secrets
from relight.model.environment import Environment
from relight.steps.discovery.backed_up import backed_up_databases
from relight.steps.discovery.choosing import (
    Artifact,
    Discovery,
    _backed_up_images,
    _elsewhere,
    find_artifacts,
    hits_by_lookup,
    list_by_kind,
    matches,
    newest,
    stale,
)
from relight.steps.discovery.listing import (
    COPY_MARK,
    EC2_PAGE,
    LINEAGE_ID,
    LINEAGE_REGION,
    LINEAGE_TIME,
    LINEAGE_VOLUME,
    RDS_PAGE,
    Candidate,
    Lister,
    rds_restore_keeps,
    rds_snapshot_id,
    recovery_point_resource,
    root_volume,
)
from relight.steps.discovery.zones import Standing, Zone, choose_zones

__all__ = [
    "COPY_MARK",
    "EC2_PAGE",
    "LINEAGE_ID",
    "LINEAGE_REGION",
    "LINEAGE_TIME",
    "LINEAGE_VOLUME",
    "RDS_PAGE",
    "Artifact",
    "Candidate",
    "Discovery",
    "Lister",
    "Standing",
    "Zone",
    "choose_zones",
    "discover",
    "find_artifacts",
    "hits_by_lookup",
    "list_by_kind",
    "matches",
    "newest",
    "rds_restore_keeps",
    "rds_snapshot_id",
    "recovery_point_resource",
    "root_volume",
    "stale",
]


def discover(
    aws: Aws,
    env: Environment,
    region: str,
    *,
    account_id: str,
    now: Callable[[], datetime],
    instance_types: Sequence[str] = (),
    standing: Standing | None = None,
    secrets: bool = True,
) -> Discovery:
    """Find every artifact of `env` in `region` and choose its zones; misses are returned.
    With `secrets` (the default), the application secrets are described there too."""
    lister = Lister(aws, region)
    found, missing = find_artifacts(lister, env.artifacts, account_id)
    found, image_calls = _backed_up_images(aws, region, found)
    found, database_calls = backed_up_databases(aws, region, found)
    at = now()
    home = Lister(aws, env.home_region, bounded=True)  # a hint: the home region may be down
    notes = _elsewhere(home, env, region, missing, account_id, at) if missing else {}
    zones, zone_problems, zone_calls = choose_zones(
        aws, region, env.zones, instance_types, standing
    )
    found_secrets = find_secrets(aws, env, region) if secrets else {}
    return Discovery(
        region=region,
        at=at,
        artifacts=found,
        missing={
            name: f"no {env.artifacts[name].describe()} in {region}"
            + (f"; {notes[name]}" if name in notes else "")
            for name in missing
        },
        zones=zones,
        zone_problems=tuple(zone_problems),
        calls=lister.calls
        + home.calls
        + zone_calls
        + image_calls
        + database_calls
        + len(found_secrets),
        secrets=found_secrets,
    )


def find_secrets(aws: Aws, env: Environment, region: str) -> dict[str, SecretReplica | None]:
    """The application secrets the environment's stacks name, described in `region` alone
    (metadata, never the value; the home region is not asked)."""
    names = sorted(set(app_secrets(env, region).values()))
    if not names:
        return {}
    client = aws.client("secretsmanager", region)
    return {name: describe_secret(client, name, region) for name in names}
