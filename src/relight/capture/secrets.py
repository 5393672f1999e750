"""Capture: the application's secret, by name (never its value).

A secret tagged with every tag production is selected by (`--tag`), read with Secrets
Manager's ListSecrets (metadata only), is the application's: with one such secret and one
database, it is written as the database's `app_secret`, the compute stacks read its ARN
(`AppSecretArn`) and the instance roles may read it. More than one, or more than one database,
is a `# CAPTURE:` note naming them (which secret goes with which database is for a person to
say). Secrets another service manages (`OwningService`, e.g. an RDS-managed master password)
and replicas of another region's primary are left out: relight names a secret the application
owns, replicated from the home region.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.capture.common import Note, _Section


def _tagged_secrets(sm: Any, tags: dict[str, str], region: str) -> list[str] | Note:
    """The names of the home region's own secrets carrying every tag in `tags`."""
    first = next(iter(tags))
    found: list[dict[str, Any]] = []
    try:
        for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "tag-key", "Values": [first]}]
        ):
            found.extend(page.get("SecretList", []))
    except (ClientError, BotoCoreError) as exc:
        return Note("secrets", "ListSecrets", f"not read ({exc})", unread=True)
    names = []
    for secret in found:
        own = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
        if any(own.get(k) != v for k, v in tags.items()):
            continue
        if secret.get("OwningService") or secret.get("PrimaryRegion", region) != region:
            continue
        names.append(str(secret["Name"]))
    return sorted(names)


def _app_secret(
    sm: Any,
    tags: dict[str, str] | None,
    region: str,
    dbs: list[_Section],
    computes: list[_Section],
    roles: dict[str, Any],
    unplaced: list[Note],
) -> None:
    """Write the application's secret as `app_secret` where it is unambiguous, else a note."""
    if not dbs or not tags:
        return
    found = _tagged_secrets(sm, tags, region)
    if isinstance(found, Note):
        unplaced.append(found)
        return
    if not found:
        return
    shown = ", ".join(f"{k}={v}" for k, v in tags.items())
    if len(found) > 1 or len(dbs) > 1:
        unplaced.append(
            Note(
                "secrets",
                "app_secret",
                f"secrets tagged {shown}: {', '.join(found)}; name the one each database's "
                "application reads as its app_secret (stacks.<database>.params.app_secret), "
                "and replicate it to the recovery regions",
            )
        )
        return
    (name,) = found
    db = dbs[0]
    db.body["params"]["app_secret"] = name
    db.notes.append(
        Note(
            "secrets",
            "app_secret",
            f"{name} (tagged {shown}) is taken as the application's secret: relight hands its "
            "ARN in the recovery region to the compute stacks (AppSecretArn), never its value",
        )
    )
    for compute in computes:
        compute.body["params"]["AppSecretArn"] = {"output": f"{db.key}.AppSecretArn"}
    for role in roles.values():
        role.setdefault("secrets", []).append(name)
