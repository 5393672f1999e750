"""`relight readiness`: would a failover into a region work now, and how long would it take?

The one command to run on a schedule. It deploys nothing and changes nothing in AWS: it
discovers the artifacts in the region, runs preflight, reads the prepared stacks, reads the
past drill reports and forecasts the RTO, and turns every problem into a finding with a
severity (an error means not ready) and the command that fixes it. Drift of the stacks that
stand is not checked here.

Each evaluation is kept beside the drill reports: `reports/<env>/readiness/<timestamp>.json`
and `.html`, with `index.html` listing them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from relight.dr.prepared import read_prepared
from relight.drift.prepared import Detected, detect_drift
from relight.errors import PreflightError
from relight.model.times import human_age, parse_time
from relight.steps.discovery import Lister, hits_by_lookup, stale
from relight.steps.publish import Verdict

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.config import LoadedEnvironment

SCHEMA = "relight.readiness/1"
ERROR, WARNING = "error", "warning"
# prepared_drift: CloudFormation's drift detection of the prepared stacks in the region
# replica: each replica-mode database's replica exists, replicates and lags under the RPO
CHECKS = (
    "artifacts", "preflight", "prepared", "replica", "prepared_drift", "drill", "rto", "drift"
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    check: str  # one of CHECKS
    severity: str  # ERROR (not ready) or WARNING
    message: str
    fix: str | None = None  # the command that fixes it, or what to do (wait for a copy)


@dataclass
class Evaluation:
    env: str
    region: str
    strategy: str
    at: datetime
    stand_in: bool
    findings: list[Finding] = field(default_factory=list)
    forecast_seconds: float | None = None
    rto_seconds: int = 0
    last_drill: dict[str, Any] | None = None
    not_checked: list[str] = field(default_factory=list)
    # seconds since the data of the newest copy of each artifact found in the region was taken
    artifact_ages: dict[str, float] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def worst_artifact_age(self) -> float | None:
        """The oldest data among the newest copies found (None: no copy found)."""
        return max(self.artifact_ages.values(), default=None)

    def verdict(self) -> Verdict:
        """What `--publish` writes to CloudWatch (steps/publish.py)."""
        return Verdict(self.env, self.ready, self.forecast_seconds, self.worst_artifact_age)

    def checks(self) -> dict[str, str]:
        """Each check's verdict: ok, warning, error or not checked."""
        verdicts = {}
        for check in CHECKS:
            found = {f.severity for f in self.findings if f.check == check}
            if check in self.not_checked:
                verdicts[check] = "not checked"
            else:
                verdicts[check] = ERROR if ERROR in found else WARNING if found else "ok"
        return verdicts

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "env": self.env,
            "region": self.region,
            "strategy": self.strategy,
            "at": self.at.isoformat(),
            "stand_in": self.stand_in,
            "ready": self.ready,
            "checks": self.checks(),
            "findings": [asdict(f) for f in self.findings],
            "forecast_seconds": self.forecast_seconds,
            "rto_seconds": self.rto_seconds,
            "last_drill": self.last_drill,
            "artifact_ages": self.artifact_ages,
        }


