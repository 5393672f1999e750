"""What `relight failback` would do, phase by phase (`plan_failback`): read only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relight.aws.serving import (
    Serving,
    failback_key,
    marker_url,
    read_record,
    read_serving,
)
from relight.commands.connection import Connection, connect_stacks, env_option
from relight.errors import InputError
from relight.model.config import LoadedEnvironment
from relight.model.plan import Plan
from relight.steps.failback import Holder, data_holders, health_paths, listeners
from relight.steps.failback.replica import ReplicaHolder

# replica and promote: only for a replica-mode database a failover promoted (replicas.py)
PHASES = ("replica", "stop", "snapshot", "promote", "home", "verify", "release", "return")
TITLES = {
    "replica": "make {home}'s database a read replica of what {recovery} promoted",
    "promote": "promote {home}'s replica once it has caught up",
    "stop": "stop writes in {recovery}",
    "snapshot": "(a) snapshot what {recovery} has been writing, and copy it to {home}",
    "home": "(b) bring {home}'s stacks to the environment file with that data",
    "verify": "(c) verify {home}",
    "release": "(d) release the failback latch: Route 53 moves traffic to {home}",
    "return": "(e) {recovery} back to {strategy}",
}


@dataclass
class Phase:
    key: str
    title: str
    actions: list[str]
    done: bool = False  # by an earlier run (the progress record says so)
    skipped: bool = False  # not part of this failback (stop, ungraceful)


@dataclass
class FailbackPlan:
    loaded: LoadedEnvironment
    recovery: str
    home: str
    graceful: bool
    teardown: bool
    serving: Serving | None
    recovery_plan: Plan
    home_plan: Plan
    holders: list[Holder]
    latches: list[str]  # R's stacks holding a failback latch
    phases: list[Phase]
    progress: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    # A drill's rehearsal (drill_failback.py): its namespace, whose lock the drill holds.
    namespace: str | None = None
    # graceful: R's HTTP(S) listeners the maintenance page goes on, and the health check paths
    # it keeps answering (steps/failback.py)
    listeners: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    # replica-mode databases the failover promoted: they go home as replicas (replicas.py)
    replicas: list[ReplicaHolder] = field(default_factory=list)

    @property
    def record_key(self) -> str:
        """Where its progress is recorded in R's bucket."""
        name = self.loaded.env.name
        return failback_key(f"{name}-{self.namespace}" if self.namespace else name)

    @property
    def strategy(self) -> str:
        return self.recovery_plan.strategy

    def replacing(self) -> frozenset[str]:
        """The home stacks whose data holders are replaced by what comes home."""
        stacks = self.home_plan.stacks
        return frozenset(
            h.stack
            for h in self.holders
            if h.stack in stacks
            and any(
                getattr(stacks[h.stack].parameters.get(p), "artifact", None) == h.artifact
                for p in stacks[h.stack].stateful_parameters
            )
        )


@dataclass
class FailbackResult:
    plan: FailbackPlan
    run_id: str
    done: list[str] = field(default_factory=list)  # phases finished by this run
    failed: str = ""  # the phase that failed, if one did
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    times: dict[str, str] = field(default_factory=dict)  # phase → when it finished (ISO 8601)
    seconds: float = 0.0
    home_result: Any = None  # the home phase's FailoverResult
    taken: list[dict[str, str]] = field(default_factory=list)  # snapshots in R, copies home

    @property
    def ok(self) -> bool:
        return not self.failed


# the plan -----------------------------------------------------------------------------------


def check_failback(loaded: LoadedEnvironment, recovery: str) -> str:
    """The home region, once `--from` is known to be one of the file's recovery regions."""
    env = loaded.env
    if recovery == env.home_region:
        raise InputError(
            f"{loaded.path}: --from {recovery} is {env.name}'s home_region: a failback goes from "
            "the region the environment failed over to, back home",
            hint=f"name the region that serves now: one of {', '.join(env.recovery_regions)}",
        )
    if recovery not in env.recovery_regions:
        raise InputError(
            f"{loaded.path}: --from {recovery} is not one of recovery_regions "
            f"({', '.join(env.recovery_regions)})",
            hint="name the region the environment failed over to",
        )
    return env.home_region


