"""`relight report`: past drills with their RTO and RPO, the trend, and the index page."""

from __future__ import annotations

from pathlib import Path

from .common import _console, _errors, _load, _print_json
from .options import DebugOpt, EnvOpt, JsonOpt, ReportsOpt


def report(
    env: EnvOpt,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List past drills with their RTO and RPO, and the trend; refresh reports/<env>/index.html."""
    with _errors(debug):
        from rich.table import Table

        from relight.dr.report import history, human_duration, trend, write_index

        name = _load(env, None).env.name  # drills file their reports under the env's name
        rows = history(reports, name)
        index = write_index(reports, name) if rows else reports / name / "index.html"
        if json_out:
            _print_json({"env": name, "runs": rows, "trend": trend(rows)})
            return
        con = _console()
        if not rows:
            con.print(f"no reports for {name} in {reports}/{name}; run relight drill first")
            return
        table = Table(title=f"drills of {name}")
        for column in ("run", "started", "kind", "result", "RTO", "RPO", "objectives", "where"):
            table.add_column(column)
        for row in rows:
            if row.get("error"):
                table.add_row(row["run_id"], "", "", "[red]unreadable[/]", "", "", "", row["error"])
                continue
            met = {True: "met", False: "[red]missed[/]"}.get(row["objectives_met"], "-")
            table.add_row(
                row["run_id"],
                str(row["started"])[:19],
                row["kind"],
                "[green]ok[/]" if row["ok"] else "[red]failed[/]",
                human_duration(row["rto_seconds"]),
                human_duration(row["rpo_seconds"]),
                met,
                "stand-in" if row["stand_in"] else "AWS",
            )
        con.print(table)
        con.print(f"trend of the RTO: {trend(rows)}; chart: {index}")
