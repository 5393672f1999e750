"""Peer benchmark: relight against Sceptre, the same 7-stack graph on one local moto server.

The graph is bench/standin_graph.py's: network, five stacks on it, one on one of the five.
Both tools deploy the same CloudFormation templates, those relight renders for the stand-in
(`build_plan`; for this graph identical to `relight render --aws`), to the same moto server
(relight's stand-in, started once), each as its own command, timed from start to exit:

  relight, cold lint cache : relight failover --env seven.yaml --region us-west-2 --yes --stand-in
                             with a fresh RELIGHT_STATE_DIR each round (its lint cache empty)
  relight, warm lint cache : the same with one state directory kept across rounds
  Sceptre                  : sceptre launch -y seven, in a project generated in a temp dir
                             (templates/<stack>.json, config/seven/<stack>.yaml with
                             `!stack_output` for each output another stack takes)

Every state directory points at the one moto server (a copy of its standin.json), so both
tools see the same world. An untimed warm-up deploys with each tool first (the stand-in's
first-run story, interpreter caches). Rounds interleave the three, the order rotating; the
stacks are deleted between runs (untimed, the same code for both tools) and checked
CREATE_COMPLETE after each. Prints each run, the medians, and relight/Sceptre.

Then the demo: `relight failover --env demo --region us-west-2 --yes` on a fresh stand-in of
its own, run 1 + N times; the second run (unchanged demo, warm lint cache) against the 3 s
target, and the median of the reruns.

Sceptre lives in its own virtualenv, .venv-peers (`make bench-peers` makes it): Sceptre 4.7 pins
jsonschema<3.3, networkx<2.7 and packaging<25, below what moto[server] and cfn-lint need. Without
a working Sceptre this says why and still measures relight.

Usage: .venv/bin/python bench/peers.py [--rounds 5] [--demo-runs 5] [--peers .venv-peers] [--quick]
       [--relight-src ROOT]  (relight, its blueprints and the demo from another checkout, e.g.
       `git archive HEAD` unpacked, for a before/after or while the work tree is being edited)
       [--skip-demo] [--skip-graph]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

REGION = "us-west-2"
SCEPTRE_PROJECT = "peer"
SCEPTRE_GROUP = "seven"
DEMO_TARGET = 3.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


class Failed(Exception):
    """A tool's run did not do what it should: the message says what it printed."""


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RELIGHT_"))}
    return {**env, **FAKE_CREDENTIALS}


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise Failed(f"{' '.join(command[:4])} ... exited {done.returncode}:\n{tail}")
    return took


# relight ---------------------------------------------------------------------------------------


class Relight:
    def __init__(self, env_file: Path, shared_state: Path) -> None:
        self.env_file = env_file
        self.shared_state = shared_state

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "relight", *args]

    def env(self, state: Path) -> dict[str, str]:
        return {**base_env(), "RELIGHT_STATE_DIR": str(state)}

    def state(self, directory: Path) -> Path:
        """A state directory that finds the shared moto server (and nothing else: no cache)."""
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.shared_state / "standin.json", directory / "standin.json")
        return directory

    def deploy(self, state: Path) -> float:
        args = ("failover", "--env", str(self.env_file), "--region", REGION, "--yes")
        return timed(self.command(*args, "--stand-in"), self.env(state), self.env_file.parent)


# Sceptre ---------------------------------------------------------------------------------------


