"""A 7-stack graph deployed end to end on the local stand-in (moto over HTTP).

The shape of the issue: one network stack, five stacks that depend only on it,
one that also depends on one of the five. Every stack is a real blueprint
(network, security) created by moto from the rendered template; the time is
from the first call to the last stack seen complete, as `failover` deploys it
(rendering and discovery excluded). Target: under 1.5 s. Sceptre 4.7 takes
about 16 s for this shape on moto, mostly waiting in fixed polls.

Printed beside it, measured in the same run: the same graph with --concurrency 1
(one stack at a time), and API calls per stack.

Usage: .venv/bin/python bench/standin_graph.py [runs]   (--quick: one run)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

GROUPS = (
    "      groups: {app: {description: app, ingress: [{cidr: 10.0.0.0/8, port: 443,"
    " description: https}]}}"
)


def environment(directory: Path) -> Path:
    lines = [
        "name: seven",
        "home_region: us-east-1",
        "recovery_regions: [us-west-2]",
        "objectives: {rpo: 4h, rto: 1h}",
        "zones: {count: 2}",
        f"blueprints_dir: {REPO / 'blueprints'}",
        "stacks:",
        "  network:",
        "    blueprint: network",
        "    params: {az_count: 2, nat: none, flow_logs: false, AvailabilityZones: {zones: names}}",
    ]
    for n in range(1, 6):
        lines += [f"  tier{n}:", "    blueprint: security", "    params:"]
        lines += ["      VpcId: {output: network.VpcId}", GROUPS]
    lines += ["  edge:", "    blueprint: security", "    depends_on: [tier1]", "    params:"]
    lines += ["      VpcId: {output: network.VpcId}", GROUPS]
    path = directory / "seven.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(runs: int) -> None:
    from relight import standin
    from relight.aws.clients import Aws, AwsTarget
    from relight.aws.cloudformation import Stacks
    from relight.model.config import load_environment
    from relight.steps.deploy import deploy
    from relight.steps.discovery import Discovery, Zone
    from relight.steps.render import build_plan

    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_environment(str(environment(Path(tmp))), "us-west-2")
        running = standin.ensure_running(Path(tmp) / "state")
        try:
            aws = Aws(AwsTarget(endpoint_url=running.endpoint, stand_in=True))
            cfn = aws.client("cloudformation", "us-west-2")
            zones = aws.client("ec2", "us-west-2").describe_availability_zones()
            found = Discovery(
                "us-west-2",
                datetime.now(UTC),
                zones=tuple(
                    Zone(z["ZoneName"], z["ZoneId"]) for z in zones["AvailabilityZones"][:2]
                ),
            )
            figures: dict[int, list[tuple[float, int]]] = {8: [], 1: []}
            for run in range(runs):
                for concurrency in (8, 1):
                    plan = build_plan(loaded, "us-west-2", namespace=f"r{run}c{concurrency}")
                    stacks = Stacks(cfn, timeout=60)
                    started = time.perf_counter()
                    outcome = deploy(
                        stacks, plan, found, run_id=f"bench{run}", concurrency=concurrency
                    )
                    took = time.perf_counter() - started
                    assert outcome.ok, outcome.failed()
                    figures[concurrency].append((took, outcome.api_calls))
        finally:
            standin.stop(Path(tmp) / "state")
    n = len(plan.stacks)
    for concurrency, label in ((8, "relight (concurrency 8)"), (1, "one stack at a time")):
        times = [t for t, _ in figures[concurrency]]
        calls = statistics.median(c for _, c in figures[concurrency])
        print(
            f"{label:<24} median {statistics.median(times):.3f} s, best {min(times):.3f} s "
            f"over {runs} runs; {calls:.0f} API calls, {calls / n:.1f} per stack"
        )
    ratio = statistics.median(t for t, _ in figures[1]) / statistics.median(
        t for t, _ in figures[8]
    )
    print(
        f"{n} stacks on the stand-in (target: relight under 1.5 s); "
        f"one at a time / relight = {ratio:.2f}x"
    )


if __name__ == "__main__":
    # --quick: one run, the suite's check that this script still works
    main(1 if "--quick" in sys.argv[1:] else int(sys.argv[1]) if len(sys.argv) > 1 else 5)
