"""Loading an estate file: every problem at once, each at its file:line and key.

The file is parsed as environment files are (config.parse_yaml: the line of every key, a
repeated key refused), validated into `EstateFile`, then cross-checked: the accounts and
environments it names, the `after:` graph (cycles named), the waves, the budgets' keys, and
every environment file, loaded for the region (its own problems are reported under its key).
Where one part of the file is invalid, it is left out and the rest is still checked, so one
run names every problem.
"""

from __future__ import annotations

import copy
import graphlib
from pathlib import Path
from typing import Any

from relight.errors import ConfigError
from relight.model.config import (
    LoadedEnvironment,
    load_environment,
    locate,
    model_problems,
    parse_yaml,
    read_text,
    refuse,
)
from relight.model.estate_schema import EstateFile, computed_waves, env_file_ref
from relight.model.values import check_region

# Sections whose entries are left out one by one when invalid (the others are still checked).
_ENTRIES = ("accounts", "environments", "budgets")
_REQUIRED = {name for name, f in EstateFile.model_fields.items() if f.is_required()}

_ROLE_MISSING = (
    ": relight reaches every account through a role it assumes (also the administrator's): "
    "give role: arn:aws:iam::<id>:role/<name>"
)


def check_estate(
    path: Path, region: str | None
) -> tuple[EstateFile, dict[str, LoadedEnvironment], list[list[str]]]:
    """The valid estate file, its environments loaded, its waves; or one ConfigError."""
    data, lines = parse_yaml(path, read_text(path))
    estate, problems, broken = _validate(data)
    envs: dict[str, LoadedEnvironment] = {}
    waves: list[list[str]] = []
    if estate is not None:
        problems += _references(estate, broken)
        cycles = _cycles(estate)
        problems += cycles
        problems += _budget_keys(estate, broken)
        if not broken["waves"] and not cycles:
            wave_problems, waves = _waves(estate, broken)
            problems += wave_problems
        env_problems, envs = _environment_files(path, estate, region)
        problems += env_problems
    if problems or estate is None:
        refuse(path, locate(problems, lines))
    return estate, envs, waves


def _validate(data: dict[str, Any]) -> tuple[EstateFile | None, list[str], dict[str, set[str]]]:
    """The model of what is valid, every schema problem, and the keys left out as invalid
    (`broken["accounts"]` = {"shop"}: references to it are not "unknown")."""
    from pydantic import ValidationError

    data = copy.deepcopy(data)
    problems: list[str] = []
    broken: dict[str, set[str]] = {section: set() for section in (*_ENTRIES, "waves")}
    for _ in range(4):  # each round leaves out what failed; what is left validates
        try:
            return EstateFile.model_validate(data), problems, broken
        except ValidationError as exc:
            found = model_problems(EstateFile, exc)
        for loc, text in found:
            if text.endswith(".role: required key is missing"):
                text += _ROLE_MISSING
            if text not in problems:
                problems.append(text)
            head = str(loc[0]) if loc else ""
            section = data.get(head)
            if head in _ENTRIES and len(loc) > 1 and isinstance(section, dict):
                broken[head].add(str(loc[1]))
                section.pop(loc[1], None)
            elif head and head not in _REQUIRED:
                broken.setdefault(head, set()).add("*")
                data.pop(head, None)
            else:
                return None, problems, broken
    return None, problems, broken


def _references(estate: EstateFile, broken: dict[str, set[str]]) -> list[str]:
    problems = []
    accounts = ", ".join(estate.accounts)
    if (
        estate.administrator not in estate.accounts
        and estate.administrator not in broken["accounts"]
    ):
        problems.append(
            f"administrator: unknown account {estate.administrator!r}; accounts: {accounts} "
            "(the account where the StackSets are administered)"
        )
    known = set(estate.environments) | broken["environments"]
    for name, spec in estate.environments.items():
        if spec.account not in estate.accounts and spec.account not in broken["accounts"]:
            problems.append(
                f"environments.{name}.account: unknown account {spec.account!r}; accounts: "
                f"{accounts}"
            )
        for other in spec.after:
            if other == name:
                problems.append(f"environments.{name}.after: an environment cannot be after itself")
            elif other not in known:
                problems.append(
                    f"environments.{name}.after: unknown environment {other!r}; environments: "
                    + ", ".join(estate.environments)
                )
    return problems


def _graph(estate: EstateFile) -> dict[str, list[str]]:
    """environment → the environments it is after (known ones only)."""
    return {
        name: sorted(a for a in spec.after if a in estate.environments and a != name)
        for name, spec in sorted(estate.environments.items())
    }


