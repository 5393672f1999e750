"""An estate: `estates/<name>.yaml` → many environments, in many accounts, in an order.

The estate file lists its environments (each one's environment file and the account it lives
in), how relight reaches each account (a role to assume, with an external id where the trust
policy asks for one), the order they come back in (`after:` edges, and waves), and one API
budget per account and region. This module is the shape of that file and the graph it
describes; its schema is estate_schema.py, loading it (every problem at once, at file:line
like an environment file) is `load_estate` below, with the checks in estate_checks.py.
Nothing here calls AWS.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from relight.errors import ConfigError
from relight.model.config import LoadedEnvironment
from relight.model.estate_schema import (
    AccountAccess,
    Budget,
    EstateEnvironment,
    EstateFile,
    EstateObjectives,
    StackSetSettings,
    computed_waves,
    env_file_ref,
)

__all__ = [
    "AccountAccess",
    "Budget",
    "EstateEnvironment",
    "EstateFile",
    "EstateObjectives",
    "LoadedEstate",
    "StackSetSettings",
    "computed_waves",
    "env_file_ref",
    "find_estate_file",
    "load_estate",
]


@dataclass(frozen=True)
class LoadedEstate:
    """An estate with every environment loaded for the region, and its resolved waves."""

    path: Path
    file: EstateFile
    envs: dict[str, LoadedEnvironment]
    waves: list[list[str]]
    _preds: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        preds = {}
        for name, spec in self.file.environments.items():
            k = self.wave_of(name)
            if spec.after:
                preds[name] = frozenset(spec.after)
            else:
                preds[name] = frozenset(self.waves[k - 1]) if k > 0 else frozenset()
        object.__setattr__(self, "_preds", preds)

    def predecessors(self, name: str) -> frozenset[str]:
        """Its `after:`, or (none given, in wave k > 0) every environment of wave k-1."""
        return self._preds[name]

    @functools.cached_property
    def _successors(self) -> dict[str, set[str]]:
        succ: dict[str, set[str]] = {n: set() for n in self._preds}
        for name, preds in self._preds.items():
            for p in preds:
                succ[p].add(name)
        return succ

    def dependents(self, name: str) -> frozenset[str]:
        """Everything that comes after it, transitively."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            for nxt in self._successors[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def wave_of(self, name: str) -> int:
        for k, wave in enumerate(self.waves):
            if name in wave:
                return k
        raise KeyError(name)

    def access(self, name: str) -> AccountAccess:
        """The account an environment lives in, and how relight reaches it."""
        return self.file.accounts[self.file.environments[name].account]

    def budget_for(self, account_key: str, region: str) -> Budget:
        """`<account>/<region>`, else `<account>`, else `default`, else the defaults."""
        budgets = self.file.budgets
        for key in (f"{account_key}/{region}", account_key, "default"):
            if key in budgets:
                return budgets[key]
        return Budget()

    def order(self) -> list[str]:
        """A topological order: by wave, then by name (predecessors are in earlier waves)."""
        return [name for wave in self.waves for name in wave]

    def critical_path(self, seconds: Mapping[str, float]) -> tuple[float, list[str]]:
        """The longest chain through predecessors, each environment's duration summed (a
        missing one counts 0); between equally long chains, the one whose names sort first."""
        best: dict[str, tuple[float, list[str]]] = {}
        for name in self.order():
            own = float(seconds.get(name, 0.0))
            options = [best[p] for p in self._preds[name]]
            chain = _longest(options) if options else (0.0, [])
            best[name] = (chain[0] + own, [*chain[1], name])
        return _longest(list(best.values())) if best else (0.0, [])


def _longest(chains: list[tuple[float, list[str]]]) -> tuple[float, list[str]]:
    """The longest chain; among equal lengths, the first by its names."""
    top = max(c[0] for c in chains)
    return min((c for c in chains if c[0] == top), key=lambda c: c[1])


def find_estate_file(ref: str, cwd: Path | None = None) -> Path:
    """`corp` → `./estates/corp.yaml` (else the checkout's estates/); a path is taken as is."""
    cwd = cwd or Path.cwd()
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = (cwd / ref).resolve()
        if not path.is_file():
            raise ConfigError(f"--estate {ref}: no such estate file")
        return path
    searched = [cwd / "estates"]
    package = Path(__file__).resolve().parent.parent  # relight/
    if package.parent.name == "src":  # relight runs from a checkout: its estates/ too
        checkout = package.parent.parent / "estates"
        if checkout.resolve() != searched[0].resolve():
            searched.append(checkout)
    for directory in searched:
        for suffix in (".yaml", ".yml"):
            path = directory / f"{ref}{suffix}"
            if path.is_file():
                return path.resolve()
    known = sorted({p.stem for d in searched if d.is_dir() for p in d.glob("*.y*ml")})
    hint = (
        f"known estates: {', '.join(known)}"
        if known
        else "an estate file is estates/<name>.yaml (docs/estates.md)"
    )
    raise ConfigError(
        f"--estate {ref}: no file estates/{ref}.yaml (looked in "
        f"{', '.join(str(d) for d in searched)})",
        hint=hint,
    )


def load_estate(ref: str, region: str | None, *, cwd: Path | None = None) -> LoadedEstate:
    """Read and check the estate file and load every environment of it for `region`; every
    problem at once, as one ConfigError (exit 2) naming file:line and key."""
    from relight.model.estate_checks import check_estate

    path = find_estate_file(ref, cwd)
    file, envs, waves = check_estate(path, region)
    return LoadedEstate(path=path, file=file, envs=envs, waves=waves)
