"""The Prometheus node exporter behind ``HostMetricsExporter``: the host's CPU, memory, disks and network.

Layout under ``state_dir`` on the connector's host: ``settings.json`` (the ``HostExporterSettings`` it runs
with), ``node-exporter.pid``, ``node-exporter.log``. It listens on ``host`` (default loopback) at the
settings' port and runs as that host runs daemons (``harmony.infra.daemon``).
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from pydantic import ValidationError

from harmony.domain.capabilities.metrics import HostExporterSettings
from harmony.domain.errors import MetricsError
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on, find_programs, kept_in, start_until_ready
from harmony.infra.http_api import answers
from harmony.infra.programs import NODE_EXPORTER, START_STOP_DAEMON


class NodeExporter:
    def __init__(self, *, state_dir: PurePosixPath, connector: Connector, host: str = "127.0.0.1") -> None:
        self.state_dir = state_dir
        self.host = host
        self._c = connector
        self._control: DaemonControl | None = None

    @property
    def pid_file(self) -> PurePosixPath:
        return self.state_dir / "node-exporter.pid"

    async def pid(self) -> int | None:
        """The running exporter's pid."""
        return (await self._c.read_pids([self.pid_file]))[self.pid_file]

    async def host_metrics_exporter(self) -> HostExporterSettings | None:
        path = self.state_dir / "settings.json"
        found, pids = await asyncio.gather(
            self._c.stat_files([path], with_content=True), self._c.read_pids([self.pid_file])
        )
        state = found[path]
        if pids[self.pid_file] is None or state.kind != "file" or state.content is None:
            return None
        try:
            return HostExporterSettings.model_validate_json(state.content)
        except ValidationError:
            return None

    async def apply_host_metrics_exporter(self, settings: HostExporterSettings) -> None:
        listen = f"{self.host}:{settings.port}"
        found = await find_programs(self._c, [NODE_EXPORTER.name, START_STOP_DAEMON.name])
        executable, launcher = found[NODE_EXPORTER.name], found[START_STOP_DAEMON.name]
        if executable is None or launcher is None:
            missing = NODE_EXPORTER if executable is None else START_STOP_DAEMON
            raise MetricsError(
                f"node exporter {listen}", f"{missing.name} is not installed there (apt-get install {missing.package})"
            )
        control = await self._daemons()
        await control.stop(self._daemon(""))
        made = await self._c.run_command(["mkdir", "-p", "--", str(self.state_dir)], timeout=30)
        if not made.ok:
            raise MetricsError(f"node exporter {listen}", f"cannot create {self.state_dir}: {made.stderr.strip()}")
        await self._c.write_file(
            self.state_dir / "settings.json", settings.model_dump_json().encode(), mode=0o644, owner=None, group=None
        )
        daemon = self._daemon(executable, f"--web.listen-address={listen}", launcher=launcher)
        problem = await start_until_ready(
            self._c, control, daemon, ready=lambda: answers(f"http://{listen}/metrics", timeout=3)
        )
        if problem is not None:
            raise MetricsError(f"node exporter {listen}", problem)

    async def stop(self) -> None:
        await (await self._daemons()).stop(self._daemon(""))

    async def _daemons(self) -> DaemonControl:
        if self._control is None:
            self._control = await daemons_on(self._c)
        return self._control

    def _daemon(self, executable: str, *args: str, launcher: str = "") -> Daemon:
        """The exporter as a daemon (``executable``/``launcher`` matter only to start it)."""
        return kept_in(
            "node-exporter", self.state_dir, (executable, *args), launcher=launcher, pid_file=self.pid_file,
            description="Prometheus node exporter (host metrics)",
        )  # fmt: skip
