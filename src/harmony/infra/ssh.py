"""A host over SSH with asyncssh: one connection per host, many channels on it.

Guaranteed: host keys are checked against ``known_hosts`` (the user's ``~/.ssh/known_hosts`` unless a file
is given) unless ``check_host_key=False`` is passed explicitly, which is meant for throw-away lab hosts.
Authentication uses ``key`` when given, otherwise the SSH agent and the user's default keys. When the login
user is not root, every command runs through ``sudo -n`` (``become``); ``open`` checks once that sudo works
and raises ``BecomeRefusedError`` with sudo's own message when it does not.

Every command runs under a guard (``posix_shell.guarded_argv``), so that one Harmony gives up on is killed on
the host with everything it started, as on this machine (``local_process``): a cancelled (Ctrl-C, SIGTERM)
or timed-out command's guard is stopped over a second channel; if Harmony is killed, the connection drops,
sshd's session process exits and the kernel signals the guard (``setpriv --pdeathsig``). Not covered: a
program that leaves its process group (``setsid``), and, with ``become``, a killed Harmony (sudo stands
between sshd and the guard).

The reads (``stat_files``, ``read_pids``, ``read_directories``, ``read_command``) of one event-loop tick
are coalesced into one remote command (see ``coalesce``): a no-op run of a role costs one such round trip
besides taking the run lock (``execs`` counts them, per program). While the run lock is held, its holder on
the host answers those batches on its own channel (``SshRunLock.read``): a no-op run opens one channel
(``channels``). At most ``max_channels`` commands run at once, below sshd's default ``MaxSessions`` of 10.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import shlex
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.files import FileState
from harmony.domain.errors import (
    BecomeRefusedError,
    CommandError,
    ConnectionLostError,
    FilesError,
    HostAuthError,
    HostUnreachableError,
    TargetBusyError,
    TopologyError,
)
from harmony.domain.topology import LockHolder, OnWait, RunLock
from harmony.infra import posix_shell
from harmony.infra.coalesce import Coalescer
from harmony.infra.connector import BatchRead, BatchResult, CommandRead, ReadRequest, split_reads
from harmony.infra.local_process import OUTPUT_LIMIT
from harmony.infra.programs import SOCAT
from harmony.infra.shared_libraries import linker_cache_lookups

with linker_cache_lookups():  # asyncssh's import looks for optional C libraries: see shared_libraries
    import asyncssh
    from asyncssh.encryption import get_default_encryption_algs

KEEPALIVE_MISSED = 3
LOCK_HEARTBEAT = 10.0
LOCK_EXPIRY = 60.0
"""A host drops a run's lock after this many seconds without its heartbeat: the run's machine vanished from
the network without the connection ever closing on the host's side (the host would otherwise keep the lock
until its TCP gives up, hours later). Long enough for a run stalled by a busy machine to keep it."""


class SshConnector:
    def __init__(
        self,
        *,
        name: str,
        address: str,
        port: int = 22,
        user: str = "root",
        key: Path | None = None,
        known_hosts: Path | None = None,
        check_host_key: bool = True,
        become: bool | None = None,
        connect_timeout: float = 10.0,
        keepalive: float = 10.0,
        max_channels: int = 8,
    ) -> None:
        self._name = name
        self.address = address
        self.port = port
        self.user = user
        self._key = key
        self._known_hosts = known_hosts
        self._check_host_key = check_host_key
        self.become = user != "root" if become is None else become
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive
        self._channels = asyncio.Semaphore(max_channels)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._reads: Coalescer[BatchRead, BatchResult] = Coalescer(self._read_batch)
        self._execs: Counter[str] = Counter()
        self._channels_opened = 0
        self._acked = False
        self._lock_holder: SshRunLock | None = None

    @property
    def prefix(self) -> PurePosixPath | None:
        return None

    @property
    def netns(self) -> str | None:
        return None

    @property
    def name(self) -> str:
        return self._name

    @property
    def connection(self) -> asyncssh.SSHClientConnection:
        if self._conn is None:
            raise HostUnreachableError(self._name, "not connected")
        return self._conn

    @property
    def round_trips(self) -> int:
        """How many batched reads (``stat_files``, ``read_pids``, ``read_directories``, ``read_command``) went
        to the host."""
        return self._reads.batches

    @property
    def execs(self) -> Mapping[str, int]:
        """How many commands went to the host, per program (``read`` for the batched reads, on a channel of
        their own or answered by the run lock's holder; ``run-lock`` for the holder); the sum is the host's
        round trips."""
        return dict(self._execs)

    @property
    def channels(self) -> int:
        """How many channels (the run lock's holder, commands, batched reads not answered by the holder) were
        opened on the host."""
        return self._channels_opened

    def serve_reads_through(self, lock: SshRunLock) -> None:
        """While ``lock`` holds the host's run lock, batched reads go through its holder's channel."""
        self._lock_holder = lock

    def stop_serving_reads(self, lock: SshRunLock) -> None:
        """``lock`` no longer holds the run lock (released): batched reads go on channels of their own."""
        if self._lock_holder is lock:
            self._lock_holder = None

    async def open_channel[P](self, opening: Awaitable[P]) -> P:
        """Await ``opening`` (a channel's request to the host); the connection's first one acknowledges the
        host's answer at once (``_ack_promptly``)."""
        self._channels_opened += 1
        if self._acked or self._conn is None:
            return await opening
        self._acked = True
        task = asyncio.ensure_future(opening)
        asyncio.get_running_loop().call_soon(_ack_promptly, self._conn)  # after the task's first step: sent
        return await task

    def note_exec(self, program: str) -> None:
        """Count one command sent to the host for ``program`` (see ``execs``)."""
        self._execs[program] += 1

    async def open(self) -> None:
        if self._conn is not None:
            return
        where = f"{self.user}@{self.address}:{self.port}"
        known_hosts: object = () if self._known_hosts is None else _parsed_known_hosts(self._known_hosts)
        try:
            self._conn = await asyncssh.connect(
                self.address,
                port=self.port,
                username=self.user,
                known_hosts=known_hosts if self._check_host_key else None,
                client_keys=_loaded_key(self._key) if self._key else (),
                encryption_algs=_encryption_algs(),
                config=None,
                connect_timeout=self._connect_timeout,
                # A host that vanishes from the network (cable, power) sends nothing back: without keepalives a
                # command in flight would wait for TCP to give up (~15 minutes). After KEEPALIVE_MISSED
                # unanswered ones the connection is dropped and the command fails naming the host.
                keepalive_interval=self._keepalive,
                keepalive_count_max=KEEPALIVE_MISSED,
            )
        except asyncssh.HostKeyNotVerifiable as e:
            raise HostAuthError(
                self._name, f"host key of {where} is not known ({e.reason}); add it to known_hosts"
            ) from e
        except asyncssh.PermissionDenied as e:
            raise HostAuthError(self._name, f"{where} rejected our key ({e.reason})") from e
        except (OSError, asyncssh.Error, TimeoutError) as e:
            raise HostUnreachableError(self._name, f"cannot connect to {where}: {_reason(e)}") from e
        self._acked = False
        if self.become:
            probe = await self._run(["true"])
            if probe.exit_status != 0:
                await self.close()
                raise BecomeRefusedError(
                    self._name, f"sudo refused for user {self.user}: {probe.stderr.strip() or 'no reason given'}"
                )

    async def close(self) -> None:
        holder = self._lock_holder
        if holder is not None:  # ended by its closed stdin rather than killed with the connection (the guard)
            await holder.release()
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None

    def run_lock(self) -> RunLock:
        return SshRunLock(self)

    def command_line(self, argv: Sequence[str]) -> str:
        line = shlex.join(argv)
        return f"sudo -n -- {line}" if self.become else line

    async def _run(
        self,
        argv: Sequence[str],
        stdin: bytes | None = None,
        timeout: float | None = None,
        limit: int | None = OUTPUT_LIMIT,
        doing: str | None = None,
        count_as: str | None = None,
    ) -> CommandResult:
        """Run ``argv`` (through sudo when becoming root); ``limit`` bounds the output kept (None: all)."""
        if self._conn is None:
            raise CommandError(shlex.join(argv), None, f"not connected to {self._name}")
        token = secrets.token_hex(8)
        line = "exec " + self.command_line(posix_shell.guarded_argv(argv, token))
        self.note_exec(count_as or (argv[0] if argv else "?"))
        async with self._channels:
            try:
                # Empty input must still close the remote stdin (asyncssh only does so for non-empty input).
                process = await self.open_channel(
                    self._conn.create_process(line, input=stdin, encoding=None)
                    if stdin
                    else self._conn.create_process(line, stdin=asyncssh.DEVNULL, encoding=None)
                )
            except (asyncssh.Error, OSError) as e:
                raise self._lost(doing or f"running {argv[0] if argv else 'a command'}", e) from e
            try:
                proc = await process.wait(check=False, timeout=timeout)
            except asyncssh.TimeoutError as e:
                await self._stop_remote(process, token)
                raise CommandError(shlex.join(argv), None, f"timed out after {timeout}s") from e
            except (asyncssh.Error, OSError) as e:
                raise self._lost(doing or f"running {argv[0] if argv else 'a command'}", e) from e
            except BaseException:  # cancelled (Ctrl-C, SIGTERM): the remote program must not go on
                await self._stop_remote(process, token)
                raise
        out = proc.stdout if isinstance(proc.stdout, bytes) else b""
        err = proc.stderr if isinstance(proc.stderr, bytes) else b""
        return CommandResult(
            argv=tuple(argv),
            exit_status=proc.exit_status if proc.exit_status is not None else 255,
            stdout=(out if limit is None else out[-limit:]).decode(errors="replace"),
            stderr=err[-OUTPUT_LIMIT:].decode(errors="replace"),
        )

    async def _stop_remote(self, process: asyncssh.SSHClientProcess[bytes], token: str) -> None:
        """Kill a command given up on (cancelled, timed out) on the host: its guard kills its process group.

        Closing the channel alone would not: sshd leaves a session's processes running. The kill goes over a
        channel of its own (sshd ignores the "signal" channel request here), shielded from the cancellation
        being handled and bounded in time. If the connection is gone, sshd's session process is gone too,
        and the kernel has signalled the guard already.
        """
        process.close()
        if self._conn is None:
            return
        stop = self._conn.run(self.command_line(posix_shell.stop_guarded_argv(token)), check=False, timeout=10)
        with contextlib.suppress(asyncssh.Error, OSError, TimeoutError, asyncio.CancelledError):
            await asyncio.shield(stop)

    def _lost(self, doing: str, e: BaseException) -> ConnectionLostError:
        return ConnectionLostError(self._name, f"{self.user}@{self.address}:{self.port}", doing, _reason(e))

    async def run_command(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return await self._run(argv, stdin, timeout)

    async def exchange_unix(self, path: PurePosixPath, request: bytes, *, timeout: float) -> bytes:
        # through socat as root: the socket is root's (mode 600), and sshd may not forward unix sockets
        argv = SOCAT.argv("-t", f"{timeout:g}", "-", f"UNIX-CONNECT:{path}")
        result = await self._run(argv, request, timeout + 10, limit=None)
        if not result.ok:
            raise CommandError(f"unix socket {path}", result.exit_status, result.stderr)
        return result.stdout.encode()

    async def follow_lines(self, argv: Sequence[str]) -> AsyncIterator[str]:
        if self._conn is None:
            raise CommandError(shlex.join(argv), None, f"not connected to {self._name}")
        self.note_exec(argv[0] if argv else "?")
        try:
            proc = await self.open_channel(
                self._conn.create_process(
                    self.command_line(argv), stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace"
                )
            )
        except (asyncssh.Error, OSError) as e:
            raise self._lost(f"following {argv[0] if argv else 'a command'}", e) from e
        try:
            async for line in proc.stdout:
                yield line.rstrip("\n")
        finally:
            proc.close()  # the channel closes; the remote program gets SIGPIPE on its next line

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        requests: list[ReadRequest] = [(p, "content" if with_content else "stat") for p in paths]
        return split_reads(requests, await self._reads.get(requests))[0]

    async def read_pids(self, pid_files: Sequence[PurePosixPath]) -> Mapping[PurePosixPath, int | None]:
        requests: list[ReadRequest] = [(p, "pid") for p in pid_files]
        return split_reads(requests, await self._reads.get(requests))[1]

    async def read_directories(
        self, directories: Sequence[PurePosixPath]
    ) -> Mapping[PurePosixPath, Mapping[str, bytes] | None]:
        requests: list[ReadRequest] = [(p, "directory") for p in directories]
        return split_reads(requests, await self._reads.get(requests))[2]

    async def read_command(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        request = CommandRead(tuple(argv), timeout)
        found = (await self._reads.get([request]))[request]
        assert isinstance(found, CommandResult)
        if timeout is not None and found.exit_status == 124:  # coreutils timeout's status
            raise CommandError(shlex.join(argv), None, f"timed out after {timeout}s")
        return found

    async def _read_batch(self, requests: Sequence[BatchRead]) -> Mapping[BatchRead, BatchResult]:
        # Through the run lock's holder when it is free (no channel to open: the run's reads share the lock's),
        # else on a channel of its own. File contents and command outputs: never truncated.
        holder = self._lock_holder
        answered = await holder.read(requests) if holder is not None else None
        if answered is None:
            result = await self._run(posix_shell.read_argv(requests), limit=None, count_as="read")
            output, stderr = result.stdout, result.stderr
        else:
            self.note_exec("read")
            output, _, stderr = answered
        try:
            return posix_shell.parse_reads(requests, output)
        except ValueError as e:
            first = requests[0] if requests else None
            what = "?" if first is None else shlex.join(first.argv) if isinstance(first, CommandRead) else str(first[0])
            raise FilesError(what, f"cannot read file state on {self._name}: {stderr.strip() or e}") from e

    async def _change(self, path: PurePosixPath, argv: Sequence[str], stdin: bytes | None = None) -> None:
        result = await self._run(argv, stdin, doing=f"changing {path}")
        if result.exit_status != 0:
            raise FilesError(str(path), result.stderr.strip() or f"exited {result.exit_status}")

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._change(path, posix_shell.write_argv(path, mode=mode, owner=owner, group=group), content)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._change(path, posix_shell.mkdir_argv(path, mode=mode, owner=owner, group=group))

    async def make_symlink(self, path: PurePosixPath, target: str) -> None:
        await self._change(path, posix_shell.symlink_argv(path, target))

    async def remove_path(self, path: PurePosixPath) -> None:
        await self._change(path, posix_shell.remove_argv(path))


class SshRunLock:
    """The run lock of an SSH host, held by a long-lived process on the host (``posix_shell.run_lock_argv``)."""

    def __init__(self, connector: SshConnector) -> None:
        self._connector = connector
        self._proc: asyncssh.SSHClientProcess[bytes] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._reading = False
        self._answers_pending = False  # a read given up on (cancelled): its answer would come first

    @property
    def target(self) -> str:
        c = self._connector
        return f"{c.user}@{c.address}:{c.port}"

    async def acquire(self, holder: LockHolder, *, wait: float | None, on_wait: OnWait) -> None:
        c = self._connector
        await c.open()
        loop = asyncio.get_running_loop()
        deadline = None if wait is None else loop.time() + wait
        told = False
        while True:
            busy = await self._try(holder)
            if busy is None:
                return
            current = _holder(busy)
            if deadline is not None and loop.time() >= deadline:
                raise TargetBusyError(c.name, self.target, current.describe() if current else None)
            if not told:
                on_wait(current)
                told = True
            await asyncio.sleep(0.5)

    async def _try(self, holder: LockHolder) -> bytes | None:
        """None when the lock is now held; otherwise what the host said about its holder."""
        c = self._connector
        conn = c.connection
        argv = posix_shell.run_lock_argv(holder.model_dump_json(), expiry=LOCK_EXPIRY)
        c.note_exec("run-lock")
        try:
            # under the guard: a dropped connection kills the holder with the reads it runs, and the flock goes
            line = "exec " + c.command_line(posix_shell.guarded_argv(argv, secrets.token_hex(8)))
            proc = await c.open_channel(conn.create_process(line, encoding=None))
            first = await proc.stdout.readline()
            if first == b"locked\n":
                self._proc = proc
                self._answers_pending = False
                self._heartbeat = asyncio.create_task(_heartbeat(proc), name=f"run lock heartbeat {c.name}")
                c.serve_reads_through(self)
                return None
            rest: bytes = await proc.stdout.read()
            await proc.wait()
        except (asyncssh.Error, OSError) as e:
            raise HostUnreachableError(c.name, f"cannot take the run lock on {self.target}: {e}") from e
        if first != b"busy\n":
            raise TopologyError(
                c.name, f"cannot take the run lock on {self.target}: {(first + rest).decode(errors='replace')}"
            )
        return rest

    async def read(self, requests: Sequence[BatchRead]) -> tuple[str, int, str] | None:
        """The output, status and stderr of ``posix_shell.read_argv(requests)`` answered by the lock's holder;
        None when it cannot take them now (not held, answering another batch, or one given up on), so that
        they go on a channel of their own."""
        proc = self._proc
        if proc is None or self._reading or self._answers_pending:
            return None
        c = self._connector
        self._reading = True
        try:
            proc.stdin.write(posix_shell.read_request(requests))
            answer = await _read_answer(proc)
            return posix_shell.parse_read_answer(answer.decode(errors="replace"))
        except (asyncssh.Error, OSError, EOFError, ValueError) as e:
            self._answers_pending = True
            raise ConnectionLostError(
                c.name, self.target, "reading through the run lock's holder", _reason(e) or "it ended"
            ) from e
        except BaseException:  # cancelled: the holder still answers, later; no batch may take that answer
            self._answers_pending = True
            raise
        finally:
            self._reading = False

    async def release(self) -> None:
        self._connector.stop_serving_reads(self)
        beat, self._heartbeat = self._heartbeat, None
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
                proc.stdin.write_eof()
                await asyncio.wait_for(proc.wait_closed(), 5)
            proc.close()


async def _read_answer(proc: asyncssh.SSHClientProcess[bytes]) -> bytes:
    """The holder's answer to one batch: its output up to the end of its ``READ_END`` line (in chunks: an answer
    may be larger than the channel's buffer). ``EOFError`` when the holder ends first."""
    end = posix_shell.READ_END.encode()
    answer = bytearray()
    marker = -1
    while True:
        chunk = await proc.stdout.read(1 << 16)
        if not chunk:
            raise EOFError("the run lock's holder ended")
        searched = max(0, len(answer) - len(end))
        answer += chunk
        if marker < 0:
            marker = answer.find(end, searched)
        if marker >= 0 and answer.find(b"\n", marker) >= 0:
            return bytes(answer)


async def _heartbeat(proc: asyncssh.SSHClientProcess[bytes]) -> None:
    """Tell the lock's holder process on the host that this run is alive (see ``LOCK_EXPIRY``)."""
    with contextlib.suppress(asyncssh.Error, OSError):
        while True:
            await asyncio.sleep(LOCK_HEARTBEAT)
            proc.stdin.write(b".\n")


def _ack_promptly(conn: asyncssh.SSHClientConnection) -> None:
    """Acknowledge what the host sends next without Linux's delayed ACK (40 ms).

    Right after authentication, sshd sends a burst of small messages of its own (debug lines, its host keys);
    with Nagle's algorithm (sshd leaves it on for sessions without a terminal) its answer to the first channel
    waits for our ACK of that burst, which the kernel delays because we had just sent the channel's request:
    every run's first command took 40-50 ms longer than the next ones. Quick-ACK mode, set after that request
    went out, sends the ACK at once. Best effort: a platform without TCP_QUICKACK keeps the delay.
    """
    sock = conn.get_extra_info("socket")
    quickack: int | None = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _holder(text: bytes) -> LockHolder | None:
    try:
        return LockHolder.model_validate_json(text)
    except ValueError:
        return None


_KNOWN_HOSTS: dict[tuple[str, bytes], asyncssh.SSHKnownHosts] = {}


def _parsed_known_hosts(path: Path) -> asyncssh.SSHKnownHosts | str:
    """``path`` parsed once per content of the file: given the path, asyncssh reads and parses it again for
    every connection (1.7 s of CPU for 100 hosts sharing one 100-line file). Keyed by content, not by
    modification time: an edit within the file system's timestamp granularity is still seen."""
    try:
        content = path.read_bytes()
    except OSError:
        return str(path)  # asyncssh says what is wrong with it, naming the host
    key = (str(path), content)
    if key not in _KNOWN_HOSTS:
        _KNOWN_HOSTS[key] = asyncssh.import_known_hosts(content.decode(errors="replace"))
    return _KNOWN_HOSTS[key]


_KEYS: dict[tuple[str, bytes, bytes | None], Sequence[asyncssh.SSHKeyPair]] = {}


def _loaded_key(path: Path) -> Sequence[asyncssh.SSHKeyPair] | list[str]:
    """The client key at ``path`` (with its ``-cert.pub`` certificate, if any) parsed once per content of
    the files, instead of once per connection as asyncssh does given the path. Keyed by content, not by
    modification time: a key replaced within the file system's timestamp granularity is still seen."""
    try:
        content = path.read_bytes()
    except OSError:
        return [str(path)]  # asyncssh says what is wrong with it, naming the host
    try:
        cert: bytes | None = Path(f"{path}-cert.pub").read_bytes()
    except OSError:
        cert = None
    key = (str(path), content, cert)
    if key not in _KEYS:
        _KEYS[key] = asyncssh.load_keypairs([str(path)])
    return _KEYS[key]


@functools.cache
def _encryption_algs() -> tuple[str, ...]:
    """asyncssh's default ciphers with AES-GCM first: asyncssh puts chacha20-poly1305 first, which it builds
    from a new cipher context per packet (a quarter of its CPU in a 100-host no-op), while AES-GCM is one
    call into OpenSSL, with AES instructions on both sides. Both are authenticated ciphers that OpenSSH
    offers by default; a host without AES-GCM still negotiates the next one in the list."""
    defaults = [alg.decode() for alg in get_default_encryption_algs()]
    gcm = [alg for alg in defaults if alg.endswith("-gcm@openssh.com")]
    return (*gcm, *(alg for alg in defaults if alg not in gcm))


def _reason(e: BaseException) -> str:
    if isinstance(e, asyncssh.Error):
        return e.reason
    if isinstance(e, OSError) and e.errno:
        return os.strerror(e.errno)
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or ("timed out" if isinstance(e, TimeoutError) else type(e).__name__)
