"""Render Maestro events: live progress and plan diffs with rich, or one JSON object per line."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

from pydantic import TypeAdapter
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from harmony.domain.change import Action, Change, pending
from harmony.domain.outcome import Status
from harmony.maestro.events import (
    Event,
    RunFinished,
    RunStarted,
    ScoreFinished,
    ScorePlanned,
    ScoreSkipped,
    ScoreStarted,
    SmokeTested,
    TopologyReady,
    WaitingForLock,
)
from harmony.maestro.runner import RunReport


@functools.cache
def event_adapter() -> TypeAdapter[Event]:
    """Built on the first ``--json`` event: a run that prints no JSON does not pay for its schema."""
    return TypeAdapter[Event](Event)


STATUS_STYLE = {Status.SUCCESS: "green", Status.NOOP: "dim", Status.FAILURE: "bold red"}
ACTION_MARK = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
    Action.NONE: (" ", "dim"),
}


class JsonLines:
    """One JSON object per event on stdout."""

    def __call__(self, event: Event) -> None:
        sys.stdout.write(event_adapter().dump_json(event).decode() + "\n")
        sys.stdout.flush()


class LiveProgress:
    """A progress bar over the Scores, with a line per finished Score; plan diffs when ``show_diffs``."""

    def __init__(self, console: Console, *, show_diffs: bool) -> None:
        self.console = console
        self.show_diffs = show_diffs
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # a bar nobody sees still cost 0.3 s of refreshes on 1,000 Scores
        )
        self.task: TaskID | None = None
        self.quiet_noop = False

    def __call__(self, event: Event) -> None:
        # Every name, path and message here may come from outside (a file name, a daemon's error): it is
        # rendered as Text, never parsed as rich markup.
        out = self.progress.console
        match event:
            case RunStarted(mode=mode, topology=topology, scores=scores):
                # Past SUMMARY_ROWS Scores a line per unchanged one costs more than checking it did.
                self.quiet_noop = len(scores) > SUMMARY_ROWS
                self.console.print(
                    Text.assemble((mode, "bold"), f" {len(scores)} Score(s) on ", (topology, "cyan")), highlight=False
                )
                self.progress.start()
                self.task = self.progress.add_task("getting ready", total=len(scores) * (2 if mode == "apply" else 1))
            case WaitingForLock(target=target, holder=holder):
                out.print(
                    Text.assemble(
                        ("waiting ", "yellow"),
                        f"for {holder or 'another run'} to finish on {target} (--no-wait fails at once instead)",
                    ),
                    highlight=False,
                )
            case TopologyReady(duration=d):
                self._advance(0, f"ready in {d:.2f}s, planning")
            case ScorePlanned(score=score, changes=changes):
                self._advance(1, f"planned {score}")
                if self.show_diffs and not (self.quiet_noop and not pending(changes)):
                    out.print(plan_text(score, changes))
            case ScoreStarted(score=score):
                self._advance(0, f"applying {score}")
            case SmokeTested(score=score, test=test, outcome=o):
                out.print(
                    Text.assemble(
                        f"  smoke test {test} for {score}: ", (o.status.value, STATUS_STYLE[o.status]), f" {o.message}"
                    ),
                    highlight=False,
                )
            case ScoreFinished(score=score, outcome=o):
                self._advance(1, f"applied {score}")
                if self.quiet_noop and o.status is Status.NOOP:
                    return
                out.print(
                    Text.assemble(
                        (f"{o.status.value.upper():8}", STATUS_STYLE[o.status]),
                        f" {score} ",
                        (f"({o.duration:.2f}s)", "dim"),
                        f" {o.message}",
                    ),
                    highlight=False,
                )
                for detail in o.details if o.status is Status.FAILURE else ():
                    out.print(Text(f"         {detail}", style="red"), highlight=False)
            case ScoreSkipped(score=score, reason=reason):
                self._advance(1, f"skipped {score}")
                out.print(Text.assemble(("SKIPPED ", "yellow"), f" {score}: {reason}"), highlight=False)
            case RunFinished():
                self.progress.stop()

    def _advance(self, n: int, description: str) -> None:
        if self.task is not None and not self.progress.disable:
            self.progress.update(self.task, advance=n, description=escape(description))


def plan_text(score: str, changes: Sequence[Change]) -> Text:
    text = Text()
    if not changes:
        text.append(f"  {score}: no changes\n", style="dim")
        return text
    for c in changes:
        mark, style = ACTION_MARK[c.action]
        text.append(f"{mark} {c.target}", style=f"bold {style}")
        text.append(f"  ({score})\n", style="dim")
        for line in c.diff.splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            text.append(f"    {line}\n", style=style)
    return text


SUMMARY_ROWS = 40


def summary_table(report: RunReport) -> Table:
    """One row per Score; past ``SUMMARY_ROWS`` Scores, unchanged ones are counted instead of listed
    (rendering a 1,000-row table took longer than applying 1,000 unchanged files)."""
    table = Table(title=f"run {report.run_id}: {report.status.value.upper()}", title_justify="left")
    table.add_column("Score")
    table.add_column("kind", style="dim")
    table.add_column("changes", justify="right")
    table.add_column("outcome")
    table.add_column("time", justify="right")
    rows = report.results
    if len(rows) > SUMMARY_ROWS:
        rows = [r for r in rows if r.outcome is None or r.outcome.status is not Status.NOOP]
        hidden = len(rows) - SUMMARY_ROWS
        unchanged = len(report.results) - len(rows)
        if hidden > 0:
            rows = rows[:SUMMARY_ROWS]
        note = f"{unchanged} unchanged Score(s) not listed" + (
            f"; {hidden} more changed not listed" if hidden > 0 else ""
        )
        table.caption = note + " (`harmony journal RUN` lists them all)"
    for r in rows:
        o = r.outcome
        status = Text(o.status.value if o else "skipped", style=STATUS_STYLE[o.status] if o else "yellow")
        table.add_row(
            Text(r.score),
            Text(r.kind),
            str(len([c for c in r.changes if c.action is not Action.NONE])),
            status,
            f"{o.duration:.2f}s" if o else "",
        )
    return table
