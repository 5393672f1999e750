"""`relight estate readiness`: would a failover of the whole estate into the region work now?

One table, environment by check (the checks of `relight readiness`, `Evaluation.checks()`),
worst first: environments that could not be evaluated, then those not ready (most errors
first), then those with warnings, then the ready ones; in the estate's order within each.
Every environment is evaluated as `relight readiness` evaluates it, in its own account,
concurrently (relight.estate.reads), and its pages are written beside its own. The estate
is ready when every environment is. Read-only, but for `--publish` (steps/publish.py): each
environment's verdict in its own account, and the estate's (dimension `Estate`: ready when
all are; its forecast the critical path) with the administrator's environment's connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relight.commands.readiness import CHECKS, ERROR, WARNING, Evaluation
from relight.estate.reads import Connect, read_each
from relight.steps.publish import ESTATE, Published, Verdict, publish_in

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.estate import LoadedEstate

NOT_EVALUATED = "not evaluated"


@dataclass
class EnvReadiness:
    name: str
    wave: int
    account: str
    evaluation: Evaluation | None = None
    error: str | None = None  # why it could not be evaluated
    page: str | None = None
    published: list[str] = field(default_factory=list)
    publish_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.evaluation is not None and self.evaluation.ready

    @property
    def severity(self) -> str:
        """Its worst finding: not evaluated, error, warning or ok."""
        if self.evaluation is None:
            return NOT_EVALUATED
        found = {f.severity for f in self.evaluation.findings}
        return ERROR if ERROR in found else WARNING if found else "ok"

    def cells(self) -> dict[str, str]:
        """Each check's verdict (`?` when it could not be evaluated)."""
        if self.evaluation is None:
            return dict.fromkeys(CHECKS, "?")
        return self.evaluation.checks()

    def worst(self) -> str:
        """Its first error (else warning), for the line under the table."""
        if self.evaluation is None:
            return (self.error or "").splitlines()[0] if self.error else ""
        for severity in (ERROR, WARNING):
            for f in self.evaluation.findings:
                if f.severity == severity:
                    return f"{f.check}: {f.message}" + (f" (fix: {f.fix})" if f.fix else "")
        return ""


SEVERITY_RANK = {NOT_EVALUATED: 0, ERROR: 1, WARNING: 2, "ok": 3}


@dataclass
class EstateReadiness:
    estate: str
    region: str
    at: datetime
    envs: dict[str, EnvReadiness]  # worst first (`worst_first`)
    objective_seconds: float
    forecast_seconds: float
    critical_path: list[str]
    published: Published | None = None
    publish_note: str | None = None  # why the estate's own verdict was not published

    @property
    def ready(self) -> bool:
        return all(e.ready for e in self.envs.values())

    @property
    def worst_artifact_age(self) -> float | None:
        ages = [
            e.evaluation.worst_artifact_age
            for e in self.envs.values()
            if e.evaluation is not None and e.evaluation.worst_artifact_age is not None
        ]
        return max(ages, default=None)

    def verdict(self) -> Verdict:
        """The estate's own verdict, dimension `Estate`."""
        return Verdict(
            self.estate, self.ready, self.forecast_seconds, self.worst_artifact_age, ESTATE
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "region": self.region,
            "at": self.at.isoformat(),
            "ready": self.ready,
            "checks": list(CHECKS),
            "forecast": {
                "rto_seconds": round(self.forecast_seconds),
                "critical_path": self.critical_path,
                "objective_seconds": self.objective_seconds,
            },
            "environments": [
                {
                    "env": e.name,
                    "wave": e.wave,
                    "account": e.account,
                    "ready": e.ready,
                    "severity": e.severity,
                    "checks": e.cells(),
                    "error": e.error,
                    "page": e.page,
                    "published": e.published,
                    "publish_error": e.publish_error,
                    "evaluation": e.evaluation.as_dict() if e.evaluation else None,
                }
                for e in self.envs.values()
            ],
            "published": self.published.metrics if self.published else None,
            "publish_note": self.publish_note,
        }