def home_plan(loaded: LoadedEnvironment, stand_in: bool, namespace: str | None = None) -> Plan:
    """Production in the home region, as the file says: every stack but the recovery side of
    the DNS pair (a stack holding the failback latch, FailbackLatchAlarm). The home region's
    PRIMARY record is production's own and failback does not touch it; its latch check reads
    the alarm in R. With a drill's `namespace`: its copy there, built as a backup_restore
    failover builds it (production's global stacks read)."""
    from relight.commands.failover import LATCH_OUTPUT
    from relight.steps.render import build_plan

    home = loaded.env.home_region
    plan = (
        build_plan(loaded, home, purpose="home", stand_in=stand_in)
        if namespace is None
        else build_plan(
            loaded,
            home,
            purpose="drill",
            namespace=namespace,
            stand_in=stand_in,
            strategy="backup_restore",
        )
    )
    latched = {k for k, sp in plan.stacks.items() if LATCH_OUTPUT in sp.outputs}
    changed = True
    while changed:  # and whatever reads their outputs
        changed = False
        for key, sp in list(plan.stacks.items()):
            if key not in latched and latched & set(sp.depends_on):
                latched.add(key)
                changed = True
    for key in latched:
        del plan.stacks[key]
        plan.skipped[key] = (
            "the recovery side of the DNS pair (holds the failback latch): not built at home"
        )
    return plan


