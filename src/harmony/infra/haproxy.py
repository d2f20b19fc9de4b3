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
- adding a new backend and removing one also go through the runtime API when HAProxy can do them there
  (``add server`` + ``enable health`` + ``enable server``; ``set server … state maint`` + ``del server``): a
  blue-green switch then costs no ``haproxy -c`` and no reload. The frontend's file is written once the
  running proxy has the change, so a later reload shows the same state; a runtime change whose file cannot
  be written is taken back out of the running proxy. What the runtime API cannot do — a static balance
  (``source``), replacing a backend of the same name, adding a draining one, deleting a server that still
  holds connections (idle ones kept for reuse are let go when it enters maintenance) or an ``add server``
  HAProxy refuses — goes the validated reload way above;
- a failing connection attempt is retried on another backend (``retries``, ``option redispatch``).
Not guaranteed: health state carries over a reload (the new worker checks afresh, assuming up).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from harmony.domain.capabilities.load_balancer import (
    Backend,
    BackendAdminState,
    BackendHealth,
    BackendStatus,
    Frontend,
    binds_clash,
)
from harmony.domain.errors import CommandError, FilesError, LoadBalancerError
from harmony.domain.names import NonEmpty, ResourceName, non_empty
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on, poll_until
from harmony.infra.local_connector import LocalConnector
from harmony.infra.model_comment import embed, extract
from harmony.infra.programs import HAPROXY, SH


class HaproxyError(LoadBalancerError):
    """HAProxy rejected a configuration, or its daemon or runtime API failed."""


def render_global(state_dir: Path | PurePosixPath) -> str:
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
    hc = f.health_check
    if hc is not None and hc.protocol == "http":
        lines += [f"    option httpchk GET {hc.path}", f"    http-check expect status {hc.expect_status}"]
    lines += [f"    server {b.name} {server_arguments(f, b)}" for b in f.backends]
    return "\n".join(lines) + "\n"


