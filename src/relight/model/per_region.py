"""Values that differ per region, and the placeholders capture writes for them.

Some values exist once per region: a certificate ARN (ACM certificates are regional), a KMS
key (keys are regional; a copy into another region is encrypted with a key there). The
environment file holds them in two homes:

- a param value `{per_region: {us-east-1: VALUE, us-west-2: VALUE}}`, resolved when a plan is
  built for a region to that region's entry (`resolve`); drift of a captured production
  compares the home region's entry only, so filling in a recovery region's is not drift;
- the top-level `kms_keys: {REGION: KEY}`, which replicate copies with.

`relight capture` writes what it cannot know as a placeholder starting `REPLACE-ME` (a
recovery region's certificate, a key in a recovery region). A run for a region whose value
is still a placeholder is refused before anything changes (`placeholder_problems`), naming
the key and the fix.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relight.model.values import check_region

PLACEHOLDER = "REPLACE-ME"
PER_REGION = "per_region"
# An ARN of a regional resource that cannot serve another region: an ACM certificate ("You
# cannot copy a certificate between regions") or a KMS key ("you can't use KMS keys from one
# Amazon Web Services Region in another"); docs/aws-behaviours.md K4, K5.
_REGIONAL_ARN = re.compile(r"^arn:aws[a-z-]*:(acm|kms):([a-z0-9-]+):")
_WHAT = {"acm": "an ACM certificate", "kms": "a KMS key"}


def regional_arn_problem(region: str, value: Any) -> str | None:
    """Why `value` cannot be the entry of `region`: an ACM or KMS ARN of another region."""
    match = _REGIONAL_ARN.match(value) if isinstance(value, str) else None
    if match is None or match.group(2) == region:
        return None
    service, other = match.groups()
    return (
        f"{value} is {_WHAT[service]} in {other}, not {region}: {_WHAT[service].split()[-1]}s "
        f"are regional, so {region} needs its own ("
        + (
            f"aws acm import-certificate or request-certificate --region {region}"
            if service == "acm"
            else f"aws kms create-key --region {region}, or a multi-Region replica"
        )
        + ")"
    )


def is_placeholder(value: Any) -> bool:
    """Whether `value` is a placeholder capture wrote for the person to fill in."""
    return isinstance(value, str) and value.strip().startswith(PLACEHOLDER)


class PerRegion(BaseModel):
    """`{per_region: {REGION: VALUE, ...}}`: a param whose value is the target region's entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_region: dict[str, str | int | float | bool | list[str | int | float | bool]] = Field(
        min_length=1
    )

    @field_validator("per_region", mode="before")
    @classmethod
    def _regions(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(
                "per_region maps each region to its value, e.g. "
                "{per_region: {us-east-1: arn:..., us-west-2: arn:...}}"
            )
        if not value:
            raise ValueError("per_region names at least one region and its value")
        for region, entry in value.items():
            check_region(str(region))
            if entry is None or isinstance(entry, dict):
                raise ValueError(
                    f"per_region.{region}: a value per region is a string, a number or a list "
                    "of them"
                )
            wrong = regional_arn_problem(str(region), entry)
            if wrong:
                raise ValueError(f"per_region.{region}: {wrong}")
        return value

    def entry(self, region: str) -> Any:
        """The region's value (a KeyError for a region without one)."""
        return self.per_region[region]


def resolve(value: Any, region: str) -> Any:
    """`value` as a plan for `region` uses it: a per_region value's entry for the region (the
    entry stays the whole PerRegion when the region has none, for `problems` to name)."""
    if isinstance(value, PerRegion) and region in value.per_region:
        return value.entry(region)
    return value


def per_region_problem(where: str, value: Any, region: str) -> str | None:
    """Why a param `where` (`stacks.KEY.params.NAME`) cannot be given in `region`, if so."""
    if not isinstance(value, PerRegion):
        return None
    if region not in value.per_region:
        return (
            f"{where}: per_region has no entry for {region} (it has "
            f"{', '.join(value.per_region)}): add `{region}: VALUE` under {where}.per_region"
        )
    entry = value.entry(region)
    if is_placeholder(entry):
        return (
            f"{where}.per_region.{region}: still the placeholder capture wrote "
            f"({str(entry).strip()}): replace it with the value in {region}"
        )
    return None


def kms_key_problem(kms_keys: dict[str, str], region: str, home: str | None = None) -> str | None:
    """Why `kms_keys.REGION` cannot be used yet, if so: it is still capture's placeholder.
    The commands name the home keys the placeholder names (capture writes them in it)."""
    key = kms_keys.get(region)
    if key is None or not is_placeholder(key):
        return None
    named = list(dict.fromkeys(m.group(0) for m in _KMS_KEY.finditer(key)))
    return (
        f"kms_keys.{region}: still the placeholder capture wrote ({PLACEHOLDER}…); copies into "
        f"{region} are encrypted with a key there: {key_commands(region, named, home)}; then "
        f"write its ARN or alias as kms_keys.{region}"
    )


# What a KMS API takes as a KeyId ("Key ID", "Key ARN", "Alias name", "Alias ARN"; a
# multi-Region key's id begins `mrk-`): docs/aws-behaviours.md K7.
_KEY_FORMS = re.compile(
    r"(mrk-)?[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|alias/[A-Za-z0-9/_-]+"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)",
    re.IGNORECASE,
)


