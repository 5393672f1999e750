"""An estate at scale: 50 environments of 7 stacks over 5 accounts, failed over on the stand-in.

Generated into a temporary directory: an estate file (5 accounts, each reached through its
role; budgets default {20 requests/s, burst 40, 8 stack operations}) and one environment file
per environment, each the 7-stack shape of bench/standin_graph.py (a network, five stacks that
need it, one that also needs one of the five). The environments come in three waves: a few
shared-services environments, platform environments `after:` one of them, and applications
`after:` a shared and a platform one.

Printed, all measured in the same run, twice: on raw moto, and with the stand-in's latency
knob (`stand_in_faults.slow`: every stack operation stays *_IN_PROGRESS for --slow seconds
before its first resource, as CloudFormation spends minutes on AWS):

- the estate's wall time against the slowest environment failed over alone, and against the
  critical path of the environments' alone times through their `after:` edges (what no
  scheduler can beat; the bench's estate is three environments deep). Target at most 1.3x;
- CloudFormation calls per stack in the estate against a single environment's (target: no
  more);
- the peak of stack operations in flight per account and region (Budgets.peaks()) against
  the budget's stack_operations, and the seconds the token budgets made requests wait;
- relight's own memory: the peak RSS of this process (the stand-in is another process and
  is not counted). Target under 500 MB. And what one `Aws` (a boto3 session with the clients
  a failover uses) costs, with botocore's service models shared between sessions and not.

Which figure is which: on raw moto a stack is made inside its CreateStack request, so the
estate is bound by the CPU (relight's and the one moto process's, on this machine's cores)
and the ratio measures contention, not scheduling. With the knob, each stack's time is
CloudFormation's waiting, as on AWS, and the ratio measures relight's scheduling and budget.

Before any clock: each environment's stand-in story (its simulated production, built at home)
is told; each account's VPC quota is raised (Service Quotas, as on AWS: ten environments of a
VPC each do not fit the default five); and every plan is linted once through one pool of
workers, filling the lint cache the environments' own lint then reads (--lint-in-run: within
the clock, as `relight estate failover` runs it: every plan linted in one background thread
from the start, each environment waiting for its own verdict before its first change).

--trend N,N,...: the estate (raw moto only) at those sizes, to show how calls and seconds per
environment grow (docs/estates.md, "At 500 environments").

Usage: .venv/bin/python bench/estate.py [--envs 50] [--slow 8] [--worlds raw,modelled]
                                        [--lint-in-run] [--trend 10,25,50]
       .venv/bin/python bench/estate.py --quick   (6 environments, 2 accounts; the suite's check
                                                  that this script still works)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REGION = "us-west-2"
BUDGET = {"requests_per_second": 20, "burst": 40, "stack_operations": 8}
STACKS_PER_ENV = 7
# Each environment's templates are its own (the description names its index), as real
# environments' are: the lint cache answers none of them for another environment (the
# solo copy of an environment, failed over alone, has the same templates).
GROUPS = (
    "      groups: {{app: {{description: app of {name}, ingress: [{{cidr: 10.0.0.0/8, port: 443,"
    " description: https}}]}}}}"
)


# the estate, generated --------------------------------------------------------------------------


def account_ids(count: int) -> list[str]:
    """moto's default account first (the administrator), then made-up 12-digit ids."""
    return ["123456789012"] + [f"{210987654300 + n}" for n in range(1, count)]


def shape(envs: int) -> tuple[int, int, int]:
    """(shared, platform, applications) for `envs` environments: about 6% shared services,
    a quarter platform, the rest applications (50: 3, 12, 35; 6: 1, 2, 3)."""
    shared = max(1, round(envs * 0.06))
    platform = max(1, round(envs * 0.25))
    return shared, platform, envs - shared - platform


