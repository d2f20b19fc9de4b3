"""Run locks on this machine: ``fcntl.flock`` on a lock file, which the kernel releases when its holder dies.

``held`` is the short, blocking form for a few file operations (a read-modify-write of one file) rather than
a whole run: it waits without polling and says nothing about its holder.

The holder writes who it is (``LockHolder`` as JSON) into the lock file once it holds it; a waiting run reads
that to say whom it waits for. A lock file left behind by a killed run is harmless: it is the flock, not
the file, that locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Generator
from pathlib import Path

from pydantic import ValidationError

from harmony.domain.errors import TargetBusyError, TopologyError
from harmony.domain.topology import LockHolder, OnWait

POLL = 0.1


@contextlib.contextmanager
def held(path: Path) -> Generator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600) for the ``with`` block; a killed holder releases it.

    Not re-entrant: taking it again in the same process, even in the same thread, waits forever.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def lock_file_for(key: Path) -> Path:
    """A lock file for a target with no state directory of its own (a re-rooted sandbox, ``/``).

    It lives in a per-user directory under the temp dir, named after ``key``, so it never appears in the
    target itself.
    """
    directory = Path(tempfile.gettempdir()) / f"harmony-locks-{os.getuid()}"
    digest = hashlib.sha256(str(key.absolute()).encode(errors="surrogateescape")).hexdigest()[:16]
    safe = "".join(c if c.isalnum() else "_" for c in str(key.absolute()))[-40:]
    return directory / f"{safe}-{digest}.lock"


class LocalRunLock:
    def __init__(self, path: Path, *, topology: str) -> None:
        self.path = path
        self._topology = topology
        self._fd: int | None = None

    @property
    def target(self) -> str:
        return f"{self._topology} (lock {self.path})"

    async def acquire(self, holder: LockHolder, *, wait: float | None, on_wait: OnWait) -> None:
        fd = self._open()
        loop = asyncio.get_running_loop()
        deadline = None if wait is None else loop.time() + wait
        told = False
        polls = 0
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pass
                current = _read_holder(fd)
                if deadline is not None and loop.time() >= deadline:
                    raise TargetBusyError(self._topology, self.target, current.describe() if current else None)
                # the holder writes its record just after taking the lock: give it a moment to appear
                if not told and (current is not None or polls >= 10):
                    on_wait(current)
                    told = True
                polls += 1
                await asyncio.sleep(POLL)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.model_dump_json().encode(), 0)
        self._fd = fd

    async def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise TopologyError(
                self._topology,
                f"cannot open the run lock {self.path}: {e.strerror or e}; make its directory writable",
            ) from e


def _read_holder(fd: int) -> LockHolder | None:
    try:
        return LockHolder.model_validate_json(os.pread(fd, 4096, 0))
    except (OSError, ValidationError):
        return None
