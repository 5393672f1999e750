"""What a deploy of the Plan would do, stack by stack, without changing anything.

The same rendered Plan feeds `relight plan` (this module, display only) and
`failover` / `launch` / `drill` (deploy.py). For each stack: create, recreate
(an earlier run left it failed), update or no change (decided by a change set
that is created, read and deleted again), or wait (an operation is in progress);
its parameters with the discovered values and their ages; for updates, the
change set's changes.

A stack whose parameters come from a stack that will be created first cannot
be previewed exactly: its outputs do not exist yet. The preview says so
instead of guessing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.aws.cloudformation import Stacks, classify, no_changes, outputs_of
from relight.errors import AwsError, DeployError
from relight.model.environment import ArtifactRef, OutputRef, SecretRef, ZonesRef
from relight.model.plan import Plan, StackPlan
from relight.model.shapes import parameter_dict
from relight.model.stateful import data_losses, pin
from relight.steps.change_sets import change_set_request, describe_changes
from relight.steps.deploy import holds_data
from relight.steps.discovery import Discovery
from relight.steps.render import placeholder, resolve_parameters
from relight.steps.service_role import role_argument


@dataclass
class PlannedParameter:
    name: str
    value: str | None  # None: known only once the stack it comes from exists
    source: str  # "artifact web_ami", "output network.VpcId", "zones", "literal"
    age_seconds: float | None = None  # for artifacts: how old the data is
    from_stack: str | None = None  # for outputs: the stack they come from


@dataclass
class PlannedStack:
    key: str
    name: str
    action: str  # create, recreate, update, no change, wait, blocked, update?
    status: str  # the stack's state now ("" when it does not exist)
    depends_on: tuple[str, ...]
    resources: int
    parameters: list[PlannedParameter] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    note: str = ""
    # Changes that would replace or delete a database, cluster or data volume (stateful.py).
    data_losses: list[str] = field(default_factory=list)


def _parameters(
    sp: StackPlan, discovery: Discovery, outputs: dict[str, dict[str, str]]
) -> list[PlannedParameter]:
    rows = []
    for name, value in sp.parameters.items():
        if isinstance(value, ArtifactRef):
            artifact = discovery.artifacts[value.artifact]
            age = artifact.age(discovery.at).total_seconds()
            given = discovery.artifact_ids().get(value.key)
            rows.append(PlannedParameter(name, given, f"artifact {value.key}", age))
        elif isinstance(value, OutputRef):
            known = outputs.get(value.stack, {}).get(value.output)
            source = f"output {value.stack}.{value.output}"
            rows.append(PlannedParameter(name, known, source, from_stack=value.stack))
        elif isinstance(value, ZonesRef):
            rows.append(PlannedParameter(name, ",".join(discovery.zone_names()), "zones"))
        elif isinstance(value, SecretRef):
            arn = discovery.artifact_ids().get(value.key)
            rows.append(PlannedParameter(name, arn, f"secret {value.secret} in this region"))
        else:
            rows.append(PlannedParameter(name, placeholder(value), "literal"))
    return rows


def preview(
    stacks: Stacks,
    plan: Plan,
    discovery: Discovery,
    *,
    change_sets: bool = True,
    replace_data: frozenset[str] = frozenset(),
    ready: Mapping[str, Mapping[str, str]] | None = None,
) -> list[PlannedStack]:
    """Each stack's action, in creation order. With `change_sets`, updates are computed exactly.

    A stack that exists keeps the snapshot it was restored from (shown as such) unless it is
    in `replace_data`; a change that would still replace data is shown as "REPLACES DATA"."""
    rows: list[PlannedStack] = []
    # of stacks that exist and will still exist: first those prepared ahead of time (`ready`)
    outputs: dict[str, dict[str, str]] = {k: dict(v) for k, v in (ready or {}).items()}
    token = secrets.token_hex(3)
    for key, sp in plan.stacks.items():
        stack = stacks.state(sp.name)
        action, note = classify(stack, plan.env_name)
        row = PlannedStack(
            key, sp.name, action, stack["StackStatus"] if stack else "", sp.depends_on,
            sp.resource_count, _parameters(sp, discovery, outputs), note=note,
        )  # fmt: skip
        rows.append(row)
        if stack is None or action not in ("update", "retry"):
            continue
        holding = holds_data(stacks, sp, stack)  # one listing of a failed stack's resources
        if holding:
            _keep_data(row, sp, stack, key in replace_data)
        if action == "update":  # a failed stack's outputs are not there yet
            outputs[key] = outputs_of(stack)
        unknown = sorted({p.from_stack for p in row.parameters if p.value is None and p.from_stack})
        if unknown:
            row.action = "update?"
            row.note = f"decided after {', '.join(unknown)} exist (their outputs are parameters)"
        elif change_sets:
            _compare(
                stacks, plan, discovery, sp, stack, row, outputs, token,
                replace=key in replace_data, holding=holding,
            )  # fmt: skip
        else:
            row.action = "update?"
            row.note = "a change set decides at deploy time: update, or no change"
    return rows


def _compare(
    stacks: Stacks,
    plan: Plan,
    discovery: Discovery,
    sp: StackPlan,
    current: dict[str, Any],
    row: PlannedStack,
    outputs: dict[str, dict[str, str]],
    token: str,
    *,
    replace: bool,
    holding: bool,
) -> None:
    """Create a change set, read it, delete it: update (with its changes) or no change."""
    resolved = resolve_parameters(
        sp,
        artifact_ids=discovery.artifact_ids(),
        zone_names=discovery.zone_names(),
        outputs=outputs,
    )
    parameters, _ = pin(resolved, sp.stateful_parameters, current if holding else None, replace)
    try:  # the role the deploy would pass; without it (not prepared), the stack's own
        role = role_argument(plan, sp.key, outputs).get("RoleARN")
    except DeployError:
        role = current.get("RoleARN")
    request = change_set_request(
        stacks, plan, sp, current, parameters, name=f"relight-plan-{token}", run_id="plan",
        role_arn=role,
    )  # fmt: skip
    try:
        made = stacks.call(
            f"create change set for {sp.name}", stacks.cfn.create_change_set, **request
        )
    except AwsError as exc:
        if not no_changes(exc.message):
            raise
        _nothing_to_change(row)
        return
    try:
        described = stacks.run(stacks.change_set(made["Id"]))
    finally:
        stacks.discard_change_set(made["Id"])
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if no_changes(reason):
            return _nothing_to_change(row)
        row.action, row.note = "blocked", f"the change set failed: {reason}"
        return
    row.changes = describe_changes(described["Changes"])
    row.note = (row.note + "; " if row.action == "retry" else "") + (
        f"{len(row.changes)} resource change(s)"
    )
    row.data_losses = data_losses(described["Changes"], sp.stateful_resources)
    if row.data_losses:
        row.action = "REPLACES DATA" if replace else "refused: would lose data"
        row.note = "; ".join(row.data_losses) + (
            " (asked for by --replace-data)"
            if replace
            else f": deploy refuses it; --replace-data {sp.key} allows it"
        )


def _nothing_to_change(row: PlannedStack) -> None:
    """An update that would change nothing is none; a failed stack is still retried as it is."""
    if row.action == "retry":
        row.note += "; nothing changed since: retried as it is"
    else:
        row.action = "no change"


def _keep_data(row: PlannedStack, sp: StackPlan, stack: dict[str, Any], replace: bool) -> None:
    """Show the snapshot an existing stack keeps (or, asked to, replaces) per parameter."""
    shown = {
        p.name: p
        for p in row.parameters
        if p.name in sp.stateful_parameters and p.value is not None
    }
    values = {name: str(p.value) for name, p in shown.items()}
    _, kept = pin(values, shown, stack, replace)
    for held in kept:
        param = shown[held.parameter]
        param.source += f" (newest is {param.value}; keeps the one it was restored from)"
        param.value = held.kept
        param.age_seconds = None  # the age shown would be the newest copy's, not this one's
    if replace:
        current = parameter_dict(stack)
        for name, param in shown.items():
            if current.get(name) and param.value != current[name]:
                param.source += f" (REPLACES the data restored from {current[name]})"
