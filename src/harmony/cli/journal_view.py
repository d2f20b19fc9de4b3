"""``harmony journal``: recent runs as a table or JSON, or one run in detail."""

from __future__ import annotations

import json
from datetime import datetime

from rich.console import Console
from rich.table import Table

from harmony.cli.render import STATUS_STYLE, plan_text
from harmony.domain.errors import HarmonyError
from harmony.maestro.journal import Journal, RunRecord


class RunNotFound(HarmonyError):
    pass


def show_runs(console: Console, runs: list[RunRecord], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.model_dump(mode="json", exclude={"results"}) for r in runs]))
        return
    table = Table(title="recent runs", title_justify="left")
    for col in ("run", "started", "mode", "deployment", "topology", "status", "error"):
        table.add_column(col)
    for r in runs:
        status = r.status.value if r.status else "running"
        style = STATUS_STYLE[r.status] if r.status else "yellow"
        table.add_row(
            r.id, _when(r.started), r.mode, r.deployment, r.topology, f"[{style}]{status}[/]", (r.error or "")[:80]
        )
    console.print(table)


def show_run(console: Console, journal: Journal, run_id: str, *, as_json: bool) -> None:
    record = journal.run(run_id)
    if record is None:
        raise RunNotFound(f"no single run matches {run_id!r}; `harmony journal` lists recent runs")
    if as_json:
        print(record.model_dump_json())
        return
    status = record.status.value if record.status else "running"
    console.print(f"[bold]run {record.id}[/] {record.mode} {record.deployment} on {record.topology}: {status}")
    if record.error:
        console.print(f"[red]error:[/] {record.error}", highlight=False)
    for r in record.results:
        o = r.outcome
        line = f"{r.position + 1}. {r.score} [dim]({r.kind})[/]"
        if o:
            line += f" [{STATUS_STYLE[o.status]}]{o.status.value}[/] {o.message} [dim]{o.duration:.2f}s[/]"
        console.print(line)
        console.print(plan_text(r.score, r.changes))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