def environment_file(name: str, index: int, account: str, prefix: str) -> str:
    lines = [
        f"name: {name}",
        "home_region: us-east-1",
        f"recovery_regions: [{REGION}]",
        "stand_in: true",
        f'account_id: "{account}"',
        "objectives: {rpo: 4h, rto: 1h}",
        "zones: {count: 2}",
        f"blueprints_dir: {REPO / 'blueprints'}",
        f"tags: {{estate: {prefix}}}",
        "stacks:",
        "  network:",
        "    blueprint: network",
        f"    params: {{cidr: 10.{index % 250}.0.0/16, az_count: 2, nat: none, flow_logs: false,"
        " AvailabilityZones: {zones: names}}",
    ]
    for n in range(1, 6):
        lines += [f"  tier{n}:", "    blueprint: security", "    params:"]
        lines += ["      VpcId: {output: network.VpcId}", GROUPS.format(name=f"env{index} {n}")]
    lines += ["  edge:", "    blueprint: security", "    depends_on: [tier1]", "    params:"]
    lines += ["      VpcId: {output: network.VpcId}", GROUPS.format(name=f"env{index} edge")]
    return "\n".join(lines) + "\n"


def generate(directory: Path, envs: int, accounts: int = 5, prefix: str = "e") -> Path:
    """Write estates/<prefix>.yaml and stacks/<env>.yaml under `directory`; the estate's path."""
    ids = account_ids(accounts)
    keys = [f"acct{n}" for n in range(accounts)]
    shared, platform, apps = shape(envs)
    names = (
        [f"{prefix}-shared{n}" for n in range(shared)]
        + [f"{prefix}-plat{n:02d}" for n in range(platform)]
        + [f"{prefix}-app{n:02d}" for n in range(apps)]
    )
    (directory / "stacks").mkdir(parents=True, exist_ok=True)
    (directory / "estates").mkdir(parents=True, exist_ok=True)
    lines = [
        f"name: {prefix}-estate",
        f"description: bench/estate.py, {envs} environments over {accounts} accounts",
        "stand_in: true",
        "administrator: acct0",
        "objectives: {rto: 2h}",
        "accounts:",
    ]
    for key, account in zip(keys, ids, strict=True):
        lines += [
            f"  {key}:",
            f'    id: "{account}"',
            f"    role: arn:aws:iam::{account}:role/relight-estate",
            f"    external_id: bench-{key}",
        ]
    lines += ["budgets:", f"  default: {json.dumps(BUDGET)}", "environments:"]
    for index, name in enumerate(names):
        # shared services live in the administrator's account; the rest round-robin
        key = keys[0] if index < shared else keys[index % accounts]
        after: list[str] = []
        if shared <= index < shared + platform:
            after = [names[index % shared]]
        elif index >= shared + platform:
            after = [names[index % shared], names[shared + index % platform]]
        lines += [f"  {name}:", f"    file: ../stacks/{name}.yaml", f"    account: {key}"]
        if after:
            lines.append(f"    after: [{', '.join(after)}]")
        account = ids[keys.index(key)]
        (directory / "stacks" / f"{name}.yaml").write_text(
            environment_file(name, index, account, prefix), encoding="utf-8"
        )
    path = directory / "estates" / f"{prefix}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# measuring --------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set (Linux: ru_maxrss in KiB); the stand-in is a child
    process and is not counted."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeMemory:
    """The resident memory of this process and its descendants (the lint workers each
    environment's failover starts), the stand-in's process tree left out; sampled twice a
    second from /proc (Linux), its peak kept."""

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude
        self.peak_mb = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.5):
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
                    rss[int(entry.name)] = int(fields[21]) * page
                except (OSError, IndexError, ValueError):
                    continue
            mine = {os.getpid()}
            for pid in sorted(parents):  # parents before children mostly; loop to be sure
                del pid
                grew = {p for p, parent in parents.items() if parent in mine and p not in mine}
                grew.discard(self.exclude)
                if not grew:
                    break
                mine |= grew
            total = sum(rss.get(p, 0) for p in mine) / 2**20
            if total > self.peak_mb:
                self.peak_mb, self.peak_processes = total, len(mine)


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Alone:
    name: str
    seconds: float
    cfn_calls: int
    deploy_calls: int


