"""Each blueprint rendered with its sample options matches its checked-in golden file.

`make golden` regenerates them (RELIGHT_UPDATE_GOLDEN=1); review the diff before committing.
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import BLUEPRINTS, REPO
from relight.model.blueprint import Blueprint, load_registry

GOLDEN = REPO / "tests" / "golden"
REGISTRY = load_registry(BLUEPRINTS)
UPDATE = os.environ.get("RELIGHT_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("bp", list(REGISTRY), ids=lambda bp: bp.name)
def test_rendered_sample_matches_golden_file(bp: Blueprint) -> None:
    rendered = json.dumps(bp.render(bp.sample).to_dict(), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{bp.name}.json"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no golden file for {bp.name}: run make golden"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{bp.name} renders differently from {path.name}; if intended, run make golden"
    )


def test_every_golden_file_has_a_blueprint() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == REGISTRY.names()


# The database blueprint in replica mode (data: replica; model/data_modes.py), instance and Aurora.
GOLDEN_DATA = REPO / "tests" / "golden_data"
DATA_VARIANTS = {
    "database-replica": {"mode": "instance", "engine": "postgres", "data": "replica"},
    "database-secondary": {"mode": "aurora", "engine": "aurora-postgresql", "data": "replica"},
}


@pytest.mark.parametrize("name", list(DATA_VARIANTS))
def test_the_database_in_replica_mode_matches_its_golden_file(name: str) -> None:
    bp = REGISTRY["database"]
    rendered = json.dumps(bp.render(DATA_VARIANTS[name]).to_dict(), indent=2, sort_keys=True)
    path = GOLDEN_DATA / f"{name}.json"
    if UPDATE:
        GOLDEN_DATA.mkdir(exist_ok=True)
        path.write_text(rendered + "\n", encoding="utf-8")
    assert rendered + "\n" == path.read_text(encoding="utf-8"), (
        f"{name} renders differently from {path.name}; if intended, run make golden"
    )
