"""Long-running daemons on a target host, started and stopped through the host's connector.

Two ways, chosen from what the target reports (``daemons_on``), never from configuration:

- where systemd is PID 1 (``/run/systemd/system`` exists: sd_booted's own test), every daemon is a unit
  Harmony writes to ``/etc/systemd/system/<name>.service`` and controls with ``systemctl`` (``Type=forking``
  with the daemon's own pid file; ``NetworkNamespacePath=`` when the connector works in a namespace);
- elsewhere (containers, the SSH lab, this machine), pid-file daemons: the self-daemonizing program is run
  through the connector and found again by its pid file on the next run; stopping is one shell program
  on the target (SIGTERM, wait, SIGKILL after the timeout).

Either way a daemon outlives the Harmony run that configured it, and its pid is read from its pid file
(``Connector.read_pids``, coalesced with the adapter's other reads). A daemon that does not come up is
reported with the launcher's error and the last lines of its log. A program that only runs in the
foreground is made a ``Daemon`` by ``detached`` (``start-stop-daemon`` backgrounds it and writes its pid
file); ``start_until_ready`` starts one and waits for its own readiness check (an HTTP probe, a TLS
handshake). Not guaranteed on the pid-file path:
supervision — a daemon that crashes stays down until the next apply notices it and starts it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from harmony.domain.capabilities.services import ServiceSpec, ServiceState
from harmony.domain.errors import ServiceError
from harmony.infra.connector import Connector
from harmony.infra.programs import SH, START_STOP_DAEMON

LOG_LINES = 20
SYSTEMD_MARKER = PurePosixPath("/run/systemd/system")
UNIT_DIR = PurePosixPath("/etc/systemd/system")


@dataclass(frozen=True)
class Daemon:
    """A self-daemonizing program: ``argv`` forks, writes ``pid_file`` and returns.

    ``name`` is unique on the target (it names the systemd unit); ``argv[0]`` is an absolute path.
    """

    name: str
    argv: tuple[str, ...]
    pid_file: PurePosixPath
    log_file: PurePosixPath | None = None
    description: str = ""


class DaemonControl(Protocol):
    @property
    def kind(self) -> str:
        """``systemd`` or ``pid-file``: how this target runs daemons."""
        ...

    async def pid(self, daemon: Daemon) -> int | None:
        """The daemon's pid while it runs."""
        ...

    async def start(self, daemon: Daemon, *, timeout: float = 10.0) -> str | None:
        """Start it and wait for its pid; ``None`` once it runs, else why not (with its last log lines)."""
        ...

    async def stop(self, daemon: Daemon, *, timeout: float = 10.0) -> None: ...

    async def reload(self, daemon: Daemon) -> None:
        """Ask the running daemon to reload its configuration (SIGHUP)."""
        ...


async def daemons_on(connector: Connector) -> DaemonControl:
    """systemd units where the target runs systemd as PID 1, else pid-file daemons."""
    marker = (await connector.stat_files([SYSTEMD_MARKER], with_content=False))[SYSTEMD_MARKER]
    return SystemdDaemons(connector) if marker.kind == "directory" else PidFileDaemons(connector)


async def poll_until(
    predicate: Callable[[], bool | Awaitable[bool]], *, timeout: float, interval: float = 0.02
) -> bool:
    """Wait until ``predicate()`` (awaited when it is a coroutine) holds (True) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        if answer if isinstance(answer, bool) else await answer:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


_STOP = r"""
pf=$1; limit=$2
pid=$(head -n1 -- "$pf" 2>/dev/null | tr -cd 0-9)
alive() {
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
  [ -n "$st" ] && [ "$st" != Z ]
}
if [ -n "$pid" ] && alive; then
  kill -TERM "$pid" 2>/dev/null
  i=0
  while alive && [ "$i" -lt "$limit" ]; do sleep 0.05; i=$((i + 1)); done
  if alive; then kill -KILL "$pid" 2>/dev/null; while alive; do sleep 0.05; done; fi
