"""Benchmarks cannot rot: every script in bench/ runs in its quick mode, here and so in CI.

The full runs, which print the figures quoted in closing notes, stay manual (`make bench`,
`make bench-peers`). A quick run is small and proves only that the script still works with
today's engine and blueprints: it asserts no speed (the machines are shared and noisy).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))
# A figure a benchmark prints: seconds, or a ratio ("1.61x").
FIGURE = re.compile(r"\d+(?:\.\d+)? ?s\b|\d+(?:\.\d+)?x\b")


def test_every_bench_script_offers_a_quick_mode() -> None:
    assert len(SCRIPTS) >= 8, [s.name for s in SCRIPTS]
    for script in SCRIPTS:
        assert "--quick" in script.read_text(encoding="utf-8"), f"{script.name}: no --quick mode"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_a_bench_script_runs_in_its_quick_mode(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "RELIGHT_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, str(script), "--quick"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"bench/{script.name} --quick failed:\n{done.stderr[-4000:]}"
    assert FIGURE.search(done.stdout), f"bench/{script.name} printed no figure:\n{done.stdout}"
