"""cfn-lint on the demo's plans (us-west-2, the stand-in and the AWS variant): cold and warm cache.

Each measurement runs in a fresh interpreter, as a `relight` command does, and times one
`lint_plan` (cfn-lint's import included when it is needed):
  cold, sequential : an empty cache directory, RELIGHT_LINT_WORKERS=1 (all in the process)
  cold, parallel   : an empty cache directory, the default workers (one per CPU)
  warm             : the same cache directory again, after the parallel cold run filled it
Rounds interleave the three, per variant. Prints the medians and the ratios.
Usage: .venv/bin/python bench/lint_cache.py [rounds]   (default 5)
       .venv/bin/python bench/lint_cache.py --quick    (one round of the stand-in variant: the
                                                        suite's check that this script still works)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {"stand-in": True, "aws": False}


def one(variant: str) -> None:
    """In a fresh interpreter: lint_plan on the variant's plan; seconds and templates as JSON."""
    from relight.model.config import load_environment
    from relight.steps.render import build_plan, lint_plan

    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), "us-west-2")
    plan = build_plan(loaded, "us-west-2", stand_in=VARIANTS[variant])
    start = time.perf_counter()
    lint_plan(plan)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "templates": len(plan.stacks)}))


def measure(variant: str, state: Path, workers: str | None) -> tuple[float, int]:
    env = {**os.environ, "RELIGHT_STATE_DIR": str(state)}
    env.pop("RELIGHT_LINT_WORKERS", None)
    if workers:
        env["RELIGHT_LINT_WORKERS"] = workers
    done = subprocess.run(
        [sys.executable, __file__, "--one", variant],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return float(answer["seconds"]), int(answer["templates"])


def report(variant: str, templates: int, times: dict[str, list[float]]) -> None:
    print(f"{variant} plan, {templates} templates:")
    for name, measured in times.items():
        print(
            f"  {name:<16}: median {statistics.median(measured):.3f} s "
            f"(min {min(measured):.3f}, max {max(measured):.3f})"
        )
    seq, pool, warm = (statistics.median(t) for t in times.values())
    print(f"  cold parallel / cold sequential: {pool / seq:.2f}x")
    print(f"  warm / cold sequential: {warm / seq:.4f}x ({seq / warm:.0f}x faster)")
    print(f"  warm / cold parallel:   {warm / pool:.4f}x ({pool / warm:.0f}x faster)")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2])
        return
    quick = "--quick" in sys.argv[1:]
    rounds = 1 if quick else int(sys.argv[1]) if len(sys.argv) > 1 else 5
    from relight.steps.lint import cfn_lint_version, default_workers

    print(
        f"lint_plan on the demo (us-west-2), cfn-lint {cfn_lint_version()}, "
        f"{default_workers()} CPU(s), {rounds} rounds, each run in a fresh interpreter"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for variant in list(VARIANTS)[:1] if quick else VARIANTS:
            times: dict[str, list[float]] = {
                "cold, sequential": [],
                "cold, parallel": [],
                "warm": [],
            }
            templates = 0
            for n in range(rounds):
                seconds, templates = measure(variant, Path(tmp, f"{variant}-seq-{n}"), "1")
                times["cold, sequential"].append(seconds)
                state = Path(tmp, f"{variant}-pool-{n}")
                times["cold, parallel"].append(measure(variant, state, None)[0])
                times["warm"].append(measure(variant, state, None)[0])
                entries = len(list((state / "lint-cache").glob("*.json")))
                assert entries == templates, f"{entries} cache entries for {templates} templates"
            report(variant, templates, times)


if __name__ == "__main__":
    main()