fi
rm -f -- "$pf"
"""


class _Base:
    def __init__(self, connector: Connector) -> None:
        self._c = connector

    async def pid(self, daemon: Daemon) -> int | None:
        return (await self._c.read_pids([daemon.pid_file]))[daemon.pid_file]

    async def _wait_running(self, daemon: Daemon, timeout: float) -> bool:
        async def running() -> bool:
            return await self.pid(daemon) is not None

        return await poll_until(running, timeout=timeout)

    async def _log_tail(self, daemon: Daemon) -> str:
        if daemon.log_file is None:
            return ""
        result = await self._c.run_command(["tail", "-n", str(LOG_LINES), "--", str(daemon.log_file)], timeout=10)
        return result.stdout.strip() if result.ok else ""


class PidFileDaemons(_Base):
    @property
    def kind(self) -> str:
        return "pid-file"

    async def start(self, daemon: Daemon, *, timeout: float = 10.0) -> str | None:
        launch = [SH.name, "-c", 'rm -f -- "$1"; shift; exec "$@"', "sh", str(daemon.pid_file), *daemon.argv]
        result = await self._c.run_command(launch, timeout=timeout)
        if result.ok and await self._wait_running(daemon, timeout):
            return None
        why = result.stderr.strip() or (
            f"exited {result.exit_status}" if not result.ok else f"no live pid in {daemon.pid_file} after {timeout}s"
        )
        return _with_log(why, await self._log_tail(daemon))

    async def stop(self, daemon: Daemon, *, timeout: float = 10.0) -> None:
        limit = str(max(1, round(timeout / 0.05)))
        await self._c.run_command([SH.name, "-c", _STOP, "sh", str(daemon.pid_file), limit], timeout=timeout * 2 + 10)

    async def reload(self, daemon: Daemon) -> None:
        pid = await self.pid(daemon)
        if pid is not None:
            await self._c.run_command(["kill", "-HUP", str(pid)], timeout=10)


def systemd_quote(arg: str) -> str:
    """One ``ExecStart=`` word: double-quoted, with systemd's specifiers (``%``) and variables (``$``) escaped."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def render_unit(daemon: Daemon, *, netns: str | None) -> str:
    """The unit file of ``daemon`` (pure; checked with ``systemd-analyze verify`` in the tests)."""
    lines = [
        "# managed by harmony",
        "[Unit]",
        f"Description={daemon.description or daemon.name} (managed by harmony)",
        "After=network.target",
        "",
        "[Service]",
        "Type=forking",
        f"PIDFile={daemon.pid_file}",
        "ExecStart=" + " ".join(systemd_quote(a) for a in daemon.argv),
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartSec=2",
    ]
    if netns is not None:
        lines.append(f"NetworkNamespacePath=/run/netns/{netns}")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


class SystemdDaemons(_Base):
    @property
    def kind(self) -> str:
        return "systemd"

    def unit(self, daemon: Daemon) -> str:
        return f"{daemon.name}.service"

    async def _systemctl(self, *args: str) -> tuple[bool, str]:
        result = await self._c.run_command(["systemctl", *args], timeout=60)
        return result.ok, (result.stderr or result.stdout).strip()

    async def start(self, daemon: Daemon, *, timeout: float = 10.0) -> str | None:
        path = UNIT_DIR / self.unit(daemon)
        text = render_unit(daemon, netns=self._c.netns).encode()
        current = (await self._c.stat_files([path], with_content=True))[path]
        if current.content != text:
            await self._c.write_file(path, text, mode=0o644, owner=None, group=None)
            ok, why = await self._systemctl("daemon-reload")
            if not ok:
                return f"systemctl daemon-reload failed: {why}"
        ok, why = await self._systemctl("restart", self.unit(daemon))
        if ok and await self._wait_running(daemon, timeout):
            return None
        journal = await self._c.run_command(
            ["journalctl", "-u", self.unit(daemon), "-n", str(LOG_LINES), "--no-pager", "-o", "cat"], timeout=30
        )
        log = journal.stdout.strip() if journal.ok else ""
        return _with_log(why or f"{self.unit(daemon)} is not running", log or await self._log_tail(daemon))

    async def stop(self, daemon: Daemon, *, timeout: float = 10.0) -> None:
        await self._systemctl("stop", self.unit(daemon))

    async def reload(self, daemon: Daemon) -> None:
        await self._systemctl("reload", self.unit(daemon))

    async def forget(self, daemon: Daemon) -> None:
        """Its unit file removed (after ``stop``), and systemd told."""
        await self._c.remove_path(UNIT_DIR / self.unit(daemon))
        await self._systemctl("daemon-reload")


def _with_log(why: str, log: str) -> str:
    return f"{why}; last log lines:\n{log}" if log else why


async def find_programs(connector: Connector, names: Sequence[str]) -> dict[str, str | None]:
    """Where each program is on the target (``command -v`` there, in one command), ``None`` when absent."""
    script = 'for p; do printf "%s\\t%s\\n" "$p" "$(command -v -- "$p")"; done'
    result = await connector.run_command([SH.name, "-c", script, "sh", *names], timeout=30)
    found: dict[str, str | None] = dict.fromkeys(names)
    for line in result.stdout.splitlines():
        name, _, path = line.partition("\t")
        if name in found and path.startswith("/"):
            found[name] = path
    return found


def kept_in(
    program: str,
    state_dir: PurePosixPath,
    argv: Sequence[str],
    *,
    launcher: str,
    pid_file: PurePosixPath,
    description: str,
) -> Daemon:
    """``detached`` for an adapter that keeps its files in ``state_dir``: one daemon per state directory on a
    host (named ``harmony-<program>-<hash of the directory>``), its output in ``<program>.log`` there."""
    tag = hashlib.sha256(str(state_dir).encode()).hexdigest()[:8]
    return detached(
        f"harmony-{program}-{tag}",
        argv,
        launcher=launcher,
        pid_file=pid_file,
        log_file=state_dir / f"{program}.log",
        description=description,
    )


