"""What the story can make for an artifact lookup, and for one it cannot (`unseedable`): why,
and how its user seeds a match by hand or changes the lookup."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime

from relight.model.environment import ArtifactLookup
from relight.standin.story.common import _stamp

_NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ._"


def _glob_example(pattern: str, fill: str) -> str:
    """A name `pattern` (an fnmatch glob) matches: `*` becomes `fill`, `?` an x, `[...]` a
    character the class allows. It may not match (a class nothing fits): callers check."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        end = pattern.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append(fill)
        elif char == "?":
            out.append("x")
        elif end > 0:
            members = pattern[i : end + 1]
            choices = pattern[i + 1 : end].lstrip("!") + _NAME_CHARACTERS
            out.append(next((c for c in choices if fnmatch.fnmatchcase(c, members)), ""))
            i = end
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _image_name(lookup: ArtifactLookup, fallback: str, now: datetime) -> str:
    return _glob_example(lookup.name or f"{fallback}-*", _stamp(now))


@dataclass(frozen=True)
class Unseeded:
    """A lookup the story cannot make a match for: why, and what its user can do."""

    artifact: str
    lookup: ArtifactLookup
    why: str
    how: str

    def __str__(self) -> str:
        return f"artifacts.{self.artifact} ({self.lookup.describe()}): {self.why}; {self.how}"


def unseedable(
    name: str,
    lookup: ArtifactLookup,
    *,
    home: str,
    endpoint: str,
    unlisted: str | None = None,
) -> Unseeded | None:
    """Why the story cannot make what `lookup` finds, and how its user seeds it (None: it can).

    `unlisted` is why the stand-in could not list that kind, when it could not.
    """
    if lookup.kind == "backup_recovery_point":
        listing = f", and the stand-in cannot list them ({unlisted})" if unlisted else ""
        return Unseeded(
            name, lookup,
            f"the story makes no AWS Backup recovery points{listing}",
            "run this environment on AWS (--aws); on the stand-in, rehearse a copy of the "
            "file that finds that data with an ami or ebs_snapshot lookup instead",
        )  # fmt: skip
    if "self" not in lookup.owners:
        return Unseeded(
            name, lookup,
            f"it is owned by {', '.join(lookup.owners)}, and the stand-in plays one account, "
            "which sees nothing another account shares",
            "run this environment on AWS (--aws), or let the lookup find its own account's "
            f"too while rehearsing (owners: [self, {', '.join(lookup.owners)}])",
        )  # fmt: skip
    if lookup.kind == "ebs_snapshot" and lookup.source_volume:
        return Unseeded(
            name, lookup,
            f"the stand-in names its volumes itself, so no snapshot there is of "
            f"{lookup.source_volume}",
            "run this environment on AWS (--aws), or find that snapshot by its tags instead "
            "of source_volume while rehearsing",
        )  # fmt: skip
    if lookup.kind == "ami" and lookup.name:
        example = _glob_example(lookup.name, "1")
        if not fnmatch.fnmatchcase(example, lookup.name):
            aws = f"aws --endpoint-url {endpoint} --region {home}"
            tags = ",".join(f"{{Key={k},Value={v}}}" for k, v in sorted(lookup.tags.items()))
            tagging = f" --tag-specifications 'ResourceType=image,Tags=[{tags}]'" if tags else ""
            return Unseeded(
                name, lookup,
                f"the story cannot make up a name that matches {lookup.name}",
                f"seed one: {aws} ec2 register-image --name NAME --root-device-name /dev/xvda "
                "--block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=8}' "
                f"--virtualization-type hvm{tagging} (NAME matching {lookup.name}), and "
                f"rerun: the story uses what matches in {home}",
            )  # fmt: skip
    return None