def _cycles(estate: EstateFile) -> list[str]:
    """Every cycle of `after:` edges, each named (`a → b → a`: each is after the one before)."""
    graph = _graph(estate)
    problems: list[str] = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
            return problems
        except graphlib.CycleError as exc:
            cycle: list[str] = exc.args[1]
            first = min(cycle[:-1])
            at = cycle.index(first)
            named = [*cycle[at:-1], *cycle[:at], first]
            problems.append(
                f"environments.{first}.after: cycle {' → '.join(named)} (each is after the one "
                "before it): remove one of these after: entries"
            )
            for node in cycle[:-1]:
                graph.pop(node, None)
            graph = {n: [a for a in after if a in graph] for n, after in graph.items()}


def _waves(estate: EstateFile, broken: dict[str, set[str]]) -> tuple[list[str], list[list[str]]]:
    """The waves as given (checked) or, when the file gives none, computed from `after:`."""
    if not estate.waves:
        return [], computed_waves(_graph(estate))
    problems = []
    wave_of: dict[str, int] = {}
    for k, wave in enumerate(estate.waves):
        if not wave:
            problems.append(f"waves.{k}: an empty wave: remove it")
        for name in wave:
            if name not in estate.environments:
                if name not in broken["environments"]:
                    problems.append(
                        f"waves.{k}: unknown environment {name!r}; environments: "
                        + ", ".join(estate.environments)
                    )
            elif name in wave_of:
                problems.append(
                    f"waves.{k}: {name} is in two waves (wave {wave_of[name] + 1} and wave "
                    f"{k + 1}): keep it in one"
                )
            else:
                wave_of[name] = k
    for name, spec in estate.environments.items():
        if name not in wave_of:
            problems.append(
                f"waves: {name} is in no wave: add it to one (or leave waves: out, and the "
                "after: edges order the estate)"
            )
            continue
        for other in spec.after:
            if other in wave_of and wave_of[other] >= wave_of[name]:
                problems.append(
                    f"environments.{name}.after: {name} is in wave {wave_of[name] + 1}, but it is "
                    f"after {other}, in wave {wave_of[other] + 1}: move {name} to a later wave "
                    f"than {other}"
                )
    return problems, [sorted(w) for w in estate.waves]


def _budget_keys(estate: EstateFile, broken: dict[str, set[str]]) -> list[str]:
    problems = []
    for key in estate.budgets:
        account, _, region = key.partition("/")
        if key == "default":
            continue
        if account not in estate.accounts and account not in broken["accounts"]:
            problems.append(
                f"budgets.{key}: unknown account {account!r}: a budget's key is default, "
                "<account>, or <account>/<region>; accounts: " + ", ".join(estate.accounts)
            )
        elif region:
            try:
                check_region(region)
            except ValueError as exc:
                problems.append(f"budgets.{key}: {exc}")
    return problems


def _environment_files(
    path: Path, estate: EstateFile, region: str | None
) -> tuple[list[str], dict[str, LoadedEnvironment]]:
    """Each environment file loaded for the region, and what does not match the estate."""
    problems: list[str] = []
    envs: dict[str, LoadedEnvironment] = {}
    used: dict[Path, str] = {}
    for name, spec in estate.environments.items():
        where = f"environments.{name}.file" if spec.file else f"environments.{name}"
        file = env_file_ref(path, name, spec)
        shown = spec.file or f"../stacks/{name}.yaml"
        if not file.is_file():
            problems.append(
                f"{where}: no environment file {shown} ({file}); give file: relative to the "
                "estate file"
            )
            continue
        if file in used:
            problems.append(f"{where}: {shown} is also {used[file]}'s file: one file, one entry")
            continue
        used[file] = name
        try:
            loaded = load_environment(str(file), region)
        except ConfigError as exc:
            problems.append(f"{where}: {shown} does not load: {exc}")
            continue
        envs[name] = loaded
        problems += _matches(estate, name, loaded, where)
    return problems, envs


def _matches(estate: EstateFile, name: str, loaded: LoadedEnvironment, where: str) -> list[str]:
    """The environment file agrees with its estate entry: name, account, stand-in."""
    env, spec = loaded.env, estate.environments[name]
    problems = []
    if env.name != name:
        problems.append(
            f"{where}: the file's name is {env.name!r}, not {name!r}: an estate names each "
            "environment by its file's name: (its stacks, lock and reports carry it)"
        )
    access = estate.accounts.get(spec.account)
    if access is not None and env.account_id is not None and env.account_id != access.id:
        problems.append(
            f"environments.{name}.account: {spec.account} is account {access.id}, but "
            f"{loaded.path.name} says account_id: {env.account_id}: correct one of them"
        )
    if env.stand_in != estate.stand_in:
        on = "the stand-in" if estate.stand_in else "AWS"
        problems.append(
            f"{where}: the estate runs on {on} (stand_in: {str(estate.stand_in).lower()}), but "
            f"{loaded.path.name} has stand_in: {str(env.stand_in).lower()}: make them agree"
        )
    return problems