def detached(
    name: str,
    argv: Sequence[str],
    *,
    launcher: str,
    pid_file: PurePosixPath,
    log_file: PurePosixPath,
    description: str = "",
) -> Daemon:
    """A foreground-only program (``argv[0]`` an absolute path) as a ``Daemon``: ``launcher``
    (``start-stop-daemon`` on the target) runs it in the background, writes its pid file and sends its
    output to ``log_file``."""
    return Daemon(
        name=name,
        argv=(
            launcher,
            "--start",
            "--background",
            "--make-pidfile",
            "--pidfile",
            str(pid_file),
            "--output",
            str(log_file),
            "--exec",
            argv[0],
            "--",
            *argv[1:],
        ),
        pid_file=pid_file,
        log_file=log_file,
        description=description,
    )


async def start_until_ready(
    connector: Connector,
    control: DaemonControl,
    daemon: Daemon,
    *,
    ready: Callable[[], Awaitable[bool]],
    timeout: float = 20.0,
) -> str | None:
    """Start ``daemon`` and wait until ``ready()`` holds: ``None`` then, else why not with its log's last
    lines (the daemon is stopped then)."""
    why = await control.start(daemon, timeout=timeout)
    if why is not None:
        return why
    deadline = time.monotonic() + timeout
    while not await ready():
        if await control.pid(daemon) is None:
            why = "exited after start"
        elif time.monotonic() > deadline:
            why = f"not ready after {timeout:g}s"
        if why is not None:
            log = ""
            if daemon.log_file is not None:
                tail = await connector.run_command(
                    ["tail", "-n", str(LOG_LINES), "--", str(daemon.log_file)], timeout=10
                )
                log = tail.stdout.strip() if tail.ok else ""
            await control.stop(daemon)
            return _with_log(why, log)
        await asyncio.sleep(0.05)
    return None


SERVICE_RUN_DIR = PurePosixPath("/run/harmony")
SERVICE_STATE_DIR = PurePosixPath("/var/lib/harmony/services")
SERVICE_LOG_DIR = PurePosixPath("/var/log/harmony")


class ConnectorServices:
    """``ServiceManager`` over a connector: a foreground program as a systemd unit where the target runs
    systemd, else a pid-file daemon (``start-stop-daemon`` backgrounds it). The revision a service was
    started with is kept in ``/var/lib/harmony/services/<name>.revision``; its output goes to
    ``/var/log/harmony/<name>.log``. Not guaranteed on the pid-file path: a crashed service stays down until
    the next apply (the agent's service is its supervisor, ``harmony agent supervise``, which restarts the
    agent it runs)."""

    def __init__(self, connector: Connector) -> None:
        self._c = connector
        self._control: DaemonControl | None = None

    async def daemons(self) -> DaemonControl:
        if self._control is None:
            self._control = await daemons_on(self._c)
        return self._control

    def daemon(self, spec: ServiceSpec) -> Daemon:
        launcher = str(PurePosixPath("/usr/sbin") / START_STOP_DAEMON.name)  # dpkg puts it there on Debian
        return detached(
            spec.name, spec.argv, launcher=launcher, pid_file=SERVICE_RUN_DIR / f"{spec.name}.pid",
            log_file=SERVICE_LOG_DIR / f"{spec.name}.log", description=spec.description or spec.name,
        )  # fmt: skip

    def _revision_file(self, spec: ServiceSpec) -> PurePosixPath:
        return SERVICE_STATE_DIR / f"{spec.name}.revision"

    async def service_state(self, spec: ServiceSpec) -> ServiceState:
        control = await self.daemons()
        path = self._revision_file(spec)
        found = (await self._c.stat_files([path], with_content=True))[path]
        revision = found.content.decode().strip() if found.content is not None else None
        running = await control.pid(self.daemon(spec)) is not None
        return ServiceState(
            running=running, revision=revision, manager="systemd" if control.kind == "systemd" else "daemon"
        )

    async def start_service(self, spec: ServiceSpec) -> None:
        control = await self.daemons()
        daemon = self.daemon(spec)
        made = await self._c.run_command(
            ["mkdir", "-p", "--", str(SERVICE_RUN_DIR), str(SERVICE_STATE_DIR), str(SERVICE_LOG_DIR)], timeout=30
        )
        if not made.ok:
            raise ServiceError(f"{spec.name}: cannot create its directories: {made.stderr.strip()}")
        if await control.pid(daemon) is not None:
            await control.stop(daemon)
        why = await control.start(daemon, timeout=30)
        if why is not None:
            raise ServiceError(f"service {spec.name} did not start: {why}")
        await self._c.write_file(self._revision_file(spec), spec.revision.encode(), mode=0o644, owner=None, group=None)

    async def remove_service(self, spec: ServiceSpec) -> None:
        control = await self.daemons()
        daemon = self.daemon(spec)
        await control.stop(daemon)
        if isinstance(control, SystemdDaemons):
            await control.forget(daemon)
        await self._c.remove_path(self._revision_file(spec))
