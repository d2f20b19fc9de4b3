"""HAProxy behind ``LoadBalancer``: master-worker daemon, validated hitless reloads, runtime API for drain.

Layout under ``state_dir``: ``haproxy.d/00-global.cfg`` and ``haproxy.d/fe-<name>.cfg`` (one file per
frontend and its backend; the first line carries the ``Frontend`` as JSON so it reads back exactly),
``master.sock`` (master CLI: reload), ``admin.sock`` (runtime API of the worker), ``haproxy.pid``.

How the contract is kept:
- every configuration change is first checked with ``haproxy -c`` on a staged copy of ``haproxy.d``; a
  rejected one changes nothing on disk or in the running proxy;
- a change is applied by ``reload`` on the master socket: the new worker takes over the listening sockets
  (``expose-fd listeners``) and the old one finishes its connections, so none is refused or cut;
- drain and activate go through the runtime API (``set server … state drain|ready``) without a reload,
  and are written to the frontend's file (a draining backend has ``weight 0``) so a later reload keeps them;
- a failing connection attempt is retried on another backend (``retries``, ``option redispatch``).
Not guaranteed: health state carries over a reload (the new worker checks afresh, assuming up).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from harmony.domain.capabilities.load_balancer import (
    Backend,
    BackendAdminState,
    BackendHealth,
    BackendStatus,
    Frontend,
    binds_clash,
)
from harmony.domain.errors import LoadBalancerError
from harmony.domain.names import NonEmpty, ResourceName, non_empty
from harmony.infra.daemon import poll_until, read_pid, start_daemon, stop_daemon
from harmony.infra.local_process import run_local
from harmony.infra.model_comment import embed, extract
from harmony.infra.programs import HAPROXY
from harmony.infra.state_files import write_atomic


class HaproxyError(LoadBalancerError):
    """HAProxy rejected a configuration, or its daemon or runtime API failed."""


def render_global(state_dir: Path) -> str:
    return "\n".join(
        [
            "# managed by harmony: global HAProxy settings",
            "global",
            f"    stats socket {state_dir / 'admin.sock'} mode 600 level admin expose-fd listeners",
            "    stats timeout 30s",
            "defaults",
            "    timeout connect 5s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout check 2s",
            "    retries 3",
            "    option redispatch 1",
            "",
        ]
    )


def render_frontend(frontend: Frontend) -> str:
    """The frontend, its backend section and one ``server`` line per backend."""
    f = frontend
    lines = [
        embed("lb", f.model_dump_json()).rstrip("\n"),
        f"frontend {f.name}",
        f"    bind {f.bind}",
        f"    mode {f.mode}",
        f"    default_backend {f.name}",
        f"backend {f.name}",
        f"    mode {f.mode}",
        f"    balance {f.balance}",
    ]
    check = ""
    hc = f.health_check
    if hc is not None:
        if hc.protocol == "http":
            lines += [f"    option httpchk GET {hc.path}", f"    http-check expect status {hc.expect_status}"]
        check = f" check inter {max(1, round(hc.interval * 1000))} rise {hc.rise} fall {hc.fall}"
    for b in f.backends:
        weight = 0 if b.state == "draining" else b.weight
        address = f"[{b.address}]" if b.address.version == 6 else str(b.address)
        lines.append(f"    server {b.name} {address}:{b.port} weight {weight}{check}")
    return "\n".join(lines) + "\n"


def parse_frontend(text: str) -> Frontend | None:
    """The frontend a file was rendered from, or ``None`` when the file is not exactly such a rendering."""
    found = extract(text)
    if found is None or found[0] != "lb":
        return None
    try:
        frontend = Frontend.model_validate_json(found[1])
    except ValidationError:
        return None
    return frontend if render_frontend(frontend) == text else None


def parse_stat(csv_text: str, frontend: Frontend) -> list[BackendStatus]:
    """Backend states of ``frontend`` from the runtime API's ``show stat`` CSV."""
    rows = list(csv.DictReader(io.StringIO(csv_text.removeprefix("# "))))
    statuses: list[BackendStatus] = []
    for b in frontend.backends:
        row = next((r for r in rows if r.get("pxname") == frontend.name and r.get("svname") == b.name), None)
        if row is None:
            continue
        status = (row.get("status") or "").strip()
        weight = int(row.get("weight") or 0)
        if status.startswith(("DOWN", "MAINT")):
            health = BackendHealth.DOWN
        elif status == "no check":
            health = BackendHealth.UNCHECKED
        else:
            health = BackendHealth.UP
        statuses.append(
            BackendStatus(
                frontend=frontend.name,
                name=b.name,
                address=b.address,
                port=b.port,
                state="draining" if status == "DRAIN" or weight == 0 else "active",
                health=health,
                sessions=int(row.get("scur") or 0),
            )
        )
    return statuses


def only_states_differ(old: Frontend, new: Frontend) -> bool:
    """True when ``new`` is ``old`` with some backends drained or activated (a runtime-only change)."""
    if [b.name for b in old.backends] != [b.name for b in new.backends]:
        return False
    strip = {"backends": tuple(b.model_copy(update={"state": "active"}) for b in old.backends)}
    stripped_new = {"backends": tuple(b.model_copy(update={"state": "active"}) for b in new.backends)}
    return old.model_copy(update=strip) == new.model_copy(update=stripped_new) and old != new


