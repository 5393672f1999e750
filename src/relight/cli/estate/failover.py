"""`relight estate failover`: fail every environment of an estate over into one region, each
as soon as what comes before it is verified; asks once for the whole estate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..common import _confirm, _console, _errors, _escape, _fail, _print_json, _say
from ..options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_VERIFY,
    AcceptStaleOpt,
    ConcurrencyOpt,
    DataOpt,
    DebugOpt,
    JsonOpt,
    RegionOpt,
    StackTimeoutOpt,
    StrategyOpt,
    VerifyTimeoutOpt,
    YesOpt,
)
from .options import EstateOpt, load

if TYPE_CHECKING:
    from relight.estate.run import EstateRun
    from relight.model.estate import LoadedEstate
    from relight.model.plan import Plan

OnlyOpt = Annotated[
    str | None,
    typer.Option(
        "--only",
        help="Just these environments (comma-separated); what comes before them must be "
        "verified in the region already, or be named too.",
    ),
]


def failover(
    estate: EstateOpt,
    region: RegionOpt,
    yes: YesOpt = False,
    only: OnlyOpt = None,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    accept_stale: AcceptStaleOpt = False,
    stack_timeout: StackTimeoutOpt = None,
    verify_timeout: VerifyTimeoutOpt = DEFAULT_VERIFY,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fail the estate's environments over into --region, in order (asks once).

    Each environment starts when the environments it comes after are verified; one that fails
    stops exactly those after it. Exit 1 when any failed or was stopped."""
    from relight.aws.budget import Budgets
    from relight.estate.failover import (
        Lints,
        build_plans,
        check_recovery_region,
        failover_work,
        serving_in,
    )
    from relight.estate.run import EstateInterrupted, check_only, run_estate

    with _errors(debug):
        loaded = load(estate, region)
        names = _only(only)
        budgets = Budgets(loaded)
        if names is not None:  # before the question: a refused --only asks nothing
            check_only(loaded, names, serving_in(loaded, region, budgets=budgets), "failover")
        chosen = [n for n in loaded.order() if names is None or n in names]
        check_recovery_region(loaded, region, chosen)
        plans = build_plans(loaded, region, chosen, strategy=strategy, data=data)
        lints = Lints(plans)  # meanwhile: the question, the first environments' runs
        _show(loaded, region, plans)
        question = f"Fail these {len(chosen)} environments over into {region}?"
        if not _confirm(yes, question, "estate failover needs a yes"):
            _fail("not confirmed; nothing was changed", 1)
        options = _options(estate, strategy, data, accept_stale, stack_timeout, verify_timeout)
        work = failover_work(
            plans, on_progress=_say, accept_stale=accept_stale, stack_timeout=stack_timeout,
            concurrency=concurrency, verify_deadline=verify_timeout, lint=lints.result,
        )  # fmt: skip
        try:
            run = run_estate(
                loaded, region, work, command="failover", only=names, budgets=budgets,
                on_progress=_say, options=["--yes", *options], ref=estate,
                verified=lambda name: True,  # checked above, before the question
            )  # fmt: skip
        except EstateInterrupted as stopped:
            _print(stopped.run, json_out)
            running = ", ".join(stopped.run.interrupted) or "none"
            _fail(
                _escape(
                    f"interrupted while {running} were running: their finished stacks are kept "
                    f"(rerun to continue):\n  {stopped.run.continue_command()}"
                ),
                130,
            )
        _print(run, json_out)
        if not run.ok():
            raise typer.Exit(1)


def _only(only: str | None) -> list[str] | None:
    if only is None:
        return None
    return [n.strip() for n in only.split(",") if n.strip()]


def _options(
    estate: str,
    strategy: str | None,
    data: str | None,
    accept_stale: bool,
    stack_timeout: float | None,
    verify_timeout: float,
) -> list[str]:
    """The options the continue command repeats (the estate is given by name or path)."""
    words: list[str] = []
    for flag, value in (
        ("--strategy", strategy),
        ("--data", data),
        ("--stack-timeout", stack_timeout),
        ("--verify-timeout", verify_timeout if verify_timeout != DEFAULT_VERIFY else None),
    ):
        if value is not None:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return words + (["--accept-stale"] if accept_stale else [])


def _show(loaded: LoadedEstate, region: str, plans: dict[str, Plan]) -> None:
    """The waves, each environment's account and stacks, on stderr, before the question."""
    err = _console(stderr=True)
    where = "the LOCAL STAND-IN (moto; nothing real is touched)" if loaded.file.stand_in else "AWS"
    err.print(
        _escape(f"estate {loaded.file.name} ({loaded.path}): failover into {region}, {where}")
    )
    for k, wave in enumerate(loaded.waves):
        err.print(f"  wave {k + 1}:")
        for name in wave:
            if name not in plans:
                err.print(_escape(f"    {name}: not in --only"))
                continue
            after = ", ".join(sorted(loaded.predecessors(name))) or "-"
            access = loaded.access(name)
            err.print(
                _escape(
                    f"    {name}: {len(plans[name].stacks)} stacks in account "
                    f"{loaded.file.environments[name].account} ({access.id}), after {after}"
                )
            )


def _print(run: EstateRun, json_out: bool) -> None:
    if json_out:
        _print_json(run.as_dict())
        return
    for line in summary_lines(run):
        _console().print(_escape(line), highlight=False)


def summary_lines(run: EstateRun) -> list[str]:
    """One line per environment (state, seconds, what happened or why it stopped), the measured
    critical path, the busiest stack operations per account, and the continue command."""
    width = max(len(n) for n in run.outcomes)
    lines = [f"estate {run.estate}: {run.command} into {run.region}"]
    for name, o in run.outcomes.items():
        took = f"{o.seconds:6.0f} s" if o.seconds is not None else "     - s"
        said = f"stopped: {o.line}" if o.state == "stopped" and o.stopped_by else o.line
        lines.append(f"  {name:<{width}}  {o.state:<8}  {took}  {said}")
    seconds, path = run.critical_path()
    if path:
        lines.append(f"critical path (measured): {' → '.join(path)}, {seconds:.0f} s")
    keys = {}
    if run.loaded is not None:
        keys = {str(a.id): f"{key} ({a.id})" for key, a in run.loaded.file.accounts.items()}
    peaks: list[Any] = [f"{keys.get(a, a)} in {r}: {p}" for (a, r), p in run.peaks.items()]
    if peaks:
        lines.append("stack operations in flight at most: " + "; ".join(peaks))
    total = (run.ended - run.started).total_seconds()
    verified = sum(o.state == "verified" for o in run.outcomes.values())
    lines.append(f"{'done' if run.ok() else 'FAILED'}: {verified} verified in {total:.0f} s")
    left = run.continue_command()
    if left:
        lines.append(f"continue (what failed is kept; fix its cause first) with:\n  {left}")
    return lines