@dataclass
class EstateFigures:
    envs: int
    seconds: float
    ok: bool
    cfn_calls: int
    deploy_calls: int
    stacks: int
    peaks: dict[tuple[str, str], int]
    waited: float
    requests: int
    env_seconds: dict[str, float]
    critical: tuple[float, list[str]]  # measured in the estate run
    rendered: float = 0.0  # seconds building every plan, before the run (not in `seconds`)
    tree_mb: float = 0.0  # peak RSS of relight and its lint workers during the run
    tree_processes: int = 0
    ideal: tuple[float, list[str]] = (0.0, [])  # the alone times summed along the longest chain
    lines: list[str] = field(default_factory=list)


def connector() -> Callable[..., Any]:
    """How the estate reaches an environment: relight.estate.accounts.connect_env (through its
    account's role). Before that lands, plain `connect` (moto's default account only)."""
    try:
        from relight.estate.accounts import connect_env
    except ImportError:
        from relight.commands.connection import connect

        def connect_env(  # type: ignore[misc]
            estate: Any, name: str, region: str, *, command: str, budgets: Any = None, **_: Any
        ) -> Any:
            budget = budgets.for_(estate.access(name).id, region) if budgets else None
            return connect(estate.envs[name], region, command=command, budget=budget)

    return connect_env


def plans_for(estate: Any, names: list[str]) -> tuple[dict[str, Any], float]:
    """Every environment's failover plan, as `relight estate failover` builds them up front
    (rendered; linted later, per environment, in its work); and the seconds it took."""
    from relight.estate.failover import build_plans

    started = time.perf_counter()
    plans = build_plans(estate, REGION, names)
    return plans, time.perf_counter() - started


def slow_down(endpoint: str, seconds: float) -> None:
    from relight.standin.faults import clear_faults, set_faults

    if seconds > 0:
        set_faults(
            endpoint,
            {"slow": [{"stack": "*", "seconds": seconds, "region": REGION}]},
            source="bench",
        )
    else:
        clear_faults(endpoint, "bench")