class Haproxy:
    """One HAProxy master-worker daemon, in network namespace ``netns`` (or this one)."""

    def __init__(self, *, state_dir: Path, netns: str | None = None) -> None:
        self.state_dir = state_dir
        self.netns = netns
        self._lock = asyncio.Lock()

    @property
    def _confd(self) -> Path:
        return self.state_dir / "haproxy.d"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "haproxy.pid"

    @property
    def _loaded(self) -> Path:
        return self.state_dir / "loaded"

    def _file(self, name: str) -> Path:
        return self._confd / f"fe-{name}.cfg"

    # --- reads -------------------------------------------------------------------------------------------

    async def frontends(self) -> Sequence[Frontend]:
        return await asyncio.to_thread(self._served)

    def _served(self) -> list[Frontend]:
        if read_pid(self._pid_file) is None or not self._confd.is_dir():
            return []
        texts = self._texts()
        loaded = self._loaded.read_text() if self._loaded.exists() else ""
        if loaded != _digest(texts):
            return []
        return [f for f in map(parse_frontend, texts.values()) if f is not None]

    def _texts(self) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted(self._confd.glob("*.cfg"))}

    async def backend_states(self, frontend: ResourceName) -> Sequence[BackendStatus]:
        declared = await self._declared(frontend)
        return parse_stat(await self.runtime("show stat -1 4 -1"), declared)

    async def _declared(self, name: ResourceName) -> Frontend:
        current = {f.name: f for f in await self.frontends()}
        if name not in current:
            known = ", ".join(sorted(current)) or "none"
            raise HaproxyError(f"frontend {name}", f"not configured (configured: {known})")
        return current[name]

    # --- configuration changes ---------------------------------------------------------------------------

    async def put_frontend(self, frontend: Frontend) -> None:
        async with self._lock:
            current = {f.name: f for f in await self.frontends()}
            for other in current.values():
                if other.name != frontend.name and binds_clash(other, frontend):
                    raise HaproxyError(
                        f"frontend {frontend.name}",
                        f"{frontend.bind} is already used by frontend {other.name} ({other.bind})",
                    )
            old = current.get(frontend.name)
            if old is not None and only_states_differ(old, frontend):
                await self._set_states(old, frontend)
                return
            await self._change({frontend.name: render_frontend(frontend)}, subject=f"frontend {frontend.name}")

    async def remove_frontend(self, name: ResourceName) -> None:
        async with self._lock:
            if await asyncio.to_thread(self._file(name).exists):
                await self._change({name: None}, subject=f"frontend {name}")

    async def add_backend(self, frontend: ResourceName, backend: Backend) -> None:
        async with self._lock:
            f = await self._declared(frontend)
            backends = [b for b in f.backends if b.name != backend.name] + [backend]
            updated = f.model_copy(update={"backends": non_empty(backends, "backends")})
            await self._change({frontend: render_frontend(updated)}, subject=f"backend {frontend}/{backend.name}")

    async def drain_backend(self, frontend: ResourceName, backend: ResourceName) -> None:
        async with self._lock:
            f = await self._declared(frontend)
            await self._set_states(f, _with_state(f, backend, "draining"))

    async def activate_backend(self, frontend: ResourceName, backend: ResourceName) -> None:
        async with self._lock:
            f = await self._declared(frontend)
            await self._set_states(f, _with_state(f, backend, "active"))

    async def remove_backend(self, frontend: ResourceName, backend: ResourceName, *, grace: float = 30.0) -> None:
        async with self._lock:
            f = await self._declared(frontend)
            subject = f"backend {frontend}/{backend}"
            rest = [b for b in f.backends if b.name != backend]
            if len(rest) == len(f.backends):
                return
            if not rest:
                raise HaproxyError(subject, "is the last backend of the frontend; remove the frontend instead")
            await self._set_states(f, _with_state(f, backend, "draining"))
            if not await self._wait_idle(f, backend, grace):
                await self.runtime(f"shutdown sessions server {frontend}/{backend}")
            updated = f.model_copy(update={"backends": non_empty(rest, "backends")})
            await self._change({frontend: render_frontend(updated)}, subject=subject)

    async def _wait_idle(self, frontend: Frontend, backend: str, grace: float) -> bool:
        deadline = time.monotonic() + grace
        while True:
            states = parse_stat(await self.runtime("show stat -1 4 -1"), frontend)
            if all(s.sessions == 0 for s in states if s.name == backend):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)

    async def _set_states(self, old: Frontend, new: Frontend) -> None:
        for before, after in zip(old.backends, new.backends, strict=True):
            if before.state == after.state:
                continue
            server = f"{new.name}/{after.name}"
            if after.state == "draining":
                await self.runtime(f"set server {server} state drain")
            else:
                await self.runtime(f"set server {server} state ready")
                await self.runtime(f"set weight {server} {after.weight}")
        await asyncio.to_thread(self._write_marked, self._file(new.name), render_frontend(new))

    def _write_marked(self, path: Path, text: str) -> None:
        write_atomic(path, text)
        write_atomic(self._loaded, _digest(self._texts()))

    async def _change(self, files: dict[str, str | None], *, subject: str) -> None:
        """Stage, validate with ``haproxy -c``, write, then start or hitlessly reload."""
        staged = await asyncio.to_thread(self._stage, files)
        try:
            check = await run_local(HAPROXY.argv("-c", "-q", "-f", str(staged)), timeout=30)
            if not check.ok:
                detail = (check.stderr or check.stdout).strip().replace(str(staged), str(self._confd))
                raise HaproxyError(subject, f"HAProxy rejected the configuration: {detail}")
            await asyncio.to_thread(self._commit, files)
        finally:
            await asyncio.to_thread(shutil.rmtree, staged, True)
        if not any(p.startswith("fe-") for p in await asyncio.to_thread(lambda: list(self._texts()))):
            await stop_daemon(self._pid_file)
            return
        await self._reload_or_start(subject)

    def _stage(self, files: dict[str, str | None]) -> Path:
        self._confd.mkdir(parents=True, exist_ok=True)
        write_atomic(self._confd / "00-global.cfg", render_global(self.state_dir))
        staged = Path(tempfile.mkdtemp(prefix="haproxy-check-", dir=self.state_dir))
        for path in self._confd.glob("*.cfg"):
            shutil.copy(path, staged / path.name)
        for name, text in files.items():
            target = staged / self._file(name).name
            if text is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(text)
        return staged

    def _commit(self, files: dict[str, str | None]) -> None:
        for name, text in files.items():
            if text is None:
                self._file(name).unlink(missing_ok=True)
            else:
                write_atomic(self._file(name), text)

    async def _reload_or_start(self, subject: str) -> None:
        if read_pid(self._pid_file) is None:
            result = await start_daemon(
                HAPROXY.argv(
                    "-W",
                    "-D",
                    "-S",
                    f"{self.state_dir / 'master.sock'},mode,600",
                    "-p",
                    str(self._pid_file),
                    "-f",
                    str(self._confd),
                ),
                pid_file=self._pid_file,
                netns=self.netns,
            )
            if not result.ok or read_pid(self._pid_file) is None:
                raise HaproxyError(subject, f"HAProxy did not start: {result.stderr.strip() or 'no pid file'}")
        else:
            old_worker = await self._worker_pid()
            await self._master("reload")

            # The master re-executes itself on reload: ready again once it answers and a new worker serves.
            deadline = time.monotonic() + 10
            while True:
                pid = await self._worker_pid()
                if pid is not None and pid != old_worker and await self._master_answers():
                    break
                if time.monotonic() > deadline:
                    raise HaproxyError(subject, "HAProxy did not bring up a new worker after the reload")
                await asyncio.sleep(0.02)

        async def socket_ready() -> bool:
            return await asyncio.to_thread((self.state_dir / "admin.sock").exists)

        if not await poll_until(socket_ready, timeout=10):
            raise HaproxyError(subject, "HAProxy's runtime socket did not appear")
        await asyncio.to_thread(lambda: write_atomic(self._loaded, _digest(self._texts())))

    async def _master(self, command: str) -> str:
        """A master CLI command, retried while the master is re-executing (connection refused)."""
        deadline = time.monotonic() + 10
        while True:
            try:
                return await _unix_command(self.state_dir / "master.sock", command)
            except HaproxyError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    async def _master_answers(self) -> bool:
        try:
            return "worker" in await _unix_command(self.state_dir / "master.sock", "show proc")
        except HaproxyError:
            return False

    async def _worker_pid(self) -> int | None:
        try:
            info = await self.runtime("show info")
        except HaproxyError:
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    async def runtime(self, command: str) -> str:
        """Send one command to the worker's runtime API and return its answer."""
        return await _unix_command(self.state_dir / "admin.sock", command)

    async def stop(self) -> None:
        """Stop the daemon (tests and teardown); the configuration stays on disk."""
        await stop_daemon(self._pid_file)


def _with_state(frontend: Frontend, backend: str, state: BackendAdminState) -> Frontend:
    if frontend.backend(backend) is None:
        known = ", ".join(b.name for b in frontend.backends)
        raise HaproxyError(f"backend {frontend.name}/{backend}", f"not configured (backends: {known})")
    backends: NonEmpty[Backend] = non_empty(
        (b.model_copy(update={"state": state}) if b.name == backend else b for b in frontend.backends), "backends"
    )
    return frontend.model_copy(update={"backends": backends})


async def _unix_command(path: Path, command: str, timeout: float = 5.0) -> str:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(command.encode() + b"\n")
                await writer.drain()
                writer.write_eof()  # the master CLI answers once the client has finished sending
                answer = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError) as e:
        raise HaproxyError(str(path), f"{command!r} failed: {e}") from e
    return answer.decode(errors="replace")


def _digest(texts: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name, text in sorted(texts.items()):
        h.update(f"\0{name}\0{text}".encode())
    return h.hexdigest()
