"""What the stand-in's two RDS models share: reading a template's properties into moto's
keywords, the identifiers and tags CloudFormation gives a database, and how a stack update and
a stack delete treat one (`_StackDatabase`)."""

from __future__ import annotations

import contextlib
import random
import string
from collections.abc import Callable
from typing import Any

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend

from relight.model.shapes import tag_dict

Convert = Callable[[Any], Any]


def _name(value: Any) -> str:
    """A Ref to a resource moto gives no physical id (DBSubnetGroup) is the object itself."""
    return str(getattr(value, "name", value))


def _names(value: Any) -> list[str] | None:
    """A list of names; None when none is known (a Ref moto lost in a stack update is None)."""
    names = [_name(v) for v in value if v is not None]
    return names or None


def _settings(properties: dict[str, Any], table: dict[str, tuple[str, Convert]]) -> dict[str, Any]:
    given = {
        keyword: convert(properties[prop])
        for prop, (keyword, convert) in table.items()
        if properties.get(prop) is not None
    }
    return {keyword: value for keyword, value in given.items() if value is not None}


def _set(model: Any, settings: dict[str, Any], attributes: dict[str, str]) -> None:
    """Settings as given, falsy ones included: moto's restore applies only truthy overrides."""
    for keyword, value in settings.items():
        setattr(model, attributes.get(keyword, keyword), value)


def _identifier(resource_name: str) -> str:
    """A DB identifier: CloudFormation's generated name (stack-LogicalId-SUFFIX) kept within
    RDS's rule (63 letters, digits and hyphens, no two hyphens together), suffix kept."""
    stem, _, suffix = resource_name.replace("_", "-").rpartition("-")
    stem = "-".join(p for p in stem.split("-") if p)[: 62 - len(suffix)].rstrip("-")
    return f"{stem}-{suffix}".lower() if stem else suffix.lower()


def _final_snapshot_name(identifier: str) -> str:
    """A final snapshot's name. AWS documents no format for it (docs/aws-behaviours.md R3)."""
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    return f"{identifier}-final-{suffix}"


def _tags(model: Any, properties: dict[str, Any]) -> list[dict[str, str]]:
    """The tags CloudFormation gives what it makes: the stack's tags, the template's, and
    aws:cloudformation:stack-name, stack-id and logical-id."""
    from moto.cloudformation.models import cloudformation_backends

    stack_id = str(getattr(model, "cfn_stack_id", ""))
    backend = cloudformation_backends[model.account_id][model.region]
    stack = backend.stacks.get(stack_id)
    found: dict[str, str] = dict(getattr(stack, "tags", None) or {})
    found.update(tag_dict(properties.get("Tags")))
    if stack is not None:
        found["aws:cloudformation:stack-name"] = stack.name
        found["aws:cloudformation:stack-id"] = stack_id
        found["aws:cloudformation:logical-id"] = str(getattr(model, "cfn_logical_id", ""))
    return [{"Key": k, "Value": v} for k, v in found.items()]


def _adopt(
    model: Any,
    cls: type | None,
    resource: dict[str, Any],
    replaced_by: tuple[Any, ...],
    stack: dict[str, Any],
) -> Any:
    """The backend's object as the stack's resource: re-classed to `cls` (when given) so the
    stack's delete and GetAtt reach it, with the resource's DeletionPolicy (Snapshot unless
    given: the default for these types, DeletionPolicy attribute page), what an update
    replaces it for (`replaced_by`), the stack it belongs to, and the tags CloudFormation
    gives it."""
    if cls is not None:
        model.__class__ = cls
    model.cfn_deletion_policy = resource.get("DeletionPolicy", "Snapshot")
    model.cfn_replaced_by = replaced_by
    model.cfn_stack_id = stack.get("StackId", "")
    model.cfn_logical_id = stack.get("LogicalId", "")
    model.tags = _tags(model, resource.get("Properties") or {})
    return model


def _subnet_zones(backend: RDSBackend, group: str | None) -> list[str]:
    if not group:
        return []
    subnets = backend.describe_db_subnet_groups(group)[0].subnets
    return sorted({s["SubnetAvailabilityZone"]["Name"] for s in subnets})


class _StackDatabase:
    """What the two models (instances.py, clusters.py) share: how a stack update and a stack
    delete treat them.

    A subclass says what an update replaces it for (`_replaced_by`), how it changes in place
    (`_change`) and how RDS deletes it (`_remove`)."""

    @staticmethod
    def _replaced_by(properties: dict[str, Any]) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def _change(cls, model: Any, properties: dict[str, Any]) -> dict[str, Any]:
        """Change `model` in place to `properties`; returns the resource attributes whose
        default depends on what it is (a cluster member's DeletionPolicy is Delete)."""
        raise NotImplementedError

    @staticmethod
    def _remove(model: Any, final_snapshot: str | None) -> None:
        raise NotImplementedError

    @staticmethod
    def _replicates(model: Any) -> bool:
        """Whether `model` is still a replica (a read replica, an Aurora global database's
        secondary): CloudFormation ignores its deletion policy then ("Read replicas don't
        support deletion policies", docs D13), so no final snapshot; once promoted (it stands
        alone) the policy is honoured."""
        return False

    @classmethod
    def _final(cls, model: Any, policy: str) -> str | None:
        """The final snapshot a delete by `policy` leaves: none for Retain or Delete, none
        while `model` is still a replica (the policy ignored), else a name."""
        if policy != "Snapshot" or cls._replicates(model):
            return None
        return _final_snapshot_name(model.physical_resource_id)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        """Changed in place, or replaced: a new one made, then the old one goes by the new
        resource's UpdateReplacePolicy (Delete unless given; Snapshot leaves a final snapshot
        first, unless the old one is still a replica: `_replicates`). One RDS will not delete
        (deletion protection) stays: CloudFormation's clean-up leaves what it cannot delete, and
        the update still completes."""
        properties = cloudformation_json.get("Properties") or {}
        old = original_resource
        stack = {"StackId": getattr(old, "cfn_stack_id", ""), "LogicalId": old.logical_resource_id}
        if cls._replaced_by(properties) == getattr(old, "cfn_replaced_by", None):
            defaults = cls._change(old, properties)
            resource = {**defaults, **cloudformation_json}
            return _adopt(old, None, resource, cls._replaced_by(properties), stack)
        new = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            new_resource_name, cloudformation_json, account_id, region_name, **stack
        )
        policy = cloudformation_json.get("UpdateReplacePolicy", "Delete")
        if policy != "Retain":
            with contextlib.suppress(RDSClientError):
                cls._remove(old, cls._final(old, policy))
        return new

    def delete(self, account_id: str, region_name: str) -> None:
        """The stack's delete: refused by RDS while DeletionProtection is on; DeletionPolicy
        Snapshot (the default) leaves a final snapshot, unless it is still a replica (the
        policy ignored, `_replicates`)."""
        policy = getattr(self, "cfn_deletion_policy", "Snapshot")
        self._remove(self, self._final(self, policy))