def kms_key_form_problem(key: str) -> str | None:
    """Why `key` is not a KMS key reference at all (a description, an empty value), if so;
    capture's REPLACE-ME placeholder is judged by `kms_key_problem` instead."""
    if is_placeholder(key) or _KEY_FORMS.fullmatch(key.strip()):
        return None
    return (
        f"{key!r} is not a KMS key: give its key id (1234abcd-12ab-34cd-56ef-1234567890ab), "
        "its ARN, an alias (alias/NAME) or an alias ARN"
    )


# A KMS key's ARN: its region and key id (a multi-Region key's id begins `mrk-`).
_KMS_KEY = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/([A-Za-z0-9-]+)")


def key_commands(region: str, home_keys: list[str], home: str | None = None) -> str:
    """The `aws kms` commands that make a key in `region` for data encrypted with
    `home_keys` (ARNs or ids; a bare id's region is `home`). Only a multi-Region key can be
    replicated, from its own region, and whether a key is one is fixed when it is created
    (CreateKey MultiRegion: "You cannot change this value after you create the KMS key"), so
    a single-Region key gets the create-key and create-alias commands only (docs K6)."""
    create = (
        f"create one (aws kms create-key --region {region} --description relight-copies, "
        f"then aws kms create-alias --region {region} --alias-name alias/relight-dr "
        "--target-key-id KEY_ID, the KeyId create-key returns)"
    )
    replicas, single = [], []
    for key in home_keys:
        match = _KMS_KEY.fullmatch(key)
        where, key_id = (match.group(1), match.group(2)) if match else (home, key)
        if key_id.startswith("mrk-") and where:
            replicas.append(
                f"aws kms replicate-key --key-id {key_id} --region {where} "
                f"--replica-region {region}"
            )
        else:
            single.append(key)
    said = create
    if replicas:
        said = f"replicate the multi-Region home key ({'; '.join(replicas)}) or {said}"
    if single:
        said += (
            f"; {', '.join(single)} is a single-Region key, which cannot be replicated "
            "(a key is multi-Region only if created so)"
        )
    return said


def region_problems(env: Any, region: str, stand_in: bool) -> list[str]:
    """Every placeholder or missing per-region entry that a run in `region` would meet:
    `kms_keys.REGION` and each stack's params (its stand-in and standby overrides too), for
    a command that must refuse before it takes a lock or makes anything (a drill)."""
    problems = [p for p in [kms_key_problem(env.kms_keys, region, env.home_region)] if p]
    for key, spec in env.stacks.items():
        if not spec.stands_in(region) or (stand_in and spec.stand_in_skip):
            continue
        sections = [("params", spec.params), ("standby_params", spec.standby_params)]
        if stand_in:
            sections.append(("stand_in_params", spec.stand_in_params))
        for section, params in sections:
            for name, value in params.items():
                problem = per_region_problem(f"stacks.{key}.{section}.{name}", value, region)
                if problem:
                    problems.append(problem)
    return problems
