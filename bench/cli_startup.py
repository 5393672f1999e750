"""How long `relight --help` takes, against a bare Python start measured in the same run.

Target: under 0.2 s wall on the project's 2-core machines (sceptre --help: 0.39 s,
aws --version: 0.35 s, measured elsewhere). Usage: .venv/bin/python bench/cli_startup.py [runs]
(--quick: one run of each, the suite's check that this script still works.)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    runs = 1 if quick else int(sys.argv[1]) if len(sys.argv) > 1 else 15
    relight = str(Path(sys.executable).parent / "relight")
    wall([relight, "--help"], 1 if quick else 2)  # warm the file cache
    baseline = wall([sys.executable, "-c", "pass"], runs)
    helped = wall([relight, "--help"], runs)
    base, median = statistics.median(baseline), statistics.median(helped)
    print(f"python -c pass : median {base:.3f} s over {runs} runs")
    print(
        f"relight --help : median {median:.3f} s, best {min(helped):.3f} s "
        f"({median / base:.1f}x a bare interpreter start; target < 0.200 s)"
    )


if __name__ == "__main__":
    main()