def evaluate(
    loaded: LoadedEnvironment,
    region: str,
    conn: Connection,
    reports_dir: Path,
    *,
    strategy: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    data: str | None = None,
) -> Evaluation:
    """Every reason a failover of `loaded` into `region` would not work now. Read-only."""
    from relight.commands.connection import connect_stacks, prepare_command, run_command
    from relight.commands.discover import discover_environment
    from relight.steps.render import build_plan
    from relight.steps.replica.health import plan_replica_problems

    at = now()
    unfilled = unfilled_findings(loaded, region, stand_in=conn.stand_in is not None)
    if unfilled:  # no plan can be built for the region: the rest cannot be checked
        return Evaluation(
            env=loaded.env.name,
            region=region,
            strategy=strategy or loaded.env.strategy,
            at=at,
            stand_in=conn.stand_in is not None,
            findings=unfilled,
            rto_seconds=loaded.env.objectives.rto,
            not_checked=[c for c in CHECKS if c != "preflight"],
        )
    plan = build_plan(
        loaded, region, stand_in=conn.stand_in is not None, strategy=strategy, now=at, data=data
    )
    env = loaded.env
    result = Evaluation(
        env=env.name,
        region=region,
        strategy=plan.strategy,
        at=at,
        stand_in=conn.stand_in is not None,
        rto_seconds=env.objectives.rto,
    )
    rung: tuple[str, ...] = ("--strategy", plan.strategy) if plan.strategy != env.strategy else ()
    rung += ("--data", data) if data else ()
    replicate = run_command("replicate", loaded, "--from", env.home_region, "--to", region)
    stacks = connect_stacks(conn)
    discovery = discover_environment(plan, conn, now=lambda: at)
    result.artifact_ages = {
        name: art.age(discovery.at).total_seconds() for name, art in discovery.artifacts.items()
    }
    pending = _pending(conn.aws, region, env.artifacts, conn.account_id, discovery.artifacts)
    result.findings += artifact_findings(discovery, env.objectives.rpo, pending, replicate)
    look = run_command("plan", loaded, "--region", region, *rung)
    refresh = prepare_command(plan, region)
    result.findings += _preflight(plan, conn, discovery, stacks, look, refresh)
    result.findings += left_out_findings(plan)
    outputs: Mapping[str, Any] = {}
    try:
        ready = read_prepared(stacks, plan, refresh)
        outputs = ready.outputs
        result.findings += [
            Finding("prepared", ERROR if n in ready.stale else WARNING, n, refresh)
            for n in ready.notes
        ]
    except PreflightError as exc:
        result.findings += [
            Finding("prepared", WARNING, p.removeprefix("also: "), refresh)
            if p.startswith("also: ")
            else Finding("prepared", ERROR, p, refresh)
            for p in exc.problems
        ]
    result.findings += [  # each replica-mode database's replica (steps/replica/health.py)
        Finding("replica", p.severity, p.message, p.fix)
        for p in plan_replica_problems(plan, conn.aws, conn.region, outputs, at, refresh)
    ]
    if result.stand_in:
        result.not_checked.append("prepared_drift")  # the stand-in has no drift detection
    else:
        detected = detect_drift(plan, stacks)
        result.findings += prepared_drift_findings(detected, refresh)
        if not detected.stacks and not detected.notes:  # none prepared: nothing to check
            result.not_checked.append("prepared_drift")
    drill = run_command("drill", loaded, "--region", region, *rung)
    result.last_drill = last_drill(reports_dir, env.name, region, stand_in=result.stand_in)
    result.findings += drill_findings(result.last_drill, env.readiness.max_drill_age, at, drill)
    # the forecast is AWS's: the plan already is, unless the environment is on the stand-in
    on_aws = (
        build_plan(loaded, region, stand_in=False, strategy=strategy, data=data)
        if result.stand_in
        else plan
    )
    result.forecast_seconds = _forecast(on_aws, reports_dir)
    result.findings += rto_findings(result.forecast_seconds, env.objectives.rto, look)
    result.findings += _drift(loaded, conn, run_command("drift", loaded))
    return result


def unfilled_findings(loaded: LoadedEnvironment, region: str, *, stand_in: bool) -> list[Finding]:
    """What capture left as REPLACE-ME for `region` (or a per_region value without its entry),
    in every stack whatever the rung builds when: each an error, to be filled before the
    outage (a certificate is requested and DNS-validated through Route 53, a key made, while
    the home region and us-east-1 answer; docs/aws-behaviours.md K4, K5)."""
    from relight.model.config import placed
    from relight.model.per_region import region_problems

    fix = (
        f"before the outage: request or import the certificate, or create or replicate the "
        f"key, in {region}, write its ARN in {loaded.path} at that key, and run relight "
        "readiness again"
    )
    return [
        Finding("preflight", ERROR, placed(loaded, problem), fix)
        for problem in region_problems(loaded.env, region, stand_in)
    ]


def left_out_findings(plan: Any) -> list[Finding]:
    """What every plan leaves out of the file from now on (a scheduled action whose time has
    passed: model/passed_actions.py), as warnings: said days ahead of a failover."""
    return [Finding("preflight", WARNING, w, f"edit {plan.loaded.path}") for w in plan.warnings]


def prepared_drift_findings(detected: Detected, refresh: str) -> list[Finding]:
    """CloudFormation's drift detection of the prepared stacks: each difference is an error
    (the failover would read a prepared stack that is not what was prepared; `relight
    prepare` puts it back), what it could not check a warning. A missing stack is the
    `prepared` check's."""
    return [
        Finding("prepared_drift", ERROR, d.describe(), refresh)
        for s in detected.stacks
        for d in s.differences
    ] + [Finding("prepared_drift", WARNING, n) for n in detected.notes]


