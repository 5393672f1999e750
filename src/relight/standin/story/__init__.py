"""The stand-in's story: a production world to fail over from, built once and then kept.

For an environment that runs on the stand-in, relight first makes the world a
real failover would find:

1. base artifacts in the home region for each artifact lookup (an image, a data snapshot,
   a database or Aurora cluster), or what already matches the lookup there (seeded by hand,
   or made by an earlier telling that failed), used as it is;
2. the environment itself, deployed in the home region from them by the same
   planning and deploy code a failover uses (purpose `home`);
3. its backups: an AMI of its instances, snapshots of their data volumes, a
   snapshot of its database or cluster, each named and tagged as its lookup asks;
4. copies of those backups in every recovery region, tagged with their lineage;
5. the application secrets the database stacks name (`app_secret`), made in the home region
   with a random value and replicated to every recovery region (before the home build,
   whose database stack takes the secret's ARN).

Some lookups ask for what the stand-in cannot hold (an EBS snapshot of a given volume id, an
image another account owns, an AWS Backup recovery point): before it makes anything, the
story names each such lookup, why, and what to do (seed it by hand, or what to change), and
stops. What a telling makes is found again by the next one, so a story that failed half-way
is simply told again.

A marker object in the stand-in's S3 records that the story ran, and for which lookups,
regions and keys, so it runs once per stand-in world (a restarted stand-in starts from
nothing again) and again only when the file changes those (`story_fingerprint`).
Two runs that start together on a fresh stand-in both find no marker: the
first to write a claim (a conditional write, If-None-Match "*", as the run
lock does) tells the story, the other waits for its marker. A claim whose
run has stopped (its process is gone) is taken over by the next run, with
If-Match on the claim's ETag. Only ever used against the stand-in.

The package, each module importing only those listed before it:

- `common`: what the others share (`Say`, the timestamp in names, an AWS error's code);
- `lookups`: what the story can make for a lookup, and why not (`unseedable`);
- `secrets`: the application secrets, made at home and replicated (`tell_secrets`);
- `home`: the story in the home region (`HomeBuild`): base artifacts and backups;
- `telling`: the whole story (`Story`): the home build, then the recovery regions;
- `bookkeeping`: the marker and the claims, and `ensure_story`.
"""

from __future__ import annotations

from relight.standin.story.bookkeeping import (
    MARKER_BUCKET,
    STORY_WAIT_SECONDS,
    Claim,
    ensure_story,
    marker_bucket,
    story_exists,
    story_fingerprint,
)
from relight.standin.story.common import Say
from relight.standin.story.home import BASE_TAG
from relight.standin.story.lookups import Unseeded, unseedable
from relight.standin.story.telling import Story

__all__ = [
    "BASE_TAG",
    "MARKER_BUCKET",
    "STORY_WAIT_SECONDS",
    "Claim",
    "Say",
    "Story",
    "Unseeded",
    "ensure_story",
    "marker_bucket",
    "story_exists",
    "story_fingerprint",
    "unseedable",
]
