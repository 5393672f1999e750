"""Choosing each lookup's artifact from the listings: the newest match (`Artifact`, its age
the age of its data), what the home region holds for one that is missing, the root device of
backed-up AMIs, and which are older than the RPO (`stale`); `Discovery`, all that was found."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from relight.aws.clients import Aws
from relight.aws.failures import endpoint_failed, translated
from relight.aws.secrets import SecretReplica
from relight.errors import AwsError
from relight.model.environment import ArtifactLookup, Environment
from relight.model.times import human_age
from relight.steps.discovery.listing import Candidate, Lister, root_volume
from relight.steps.discovery.zones import Zone


@dataclass(frozen=True)
class Artifact:
    """The artifact a lookup chose in the target region."""

    name: str  # the key under `artifacts:` in the environment file
    kind: str
    id: str
    region: str
    created: datetime
    candidates: int
    source_id: str | None = None
    source_region: str | None = None
    source_time: datetime | None = None
    encrypted: bool = False
    kms_key: str | None = None
    arn: str | None = None  # e.g. the recovery point's ARN when `id` is its AMI or snapshot
    attributes: Mapping[str, str] = field(default_factory=dict)  # see Candidate.attributes

    @property
    def data_time(self) -> datetime:
        """When the data was captured: the source's time when known, else the copy's."""
        return self.source_time or self.created

    def age(self, now: datetime) -> timedelta:
        return now - self.data_time


@dataclass(frozen=True)
class Discovery:
    region: str
    at: datetime
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # artifact → what was not found
    zones: tuple[Zone, ...] = ()
    zone_problems: tuple[str, ...] = ()
    calls: int = 0  # AWS API calls made (pages included)
    # The application secrets by name, as Secrets Manager in the region describes them (None:
    # not there); their values are never read.
    secrets: dict[str, SecretReplica | None] = field(default_factory=dict)

    def artifact_ids(self) -> dict[str, str]:
        """Each artifact's id by its name, its attributes as `NAME.ATTRIBUTE`, and the ARN of
        each application secret found in the region as `secret:NAME`."""
        ids = {name: a.id for name, a in self.artifacts.items()}
        for name, art in self.artifacts.items():
            ids.update({f"{name}.{key}": value for key, value in art.attributes.items()})
        ids.update({f"secret:{n}": found.arn for n, found in self.secrets.items() if found})
        return ids

    def zone_names(self) -> list[str]:
        return [z.name for z in self.zones]


def matches(lookup: ArtifactLookup, candidate: Candidate, account_id: str) -> bool:
    if candidate.kind != lookup.kind:
        return False
    if any(candidate.tags.get(k) != v for k, v in lookup.tags.items()):
        return False
    if lookup.name and not fnmatch.fnmatchcase(candidate.name, lookup.name):
        return False
    if lookup.db_instance and candidate.db_instance != lookup.db_instance:
        return False
    if lookup.db_cluster and candidate.db_cluster != lookup.db_cluster:
        return False
    if lookup.source_volume and candidate.volume != lookup.source_volume:
        return False
    if lookup.vault and (
        candidate.vault != lookup.vault or (lookup.resource or "") not in candidate.resource
    ):
        return False
    owners = {account_id if o == "self" else o for o in lookup.owners}
    return candidate.owner in owners


def newest(found: list[Candidate]) -> Candidate:
    """The candidate with the newest data: by the time its source was captured (a copy made
    later of older data loses to an earlier copy of newer data), then by when it was made;
    ties go to the highest id."""
    return max(found, key=lambda c: (c.data_time, c.created, c.id))


def list_by_kind(lister: Lister, lookups: Iterable[ArtifactLookup]) -> dict[str, list[Candidate]]:
    """One listing per kind, serving every lookup of that kind."""
    every = list(lookups)
    return {
        kind: lister.list(kind, [lookup for lookup in every if lookup.kind == kind])
        for kind in sorted({lookup.kind for lookup in every})
    }


def hits_by_lookup(
    lister: Lister, lookups: Mapping[str, ArtifactLookup], account_id: str
) -> dict[str, list[Candidate]]:
    """Per lookup, every candidate it matches, from one listing per kind."""
    listings = list_by_kind(lister, lookups.values())
    return {
        name: [c for c in listings[lookup.kind] if matches(lookup, c, account_id)]
        for name, lookup in lookups.items()
    }


def find_artifacts(
    lister: Lister, lookups: Mapping[str, ArtifactLookup], account_id: str
) -> tuple[dict[str, Artifact], list[str]]:
    """Match every lookup against one listing per kind; returns the found and the missing."""
    found: dict[str, Artifact] = {}
    missing: list[str] = []
    for name, hits in hits_by_lookup(lister, lookups, account_id).items():
        lookup = lookups[name]
        if not hits:
            missing.append(name)
            continue
        best = newest(hits)
        found[name] = Artifact(
            name=name,
            kind=lookup.kind,
            id=best.id,
            region=lister.region,
            created=best.created,
            candidates=len(hits),
            source_id=best.source_id,
            source_region=best.source_region,
            source_time=best.source_time,
            encrypted=best.encrypted,
            kms_key=best.kms_key,
            attributes=dict(best.attributes),
            arn=best.arn or None,
        )
    return found, missing


def _elsewhere(
    home: Lister, env: Environment, region: str, missing: list[str], account_id: str, now: datetime
) -> dict[str, str]:
    """For missing artifacts, what the home region holds (one listing per kind there)."""
    if region == env.home_region:
        return {}
    down = home.aws.down("ec2", env.home_region)
    if down:  # an outage rehearsal declares it lost: not even tried
        return {name: f"home region {env.home_region} not asked ({down})" for name in missing}
    lookups = {name: env.artifacts[name] for name in missing}
    try:
        found, _ = find_artifacts(home, lookups, account_id)
    except AwsError as exc:
        seconds = home.aws.target.bounded_seconds
        why = (
            f"unreachable (one attempt, {seconds:g} s)"
            if exc.__cause__ is None or endpoint_failed(exc.__cause__)
            else f"refused the question ({exc.message})"
        )
        return {
            name: f"home region {env.home_region} {why}: what it holds is not known; going on "
            "without it"
            for name in missing
        }
    notes = {}
    for name in missing:
        if name in found:
            art = found[name]
            notes[name] = (
                f"newest match in {env.home_region} is {art.id} "
                f"({human_age(art.age(now))} old): run relight replicate --env {env.name} "
                f"--from {env.home_region} --to {region}"
            )
        else:
            notes[name] = f"none in {env.home_region} either"
    return notes


def _backed_up_images(
    aws: Aws, region: str, found: dict[str, Artifact]
) -> tuple[dict[str, Artifact], int]:
    """AWS Backup recovery points of EC2 instances are AMIs: read their root device as an
    AMI lookup's listing does (one DescribeImages call for all of them)."""
    images = {
        name: art
        for name, art in found.items()
        if art.kind == "backup_recovery_point" and art.id.startswith("ami-")
    }
    if not images:
        return found, 0
    ids = sorted({art.id for art in images.values()})
    ec2 = aws.client("ec2", region)
    with translated(f"cannot describe the backed-up AMIs {', '.join(ids)} in {region}", ec2):
        described = ec2.describe_images(ImageIds=ids)["Images"]
    roots = {image["ImageId"]: root_volume(image) for image in described}
    return {
        name: replace(art, attributes=roots.get(art.id, {})) if name in images else art
        for name, art in found.items()
    }, 1


def stale(discovery: Discovery, rpo_seconds: int) -> list[Artifact]:
    """Artifacts whose data is older than the RPO."""
    return [
        a for a in discovery.artifacts.values() if a.age(discovery.at).total_seconds() > rpo_seconds
    ]