def sceptre_project(directory: Path, plan: Any, zones: list[str]) -> Path:
    """A Sceptre project deploying the plan's templates: one stack config per stack, outputs
    passed by `!stack_output` (which also orders the stacks), depends_on as dependencies."""
    from relight.model.environment import OutputRef, ZonesRef

    (directory / "templates").mkdir(parents=True)
    group = directory / "config" / SCEPTRE_GROUP
    group.mkdir(parents=True)
    (directory / "config" / "config.yaml").write_text(
        f"project_code: {SCEPTRE_PROJECT}\nregion: {REGION}\n", encoding="utf-8"
    )
    for key, sp in plan.stacks.items():
        (directory / "templates" / f"{key}.json").write_text(sp.body, encoding="utf-8")
        lines = ["template:", f"  path: {key}.json", "parameters:"]
        for name, value in sp.parameters.items():
            if isinstance(value, OutputRef):
                lines.append(
                    f"  {name}: !stack_output {SCEPTRE_GROUP}/{value.stack}.yaml::{value.output}"
                )
            elif isinstance(value, ZonesRef):
                lines.append(f"  {name}: {json.dumps(zones)}")
            else:
                lines.append(f"  {name}: {json.dumps(str(value))}")
        given = {v.stack for v in sp.parameters.values() if isinstance(v, OutputRef)}
        extra = [d for d in sp.depends_on if d not in given]
        if extra:
            lines.append("dependencies:")
            lines += [f"  - {SCEPTRE_GROUP}/{d}.yaml" for d in extra]
        (group / f"{key}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


class Sceptre:
    def __init__(self, peers: Path, project: Path, endpoint: str) -> None:
        self.binary = peers / "bin" / "sceptre"
        self.project = project
        self.endpoint = endpoint

    def version(self) -> str:
        done = subprocess.run(
            [str(self.binary), "--version"], capture_output=True, text=True, env=base_env()
        )
        if done.returncode != 0:
            raise Failed(f"{self.binary} --version exited {done.returncode}: {done.stderr}")
        return done.stdout.strip()

    def deploy(self) -> float:
        env = {**base_env(), "AWS_ENDPOINT_URL": self.endpoint}
        command = [str(self.binary), "--dir", str(self.project), "launch", "-y", SCEPTRE_GROUP]
        return timed(command, env, self.project)


# the shared world ------------------------------------------------------------------------------


class World:
    """boto3 on the shared moto server: check what a tool built, and delete it again."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.cfn = session.client("cloudformation", endpoint_url=endpoint)
        self.ec2 = session.client("ec2", endpoint_url=endpoint)

    def zones(self, count: int) -> list[str]:
        found = self.ec2.describe_availability_zones()["AvailabilityZones"]
        return [z["ZoneName"] for z in found[:count]]

    def status(self, name: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            stacks = self.cfn.describe_stacks(StackName=name)["Stacks"]
        except ClientError:
            return None
        live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
        return live[0]["StackStatus"] if live else None

    def check_built(self, names: list[str]) -> None:
        states = {name: self.status(name) for name in names}
        if any(state != "CREATE_COMPLETE" for state in states.values()):
            raise Failed(f"not every stack was built: {states}")

    def remove(self, names: list[str], network: str) -> None:
        """Delete the stacks (the network last) and wait until they are gone; moto's VPC
        leftovers are cleared as relight's stand-in janitor does."""
        from botocore.exceptions import ClientError

        from relight.standin.janitor import clear_vpc_leftovers

        for batch in ([n for n in names if n != network], [network]):
            for name in batch:
                try:
                    # relight's failover stacks have termination protection; Sceptre's do not.
                    self.cfn.update_termination_protection(
                        StackName=name, EnableTerminationProtection=False
                    )
                    self.cfn.delete_stack(StackName=name)
                except ClientError as exc:
                    error = exc.response.get("Error", {})
                    said = f"{error.get('Code')}: {error.get('Message')}"
                    if not clear_vpc_leftovers(self.ec2, said):
                        raise
            deadline = time.monotonic() + 60
            while any(self.status(n) for n in batch):
                if time.monotonic() > deadline:
                    raise Failed(f"not deleted in 60 s: {[(n, self.status(n)) for n in batch]}")
                time.sleep(0.1)


# the figures -----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def graph(args: argparse.Namespace, tmp: Path) -> None:
    from relight import standin
    from relight.model.config import load_environment
    from relight.steps.render import build_plan
    from standin_graph import environment

    env_file = environment(tmp)
    loaded = load_environment(str(env_file), REGION)
    plan = build_plan(loaded, REGION, stand_in=True)
    shared = tmp / "moto"
    running = standin.ensure_running(shared)
    try:
        world = World(running.endpoint)
        relight = Relight(env_file, shared)
        relight_names = [sp.name for sp in plan.stacks.values()]
        project = sceptre_project(tmp / "sceptre", plan, world.zones(2))
        sceptre_names = [f"{SCEPTRE_PROJECT}-{SCEPTRE_GROUP}-{key}" for key in plan.stacks]
        print(f"moto {running.moto_version} (relight's stand-in) at {running.endpoint}")
        print(f"graph: {len(plan.stacks)} stacks ({', '.join(plan.stacks)}), region {REGION}")

        sceptre: Sceptre | None = Sceptre(args.peers, project, running.endpoint)
        try:
            assert sceptre is not None
            print(f"Sceptre: {sceptre.version()} in {args.peers}; project {project}")
        except (Failed, OSError) as exc:
            print(f"Sceptre cannot run here, so only relight is measured: {exc}")
            sceptre = None

        warm = relight.state(tmp / "state-warm")
        runs: dict[str, Callable[[int], float]] = {
            "relight cold": lambda n: relight.deploy(relight.state(tmp / f"state-cold-{n}")),
            "relight warm": lambda n: relight.deploy(warm),
        }
        names = {"relight cold": relight_names, "relight warm": relight_names}
        if sceptre is not None:
            runs["sceptre"] = lambda n: sceptre.deploy()
            names["sceptre"] = sceptre_names
        network = {k: v[0] for k, v in names.items()}  # the first in creation order

        def one(label: str, n: int) -> float:
            took = runs[label](n)
            world.check_built(names[label])
            world.remove(names[label], network[label])
            return took

        for label in list(runs):  # warm-up, untimed: the story, caches; warms relight's lint
            try:
                one(label, -1)
            except (Failed, OSError) as exc:
                if label != "sceptre":
                    raise
                print(f"Sceptre's warm-up failed, so only relight is measured:\n{exc}")
                del runs["sceptre"]

        times: dict[str, list[float]] = {label: [] for label in runs}
        labels = list(runs)
        for n in range(args.rounds):
            order = labels[n % len(labels) :] + labels[: n % len(labels)]
            row = []
            for label in order:
                took = one(label, n)
                times[label].append(took)
                row.append(f"{label} {took:.2f} s")
            print(f"round {n + 1}: " + ", ".join(row))

        print()
        for label, measured in times.items():
            print(
                f"{label:<13} median {median(measured):6.2f} s  best {min(measured):6.2f} s  "
                f"worst {max(measured):6.2f} s  over {len(measured)} rounds"
            )
        if "sceptre" in times:
            base = median(times["sceptre"])
            for label, target in (("relight cold", 0.3), ("relight warm", 0.15)):
                ratio = median(times[label]) / base
                per_round = median(
                    [r / s for r, s in zip(times[label], times["sceptre"], strict=True)]
                )
                verdict = "met" if ratio <= target else "MISSED"
                print(
                    f"{label} / Sceptre = {ratio:.3f}x of medians (per round, median "
                    f"{per_round:.3f}x); target {target}x: {verdict}"
                )
    finally:
        standin.stop(shared)


def demo(args: argparse.Namespace, tmp: Path) -> None:
    """`relight failover` of the demo, run 1 + N times on a stand-in of its own."""
    from relight import standin

    state = tmp / "demo-state"
    env = {**base_env(), "RELIGHT_STATE_DIR": str(state)}
    command = [sys.executable, "-m", "relight", "failover", "--env", "demo"]
    command += ["--region", REGION, "--yes"]
    try:
        first = timed(command, env, args.root)
        again = [timed(command, env, args.root) for _ in range(args.demo_runs)]
    finally:
        standin.stop(state)
    print()
    print(
        f"demo failover on a fresh stand-in: first {first:.2f} s (its story, cold lint cache, "
        "creates); then unchanged:"
    )
    print("  reruns: " + ", ".join(f"{t:.2f} s" for t in again))
    verdict = "met" if again[0] <= DEMO_TARGET else "MISSED"
    print(
        f"  second failover {again[0]:.2f} s (target {DEMO_TARGET:.0f} s: {verdict}); "
        f"median of {len(again)} reruns {median(again):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--demo-runs", type=int, default=5)
    parser.add_argument("--peers", type=Path, default=REPO / ".venv-peers")
    parser.add_argument("--relight-src", type=Path, default=None)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-graph", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="one round, one demo rerun: the suite's smoke run"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.demo_runs = 1, 1
    args.root = REPO
    args.peers = args.peers.resolve()  # the tools run in other directories
    if args.relight_src is not None:  # this process, and every one it starts, uses that relight
        args.root = args.relight_src.resolve()
        source = str(args.root / "src")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source, os.getenv("PYTHONPATH")]))
        sys.path.insert(0, source)
        print(f"relight from {args.root}")
    sys.path.insert(0, str(args.root / "bench"))  # standin_graph: the graph, its blueprints
    print(f"{os.cpu_count()} CPUs; relight's lint workers: default (one per CPU)")
    with tempfile.TemporaryDirectory(prefix="relight-peers-") as tmp:
        try:
            if not args.skip_graph:
                graph(args, Path(tmp))
            if not args.skip_demo:
                demo(args, Path(tmp))
        except Failed as exc:
            sys.exit(f"bench-peers: {exc}")


if __name__ == "__main__":
    main()
