"""The failover summary, for people (a table) and for machines (JSON).

AWS calls: `aws_calls` counts, per service, every HTTP request the run's
connection sent (`Aws.calls`: discovery, preflight, deploy, verification, the
lock and the account check; botocore's retries included, `aws_retries` of
them), which is what the endpoint received. `api_calls` keeps its meaning:
the CloudFormation calls the deploy itself made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relight.commands.discover import artifact_rows
from relight.commands.failover import FailoverResult
from relight.model.times import human_age
from relight.steps.deploy import iso
from relight.steps.verify import NOT_LOCAL, NOT_VERIFIABLE, Check

if TYPE_CHECKING:
    from rich.console import Console


def _kept_age(result: FailoverResult, stack: str, parameter: str) -> float | None:
    """The age of the data in the snapshot a stack keeps (steps/preflight/kept.py)."""
    found = [k for k in result.kept if k.stack == stack and k.parameter == parameter]
    return round(found[0].age_seconds, 1) if found and found[0].age_seconds is not None else None


def failover_json(result: FailoverResult, continue_with: str = "") -> dict[str, Any]:
    """The failover as data; `continue_with` is the command that continues a failed run."""
    stale = {a.name for a in result.stale}
    artifacts = artifact_rows(result.plan.loaded, result.discovery)
    for row in artifacts:
        row["accepted_stale"] = row["name"] in stale
    return {
        "ok": result.ok,
        "run_id": result.run_id,
        "env": result.plan.env_name,
        "region": result.conn.region,
        "account_id": result.conn.account_id,
        "stand_in": result.conn.stand_in is not None,
        "seconds": round(result.seconds, 3),
        "zones": [{"name": z.name, "id": z.id} for z in result.discovery.zones],
        "artifacts": artifacts,
        "stacks": [
            {
                "stack": r.key,
                "name": r.name,
                "action": r.action,
                "status": r.status,
                "seconds": round(r.seconds, 3),
                "reason": r.reason,
                "changes": r.changes,
                "started": iso(result.outcome.at(r.started)),
                "ended": iso(result.outcome.at(r.ended)),
                "depends_on": list(result.plan.stacks[r.key].depends_on),
                "outputs": r.outputs,
                "kept_resources": r.kept_resources,
                "kept_data": [
                    {
                        "parameter": k.parameter,
                        "kept": k.kept,
                        "newest": k.newer,
                        "age_seconds": _kept_age(result, r.key, k.parameter),
                    }
                    for k in r.kept_data
                ],
            }
            for r in result.outcome.results.values()
        ],
        "skipped": result.plan.skipped,
        "events": [{"at": at.isoformat(), "event": what} for what, at in result.events],
        "strategy": result.plan.strategy,
        "notes": result.notes,
        "promotions": [
            {
                "stack": p.key,
                "identifier": p.identifier,
                "kind": p.kind,
                "seconds": round(p.seconds, 3),
                "endpoint": p.endpoint,
                "already": p.already,
            }
            for p in result.promotions
        ],
        "prepared": {key: sp.name for key, sp in result.plan.prepared.items()},
        "verification": [c.as_dict() for c in result.checks],
        "api_calls": result.outcome.api_calls,
        "aws_calls": result.conn.aws.calls,
        "aws_calls_total": result.conn.aws.total_calls,
        "aws_retries": result.conn.aws.retries,
        "throttled": result.outcome.throttled,
        "continue_with": continue_with if not result.ok else "",
    }


def _print_not_built(con: Console, data: dict[str, Any]) -> None:
    """The stacks this run did not build: left out here, or prepared before the disaster."""
    from rich.markup import escape

    for key, why in data["skipped"].items():
        con.print(f"[yellow]not built:[/] {key}: {escape(why)}")
    if data["prepared"]:
        ready = ", ".join(f"{name} ({key})" for key, name in data["prepared"].items())
        con.print(f"ready before the disaster (relight prepare; read, not changed): {ready}")
    for note in data["notes"]:
        con.print(f"[yellow]note:[/] {escape(note)}")


def _print_restored(con: Console, result: FailoverResult, data: dict[str, Any]) -> None:
    """What the stacks restored from. `prepare` restores only what its standing stacks use
    (nothing at backup_restore: no table then)."""
    from rich.table import Table

    rows = data["artifacts"]
    if result.plan.phase == "prepare":
        rows = [r for r in rows if set(r["used_by"]) & set(result.plan.stacks)]
        if not rows:
            return
    used = Table(title="restored from")
    for column in ("artifact", "id", "age of data", "RPO", "copied from", "used by"):
        used.add_column(column, no_wrap=column in ("id", "copied from"))
    for row in rows:
        rpo = "[green]ok[/]" if row["rpo_ok"] else "[red]STALE (accepted)[/]"
        source = f"{row['source_id']} ({row['source_region']})" if row["source_id"] else "?"
        users = ", ".join(row["used_by"]) or "[dim]no stack[/]"
        used.add_row(row["name"], row["id"], row["age"], rpo, source, users)
    con.print(used)


def print_failover(con: Console, result: FailoverResult, continue_with: str = "") -> None:
    from rich.markup import escape
    from rich.table import Table

    data = failover_json(result, continue_with)
    verb = "prepare of" if result.plan.phase == "prepare" else f"{result.plan.purpose} of"
    stacks = Table(title=f"{verb} {data['env']} into {data['region']} (run {data['run_id']})")
    for column in ("stack", "CloudFormation name", "action", "status", "time", "note"):
        stacks.add_column(column)
    for row in data["stacks"]:
        colour = "red" if row["action"] in ("failed", "skipped") else "green"
        stacks.add_row(
            row["stack"],
            row["name"],
            f"[{colour}]{row['action']}[/]",
            row["status"],
            f"{row['seconds']:.1f} s",
            escape(row["reason"]),  # AWS's reasons hold [brackets] rich would eat
        )
    con.print(stacks)
    _print_not_built(con, data)

    _print_restored(con, result, data)
    print_checks(con, result.checks)
    zones = ", ".join(f"{z['name']} = {z['id']}" for z in data["zones"])
    con.print(f"zones: {zones}")
    verdict = "[bold green]done[/]" if result.ok else "[bold red]FAILED[/]"
    failed = [r for r in result.outcome.failed() if r.action == "failed"]
    took = f"{result.seconds:.1f} s" if result.seconds < 120 else human_age(result.seconds)
    con.print(f"{verdict} in {took}; {_calls_line(data)}")
    if data["throttled"]:
        throttled = data["throttled"]
        con.print(f"[yellow]CloudFormation throttled {throttled} call(s)[/]; relight waited")
    for r in result.outcome.results.values():
        for kept in r.kept_data:
            age = _kept_age(result, r.key, kept.parameter)
            aged = f" (its data {human_age(age)} old)" if age is not None else ""
            con.print(
                f"[yellow]data kept:[/] {r.key}.{kept.parameter} stays {kept.kept}{aged}, the "
                f"snapshot it was restored from; the artifacts above list the newest copy, "
                f"{kept.newer}, which {r.key} does not use (--replace-data {r.key} restores from "
                "it, replacing what runs now)"
            )
    for r in failed:
        con.print(f"[red]{r.name}[/]: {escape(r.reason)}")
        if r.kept_resources:
            con.print(
                f"  kept (made before the failure; CloudFormation keeps them): "
                f"{', '.join(r.kept_resources)}"
            )
    if failed:
        con.print(
            "Fix the cause, then continue with: "
            + (f"[bold]{escape(continue_with)}[/]" if continue_with else "the same command")
            + "\n  (complete stacks are left alone; failed ones are retried in place, "
            "keeping what they made; stacks not started yet are created)"
        )


def _calls_line(data: dict[str, Any]) -> str:
    """The calls line: `36 AWS calls: cloudformation 24, ec2 8, elbv2 2 (1 of them a retry)`."""
    services = ", ".join(f"{service} {n}" for service, n in data["aws_calls"].items())
    retries = data["aws_retries"]
    return (
        f"{data['aws_calls_total']} AWS calls"
        + (f": {services}" if services else "")
        + (f" ({retries} of them {'a retry' if retries == 1 else 'retries'})" if retries else "")
    )


RESULT_COLOURS = {"passed": "green", "failed": "red", NOT_LOCAL: "yellow", NOT_VERIFIABLE: "yellow"}


def print_checks(con: Console, checks: list[Check]) -> None:
    """The verification table: what was checked, and with what result."""
    from rich.markup import escape
    from rich.table import Table

    if not checks:
        return
    table = Table(title="verification")
    for column in ("stack", "check", "result", "detail"):
        table.add_column(column)
    for c in checks:
        colour = RESULT_COLOURS.get(c.result, "dim")
        table.add_row(c.stack or "", c.check, f"[{colour}]{c.result}[/]", escape(c.detail))
    con.print(table)
