"""``plan`` and ``apply``: load the deployment, run the Maestro, render, journal."""

from __future__ import annotations

import fnmatch
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from harmony.cli.hosts_run import host_plan_text, run_on_group
from harmony.cli.loading import load
from harmony.cli.render import JsonLines, LiveProgress, plan_text, summary_table
from harmony.cli.signals import run_cancellable
from harmony.domain.change import pending
from harmony.domain.errors import DeploymentError, HarmonyError
from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.score import AnyScore
from harmony.domain.topology import Topology
from harmony.maestro.events import EventSink
from harmony.maestro.fanout import GroupConfirm, HostRun
from harmony.maestro.journal import Journal
from harmony.maestro.runner import Confirm, Maestro, RunReport, ScoreResult

# No :emoji: codes: a path or message that holds one is shown as it is, and the code table (a few ms to
# load) stays unloaded.
console = Console(emoji=False)
stderr = Console(stderr=True, emoji=False)


def select[S: AnyScore](scores: Sequence[S], pattern: str | None) -> list[S]:
    """Scores whose name matches ``pattern`` (glob or substring), plus everything they depend on."""
    chosen = _matching(scores, pattern)
    if not chosen:
        raise DeploymentError(f"--filter {pattern!r} matches no Score; the Scores are: {_names(scores)}")
    return chosen


def select_on_hosts[H, S: AnyScore](
    by_host: Sequence[tuple[H, Sequence[S]]], pattern: str | None
) -> list[tuple[H, list[S]]]:
    """``select`` on each host's own Scores; an error only when ``pattern`` matches on no host at all."""
    if len(by_host) == 1:
        host, scores = by_host[0]
        return [(host, select(scores, pattern))]
    chosen = [(host, _matching(scores, pattern)) for host, scores in by_host]
    if not any(scores for _, scores in chosen):
        every = [s for _, scores in by_host for s in scores]
        raise DeploymentError(f"--filter {pattern!r} matches no Score on any host; the Scores are: {_names(every)}")
    return chosen


def _matching[S: AnyScore](scores: Sequence[S], pattern: str | None) -> list[S]:
    if pattern is None:
        return list(scores)
    by_name: dict[str, AnyScore] = {s.name: s for s in scores}
    wanted: set[str] = set()

    def want(name: str) -> None:
        if name not in wanted and name in by_name:
            wanted.add(name)
            for dep in by_name[name].depends_on():
                want(dep)

    for s in scores:
        if fnmatch.fnmatch(s.name, pattern) or pattern in s.name:
            want(s.name)
    return [s for s in scores if s.name in wanted]


def _names(scores: Sequence[AnyScore]) -> str:
    return ", ".join(dict.fromkeys(s.name for s in scores)) or "none"