def server_arguments(frontend: Frontend, backend: Backend) -> str:
    """What follows the name on a ``server`` line: the same for the file and the runtime ``add server``."""
    weight = 0 if backend.state == "draining" else backend.weight
    address = f"[{backend.address}]" if backend.address.version == 6 else str(backend.address)
    check = ""
    hc = frontend.health_check
    if hc is not None:
        check = f" check inter {max(1, round(hc.interval.total_seconds() * 1000))} rise {hc.rise} fall {hc.fall}"
    return f"{address}:{backend.port} weight {weight}{check}"


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
    """One HAProxy master-worker daemon on the host behind ``connector``, configured under ``state_dir`` there.

    The runtime API and the master CLI are unix sockets on that host, reached through the connector
    (in-process locally, one ``socat`` over SSH), so one implementation serves this machine and a remote
    router. Commands that go together are sent as one request (``cmd1; cmd2``): one exchange, not one each.
    """

    def __init__(self, *, state_dir: Path | PurePosixPath, connector: Connector | None = None) -> None:
        self.state_dir = PurePosixPath(state_dir)
        self._c: Connector = connector or LocalConnector(name="localhost")
        self._lock = asyncio.Lock()
        self._daemons: DaemonControl | None = None
        tag = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        self.daemon = Daemon(
            name=f"harmony-haproxy-{tag}",
            argv=(
                HAPROXY.name,
                "-W",
                "-D",
                "-S",
                f"{self.state_dir / 'master.sock'},mode,600",
                "-p",
                str(self.state_dir / "haproxy.pid"),
                "-f",
                str(self._confd),
            ),
            pid_file=self.state_dir / "haproxy.pid",
            description=f"HAProxy of {self.state_dir}",
        )

    @property
    def _confd(self) -> PurePosixPath:
        return self.state_dir / "haproxy.d"

    @property
    def _loaded(self) -> PurePosixPath:
        return self.state_dir / "loaded"

    def _file(self, name: str) -> PurePosixPath:
        return self._confd / f"fe-{name}.cfg"

    async def _control(self) -> DaemonControl:
        if self._daemons is None:
            self._daemons = await daemons_on(self._c)
        return self._daemons

    # --- reads -------------------------------------------------------------------------------------------

    async def frontends(self) -> Sequence[Frontend]:
        serving, texts = await self._snapshot()
        if not serving:
            return []
        return [f for f in map(parse_frontend, (texts[n] for n in sorted(texts))) if f is not None]

    async def _snapshot(self) -> tuple[bool, dict[str, str]]:
        """(the proxy runs and was (re)loaded with exactly the files on disk, the files on disk)."""
        pids, dirs, loaded = await asyncio.gather(
            self._c.read_pids([self.daemon.pid_file]),
            self._c.read_directories([self._confd]),
            self._c.stat_files([self._loaded], with_content=True),
        )
        files = dirs[self._confd]
        texts = {n: c.decode(errors="replace") for n, c in (files or {}).items() if n.endswith(".cfg")}
        marker = loaded[self._loaded].content
        serving = (
            pids[self.daemon.pid_file] is not None
            and files is not None
            and marker is not None
            and marker.decode(errors="replace") == _digest(texts)
        )
        return serving, texts

    async def backend_states(self, frontend: ResourceName) -> Sequence[BackendStatus]:
        declared = await self._declared(frontend)
        return parse_stat(await self.runtime(_SHOW_STAT), declared)

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
            _, texts = await self._snapshot()
            if self._file(name).name in texts:
                await self._change({name: None}, subject=f"frontend {name}")

    async def add_backend(self, frontend: ResourceName, backend: Backend) -> None:
        async with self._lock:
            f = await self._declared(frontend)
            existing = f.backend(backend.name)
            if existing == backend:
                return
            backends = [b for b in f.backends if b.name != backend.name] + [backend]
            updated = f.model_copy(update={"backends": non_empty(backends, "backends")})
            subject = f"backend {frontend}/{backend.name}"
            refused = ""
            if existing is None and backend.state == "active" and f.balance in _DYNAMIC_BALANCE:
                refused = await self._add_server(updated, backend, subject)
                if not refused:
                    return
            try:
                await self._change({frontend: render_frontend(updated)}, subject=subject)
            except HaproxyError as e:
                if refused:
                    raise HaproxyError(subject, f"{_reason(e)} (before that, {refused})") from e
                raise

    async def _add_server(self, updated: Frontend, backend: Backend, subject: str) -> str:
        """Add ``backend`` to the running proxy and then to the file; ``""`` when done, else why HAProxy
        refused the ``add server`` (nothing changed: the caller takes the validated reload way instead).

        Once the server exists in the running proxy, a failure to enable it or to write the file takes it
        out again and raises: the proxy and the file keep agreeing."""
        server = f"{updated.name}/{backend.name}"
        add = f"add server {server} {server_arguments(updated, backend)}"
        answer = (await self.runtime(add)).strip()
        if answer != "New server registered.":
            return f"HAProxy's runtime API refused {add!r}: {answer}"
        enable = [*([f"enable health {server}"] if updated.health_check is not None else []), f"enable server {server}"]
        try:
            answers = await self.runtime_batch(enable)
            refused = [f"{c!r}: {a.strip()}" for c, a in zip(enable, answers, strict=True) if a.strip()]
            if refused:
                raise HaproxyError(subject, f"HAProxy refused {'; '.join(refused)}")
            await self._write(self._file(updated.name), render_frontend(updated))
        except HaproxyError as e:
            undo = await self._delete_server(server)
            outcome = (
                "it was taken out of the running proxy again, nothing changed"
                if not undo
                else (
                    f"taking it out of the running proxy failed too ({undo}): reload HAProxy "
                    f"(harmony re-applies the frontend) to bring it back to {self._file(updated.name)}"
                )
            )
            raise HaproxyError(subject, f"added at run time, then {_reason(e)}; {outcome}; fix that and re-run") from e
        await self._mark_loaded()
        return ""

    async def _delete_server(self, server: str) -> str:
        """Take ``server`` out of the running proxy (maintenance, then delete); ``""`` when done, else
        HAProxy's answer (the server is then back in drain: no new connections, the existing ones finish)."""
        # Two exchanges: "del server" ends its answer without the empty line that separates batched answers.
        maint = (await self.runtime(f"set server {server} state maint")).strip()
        deleted = "" if maint else (await self.runtime(f"del server {server}")).strip()
        if deleted == "Server deleted.":
            return ""
        await self.runtime(f"set server {server} state drain")
        return (
            f"HAProxy's runtime API refused {'set server … state maint' if maint else 'del server'}: {maint or deleted}"
        )

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
            stat = await self._set_states(f, _with_state(f, backend, "draining"), then=_SHOW_STAT)
            if not await self._wait_idle(f, backend, grace, stat):
                await self.runtime(f"shutdown sessions server {frontend}/{backend}")
            updated = f.model_copy(update={"backends": non_empty(rest, "backends")})
            # Deleted at run time when HAProxy can (no connection left to it, idle ones included); else reloaded.
            if not await self._delete_server(f"{frontend}/{backend}"):
                try:
                    await self._write(self._file(frontend), render_frontend(updated))
                except HaproxyError as e:
                    raise HaproxyError(
                        subject,
                        f"deleted from the running proxy, but {_reason(e)}; the file still lists it as draining "
                        "(no new connections go to it after a reload): fix that and re-run",
                    ) from e
                await self._mark_loaded()
                return
            await self._change({frontend: render_frontend(updated)}, subject=subject)

    async def _wait_idle(self, frontend: Frontend, backend: str, grace: float, stat: str) -> bool:
        """``stat``: the first ``show stat`` answer, read with the drain itself."""
        deadline = time.monotonic() + grace
        while True:
            states = parse_stat(stat, frontend)
            if all(s.sessions == 0 for s in states if s.name == backend):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
            stat = await self.runtime(_SHOW_STAT)

    async def _set_states(self, old: Frontend, new: Frontend, *, then: str | None = None) -> str:
        """Every admin-state change in one runtime request, ``then`` (a read) in the same one; its answer."""
        changes: list[str] = []
        for before, after in zip(old.backends, new.backends, strict=True):
            if before.state == after.state:
                continue
            server = f"{new.name}/{after.name}"
            if after.state == "draining":
                changes.append(f"set server {server} state drain")
            else:
                changes += [f"set server {server} state ready", f"set weight {server} {after.weight}"]
        answers = await self.runtime_batch([*changes, *([then] if then is not None else [])])
        refused = [f"{c!r}: {a.strip()}" for c, a in zip(changes, answers, strict=False) if a.strip()]
        if refused:
            raise HaproxyError(f"frontend {new.name}", f"HAProxy refused {'; '.join(refused)}")
        await self._write(self._file(new.name), render_frontend(new))
        await self._mark_loaded()
        return answers[-1] if then is not None else ""

    async def _write(self, path: PurePosixPath, text: str) -> None:
        try:
            await self._c.write_file(path, text.encode(), mode=0o644, owner=None, group=None)
        except FilesError as e:
            raise HaproxyError(str(path), str(e)) from e

    async def _mark_loaded(self) -> None:
        _, texts = await self._snapshot()
        await self._write(self._loaded, _digest(texts))

    async def _change(self, files: dict[str, str | None], *, subject: str) -> None:
        """Stage, validate with ``haproxy -c``, write, then start or hitlessly reload."""
        staged = self.state_dir / "staging"
        stage = await self._c.run_command([SH.name, "-c", _STAGE, "sh", str(self._confd), str(staged)], timeout=30)
        if not stage.ok:
            raise HaproxyError(subject, f"cannot stage the configuration: {stage.stderr.strip()}")
        await self._write(self._confd / "00-global.cfg", render_global(self.state_dir))
        await self._write(staged / "00-global.cfg", render_global(self.state_dir))
        for name, text in files.items():
            if text is None:
                await self._c.remove_path(staged / self._file(name).name)
            else:
                await self._write(staged / self._file(name).name, text)
        try:
            check = await self._c.run_command([HAPROXY.name, "-c", "-q", "-f", str(staged)], timeout=30)
            if not check.ok:
                detail = (check.stderr or check.stdout).strip().replace(str(staged), str(self._confd))
                raise HaproxyError(subject, f"HAProxy rejected the configuration: {detail}")
            for name, text in files.items():
                if text is None:
                    await self._c.remove_path(self._file(name))
                else:
                    await self._write(self._file(name), text)
        finally:
            await self._c.run_command(["rm", "-rf", "--", str(staged)], timeout=30)
        _, texts = await self._snapshot()
        if not any(n.startswith("fe-") for n in texts):
            await (await self._control()).stop(self.daemon)
            return
        await self._reload_or_start(subject)

    async def _reload_or_start(self, subject: str) -> None:
        daemons = await self._control()
        if await daemons.pid(self.daemon) is None:
            problem = await daemons.start(self.daemon)
            if problem is not None:
                raise HaproxyError(subject, f"HAProxy did not start: {problem}")
        else:
            old_worker = await self._worker_pid()
            await self._master("reload")

            # The master re-executes itself on reload: ready again once it answers and lists a new worker
            # (forked after the listeners, the runtime socket among them, were bound).
            deadline = time.monotonic() + 10
            while True:
                pid = await self._worker_pid()
                if pid is not None and pid != old_worker:
                    break
                if time.monotonic() > deadline:
                    raise HaproxyError(subject, "HAProxy did not bring up a new worker after the reload")
                await asyncio.sleep(0.02)
        admin = self.state_dir / "admin.sock"

        async def socket_ready() -> bool:
            return (await self._c.stat_files([admin], with_content=False))[admin].kind != "missing"

        if not await poll_until(socket_ready, timeout=10):
            raise HaproxyError(subject, "HAProxy's runtime socket did not appear")
        await self._mark_loaded()

    async def _master(self, command: str) -> str:
        """A master CLI command, retried while the master is re-executing (connection refused)."""
        deadline = time.monotonic() + 10
        while True:
            try:
                return await self._socket(self.state_dir / "master.sock", command)
            except HaproxyError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    async def _worker_pid(self) -> int | None:
        """The current worker's pid as the master lists it (``None``: the master does not answer)."""
        try:
            return current_worker(await self._socket(self.state_dir / "master.sock", "show proc"))
        except HaproxyError:
            return None

    async def runtime(self, command: str) -> str:
        """Send one command to the worker's runtime API and return its answer."""
        return (await self.runtime_batch([command]))[0]

    async def runtime_batch(self, commands: Sequence[str]) -> list[str]:
        """Send ``commands`` to the runtime API as one request (``a; b; c``); their answers, in order."""
        if not commands:
            return []
        if any(";" in c or "\n" in c for c in commands):
            raise HaproxyError("runtime API", f"a command may not contain ';' or a newline: {list(commands)!r}")
        answer = await self._socket(self.state_dir / "admin.sock", "; ".join(commands))
        return [answer] if len(commands) == 1 else split_answers(answer, len(commands))

    async def _socket(self, path: PurePosixPath, command: str) -> str:
        try:
            answer = await self._c.exchange_unix(path, command.encode() + b"\n", timeout=5)
        except CommandError as e:
            raise HaproxyError(str(path), f"{command!r} failed: {e.stderr.strip() or e}") from e
        return answer.decode(errors="replace")

    async def stop(self) -> None:
        """Stop the daemon (tests and teardown); the configuration stays on disk."""
        await (await self._control()).stop(self.daemon)


