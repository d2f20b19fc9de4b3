"""``harmony alerts``: the alerts an alert router holds now (firing or inhibited), as a table or JSON."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.infra.alertmanager import fetch_alerts

console = Console()
DEFAULT_URL = "http://127.0.0.1:9093"


@guarded
def alerts(
    url: Annotated[
        str | None,
        typer.Option(help=f"The alert router's URL (default: $HARMONY_ALERTMANAGER_URL or {DEFAULT_URL})."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the alerts firing now: name, severity, state, since when, labels and summary."""
    where = url or os.environ.get("HARMONY_ALERTMANAGER_URL") or DEFAULT_URL
    found = asyncio.run(fetch_alerts(where))
    if as_json:
        print(json.dumps([a.model_dump(mode="json") for a in found]))
        return
    if not found:
        console.print(f"no alerts at {where}", markup=False, highlight=False)
        return
    table = Table(title=Text(f"alerts at {where}"), title_justify="left")
    for column in ("alert", "severity", "state", "since", "labels", "summary"):
        table.add_column(column)
    for a in found:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "severity"))
        since = a.starts_at.strftime("%Y-%m-%d %H:%M:%S")
        cells = (a.name, a.severity or "", a.state, since, labels, a.annotations.get("summary", ""))
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