def run(
    spec: str,
    *,
    mode: str,
    yes: bool,
    pattern: str | None,
    keep_going: bool,
    as_json: bool,
    journal_path: Path | None,
    lock_wait: float | None = None,
) -> None:
    """``lock_wait``: seconds to wait for another run on the same target (None: as long as it takes)."""
    journal = Journal(journal_path)
    try:
        try:
            loaded = load(spec)
            by_host = select_on_hosts(loaded.deployment.by_host(), pattern)
            for warning in loaded.deployment.findings():  # errors stopped the load; what is left only warns
                stderr.print(f"[yellow]{escape(str(warning))}[/]", highlight=False, soft_wrap=True)
        except HarmonyError as e:
            _journal_failed_start(journal, spec, mode, e)
            raise
        topology = loaded.deployment.topology
        if isinstance(topology, HostGroup):
            chosen = {id(host): scores for host, scores in by_host}
            group_report = run_on_group(
                cast(HostGroup[Topology], topology),  # narrowed from Topology | HostGroup[Topology]
                lambda host: chosen[id(host)],
                console=console,
                mode="plan" if mode == "plan" else "apply",
                journal=journal,
                deployment=loaded.name,
                smoke_tests=loaded.deployment.smoke_tests,
                keep_going=keep_going,
                as_json=as_json,
                confirm=None if yes or mode == "plan" else _confirm_group(as_json),
                lock_wait=lock_wait,
            )
            _warn_incomplete(journal)
            if group_report.status is Status.FAILURE:
                raise typer.Exit(1)
            return
        scores = by_host[0][1]
        sink: EventSink = JsonLines() if as_json else LiveProgress(console, show_diffs=mode == "plan")
        maestro: Maestro[Topology] = Maestro(
            loaded.deployment.topology, journal=journal, on_event=sink, deployment=loaded.name, lock_wait=lock_wait
        )
        try:
            if mode == "plan":
                report = run_cancellable(maestro.plan(scores))
            else:
                report = run_cancellable(
                    maestro.apply(
                        scores,
                        smoke_tests=loaded.deployment.smoke_tests,
                        keep_going=keep_going,
                        confirm=None if yes else _confirm(as_json),
                    )
                )
        finally:
            _warn_incomplete(journal)
    finally:
        journal.close()
    if not as_json:
        _print_report(report)
    if report.status is Status.FAILURE:
        raise typer.Exit(1)


def _warn_incomplete(journal: Journal) -> None:
    if journal.problems:
        stderr.print(
            Text.assemble(
                ("warning: ", "bold yellow"),
                f"the journal {journal.path} is incomplete for this run ({len(journal.problems)} record(s) not "
                f"written; first: {journal.problems[0]}); the run itself went on",
            ),
            highlight=False,
        )


def _journal_failed_start(journal: Journal, spec: str, mode: str, error: HarmonyError) -> None:
    run_id = uuid.uuid4().hex[:12]
    journal.start_run(run_id, mode=mode, deployment=spec, topology="?")
    journal.finish_run(run_id, Status.FAILURE, str(error))


class ConfirmationRefused(HarmonyError):
    """``apply`` without ``--yes`` where nobody can answer."""


def _confirm(as_json: bool) -> Confirm:
    async def confirm(results: Sequence[ScoreResult]) -> bool:
        if not sys.stdin.isatty():
            raise ConfirmationRefused(
                "refusing to apply without confirmation in a non-interactive shell; review `harmony plan`, "
                "then rerun with --yes"
            )
        out = stderr if as_json else console
        for r in results:
            out.print(plan_text(r.score, r.changes))
        return typer.confirm("Apply these changes?", default=False)

    return confirm


def _confirm_group(as_json: bool) -> GroupConfirm:
    async def confirm(hosts: Sequence[HostRun]) -> bool:
        if not sys.stdin.isatty():
            raise ConfirmationRefused(
                "refusing to apply without confirmation in a non-interactive shell; review `harmony plan`, "
                "then rerun with --yes"
            )
        out = stderr if as_json else console
        for h in hosts:
            out.print(host_plan_text(h))
        return typer.confirm("Apply these changes on these hosts?", default=False)

    return confirm


def _print_report(report: RunReport) -> None:
    if report.mode == "apply" or report.error:
        console.print(summary_table(report))
    if report.error:
        console.print(Text.assemble(("error: ", "bold red"), report.error), highlight=False)
    if report.mode == "plan" and report.error:
        console.print(f"plan: incomplete (run {report.run_id})", highlight=False, markup=False)
        return
    if report.mode == "plan":
        changing = sum(1 for r in report.results if pending(r.changes))
        console.print(
            f"plan: {changing} Score(s) to change, {len(report.results) - changing} unchanged "
            f"[dim](run {report.run_id})[/]"
        )
        return
    counts = report.counts
    console.print(
        f"{report.mode}: {counts['success']} changed, {counts['noop']} unchanged, {counts['failure']} failed, "
        f"{counts['skipped']} skipped  [dim](run {report.run_id})[/]"
    )
