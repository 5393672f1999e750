"""CloudFormation's own drift detection of the stacks `relight prepare` stood up.

Run in each recovery region for `relight drift` and `relight readiness`; never simulated
by the stand-in (said in a note, never passed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from relight.aws.cloudformation import Stacks
from relight.drift.differences import ONLY_DECLARED, Difference, Drift, StackDrift
from relight.errors import AwsError, ConfigError
from relight.model.config import LoadedEnvironment
from relight.model.per_region import region_problems
from relight.model.plan import Plan
from relight.steps.render import build_plan

DRIFT_KINDS = {"NOT_EQUAL": "changed", "ADD": "only_live", "REMOVE": "only_declared"}


@dataclass
class Detected:
    """CloudFormation's drift detection of a region's prepared stacks."""

    stacks: list[StackDrift] = field(default_factory=list)  # one per stack checked
    notes: list[str] = field(default_factory=list)  # what was not checked, and why
    missing: list[str] = field(default_factory=list)  # prepared stacks that do not exist


def detect_drift(plan: Plan, stacks: Stacks, *, timeout: float = 300.0) -> Detected:
    """Run CloudFormation's drift detection on the plan's prepared stacks in its region and
    read each drifted resource's property differences (docs/aws-behaviours.md, C15).

    Detection is asynchronous: it is started on every stack first, then each is polled, for
    at most `timeout` seconds in all. A stack that does not exist is listed as missing (`relight
    readiness` and failover say what its absence means); so is one still being checked at
    the deadline, and the resources CloudFormation does not check (NOT_CHECKED)."""
    found = Detected()
    started: dict[str, tuple[str, str]] = {}  # key → (stack name, detection id)
    for key, sp in plan.prepared.items():
        if plan.loaded.env.stacks[key].stands == "global":  # may be a StackSet's (estate prepare)
            stack = stacks.prepared_state(sp.name)
        else:
            stack = stacks.state(sp.name)
        if stack is None:
            found.missing.append(f"{sp.name} (stacks.{key}) is not prepared in {plan.region}")
            continue
        name = stack["StackName"]
        try:
            answer = stacks.call(
                f"detect drift of {name}", stacks.cfn.detect_stack_drift, StackName=name
            )
        except AwsError as exc:  # e.g. a stack being updated, or a detection already running
            found.notes.append(f"{name}: drift detection could not start: {exc.message}")
            continue
        started[key] = (name, answer["StackDriftDetectionId"])
    deadline = stacks.clock() + timeout
    for key, (name, detection) in started.items():
        status = _detection(stacks, name, detection, deadline)
        if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
            found.notes.append(
                f"{name}: drift detection still running after {timeout:.0f} s: not known; "
                "run relight drift again later"
            )
            continue
        if status["DetectionStatus"] == "DETECTION_FAILED":  # results for what it did check
            reason = status.get("DetectionStatusReason", "")
            found.notes.append(f"{name}: drift detection failed for some resources: {reason}")
        result, unchecked = _stack_drift(key, name, plan.region, _resource_drifts(stacks, name))
        if unchecked:
            found.notes.append(
                f"{name}: CloudFormation does not check {', '.join(sorted(unchecked))} for drift"
            )
        found.stacks.append(result)
    return found


def _stack_drift(
    key: str, name: str, region: str, drifts: list[dict[str, Any]]
) -> tuple[StackDrift, list[str]]:
    """The stack's StackDrift from its resource drifts, and the resources unchecked."""
    result = StackDrift(key, name, exists=True, region=region)
    unchecked = []
    for r in drifts:
        status = r["StackResourceDriftStatus"]
        if status == "NOT_CHECKED":
            unchecked.append(r["LogicalResourceId"])
            continue
        result.compared += 1
        at = (key, name, r["LogicalResourceId"], r.get("PhysicalResourceId"))
        if status == "DELETED":
            result.differences.append(
                Difference(*at, "exists", True, False, ONLY_DECLARED, region=region)
            )
        for d in r.get("PropertyDifferences", []) if status == "MODIFIED" else []:
            kind = DRIFT_KINDS.get(d["DifferenceType"], "changed")
            declared = None if kind == "only_live" else d.get("ExpectedValue")
            live = None if kind == "only_declared" else d.get("ActualValue")
            result.differences.append(
                Difference(*at, d["PropertyPath"], declared, live, kind, region=region)
            )
    return result, unchecked


def _detection(stacks: Stacks, name: str, detection: str, deadline: float) -> dict[str, Any]:
    delay = 1.0
    while True:
        status: dict[str, Any] = stacks.call(
            f"read the drift detection of {name}",
            stacks.cfn.describe_stack_drift_detection_status,
            StackDriftDetectionId=detection,
        )
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS" or stacks.clock() >= deadline:
            return status
        stacks.sleep(min(delay, max(0.0, deadline - stacks.clock())))
        delay = min(delay * 2, 10.0)


def _resource_drifts(stacks: Stacks, name: str) -> list[dict[str, Any]]:
    """Every resource's drift of the stack's latest detection (paged by NextToken)."""
    drifts: list[dict[str, Any]] = []
    token: dict[str, Any] = {}
    while True:
        page = stacks.call(
            f"read the resource drifts of {name}",
            stacks.cfn.describe_stack_resource_drifts,
            StackName=name,
            **token,
        )
        drifts += page.get("StackResourceDrifts", [])
        if not page.get("NextToken"):
            return drifts
        token = {"NextToken": page["NextToken"]}


def add_prepared(
    found: Drift,
    loaded: LoadedEnvironment,
    client: Callable[[str, str], Any],
    *,
    stand_in: bool,
    regions: Iterable[str] | None = None,
    timeout: float = 300.0,
) -> None:
    """CloudFormation's own drift detection of the stacks `relight prepare` stood up in each
    recovery region (at the file's strategy), added to `found`. `client(service, region)`.

    The stand-in does not simulate drift detection: that is said in a note, never passed. A
    region where none of the prepared stacks exists was never prepared: one line names all such
    regions, rather than a note per stack."""
    never: list[str] = []
    for region in regions if regions is not None else loaded.env.recovery_regions:
        unfilled = region_problems(loaded.env, region, stand_in)  # drift_of notes each
        if unfilled:
            keys = ", ".join(p.split(": ", 1)[0] for p in unfilled)
            found.notes.append(f"{region}: prepared stacks not checked: fill {keys} first")
            continue
        try:
            plan = build_plan(loaded, region, stand_in=stand_in)
        except ConfigError as exc:  # e.g. capture's REPLACE-ME still there: never prepared
            found.notes.append(f"{region}: prepared stacks not checked: {exc}")
            continue
        if not plan.prepared:
            continue
        if stand_in:
            names = ", ".join(sp.name for sp in plan.prepared.values())
            found.notes.append(
                f"{region}: CloudFormation's drift detection of the prepared stacks ({names}) "
                "is not simulated by the stand-in: not checked"
            )
            continue
        detected = detect_drift(plan, Stacks(client("cloudformation", region)), timeout=timeout)
        if (
            not detected.stacks
            and not detected.notes
            and len(detected.missing) == len(plan.prepared)
        ):
            never.append(region)
            continue
        found.stacks += detected.stacks
        found.notes += [f"{region}: {note}" for note in detected.missing + detected.notes]
    if never:
        found.notes.append(
            f"never prepared (none of its prepared stacks exists), so not checked: "
            f"{', '.join(never)}"
        )