def plan_failback(
    loaded: LoadedEnvironment,
    recovery: Connection,
    home: Connection,
    *,
    graceful: bool,
    teardown: bool,
    stand_in: bool,
) -> FailbackPlan:
    """What `relight failback` would do, phase by phase. Changes nothing. InputError (exit 2)
    when nothing records that the environment failed over into `recovery`."""
    from relight.commands.failback.replicas import REPLICA_PHASES, find_replicas, replica_actions
    from relight.commands.failover import LATCH_OUTPUT
    from relight.steps.render import build_plan

    env = loaded.env
    s3 = recovery.aws.client("s3", recovery.region)
    serving = read_serving(s3, recovery.account_id, recovery.region, env.name)
    progress = read_record(s3, recovery.account_id, recovery.region, failback_key(env.name))
    if serving is None and progress is None:
        raise InputError(
            f"{loaded.path}: no failover of {env.name} into {recovery.region} is recorded "
            f"({marker_url(recovery.account_id, recovery.region, env.name)} is not there): "
            "nothing to fail back; nothing was changed",
            hint=f"relight status --env {env_option(loaded)} shows which region serves; a failover "
            "records it when it is verified",
        )
    strategy = str((progress or {}).get("strategy") or (serving.strategy if serving else ""))
    if strategy not in ("backup_restore", "pilot_light", "warm_standby"):
        strategy = env.strategy
    rplan = build_plan(loaded, recovery.region, stand_in=stand_in, strategy=strategy)
    hplan = home_plan(loaded, stand_in)
    done = set((progress or {}).get("done", []))
    if progress is not None:  # a rerun: the mode the failback started with
        graceful, teardown = bool(progress.get("graceful")), bool(progress.get("teardown"))
    holders, notes = data_holders(rplan, recovery.aws, recovery.region)
    if "snapshot" in done:  # taken by an earlier run: what R holds now does not matter
        notes = []
    rstacks = connect_stacks(recovery).list_stacks()
    mine = [
        s
        for s in rstacks
        if _tag(s, "relight:env") == env.name and not _tag(s, "relight:namespace")
    ]
    latches = sorted(
        s["StackName"]
        for s in mine
        if any(o.get("OutputKey") == LATCH_OUTPUT for o in s.get("Outputs", []))
    )
    existing = {s["StackName"]: s["StackStatus"] for s in connect_stacks(home).list_stacks()}
    replicas = find_replicas(loaded, recovery, mine, progress or {})
    going = {r.stack for r in replicas}  # home as replicas: no snapshot, no copy
    holders = [h for h in holders if h.stack not in going]
    if "snapshot" not in done:
        check_copies(loaded, recovery, home, holders)
    web, others = listeners(recovery.aws, recovery.region, [s["StackName"] for s in mine])
    if graceful and "stop" not in done and (others or not web):
        raise InputError(
            f"{loaded.path}: a graceful failback stops writes in {recovery.region} with a "
            "maintenance page on its application load balancers, and "
            + (
                f"{env.name}'s stacks there have listeners no rule can answer for (a network "
                f"load balancer's: {', '.join(others)})"
                if others
                else f"{env.name}'s stacks there have none"
            )
            + "; nothing was changed",
            hint="pass --ungraceful (no stop: the writes made there after the snapshot stay "
            "there), after stopping what writes yourself if you can",
        )
    plan = FailbackPlan(
        loaded, recovery.region, home.region, graceful, teardown, serving, rplan, hplan,
        holders, latches, [], progress or {}, notes, listeners=web, paths=health_paths(rplan),
        replicas=replicas,
    )  # fmt: skip
    taken = {t["artifact"]: t for t in plan.progress.get("taken", [])}
    names = {"recovery": recovery.region, "home": home.region, "strategy": strategy}
    actions = {
        "stop": [
            f"a maintenance page on {len(web)} listener(s) of {env.name}'s load balancers in "
            f"{recovery.region}: every request answered 503"
            + (
                f", but Route 53's health check ({', '.join(plan.paths)}), answered 200"
                if plan.paths
                else ""
            )
            + f"; traffic stays in {recovery.region} (not the home region's old stack), "
            "nothing is written there, and the fleet keeps running; then in-flight requests "
            "drain"
        ],
        "snapshot": [
            f"{h.describe}: snapshot"
            + (f" (taken already: {taken[h.artifact]['snapshot']})" if h.artifact in taken else "")
            + f", copied to {home.region} as artifacts.{h.artifact}"
            for h in holders
        ]
        or [f"nothing in {recovery.region} holds data: nothing to bring home"],
        "home": _home_actions(plan, existing),
        "verify": [f"the checks a failover makes, on {home.region}'s stacks"],
        "release": [
            f"{name}: publish FailedOver=0 in {recovery.region} (Route 53 sends traffic home "
            "once the home endpoint is healthy)"
            for name in latches
        ]
        + [f"remove {recovery.region}'s serving marker"],
        "return": _return_actions(plan, mine, teardown),
        **replica_actions(plan),
    }
    if teardown:
        names["strategy"] = "nothing (--teardown)"
    for key in PHASES:
        if key in REPLICA_PHASES and not replicas:
            continue
        plan.phases.append(
            Phase(
                key,
                TITLES[key].format(**names),
                actions[key],
                done=key in done,
                skipped=key == "stop" and not graceful,
            )
        )
    return plan


def check_copies(
    loaded: LoadedEnvironment, recovery: Connection, home: Connection, holders: list[Holder]
) -> None:
    """What would stop the copies home, found before anything changes (exit 2): no key for
    the home region in `kms_keys`, an option group the home region lacks, or (across accounts)
    a key the home account may not use."""
    from relight.errors import PreflightError
    from relight.steps.failback.holders import holder_sources
    from relight.steps.replicate.replicator import Replicator

    if not holders:
        return
    sources = holder_sources(recovery.aws, recovery.region, holders)
    replicator = Replicator(
        loaded, recovery.aws, home.aws,
        source_account=recovery.account_id, target_account=home.account_id,
    )  # fmt: skip
    problems = replicator.option_group_problems(sources, recovery.region, [home.region])
    problems += replicator.sharing_problems(sources, recovery.region)
    encrypted = sorted(name for name, source in sources.items() if source.encrypted)
    if encrypted and not loaded.env.kms_keys.get(home.region):
        problems.append(
            f"kms_keys.{home.region}: {', '.join(encrypted)} in {recovery.region} are encrypted, "
            f"and a copy to another region must name a key there: give the key copies to "
            f"{home.region} are encrypted with"
        )
    if problems:
        raise PreflightError(
            [f"{loaded.path}: {p}" for p in problems],
            hint="nothing was changed: fix these, then run relight failback again",
        )