def raise_vpc_quota(endpoint: str, accounts: list[str], envs: int) -> None:
    """Each environment has its own VPC, and AWS allows five per Region: an account holding
    more raises its quota beforehand (Service Quotas, as on AWS; the stand-in approves at once).
    Each account is reached through its role, assumed in the stand-in's STS."""
    import boto3

    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    sts = boto3.client("sts", REGION, endpoint_url=endpoint, **keys)
    for account in accounts:
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/relight-estate", RoleSessionName="bench"
        )["Credentials"]
        quotas = boto3.client(
            "service-quotas",
            REGION,
            endpoint_url=endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        quotas.request_service_quota_increase(
            ServiceCode="vpc", QuotaCode="L-F678F1CE", DesiredValue=float(envs + 5)
        )


def tell_stories(estate: Any, names: list[str]) -> float:
    """Each environment's first connection tells the stand-in's story (its simulated
    production, built at home): done before the clock starts, as it is not a failover's."""
    connect = connector()
    started = time.perf_counter()
    for name in names:
        connect(estate, name, REGION, command="failover")
    return time.perf_counter() - started


def warm_up(estate: Any, name: str) -> None:
    """Lint one environment's templates (not one measured: the lint cache would answer) so that
    cfn-lint's import and worker processes are not charged to the first environment timed."""
    from relight.steps.render import lint_plan

    plans, _ = plans_for(estate, [name])
    lint_plan(plans[name])


def alone(estate: Any, name: str) -> Alone:
    """`name` failed over by itself, nothing else running: the same work as in the estate
    (failover_work: lint, discover, preflight, deploy, verify), connected the same way, with
    a budget of its own."""
    from relight.aws.budget import Budgets
    from relight.estate.failover import failover_work

    plans, _ = plans_for(estate, [name])
    conn = connector()(estate, name, REGION, command="failover", budgets=Budgets(estate))
    before = conn.aws.calls.get("cloudformation", 0)
    started = time.perf_counter()
    ok, line, result = failover_work(plans)(name, conn)
    took = time.perf_counter() - started
    assert ok, f"{name} failed over alone: {line}"
    return Alone(
        name,
        took,
        conn.aws.calls.get("cloudformation", 0) - before,
        result.outcome.api_calls,
    )


def run(estate: Any) -> EstateFigures:
    """The whole estate, as `relight estate failover` runs it (run_estate, one shared token
    budget per account and region)."""
    from relight.aws.budget import Budgets
    from relight.estate.failover import failover_work
    from relight.estate.run import run_estate

    budgets = Budgets(estate)
    counted: Counter[str] = Counter()
    deploy_calls: Counter[str] = Counter()
    lock = threading.Lock()
    plans, rendered = plans_for(estate, estate.order())
    if LINT_AHEAD:  # every verdict in the lint cache already
        failover = failover_work(plans)
    else:  # as `relight estate failover`: every plan linted in one background thread, in the
        # estate's order, from the start; each environment waits for its own verdict
        from relight.estate.failover import Lints

        failover = failover_work(plans, lint=Lints(plans).result)

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        before = conn.aws.calls.get("cloudformation", 0)
        ok, line, result = failover(name, conn)
        with lock:
            counted[name] = conn.aws.calls.get("cloudformation", 0) - before
            deploy_calls[name] = result.outcome.api_calls
        return ok, line, result

    started = time.perf_counter()
    done = run_estate(
        estate, REGION, work, command="failover", budgets=budgets, connect=connector()
    )
    took = time.perf_counter() - started
    unique = budgets.all().values()
    seconds = {n: o.seconds or 0.0 for n, o in done.outcomes.items()}
    return EstateFigures(
        envs=len(estate.envs),
        seconds=took,
        ok=done.ok(),
        cfn_calls=sum(counted.values()),
        deploy_calls=sum(deploy_calls.values()),
        stacks=STACKS_PER_ENV * len(estate.envs),
        peaks=budgets.peaks(),
        waited=sum(t.waited_seconds for t in unique),
        requests=sum(t.requests for t in unique),
        env_seconds=seconds,
        critical=done.critical_path(),
        rendered=rendered,
        lines=[o.line for o in done.outcomes.values() if o.state != "verified"],
    )


LINT_CACHE: Path | None = None  # one lint cache for every world of the run (set in main)
LINT_AHEAD = True  # every plan linted before the clock, through one pool (--lint-in-run: not)


def lint_ahead(estates: list[tuple[Any, list[str]]]) -> tuple[float, float, int]:
    """Every template of every plan linted once, through one pool of worker processes (as
    many as CPUs), filling the lint cache the environments' own lint then reads: the change
    docs/estates.md proposes for `relight estate failover`. (seconds, peak MB, templates)."""
    from relight.steps.lint import lint_templates

    templates = []
    for estate, names in estates:
        plans, _ = plans_for(estate, names)
        templates += [
            (sp.body, plan.region) for plan in plans.values() for sp in plan.stacks.values()
        ]
    started = time.perf_counter()
    with TreeMemory(exclude=-1) as tree:
        lint_templates(templates)
    return time.perf_counter() - started, tree.peak_mb, len(templates)


def one_world(
    envs: int, accounts: int, slow: float, samples: int
) -> tuple[EstateFigures, list[Alone]]:
    """A fresh stand-in: the stories told, `samples` environments (one per wave) failed over
    alone under copies of their own name, then the whole estate."""
    from relight import standin
    from relight.model.estate import load_estate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        state = root / "state"
        os.environ["RELIGHT_STATE_DIR"] = str(state)
        state.mkdir(parents=True)
        if LINT_CACHE is not None:
            (state / "lint-cache").symlink_to(LINT_CACHE, target_is_directory=True)
        running = standin.ensure_running(state)
        try:
            estate = load_estate(str(generate(root / "estate", envs, accounts, "e")), REGION)
            solo = load_estate(str(generate(root / "solo", envs, accounts, "s")), REGION)
            picked = [wave[0] for wave in solo.waves][:samples]
            if LINT_AHEAD:
                took, peak, count = lint_ahead([(estate, estate.order()), (solo, picked)])
                print(
                    f"  (lint ahead, before any clock: {count} templates in {took:.0f} s through "
                    f"one pool, peak {peak:.0f} MB with its workers; cached ones are read)",
                    flush=True,
                )
            told = tell_stories(estate, estate.order()) + tell_stories(solo, picked)
            print(f"  (stand-in stories told in {told:.0f} s, before any clock)", flush=True)
            raise_vpc_quota(running.endpoint, account_ids(accounts), 2 * envs)
            slow_down(running.endpoint, slow)
            if not LINT_AHEAD:
                warm_up(solo, solo.order()[-1])
            alones = [alone(solo, name) for name in picked]
            gc.collect()
            with TreeMemory(exclude=running.pid) as tree:
                figures = run(estate)
            figures.tree_mb, figures.tree_processes = tree.peak_mb, tree.peak_processes
            by_wave = {solo.wave_of(a.name): a.seconds for a in alones}
            slowest = max(by_wave.values())
            figures.ideal = estate.critical_path(
                {n: by_wave.get(estate.wave_of(n), slowest) for n in estate.envs}
            )
        finally:
            standin.stop(state)
    return figures, alones


def report(title: str, figures: EstateFigures, alones: list[Alone]) -> None:
    slowest = max(alones, key=lambda a: a.seconds)
    per_env = {a.name: a.seconds for a in alones}
    alone_calls = sum(a.cfn_calls for a in alones) / (STACKS_PER_ENV * len(alones))
    alone_deploy = sum(a.deploy_calls for a in alones) / (STACKS_PER_ENV * len(alones))
    best, chain = figures.ideal
    print(f"{title}:")
    print(
        f"  estate of {figures.envs} environments ({figures.stacks} stacks): "
        f"{figures.seconds:.1f} s, {'all verified' if figures.ok else 'NOT all verified'} "
        f"(its plans rendered before, in {figures.rendered:.1f} s)"
    )
    for line in figures.lines[:5]:
        print(f"    {line}")
    print(
        f"  slowest environment alone: {slowest.seconds:.1f} s ({slowest.name}; "
        f"{len(alones)} failed over alone: "
        + ", ".join(f"{n} {s:.1f} s" for n, s in per_env.items())
        + ")"
    )
    print(
        f"  estate / slowest alone = {figures.seconds / slowest.seconds:.2f}x; but the "
        f"estate is {len(chain)} environments deep ({' -> '.join(chain)}): its critical path "
        f"of alone times is {best:.1f} s, estate / critical path = "
        f"{figures.seconds / best:.2f}x (target <= 1.3x)"
    )
    measured, path = figures.critical
    print(
        f"  measured in the estate: critical path {measured:.1f} s ({' -> '.join(path)}); "
        f"environments took {min(figures.env_seconds.values()):.1f}-"
        f"{max(figures.env_seconds.values()):.1f} s each"
    )
    print(
        f"  CloudFormation calls per stack: estate {figures.cfn_calls / figures.stacks:.1f} "
        f"(deploy {figures.deploy_calls / figures.stacks:.1f}), alone {alone_calls:.1f} "
        f"(deploy {alone_deploy:.1f}); target: no more"
    )
    ops = BUDGET["stack_operations"]
    peaks = ", ".join(f"{a}/{r} {p}" for (a, r), p in sorted(figures.peaks.items()))
    print(f"  peak stack operations in flight (budget {ops} per account/region): {peaks}")
    print(
        f"  relight's memory during the run, its lint worker processes included: peak "
        f"{figures.tree_mb:.0f} MB over {figures.tree_processes} processes (target < 500 MB)"
    )
    print(
        f"  token budgets: {figures.requests} requests, {figures.waited:.1f} s waited in all "
        f"({BUDGET['requests_per_second']}/s, burst {BUDGET['burst']} per account/region)"
    )


# memory of one Aws ------------------------------------------------------------------------------

SERVICES = ("sts", "cloudformation", "s3", "ec2", "elbv2", "rds", "autoscaling")


def aws_memory(count: int) -> float:
    """MB of resident memory per `Aws` with the clients a failover builds (no call is made:
    clients are built, each loading its service model)."""
    from relight.aws.clients import Aws, AwsTarget

    gc.collect()
    before = rss_mb()
    kept = []
    for n in range(count):
        aws = Aws(AwsTarget(endpoint_url="http://127.0.0.1:9", stand_in=True, command=f"b{n}"))
        for service in SERVICES:
            aws.client(service, REGION)
        kept.append(aws)
    gc.collect()
    return (rss_mb() - before) / count


def memory_figures(count: int) -> None:
    """Each in a fresh process: the first Aws (models loaded), then `count` more, botocore's
    service models shared between sessions (relight.aws.clients) and not (botocore's way)."""
    import subprocess

    figures = {}
    for mode in ("own", "shared"):
        done = subprocess.run(
            [sys.executable, __file__, "--aws-memory", mode, str(count)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures[mode] = done.stdout.split()
    own, shared = figures["own"], figures["shared"]
    print(
        f"one Aws with the {len(SERVICES)} clients a failover builds ({', '.join(SERVICES)}): "
        f"the first {float(shared[0]):.0f} MB (models loaded), each more {float(shared[1]):.1f} MB "
        f"with the service models shared, {float(own[1]):.1f} MB with a copy per session "
        f"(botocore's way; measured over {count} more, each in a fresh process)"
    )


def aws_memory_main(mode: str, count: int) -> None:
    from relight.aws import sessions

    sessions.SHARE_MODELS = mode == "shared"
    first = aws_memory(1)
    print(f"{first:.1f} {aws_memory(count):.1f}")


# main -------------------------------------------------------------------------------------------


def trend(sizes: list[int], accounts: int) -> None:
    print("trend on raw moto (docs/estates.md, 'At 500 environments'):")
    for size in sizes:
        figures, _ = one_world(size, accounts, 0.0, 1)
        print(
            f"  {size:3d} environments: {figures.seconds:6.1f} s, "
            f"{figures.seconds / size:.2f} s per environment, "
            f"{figures.cfn_calls / size:.1f} CloudFormation calls per environment, "
            f"{figures.requests / size:.0f} requests per environment",
            flush=True,
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 environments, 2 accounts")
    parser.add_argument("--envs", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=None, help="default 5 (--quick: 2)")
    parser.add_argument("--slow", type=float, default=8.0, help="seconds per stack operation")
    parser.add_argument("--trend", default="", help="sizes, e.g. 10,25,50 (raw moto)")
    parser.add_argument(
        "--lint-cache",
        default=None,
        help="a directory for the lint cache shared by the runs (default: a temporary one)",
    )
    parser.add_argument(
        "--stack-operations",
        type=int,
        default=BUDGET["stack_operations"],
        help="the budget's stack operations per account and region (default: the demo's 8)",
    )
    parser.add_argument(
        "--worlds",
        default="raw,modelled",
        help="which runs, each on a fresh stand-in: raw (moto as it is), modelled (--slow)",
    )
    parser.add_argument(
        "--lint-in-run",
        action="store_true",
        help="lint in the run's clock, as relight estate failover does: every plan in one "
        "background thread from the start, each environment waiting for its own verdict",
    )
    args = parser.parse_args(argv)
    global LINT_CACHE, LINT_AHEAD
    LINT_AHEAD = not args.lint_in_run
    shared = tempfile.TemporaryDirectory()
    LINT_CACHE = None if args.lint_in_run else Path(args.lint_cache or shared.name)
    if LINT_CACHE is not None:
        LINT_CACHE.mkdir(parents=True, exist_ok=True)
    BUDGET["stack_operations"] = args.stack_operations
    envs, accounts, slow = (6, 2, 2.0) if args.quick else (args.envs, 5, args.slow)
    accounts = args.accounts or accounts
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    start_rss = peak_rss_mb()
    memory_figures(3 if args.quick else 20)
    if args.trend:
        trend([int(s) for s in args.trend.split(",")], accounts)
        return
    samples = 2 if args.quick else 3
    worlds = args.worlds.split(",")
    if "raw" in worlds:
        raw, raw_alone = one_world(envs, accounts, 0.0, samples)
        report("raw moto (CPU-bound: stacks made inside the request)", raw, raw_alone)
    if "modelled" in worlds:
        modelled, modelled_alone = one_world(envs, accounts, slow, samples)
        report(
            f"AWS modelled (each stack operation waits {slow:g} s in *_IN_PROGRESS)",
            modelled,
            modelled_alone,
        )
    print(
        f"relight's peak RSS: {peak_rss_mb():.0f} MB (this process; {start_rss:.0f} MB after "
        "imports; the stand-in not counted); target < 500 MB"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--aws-memory"]:  # memory_figures' subprocess
        aws_memory_main(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1:])
