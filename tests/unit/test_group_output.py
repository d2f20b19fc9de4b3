"""What ``harmony apply`` prints for a group of hosts: past ``SUMMARY_ROWS`` hosts, unchanged hosts get no line
and no row of their own, only a count; every changed, failed or skipped host is still listed."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from typing import cast

from rich.console import Console

from harmony.cli.hosts_run import group_table, run_on_group
from harmony.cli.render import SUMMARY_ROWS
from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.topology import Topology
from harmony.maestro.fanout import GroupReport, HostRun, ScoresPerHost
from harmony.maestro.journal import Journal
from harmony.maestro.runner import RunReport
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost


def _apply(group: HostGroup[LinuxHost], journal: Journal, content: str) -> tuple[GroupReport, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200)
    report = run_on_group(
        cast(HostGroup[Topology], group),  # as the CLI passes it (run.py)
        cast(ScoresPerHost[Topology], [ManagedFile(path=PurePosixPath("/app.conf"), content=content)]),
        console=console,
        mode="apply",
        journal=journal,
        deployment="test",
        smoke_tests=(),
        keep_going=True,
        as_json=False,
        confirm=None,
    )
    return report, buffer.getvalue()


def _host_lines(out: str) -> list[str]:
    return [line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  h")]


def _rows(out: str) -> list[str]:
    return [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") > 3]


def test_a_large_group_s_unchanged_hosts_are_counted_not_listed(tmp_path: Path) -> None:
    count = SUMMARY_ROWS + 2
    hosts = [LinuxHost.local(root=tmp_path / f"h{i}", name=f"h{i}", create_root=True) for i in range(count)]
    group = HostGroup(hosts=hosts)
    journal = Journal(tmp_path / "journal.sqlite3")
    first, out = _apply(group, journal, "x\n")
    assert first.status is Status.SUCCESS
    assert len(_host_lines(out)) == count and len(_rows(out)) == count, "every changed host: a line and a row"
    (tmp_path / "h3" / "app.conf").write_text("changed behind our back\n")
    second, out = _apply(group, journal, "x\n")
    assert [h.host for h in second.hosts if h.status is Status.SUCCESS] == ["h3"]
    assert _host_lines(out) == ["h3"] and _rows(out) == ["h3"]
    assert f"{count - 1} unchanged host(s) not listed" in out
    third, out = _apply(group, journal, "x\n")
    assert third.status is Status.NOOP and _host_lines(out) == [] and _rows(out) == []
    assert f"apply on {count} hosts: NOOP; {count} unchanged host(s) not listed" in out, "one line, no empty table"


def test_a_small_group_lists_every_host_and_a_large_one_every_host_that_is_not_unchanged() -> None:
    def run(host: str, status: Status | None, error: str | None = None) -> HostRun:
        report = None if status is None else RunReport(run_id=host, mode="apply", results=[], status=status)
        return HostRun(host=host, report=report, error=error, skipped=None if status else "not reached")

    small = GroupReport(mode="apply", hosts=[run(f"n{i}", Status.NOOP) for i in range(SUMMARY_ROWS)])
    large = GroupReport(
        mode="apply",
        hosts=[
            *(run(f"n{i}", Status.NOOP) for i in range(SUMMARY_ROWS)),
            run("changed", Status.SUCCESS),
            run("failed", Status.NOOP, error="connection lost"),
            run("skipped", None),
        ],
    )
    for report, rows in ((small, [h.host for h in small.hosts]), (large, ["changed", "failed", "skipped"])):
        buffer = io.StringIO()
        Console(file=buffer, width=200).print(group_table(report))
        assert _rows(buffer.getvalue()) == rows