def worst_first(rows: list[EnvReadiness]) -> list[EnvReadiness]:
    """Not evaluated, then not ready (most errors first), then warnings, then ready; the
    estate's order (`rows` as given) within each."""

    def errors(row: EnvReadiness) -> int:
        if row.evaluation is None:
            return 0
        return sum(1 for f in row.evaluation.findings if f.severity == ERROR)

    ranked = sorted(
        enumerate(rows), key=lambda p: (SEVERITY_RANK[p[1].severity], -errors(p[1]), p[0])
    )
    return [row for _, row in ranked]


def evaluate_estate(
    estate: LoadedEstate,
    region: str,
    reports: Path,
    *,
    publish: bool = False,
    connect: Connect | None = None,
    budgets: Any = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    say: Callable[[str], None] = lambda _: None,
    announce: Callable[[Connection], None] = lambda _: None,
) -> EstateReadiness:
    """Every environment's readiness into `region` (and, with `publish`, the verdicts in
    CloudWatch there). Deploys nothing."""
    from relight.commands.readiness import evaluate, write_evaluation
    from relight.errors import RelightError

    at = now()
    admin_conn: list[Connection] = []  # an environment's of the administrator's account
    any_conn: list[
        Connection
    ] = []  # any environment's: the administrator's role is assumed with it

    def read(name: str, conn: Connection) -> EnvReadiness:
        result = evaluate(estate.envs[name], region, conn, reports, now=lambda: at)
        row = EnvReadiness(name, estate.wave_of(name), _account(estate, name), result)
        row.page = str(write_evaluation(result, reports)[1])
        if _account(estate, name) == estate.file.administrator:
            admin_conn.append(conn)
        any_conn.append(conn)
        if publish:
            try:
                row.published = publish_in(conn.aws, region, [result.verdict()], at).metrics[
                    result.env
                ]
            except RelightError as exc:
                row.publish_error = str(exc)
        return row

    found = read_each(
        estate,
        region,
        read,
        command="readiness",
        connect=connect,
        budgets=budgets,
        say=say,
        announce=announce,
    )
    rows = [
        got.value or EnvReadiness(name, got.wave, got.account, error=got.error)
        for name, got in found.items()
    ]
    seconds = {
        r.name: float(r.evaluation.forecast_seconds or 0.0) if r.evaluation else 0.0 for r in rows
    }
    total, path = estate.critical_path(seconds)
    result = EstateReadiness(
        estate=estate.file.name,
        region=region,
        at=at,
        envs={r.name: r for r in worst_first(rows)},
        objective_seconds=float(estate.file.objectives.rto),
        forecast_seconds=float(total),
        critical_path=list(path),
    )
    if publish:
        _publish_estate(estate, result, admin_conn or any_conn)
    return result


def _publish_estate(estate: LoadedEstate, result: EstateReadiness, conns: list[Connection]) -> None:
    """The estate's verdict, in the administrator's account: with the connection of one of its
    environments there, else through the administrator's role (and external id) assumed in
    the region with another environment's credentials. Said, never raised, when it cannot be."""
    from dataclasses import replace

    from relight.aws.clients import Aws
    from relight.aws.failures import is_aws_failure
    from relight.errors import RelightError
    from relight.steps.publish import publish

    admin = estate.file.accounts[estate.file.administrator]
    if not conns:
        result.publish_note = (
            "the estate's own verdict was not published: no environment could be evaluated "
            "(no credentials to reach the administrator's account with)"
        )
        return
    aws = conns[0].aws
    if conns[0].account_id != admin.id:
        target = replace(
            aws.target, role_arn=admin.role, external_id=admin.external_id, sts_region=result.region
        )
        aws = Aws(target, outage=aws.outage)
    try:
        cloudwatch = aws.client("cloudwatch", result.region)
        result.published = publish(cloudwatch, result.region, [result.verdict()], result.at)
    except Exception as exc:
        if not (isinstance(exc, RelightError) or is_aws_failure(exc)):
            raise
        result.publish_note = f"the estate's own verdict was not published: {exc}"


def _account(estate: LoadedEstate, name: str) -> str:
    return estate.file.environments[name].account
