"""Capture: a database's parameter groups and option group, as the environment file declares
them. A group of AWS's own (`default.postgres16`, `default:postgres-16`) is the default a restore
takes anyway and is not written. A custom parameter group is written with its family and the
parameters set in it (DescribeDBParameters with `Source=user`: "the parameters that were
modified"), so the database stack makes the same group in the recovery region."""

from __future__ import annotations

from typing import Any

from relight.capture.common import Note, _pages


def _custom(name: str | None) -> bool:
    return bool(name) and not str(name).startswith(("default.", "default:"))


def _settings(rds: Any, operation: str, argument: str, name: str) -> dict[str, str]:
    """The parameters set in a custom group (not the family's defaults), by name."""
    found = _pages(rds, operation, "Parameters", **{argument: name, "Source": "user"})
    return {p["ParameterName"]: str(p["ParameterValue"]) for p in found if "ParameterValue" in p}


def parameter_group(rds: Any, name: str | None) -> dict[str, Any] | None:
    """`parameter_group: {family, parameters}` for a custom DB parameter group."""
    if not _custom(name):
        return None
    (group,) = _pages(rds, "describe_db_parameter_groups", "DBParameterGroups",
                      DBParameterGroupName=name)  # fmt: skip
    return {
        "family": group["DBParameterGroupFamily"],
        "parameters": _settings(rds, "describe_db_parameters", "DBParameterGroupName", str(name)),
    }


def cluster_parameter_group(rds: Any, name: str | None) -> dict[str, Any] | None:
    """`cluster_parameter_group: {family, parameters}` for a custom DB cluster parameter group."""
    if not _custom(name):
        return None
    (group,) = _pages(rds, "describe_db_cluster_parameter_groups", "DBClusterParameterGroups",
                      DBClusterParameterGroupName=name)  # fmt: skip
    return {
        "family": group["DBParameterGroupFamily"],
        "parameters": _settings(
            rds, "describe_db_cluster_parameters", "DBClusterParameterGroupName", str(name)
        ),
    }


def groups_of(rds: Any, db: dict[str, Any], params: dict[str, Any], notes: list[Note]) -> None:
    """Write a DB instance's custom parameter group into its params; name a custom option group
    (it must exist in each recovery region before replicate copies a snapshot with it)."""
    where = db["DBInstanceIdentifier"]
    names = [g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])]
    spec = parameter_group(rds, names[0] if names else None)
    if spec is not None:
        params["parameter_group"] = spec
    for membership in db.get("OptionGroupMemberships", []):
        option = membership.get("OptionGroupName")
        if _custom(option):
            notes.append(
                Note(
                    where,
                    "OptionGroupMemberships",
                    f"option group {option}: make one with the same options in each recovery "
                    "region and name it under artifacts.NAME.option_groups; replicate copies "
                    "the snapshot with it and the restore takes the copy's",
                )
            )
