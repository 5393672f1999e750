"""A rerun never shrinks a fleet: the live size of an existing Auto Scaling group is kept.

AWS documents (docs/aws-behaviours.md, A6) that a stack update sets an Auto Scaling group's
size properties to the values its template resolves to, and documents no way to leave them
alone for a group without a scheduled action (`IgnoreUnmodifiedGroupSizeProperties` is for
those only; what leaving `DesiredCapacity` out does on an update is not written down). So the
template itself must say the size to keep. The compute blueprint takes it as a Parameter
(`DesiredCapacity`, empty: the file's size); for a stack that exists, deploy reads the live
DesiredCapacity of each group the template sizes that way and passes the larger of the live
and the planned size, at least MinSize and at most MaxSize:

- an operator who scaled the serving fleet up by hand during an incident keeps it;
- a plan that scales up on purpose wins (a warm standby's failover, from its standby size to
  the file's: the file's size is the larger);
- a template that lowers MaxSize below the live size is obeyed (CloudFormation would refuse a
  size above it anyway);
- prepare deploys the standby's own size: deploy does not keep the live size in a plan of
  phase "prepare" (`relight prepare` is refused in a region that serves, and `relight
  failback`'s last phase uses it to put the recovery region back at its rung).

What is kept is said (`ScaleKept.note`). The live size cannot be read (no permission, no
answer): the stack's last value of the Parameter is kept instead when it is larger, and that
is said too. `slots` and `sized` are pure; `read_live` asks CloudFormation which groups the
stack holds and Auto Scaling how large they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relight.aws.cloudformation import Stacks, Throttled
from relight.aws.failures import translated
from relight.errors import AwsError
from relight.model.shapes import parameter_dict

GROUP_TYPE = "AWS::AutoScaling::AutoScalingGroup"


@dataclass(frozen=True)
class Slot:
    """A group whose DesiredCapacity a Parameter sets: `Fn::If [condition, Ref P, planned]`."""

    logical: str
    parameter: str
    planned: int  # the template's own size, used while the Parameter is empty
    min_size: int | None
    max_size: int | None


@dataclass(frozen=True)
class ScaleKept:
    """A group deployed at its live size (or the stack's last one) instead of the file's."""

    logical: str
    parameter: str
    kept: int
    planned: int
    live: int | None  # None: not readable; `kept` is the stack's last value

    def note(self, key: str) -> str:
        if self.live is None:
            return (
                f"{key}: the live DesiredCapacity could not be read; kept the stack's last "
                f"{self.kept} (the file says {self.planned})"
            )
        if self.live > self.kept:
            return (
                f"{key}: kept DesiredCapacity {self.kept}, the MaxSize the file allows (live "
                f"{self.live}, the file says {self.planned})"
            )
        return f"{key}: kept the live DesiredCapacity {self.live} (the file says {self.planned})"


def _number(value: Any) -> int | None:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return int(text) if text.isdigit() else None


def slots(template: Mapping[str, Any]) -> list[Slot]:
    """The groups of a rendered template whose DesiredCapacity a Parameter may set."""
    declared = set(template.get("Parameters", {}))
    found = []
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != GROUP_TYPE:
            continue
        props = resource.get("Properties", {})
        chosen = props.get("DesiredCapacity")
        branches = chosen.get("Fn::If") if isinstance(chosen, dict) else None
        if not (isinstance(branches, list) and len(branches) == 3):
            continue
        given, planned = branches[1], _number(branches[2])
        parameter = given.get("Ref") if isinstance(given, dict) else None
        if parameter in declared and planned is not None:
            found.append(
                Slot(
                    logical,
                    str(parameter),
                    planned,
                    _number(props.get("MinSize")),
                    _number(props.get("MaxSize")),
                )
            )
    return found


def sized(
    parameters: Mapping[str, str],
    found: Iterable[Slot],
    live: Mapping[str, int],
    last: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[ScaleKept]]:
    """The parameters to deploy with, each group at the larger of its live (`live`, by logical
    id) and planned size, within its MinSize and MaxSize; and what was kept. A group with no
    live size read takes the stack's `last` value of its Parameter when that is larger."""
    chosen, kept = dict(parameters), []
    for slot in found:
        given = _number(parameters.get(slot.parameter, ""))
        planned = slot.planned if given is None else given
        now: int | None = live.get(slot.logical)
        previous = _number((last or {}).get(slot.parameter, ""))
        size = now if now is not None else previous
        if size is None or size <= planned:
            continue
        if slot.min_size is not None:
            size = max(size, slot.min_size)
        if slot.max_size is not None:
            size = min(size, slot.max_size)
        if size <= planned:
            continue
        chosen[slot.parameter] = str(size)
        kept.append(ScaleKept(slot.logical, slot.parameter, size, planned, now))
    return chosen, kept


def group_names(stacks: Stacks, name: str, logical: Iterable[str]) -> dict[str, str]:
    """The physical names of the stack's resources `logical` (those that exist), every page."""
    wanted, found = set(logical), {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"StackName": name, **({"NextToken": token} if token else {})}
        page = stacks.call(f"list resources of {name}", stacks.cfn.list_stack_resources, **kwargs)
        for r in page.get("StackResourceSummaries", []):
            physical = r.get("PhysicalResourceId")
            gone = r.get("ResourceStatus", "").startswith("DELETE")
            if r.get("LogicalResourceId") in wanted and physical and not gone:
                found[r["LogicalResourceId"]] = str(physical)
        token = page.get("NextToken")
        if not token:
            return found


def desired_capacities(autoscaling: Any, names: Iterable[str]) -> dict[str, int]:
    """Each named group's live DesiredCapacity (DescribeAutoScalingGroups, 50 names a call as
    AWS allows, every page; a group that does not exist is not listed)."""
    wanted = sorted(set(names))
    sizes: dict[str, int] = {}
    for start in range(0, len(wanted), 50):
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"AutoScalingGroupNames": wanted[start : start + 50]}
            if token:
                kwargs["NextToken"] = token
            with translated("describe Auto Scaling groups", autoscaling):
                page = autoscaling.describe_auto_scaling_groups(**kwargs)
            for group in page.get("AutoScalingGroups", []):
                sizes[group["AutoScalingGroupName"]] = int(group["DesiredCapacity"])
            token = page.get("NextToken")
            if not token:
                break
    return sizes


def read_live(stacks: Stacks, autoscaling: Any, name: str, found: list[Slot]) -> dict[str, int]:
    """The live DesiredCapacity of the stack's groups in `found`, by logical id."""
    physical = group_names(stacks, name, (s.logical for s in found))
    sizes = desired_capacities(autoscaling, physical.values()) if physical else {}
    return {logical: sizes[group] for logical, group in physical.items() if group in sizes}


def keep_live_scale(
    stacks: Stacks,
    autoscaling: Any,
    name: str,
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    existing: Mapping[str, Any] | None,
) -> tuple[dict[str, str], list[ScaleKept], str]:
    """For a stack that exists, `parameters` with its groups kept at their live size when
    larger; what was kept; and why the live size could not be read ("" when it was)."""
    found = slots(template)
    if existing is None or not found:
        return dict(parameters), [], ""
    live: dict[str, int] = {}
    why = "no Auto Scaling client" if autoscaling is None else ""
    if autoscaling is not None:
        try:
            live = read_live(stacks, autoscaling, name, found)
        except Throttled:
            raise  # the caller waits it out (Stacks.patiently) and asks again
        except AwsError as exc:
            why = exc.message
    chosen, kept = sized(parameters, found, live, parameter_dict(existing) if why else None)
    return chosen, kept, why