def _drift(loaded: LoadedEnvironment, conn: Connection, fix: str) -> list[Finding]:
    """Production in the home region against the file (relight.drift): each difference is an
    error (a failover would rebuild another shape). A home region that cannot be read is a
    warning: readiness runs while it is healthy, and says what it could not check."""
    from relight.aws.failures import is_aws_failure
    from relight.drift.production import drift_of
    from relight.errors import RelightError

    home = loaded.env.home_region
    try:
        found = drift_of(
            loaded,
            lambda service: conn.aws.client(service, home, bounded=True),
            stand_in=conn.stand_in is not None,
        )
    except Exception as exc:
        if not (is_aws_failure(exc) or isinstance(exc, RelightError)):
            raise
        why = f"production in {home} could not be read ({exc}): drift not checked"
        return [Finding("drift", WARNING, why, fix)]
    unbuilt = _not_built_by_relight(loaded, found)
    if unbuilt:
        return [unbuilt]
    return [Finding("drift", ERROR, d.describe(), fix) for d in found.differences]


def _not_built_by_relight(loaded: LoadedEnvironment, found: Any) -> Finding | None:
    """A file written by hand for a production relight did not build: none of its stacks
    exists at home, so comparing stacks says only that, and `relight drift` repeats it. The
    file must say where production is (`production:`), which `relight capture` writes."""
    if loaded.env.production is not None or not found.stacks:
        return None
    if any(s.exists for s in found.stacks):
        return None
    home, env = loaded.env.home_region, loaded.env.name
    names = ", ".join(s.name for s in found.stacks)
    return Finding(
        "drift",
        WARNING,
        f"{loaded.path}: none of the stacks the file declares ({names}) exists in {home}: "
        "production was not built by relight, so there is nothing to compare them with; "
        "drift not checked. Say where production is with `production: {vpc: VPC-ID}` in the "
        "file, or let relight capture write the file from production",
        f"relight capture --region {home} --name {env} --out {loaded.path}.captured.yaml "
        "--vpc VPC-ID",
    )


def _preflight(
    plan: Any, conn: Any, discovery: Any, stacks: Any, look: str, refresh: str
) -> list[Finding]:
    """Preflight's problems as errors, its notes as warnings. Stale artifacts are the
    artifact check's findings, not repeated here. The fix is `relight plan` (`look`), or
    `relight prepare` (`refresh`) for what only prepare makes (Auto Scaling's role, a grant)."""
    from relight.steps.preflight import run_preflight

    def fix(text: str) -> str:
        if "`aws secretsmanager replicate-secret-to-regions" in text:  # the command it names
            return text.rsplit("`", 2)[-2]
        return refresh if "relight prepare" in text else look

    try:
        checked = run_preflight(
            plan, conn.aws, discovery, stacks, accept_stale=True, account_id=conn.account_id
        )
    except PreflightError as exc:
        missing = tuple(f"artifacts.{name}:" for name in discovery.missing)
        return [
            Finding("preflight", ERROR, p, fix(p))
            for p in exc.problems
            if not p.startswith(missing)
        ]
    return [Finding("preflight", WARNING, note, fix(note)) for note in checked.notes]


