"""``harmony agent run|status`` and ``harmony failover history``: parse, delegate to ``harmony.agent``, render."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.agent.history import failover_history
from harmony.agent.journal import read_decisions, read_status
from harmony.agent.main import nats_options, resolve_credentials, run_agent
from harmony.agent.supervisor import AgentSupervisor, SupervisorPaths
from harmony.cli.errors import guarded
from harmony.domain.errors import HarmonyError
from harmony.fleet.roles import failover_config, load_roles, run_roles
from harmony.infra.nats import NatsKeyValue
from harmony.infra.pyinstaller import build_agent

agent_app = typer.Typer(
    name="agent",
    help="The always-on agent: failover member, fleet device, container supervisor (roles in its config).",
    no_args_is_help=True,
)
failover_app = typer.Typer(name="failover", help="Failover groups: history for post-mortems.", no_args_is_help=True)
console = Console()

ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The agent's TOML configuration file.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class AgentNotRunning(HarmonyError):
    pass


@agent_app.command("run")
@guarded
def run(
    config: ConfigFile,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every tick's decision.")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="One JSON object per log line.")] = False,
) -> None:
    """Run the agent until SIGTERM, with the roles its file enables: failover member (heartbeat, fence, promote,
    rejoin), fleet device, container supervisor. A file without role tables is a failover member's."""
    roles = load_roles(config)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    logging.getLogger("nats").setLevel(logging.CRITICAL)
    if roles.enabled == ("failover",) and roles.failover is not None:
        asyncio.run(run_agent(roles.failover))
    else:
        asyncio.run(run_roles(roles))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {"at": record.created, "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        )


@agent_app.command("status")
@guarded
def status(config: ConfigFile, as_json: AsJson = False, decisions: int = 10) -> None:
    """The agent's last tick (from its state directory, readable even when the mesh is down)."""
    cfg = failover_config(config)
    current = read_status(cfg.state_dir)
    if current is None:
        raise AgentNotRunning(f"no status in {cfg.state_dir}: the agent {cfg.node_id} has not run yet")
    recent = read_decisions(cfg.state_dir, decisions)
    if as_json:
        print(json.dumps({"status": current.model_dump(mode="json"), "decisions": recent}))
        return
    table = Table(title=f"agent {current.node} (cluster {current.cluster}, pid {current.pid})", title_justify="left")
    table.add_column("field")
    table.add_column("value")
    for key, value in current.model_dump().items():
        table.add_row(Text(key), Text(str(value)))
    console.print(table)
    for d in recent:
        console.print(
            Text.assemble((str(d.get("at")), "dim"), f" {d.get('action')}: {d.get('reason')}"), highlight=False
        )


@failover_app.command("history")
@guarded
def history(config: ConfigFile, as_json: AsJson = False, limit: int = 200) -> None:
    """Heartbeats, decisions and promotions of the failover group, in the store's order."""
    cfg = resolve_credentials(failover_config(config))

    async def read() -> list[dict[str, object]]:
        store = await NatsKeyValue.connect(nats_options(cfg), bucket=cfg.nats.bucket)
        try:
            rows = await failover_history(store, cluster=cfg.cluster, nodes=(cfg.node_id, *cfg.peers))
        finally:
            await store.close()
        return [r.model_dump(mode="json") for r in rows[-limit:]]

    rows = asyncio.run(read())
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"failover history of {cfg.cluster}", title_justify="left")
    for col in ("rev", "stored at (store clock)", "kind", "node", "what"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(Text(str(r[k])) for k in ("revision", "stored_at", "kind", "node", "summary")))
    console.print(table)


@agent_app.command("supervise")
def supervise(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the agent's file harmony-agent and its upgrade state are.")
    ],
    args: Annotated[list[str], typer.Argument(help="The agent's arguments (after --), e.g. -- fleet agent ….")],
    trial_deadline: Annotated[
        float, typer.Option("--trial-deadline", help="Seconds a new release has to send its first heartbeat.")
    ] = 60.0,
) -> None:
    """Run DIR/harmony-agent ARGS as a child: restart it when it ends (doubling back-off), apply agent upgrades
    (a new release is kept only once it heartbeats, else the previous file comes back). The service runs this."""
    paths = SupervisorPaths(directory.resolve())
    raise typer.Exit(AgentSupervisor(paths, args, trial_deadline=trial_deadline).run())


@agent_app.command("build")
@guarded
def build(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also copy the executable here (else print its cached path).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Build even if the cache has this source's build.")] = False,
    as_json: AsJson = False,
) -> None:
    """Build the agent as one executable (interpreter and every dependency inside), cached by source hash."""
    built = build_agent(force=force)
    path = built.path
    if out is not None:
        staged = out.with_name(f".{out.name}.partial")
        shutil.copy2(built.path, staged)
        staged.replace(out)
        path = out
    if as_json:
        print(json.dumps({"path": str(path), "sha256": built.sha256, "source_digest": built.source_digest,
                          "size": built.size, "build_seconds": round(built.build_seconds, 1),
                          "cached": built.cached}))  # fmt: skip
        return
    how = "from the cache" if built.cached else f"built in {built.build_seconds:.0f}s"
    console.print(f"{path} ({built.size / 1e6:.1f} MB, {how})\nsha256 {built.sha256}", markup=False, highlight=False)
