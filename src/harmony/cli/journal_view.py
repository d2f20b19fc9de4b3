"""``harmony journal``: recent runs as a table or JSON, or one run in detail."""

from __future__ import annotations

import json
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.render import STATUS_STYLE, plan_text
from harmony.domain.errors import HarmonyError
from harmony.maestro.journal import Journal, RunRecord, RunStatus


class RunNotFound(HarmonyError):
    pass


RUN_STYLE = {
    RunStatus.SUCCESS: "green",
    RunStatus.NOOP: "dim",
    RunStatus.FAILURE: "bold red",
    RunStatus.INTERRUPTED: "bold yellow",
    RunStatus.ABANDONED: "bold yellow",
}


def show_runs(console: Console, runs: list[RunRecord], *, as_json: bool) -> None:
    # Everything stored may hold text from outside (daemon errors, file names): rendered as Text, not markup.
    if as_json:
        print(json.dumps([r.model_dump(mode="json", exclude={"results"}) for r in runs]))
        return
    table = Table(title="recent runs", title_justify="left")
    for col in ("run", "started", "mode", "deployment", "topology", "status", "error"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            Text(r.id),
            _when(r.started),
            Text(r.mode),
            Text(r.deployment),
            Text(r.topology),
            _status(r),
            Text((r.error or "")[:80]),
        )
    console.print(table)


def show_run(console: Console, journal: Journal, run_id: str, *, as_json: bool) -> None:
    record = journal.run(run_id)
    if record is None:
        raise RunNotFound(f"no single run matches {run_id!r}; `harmony journal` lists recent runs")
    if as_json:
        print(record.model_dump_json())
        return
    console.print(
        Text.assemble(
            (f"run {record.id}", "bold"),
            f" {record.mode} {record.deployment} on {record.topology}: ",
            _status(record),
        ),
        highlight=False,
    )
    if record.error:
        console.print(Text.assemble(("error: ", "red"), record.error), highlight=False)
    for r in record.results:
        o = r.outcome
        line = Text.assemble(f"{r.position + 1}. {r.score} ", (f"({r.kind})", "dim"))
        if o:
            line.append_text(
                Text.assemble(
                    " ", (o.status.value, STATUS_STYLE[o.status]), f" {o.message} ", (f"{o.duration:.2f}s", "dim")
                )
            )
        console.print(line, highlight=False)
        console.print(plan_text(r.score, r.changes))


def _status(r: RunRecord) -> Text:
    if r.status is None:
        return Text("running", style="yellow")
    return Text(r.status.value, style=RUN_STYLE[r.status])


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
