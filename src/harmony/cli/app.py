"""The ``harmony`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli import errors, lazy
from harmony.cli import run as run_cmd
from harmony.cli.errors import guarded
from harmony.cli.journal_view import show_run, show_runs
from harmony.cli.loading import load
from harmony.domain.score import kind_of
from harmony.maestro.journal import Journal

app = typer.Typer(
    name="harmony",
    help="Typed infrastructure for micro datacenters: check, plan and apply Scores on topologies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=lazy.LazyGroup,
)
console = Console()


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error (also HARMONY_DEBUG=1).")
    ] = False,
) -> None:
    errors.DEBUG = errors.DEBUG or debug


lazy.LazyGroup.LAZY = {
    "agent": lazy.group("harmony.cli.agent", "agent_app"),
    "failover": lazy.group("harmony.cli.agent", "failover_app"),
    # fleet_serve registers `fleet serve` and `fleet dashboard-user` on the `fleet` group it imports
    "fleet": lazy.group("harmony.cli.fleet_serve", "fleet"),
    "containers": lazy.group("harmony.cli.containers", "app"),
    "config": lazy.group("harmony.cli.config", "config_app"),
    "secret": lazy.group("harmony.cli.config", "secret_app"),
    "lb": lazy.group("harmony.cli.lb", "lb_app"),
    "inventory": lazy.group("harmony.cli.inventory", "inventory_app"),
    "alerts": lazy.command("harmony.cli.alerts", "alerts"),
    "doctor": lazy.command("harmony.cli.doctor", "doctor"),
}

Deploy = Annotated[str, typer.Argument(help="Deployment: a .py file, a package directory, or a module name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line for runs).")]
Wait = Annotated[
    float | None,
    typer.Option(
        "--wait",
        min=0,
        help="If another run holds the target, wait at most SECONDS for it (default: as long as it takes).",
    ),
]
NoWait = Annotated[bool, typer.Option("--no-wait", help="If another run holds the target, fail at once naming it.")]
JournalPath = Annotated[
    Path | None, typer.Option("--journal", help="Journal file (default: $HARMONY_JOURNAL or the user data dir).")
]


@app.command()
@guarded
def check(
    deploy: Deploy,
    as_json: AsJson = False,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the check too.")] = False,
    daemons: Annotated[
        bool, typer.Option("--daemons/--no-daemons", help="Run haproxy -c, dnsmasq --test, nft -c where installed.")
    ] = True,
    checker: Annotated[
        str,
        typer.Option(
            "--checker",
            envvar="HARMONY_CHECKER",
            help="Type checker: mypy (default; keeps a cache of Harmony's types, so a check costs your files) or "
            "pyright (what most editors run). Both give the same verdicts on the corpus and the check set.",
        ),
    ] = "mypy",
) -> None:
    """Everything knowable before touching a machine: types (mypy or pyright, strict), every Score's values, the
    Scores against each other, and the daemons' own offline validators. Touches nothing."""
    from harmony.cli.check import check_deployment  # the validators' imports are for `check` alone
    from harmony.cli.typecheck import CHECKERS, Checker

    choices: dict[str, Checker] = {c: c for c in CHECKERS}
    chosen = choices.get(checker)
    if chosen is None:
        raise typer.BadParameter(
            f"{checker!r} is not a type checker Harmony runs; expected one of {', '.join(CHECKERS)}"
        )
    check_deployment(deploy, as_json=as_json, strict=strict, daemons=daemons, checker=chosen)


@app.command()
@guarded
def plan(
    deploy: Deploy,
    filter_: Annotated[str | None, typer.Option("--filter", help="Only Scores whose name matches.")] = None,
    as_json: AsJson = False,
    journal: JournalPath = None,
    wait: Wait = None,
    no_wait: NoWait = False,
) -> None:
    """Show what apply would change, with diffs. Changes nothing."""
    run_cmd.run(
        deploy,
        mode="plan",
        yes=True,
        pattern=filter_,
        keep_going=True,
        as_json=as_json,
        journal_path=journal,
        lock_wait=_lock_wait(wait, no_wait),
    )


@app.command()
@guarded
def apply(
    deploy: Deploy,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    filter_: Annotated[
        str | None, typer.Option("--filter", help="Only Scores whose name matches (and their dependencies).")
    ] = None,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Continue after a failed Score.")] = False,
    as_json: AsJson = False,
    journal: JournalPath = None,
    wait: Wait = None,
    no_wait: NoWait = False,
) -> None:
    """Plan, confirm, then apply the deployment's Scores in order (one run at a time per target)."""
    run_cmd.run(
        deploy,
        mode="apply",
        yes=yes,
        pattern=filter_,
        keep_going=keep_going,
        as_json=as_json,
        journal_path=journal,
        lock_wait=_lock_wait(wait, no_wait),
    )


def _lock_wait(wait: float | None, no_wait: bool) -> float | None:
    if no_wait and wait is not None:
        raise typer.BadParameter("--wait and --no-wait exclude each other; give one")
    return 0.0 if no_wait else wait


@app.command("list")
@guarded
def list_(deploy: Deploy, as_json: AsJson = False) -> None:
    """List the deployment's topology and Scores."""
    loaded = load(deploy)
    deployment = loaded.deployment
    per_host = deployment.varies_per_host
    rows = [
        {"score": s.name, "kind": kind_of(s), "depends_on": list(s.depends_on())}
        | ({"host": h.name} if per_host else {})
        for h, scores in (deployment.by_host() if per_host else [(deployment.topology, deployment.scores)])
        for s in scores
    ]
    if as_json:
        print(json.dumps({"topology": deployment.topology.name, "scores": rows}))
        return
    table = Table(title=Text(f"{loaded.name} on {deployment.topology.name}"), title_justify="left")
    for col in (("host",) if per_host else ()) + ("score", "kind", "depends on"):
        table.add_column(col)
    for r in rows:
        host = (str(r["host"]),) if per_host else ()
        table.add_row(*(Text(c) for c in (*host, str(r["score"]), str(r["kind"]), ", ".join(r["depends_on"]))))
    console.print(table)


@app.command("journal")
@guarded
def journal_(
    run_id: Annotated[str | None, typer.Argument(help="A run id (or unique prefix) to show in detail.")] = None,
    limit: Annotated[int, typer.Option(help="How many recent runs to list.")] = 20,
    as_json: AsJson = False,
    journal: JournalPath = None,
) -> None:
    """List recent runs, or show one run's Scores, plans and outcomes."""
    j = Journal(journal)
    try:
        if run_id is None:
            show_runs(console, j.runs(limit), as_json=as_json)
        else:
            show_run(console, j, run_id, as_json=as_json)
    finally:
        j.close()


def main() -> None:
    app()


def main_for(deploy: str) -> None:
    """``python -m my_deploy plan|apply|check|list [options]``: the CLI with the deployment filled in."""
    import sys

    command, *rest = sys.argv[1:] or ["plan"]
    app([command, deploy, *rest], prog_name=f"python -m {deploy}")
