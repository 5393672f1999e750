"""IAM roles under CloudFormation on the stand-in: a stack's delete detaches what is attached.

AWS's AWS::IAM::Role handler detaches the role's managed policies and deletes its inline ones
before it deletes the role (its registry schema's `handlers.delete.permissions`:
iam:ListAttachedRolePolicies, iam:DetachRolePolicy, iam:ListRolePolicies,
iam:DeleteRolePolicy, iam:DeleteRole), so a stack whose AWS::IAM::ManagedPolicy names the role
in `Roles` (relight's CloudFormation service role, blueprints/identity.py) deletes whole.
moto 5.2.6 deletes the role's inline policies only, and DeleteRole then refuses ("Cannot
delete entity, must detach all policies first."): the identity stack's delete failed on the
stand-in. Here the role's managed policies are detached first, as AWS's handler does.
"""

from __future__ import annotations

from typing import Any

_MARK = "_relight_detaches"


def install() -> None:
    """Wrap `Role.delete_from_cloudformation_json` once (written against moto 5.2.6)."""
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    original = Role.delete_from_cloudformation_json
    if getattr(original, _MARK, False):
        return
    plain = original.__func__  # type: ignore[attr-defined]  # moto's classmethod, unbound

    def delete_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        backend = iam_backends[account_id][get_partition(region_name)]
        role = next((r for r in backend.roles.values() if r.name == resource_name), None)
        if role is not None:
            for arn in list(role.managed_policies):
                backend.detach_role_policy(arn, resource_name)
        plain(cls, resource_name, cloudformation_json, account_id, region_name)

    setattr(delete_from_cloudformation_json, _MARK, True)
    Role.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)  # type: ignore[method-assign,assignment]
