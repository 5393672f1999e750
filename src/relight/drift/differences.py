"""What drift reports: a difference, a stack's differences, and the whole finding."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CHANGED, ONLY_LIVE, ONLY_DECLARED = "changed", "only_live", "only_declared"


NOTE = "CAPTURE comment"  # the property of a difference in what capture could not reproduce


@dataclass(frozen=True)
class Difference:
    stack: str  # the stack's key in the environment file
    stack_name: str  # the CloudFormation stack
    resource: str  # logical id ("-" for the stack itself)
    physical_id: str | None
    property: str
    declared: Any
    live: Any
    kind: str  # changed, only_live or only_declared
    # For a captured production (captured.py): the file's key that declares the value,
    # e.g. "stacks.web.params.instance_type"; empty for stacks relight built.
    key_path: str = ""
    # For a prepared stack in a recovery region (CloudFormation's drift detection): its region.
    region: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a person: where, and what differs."""
        if self.key_path:
            return self._describe_key()
        where = f"stacks.{self.stack}: "
        if self.region:
            where = f"stacks.{self.stack} ({self.stack_name} in {self.region}): "
        if self.resource == "-" and self.kind == ONLY_LIVE:
            return where + (
                f"stack {self.stack_name} is in production, but the file does not declare "
                "this stack: a failover would not rebuild it"
            )
        if self.resource == "-":
            return where + f"stack {self.stack_name} does not exist in production"
        return self._what(f"{where}{self.resource} {self.property}: ")

    def _describe_key(self) -> str:
        where = f"{self.key_path}: "
        origin = f" ({self.physical_id})" if self.physical_id else ""
        if self.property == NOTE:
            if self.kind == ONLY_LIVE:
                return (
                    where + f"production now has what the blueprints cannot reproduce: {self.live}"
                )
            return where + f"the file's CAPTURE comment no longer holds: {self.declared}"
        if self.resource == "-" and self.kind == ONLY_DECLARED:
            return where + f"production no longer has what this stack was captured from{origin}"
        if self.resource == "-":
            return where + f"production has a {self.live} the file does not declare{origin}"
        return self._what(where)

    def _what(self, what: str) -> str:
        # a prepared stack (drift detection) is compared with its own template, not the file
        ours, theirs = ("its template", "the stack") if self.region else ("the file", "production")
        if self.kind == ONLY_LIVE:
            return what + f"{theirs} has {self.live!r}, which {ours} does not declare"
        if self.kind == ONLY_DECLARED:
            return what + f"{ours} declares {self.declared!r}, which {theirs} lacks"
        return what + f"{ours} declares {self.declared!r}, {theirs} has {self.live!r}"


@dataclass
class StackDrift:
    key: str
    name: str
    exists: bool
    compared: int = 0  # resources whose properties were read
    differences: list[Difference] = field(default_factory=list)
    region: str = ""  # a prepared stack's recovery region (empty: the home region)
    # A captured production: what capture only notes (a CAPTURE comment in the file and in
    # production alike), `where: the note`; not compared, listed once by Drift.not_compared.
    not_compared: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.key,
            "name": self.name,
            "region": self.region,
            "exists": self.exists,
            "compared": self.compared,
            "differences": [d.as_dict() for d in self.differences],
        }


def same(declared: Any, live: Any) -> bool:
    """Values equal as a rebuild sees them: "3" is 3, "true" is True."""
    return str(declared).lower() == str(live).lower()


@dataclass
class Drift:
    env: str
    region: str
    stacks: list[StackDrift]
    production: str = ""  # what was read: "the stacks relight built", or a captured VPC
    notes: list[str] = field(default_factory=list)  # what was not checked, and why
    unit: str = "resource(s)"  # what a stack's `compared` counts

    @property
    def differences(self) -> list[Difference]:
        return [d for s in self.stacks for d in s.differences]

    @property
    def not_compared(self) -> list[str]:
        """What capture only notes (it cannot reproduce it), so drift cannot compare it: each
        once, by its file key. Never a difference; a note new or gone is one."""
        return [n for s in self.stacks for n in s.not_compared]

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "region": self.region,
            "production": self.production,
            "drift": bool(self.differences),
            "stacks": [s.as_dict() for s in self.stacks],
            "notes": self.notes,
            "not_compared": self.not_compared,
        }
