"""The Prometheus node exporter behind ``HostMetricsExporter``: the host's CPU, memory, disks and network.

Layout under ``state_dir``: ``settings.json`` (the ``HostExporterSettings`` it runs with),
``node-exporter.pid``, ``node-exporter.log``. It listens on ``host`` (default loopback) at the settings' port.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import ValidationError

from harmony.domain.capabilities.metrics import HostExporterSettings
from harmony.domain.errors import MetricsError
from harmony.infra.daemon import read_pid, spawn_daemon, stop_daemon
from harmony.infra.http_api import answers
from harmony.infra.programs import NODE_EXPORTER
from harmony.infra.state_files import write_atomic


class NodeExporter:
    def __init__(self, *, state_dir: Path, host: str = "127.0.0.1", netns: str | None = None) -> None:
        self.state_dir = state_dir
        self.host = host
        self.netns = netns

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "node-exporter.pid"

    async def host_metrics_exporter(self) -> HostExporterSettings | None:
        if read_pid(self.pid_file) is None:
            return None
        try:
            text = await asyncio.to_thread((self.state_dir / "settings.json").read_text)
            return HostExporterSettings.model_validate_json(text)
        except (FileNotFoundError, ValidationError):
            return None

    async def apply_host_metrics_exporter(self, settings: HostExporterSettings) -> None:
        await stop_daemon(self.pid_file)
        await asyncio.to_thread(write_atomic, self.state_dir / "settings.json", settings.model_dump_json())
        listen = f"{self.host}:{settings.port}"
        problem = await spawn_daemon(
            NODE_EXPORTER.argv(f"--web.listen-address={listen}"),
            pid_file=self.pid_file,
            log_file=self.state_dir / "node-exporter.log",
            ready=lambda: answers(f"http://{listen}/metrics", timeout=3),
            netns=self.netns,
        )
        if problem is not None:
            raise MetricsError(f"node exporter {listen}", problem)

    async def stop(self) -> None:
        await stop_daemon(self.pid_file)