_STAGE = r"""
set -e
mkdir -p "$1"
rm -rf -- "$2"
mkdir -p "$2"
for f in "$1"/*.cfg; do if [ -f "$f" ]; then cp -- "$f" "$2/"; fi; done
"""


_SHOW_STAT = "show stat -1 4 -1"

# The balance algorithms whose backends accept servers added at run time (``source`` hashes map-based: static).
_DYNAMIC_BALANCE = frozenset({"roundrobin", "leastconn"})


def split_answers(text: str, count: int) -> list[str]:
    """The runtime API's answers to ``count`` commands of one request: each ends with an empty line."""
    answers: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line:
            current.append(line)
        else:
            answers.append("".join(f"{x}\n" for x in current))
            current = []
    if len(answers) != count or any(current):
        raise HaproxyError("runtime API", f"expected {count} answer(s), got {text!r}")
    return answers


def current_worker(show_proc: str) -> int | None:
    """The pid in the ``# workers`` section of the master CLI's ``show proc`` (not an old worker)."""
    section = ""
    for line in show_proc.splitlines():
        if line.startswith("#"):
            section = line
            continue
        fields = line.split()
        if section == "# workers" and len(fields) >= 2 and fields[1] == "worker" and fields[0].isdigit():
            return int(fields[0])
    return None


def _with_state(frontend: Frontend, backend: str, state: BackendAdminState) -> Frontend:
    if frontend.backend(backend) is None:
        known = ", ".join(b.name for b in frontend.backends)
        raise HaproxyError(f"backend {frontend.name}/{backend}", f"not configured (backends: {known})")
    backends: NonEmpty[Backend] = non_empty(
        (b.model_copy(update={"state": state}) if b.name == backend else b for b in frontend.backends), "backends"
    )
    return frontend.model_copy(update={"backends": backends})


def _reason(error: HaproxyError) -> str:
    """The error's message without its subject (for an error that wraps it under another subject)."""
    return str(error).removeprefix(f"{error.subject}: ")


def _digest(texts: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name, text in sorted(texts.items()):
        h.update(f"\0{name}\0{text}".encode())
    return h.hexdigest()
