"""``plan``/``apply`` of a deployment on a ``HostGroup``: per-host diffs, a line per finished host, and a
summary table with one row per host."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.render import STATUS_STYLE, SUMMARY_ROWS, event_adapter, plan_text
from harmony.cli.signals import run_cancellable
from harmony.domain.change import pending
from harmony.domain.companion import Verification
from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.topology import Topology
from harmony.maestro.events import Event, Mode, RunFinished
from harmony.maestro.fanout import GroupConfirm, GroupReport, HostRun, ScoresPerHost, run_group
from harmony.maestro.journal import Journal


def run_on_group(
    group: HostGroup[Topology],
    scores: ScoresPerHost[Topology],
    *,
    console: Console,
    mode: Mode,
    journal: Journal,
    deployment: str,
    smoke_tests: Sequence[Verification],
    keep_going: bool,
    as_json: bool,
    confirm: GroupConfirm | None,
    lock_wait: float | None = None,
) -> GroupReport:
    # Past SUMMARY_ROWS hosts, as past SUMMARY_ROWS Scores on one (render.LiveProgress): no line per unchanged
    # host, and the table counts them instead of listing them (lines and rows of 100 unchanged hosts took longer
    # to render than any other part of a no-op run but the SSH traffic).
    quiet_noop = len(group.hosts) > SUMMARY_ROWS

    def on_event(host: str, event: Event) -> None:
        if as_json:
            line = {"host": host, **json.loads(event_adapter().dump_json(event))}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        elif isinstance(event, RunFinished) and mode == "apply" and not (quiet_noop and event.status is Status.NOOP):
            style = STATUS_STYLE[event.status]
            console.print(
                Text.assemble(f"  {host}: ", (event.status.value, style), (f" {event.duration:.2f}s", "dim")),
                highlight=False,
            )

    if not as_json:
        counts = sorted({len(scores(h) if callable(scores) else scores) for h in group.hosts})
        per_host = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        console.print(
            Text.assemble((mode, "bold"), f" {per_host} Score(s) per host on ", (group.name, "cyan")), highlight=False
        )
    report = run_cancellable(
        run_group(
            group,
            scores,
            mode=mode,
            journal=journal,
            on_event=on_event,
            deployment=deployment,
            smoke_tests=smoke_tests,
            keep_going=keep_going,
            confirm=confirm,
            lock_wait=lock_wait,
        )
    )
    if not as_json:
        if mode == "plan":
            for h in report.hosts:
                console.print(host_plan_text(h))
        console.print(group_table(report))
        for line in failure_lines(report):
            console.print(line, highlight=False)
    return report


def host_plan_text(run: HostRun) -> Text:
    text = Text()
    if run.report is None:
        text.append(f"── {run.host}: {run.error or run.skipped}\n", style="bold red")
        return text
    changing = sum(1 for r in run.report.results if pending(r.changes))
    text.append(f"── {run.host}: {changing} Score(s) to change\n", style="bold cyan")
    if run.report.error:
        text.append(f"   error: {run.report.error}\n", style="red")
        return text
    for r in run.report.results:
        if pending(r.changes):
            text.append_text(plan_text(r.score, r.changes))
    return text


def group_table(report: GroupReport) -> Table | Text:
    """One row per host; past ``SUMMARY_ROWS`` hosts, unchanged ones are counted instead of listed (every
    other host keeps its row: a failure is never left out), and a group left with no row is one line."""
    title = f"{report.mode} on {len(report.hosts)} hosts: {report.status.value.upper()}"
    hosts = report.hosts
    unlisted = ""
    if len(hosts) > SUMMARY_ROWS:
        hosts = [h for h in hosts if h.status is not Status.NOOP]  # in a plan: nothing to change
        if len(hosts) < len(report.hosts):
            unlisted = (
                f"{len(report.hosts) - len(hosts)} unchanged host(s) not listed (`harmony journal` lists their runs)"
            )
        if not hosts and not report.error:
            return Text.assemble((title, "italic"), f"; {unlisted}")
    table = Table(title=title, title_justify="left", caption=unlisted or None)
    for col in ("host", "status", "changed", "unchanged", "failed", "skipped", "time", "error"):
        table.add_column(
            col, justify="right" if col in ("changed", "unchanged", "failed", "skipped", "time") else "left"
        )
    for h in hosts:
        status = h.status
        label = Text(status.value if status else "skipped", style=STATUS_STYLE[status] if status else "yellow")
        if h.report is None:
            table.add_row(h.host, label, "", "", "", "", f"{h.duration:.2f}s", h.error or h.skipped or "")
            continue
        if report.mode == "plan":
            changed = sum(1 for r in h.report.results if pending(r.changes))
            counts = {"success": changed, "noop": len(h.report.results) - changed, "failure": 0, "skipped": 0}
        else:
            counts = h.report.counts
        table.add_row(
            h.host,
            label,
            str(counts["success"]),
            str(counts["noop"]),
            str(counts["failure"]),
            str(counts["skipped"]),
            f"{h.duration:.2f}s",
            _first_failure(h),
        )
    if report.error:
        table.caption = report.error if table.caption is None else f"{report.error}\n{table.caption}"
    return table


def failure_lines(report: GroupReport) -> list[Text]:
    """Each failed host's whole error, below the table (whose column keeps only its start)."""
    lines: list[Text] = []
    for h in report.hosts:
        whole = h.error if h.report is None else _first_failure(h, limit=None)
        if h.status is Status.FAILURE and whole:
            lines.append(Text.assemble((f"{h.host}: ", "bold red"), whole))
    return lines


def _first_failure(run: HostRun, *, limit: int | None = 160) -> str:
    assert run.report is not None
    if run.report.error:
        return run.report.error[:limit]
    for r in run.report.results:
        if r.outcome is not None and r.outcome.status is Status.FAILURE:
            return r.outcome.message[:limit]
    return ""
