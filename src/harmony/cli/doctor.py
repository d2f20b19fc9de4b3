"""``harmony doctor``: does this machine have what Harmony's adapters need? Says what fixes each gap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harmony.config.wiring import embedded_store
from harmony.infra.doctor import Finding, diagnose, healthy
from harmony.maestro.journal import default_journal_path

console = Console()

_STYLE = {"ok": "green", "missing": "bold red", "warning": "yellow"}


def state_directories() -> dict[str, Path]:
    """The directories Harmony writes on this machine, resolved as the commands resolve them."""
    store = embedded_store()
    return {
        "journal directory": default_journal_path().parent,
        "config store directory": store.path.parent,
        "config key directory": store.key_path.parent,
        "podman run roots": Path("/run/harmony-podman"),
    }


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Check the programs (and versions), kernel features, limits and state directories Harmony needs.

    Exits 1 when something required is missing; each gap names the Debian package or setting that fixes it.
    """
    findings = diagnose(state_directories())
    ok = healthy(findings)
    if as_json:
        print(json.dumps({"ok": ok, "checks": [f.as_json() for f in findings]}, indent=2))
    else:
        _print(findings, ok)
    if not ok:
        raise typer.Exit(1)


def _print(findings: list[Finding], ok: bool) -> None:
    table = Table(title="harmony doctor", title_justify="left")
    for column in ("check", "what", "status", "detail", "fix"):
        table.add_column(column)
    for f in findings:
        style = _STYLE[f.status]
        table.add_row(f.category, f.name, f"[{style}]{f.status}[/]", escape(f.detail), escape(f.fix), style=None)
    console.print(table)
    missing = [f for f in findings if f.status == "missing"]
    if ok:
        console.print("[green]everything Harmony needs is here[/]")
        return
    console.print(f"[bold red]{len(missing)} required piece(s) missing:[/]")
    for f in missing:
        console.print(f"  {escape(f.name)}: {escape(f.fix)}")