def _pending(
    aws: Any, region: str, lookups: Mapping[str, Any], account_id: str, chosen: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Per artifact, the ids of copies still in progress newer than what discovery chose."""
    listed = hits_by_lookup(Lister(aws, region, pending=True), lookups, account_id)
    found = {}
    for name, hits in listed.items():
        best = chosen.get(name)
        ids = [h.id for h in hits if not h.ready and (best is None or h.data_time > best.data_time)]
        if ids:
            found[name] = ids
    return found


def artifact_findings(
    discovery: Any, rpo: int, pending: Mapping[str, list[str]], replicate: str
) -> list[Finding]:
    """Missing artifacts and those older than the RPO are errors; copies in progress warnings."""
    found = []
    for name, what in discovery.missing.items():
        if name in pending:  # nothing to start: the copy is on its way
            found.append(
                Finding(
                    "artifacts",
                    ERROR,
                    f"artifacts.{name}: {what} (a copy is in progress: {', '.join(pending[name])})",
                    _wait(replicate),
                )
            )
            continue
        found.append(Finding("artifacts", ERROR, f"artifacts.{name}: {what}", replicate))
    for art in stale(discovery, rpo):
        age = human_age(art.age(discovery.at))
        found.append(
            Finding(
                "artifacts",
                ERROR,
                f"artifacts.{art.name}: {art.id} holds data {age} old, older than the RPO "
                f"({human_age(rpo)})",
                replicate,
            )
        )
    for name, ids in pending.items():
        if name in discovery.missing:
            continue
        found.append(
            Finding(
                "artifacts",
                WARNING,
                f"artifacts.{name}: copy {', '.join(ids)} still in progress in {discovery.region}",
                _wait(replicate),
            )
        )
    return found


def _wait(replicate: str) -> str:
    """The remedy for a copy in progress: waiting, not another copy."""
    return (
        f"wait for the copy to finish, then evaluate again ({replicate} waits for a copy in "
        "progress and never starts a second one)"
    )


def last_drill(
    reports_dir: Path, env: str, region: str, *, stand_in: bool
) -> dict[str, Any] | None:
    """The newest drill report into `region` run where this evaluation runs (AWS or the
    stand-in): its run id, when it started, and whether it passed. None when there is none."""
    newest: dict[str, Any] | None = None
    for path in sorted((reports_dir / env).glob("*/report.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("region") != region:
            continue
        if bool(data.get("stand_in", False)) != stand_in:
            continue
        started = parse_time(data.get("started"))
        if started is None:
            continue
        if newest is None or started > newest["started"]:
            newest = {
                "run_id": str(data.get("run_id") or path.parent.name),
                "started": started,
                "ok": bool(data.get("ok")),
            }
    if newest is None:
        return None
    return newest | {"started": newest["started"].isoformat()}


def drill_findings(
    drill: Mapping[str, Any] | None, max_age: int, at: datetime, fix: str
) -> list[Finding]:
    """No drill, a failed last drill, or one older than `max_age` is an error."""
    if drill is None:
        return [Finding("drill", ERROR, "no drill into this region has been recorded", fix)]
    found = []
    if not drill["ok"]:
        found.append(Finding("drill", ERROR, f"the last drill ({drill['run_id']}) failed", fix))
    started = parse_time(drill["started"])
    age = (at - started).total_seconds() if started else 0.0
    if age > max_age:
        found.append(
            Finding(
                "drill",
                ERROR,
                f"the last drill ({drill['run_id']}) is {human_age(age)} old, more than "
                f"readiness.max_drill_age ({human_age(max_age)})",
                fix,
            )
        )
    return found


def _forecast(on_aws: Any, reports_dir: Path) -> float:
    from relight.dr.forecast import drilled_seconds, forecast

    history, drills = drilled_seconds(reports_dir, on_aws.env_name)
    return float(forecast(on_aws, history, drills).seconds)


def rto_findings(forecast_seconds: float, rto: int, fix: str) -> list[Finding]:
    """A forecast over the RTO objective is a warning: the failover works, but too slowly."""
    if forecast_seconds <= rto:
        return []
    return [
        Finding(
            "rto",
            WARNING,
            f"the RTO forecast on AWS, {human_age(forecast_seconds)}, is over the "
            f"objective ({human_age(rto)}); the DR ladder shows which rung meets it",
            fix,
        )
    ]


# --- the pages ---------------------------------------------------------------------------------


def write_evaluation(evaluation: Evaluation, reports_dir: Path) -> list[Path]:
    """`reports/<env>/readiness/<timestamp>.json` and `.html`, and the refreshed index.html."""
    from relight.dr.report import safe_name, write_page

    folder = reports_dir / safe_name(evaluation.env, "env") / "readiness"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = evaluation.at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    data = evaluation.as_dict()
    return [
        write_page(folder / f"{stamp}.json", json.dumps(data, indent=2) + "\n"),
        write_page(folder / f"{stamp}.html", render_html(data)),
        write_page(folder / "index.html", render_index(evaluation.env, evaluations(folder))),
    ]


def evaluations(folder: Path) -> list[dict[str, Any]]:
    """Every readable evaluation in `folder`, newest first, with its page's link."""
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and data.get("schema") == SCHEMA:
            rows.append(data | {"href": quote(path.with_suffix(".html").name)})
    return sorted(rows, key=lambda r: str(r.get("at")), reverse=True)


def render_html(data: Mapping[str, Any]) -> str:
    from relight.dr.report import render_page

    return render_page("readiness.html.j2", r=data)


def render_index(env: str, rows: Sequence[Mapping[str, Any]]) -> str:
    from relight.dr.report import render_page

    return render_page("readiness-index.html.j2", env=env, runs=rows)