def _tag(stack: dict[str, Any], key: str) -> str:
    return next((t["Value"] for t in stack.get("Tags", []) if t["Key"] == key), "")


def _home_actions(plan: FailbackPlan, existing: dict[str, str]) -> list[str]:
    replacing = plan.replacing()
    replicas = {r.stack for r in plan.replicas}
    lines = []
    for key, sp in plan.home_plan.stacks.items():
        status = existing.get(sp.name)
        if key in replicas:
            lines.append(f"{sp.name}: the promoted replica (phases replica, promote): unchanged")
        elif status is None:
            lines.append(f"{sp.name}: create")
        elif key in replacing:
            lines.append(
                f"{sp.name} ({status}): update; its data is replaced from the copy brought "
                "home (the old database is kept first as a manual snapshot, its deletion "
                "protection lifted; it then leaves a final snapshot too)"
            )
        elif any(h.stack == key for h in plan.holders):
            lines.append(
                f"{sp.name} ({status}): update; its instances roll onto the data brought home "
                "(their old volumes are kept)"
            )
        else:
            lines.append(f"{sp.name} ({status}): update to the file, through a change set")
    lines += [f"{key}: left out ({why})" for key, why in plan.home_plan.skipped.items()]
    return lines


def _return_actions(plan: FailbackPlan, mine: list[dict[str, Any]], teardown: bool) -> list[str]:
    if teardown:
        return [
            f"delete {s['StackName']} (final snapshots kept)"
            for s in sorted(mine, key=lambda s: str(s["StackName"]))
        ] or ["nothing stands there"]
    prepared = [s for s in mine if _tag(s, "relight:prepared")]
    built = [s for s in mine if not _tag(s, "relight:prepared")]
    lines = [
        f"delete {s['StackName']}: built by the failover (final snapshots kept)" for s in built
    ]
    replicas = {r.stack_name: r for r in plan.replicas}
    lines += [
        f"{s['StackName']}: back to what prepare leaves at {plan.strategy}"
        if s["StackName"] not in replicas
        else f"{s['StackName']}: the database the failover promoted "
        f"({replicas[s['StackName']].identifier}) kept as a manual snapshot; then, if the "
        "file's lookup names home's new database, deleted and made again as a replica of it "
        "(else kept, and the summary says what to change)"
        for s in prepared
    ]
    return lines or ["nothing stands there"]


def plan_rehearsal(
    loaded: LoadedEnvironment,
    recovery: Connection,
    home: Connection,
    namespace: str,
    recovery_plan: Plan,
) -> FailbackPlan:
    """A drill's failback (drill --with-failback): its data in R snapshotted and copied home,
    its copy built and verified there. No stop, no latch, no return: the drill tears both
    down itself."""
    hplan = home_plan(loaded, recovery_plan.stand_in, namespace)
    holders, notes = data_holders(recovery_plan, recovery.aws, recovery.region)
    names = {"recovery": recovery.region, "home": home.region, "strategy": "-"}
    phases = [
        Phase(key, TITLES[key].format(**names), [], skipped=key not in REHEARSED) for key in PHASES
    ]
    return FailbackPlan(
        loaded, recovery.region, home.region, False, True, None, recovery_plan, hplan,
        holders, [], phases, {}, notes, namespace,
    )  # fmt: skip


REHEARSED = ("snapshot", "home", "verify")
