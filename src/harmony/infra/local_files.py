"""Managed files on the machine Harmony runs on, in-process: no shell, no subprocess.

``root`` re-roots every managed path (``/etc/motd`` → ``root/etc/motd``), which is how tests and the
quickstart manage a host tree without touching the real ``/etc``.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.files import FileKind, FileState
from harmony.domain.errors import FilesError
from harmony.infra.connector import DirectoryState, PidState, ReadKind, ReadRequest, ReadResult


class LocalFiles:
    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root

    def _real(self, path: PurePosixPath) -> Path:
        return Path(self._real_text(path))

    def _real_text(self, path: PurePosixPath) -> str:
        """Where ``path`` is under the root, as a string: a plan stats and reads every managed file, and a
        ``Path`` for each cost more than the system calls (1,000 files: ~45 ms against ~18 ms)."""
        if not path.is_absolute():
            raise FilesError(str(path), "managed paths must be absolute")
        root = str(self.root)
        return str(path) if root == "/" else root + str(path)

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        names = _AccountNames()
        return await asyncio.to_thread(lambda: {p: self._stat(p, with_content, names) for p in paths})

    async def read_many(self, requests: Sequence[ReadRequest]) -> Mapping[ReadRequest, ReadResult]:
        """File states, live pids of pid files and directory contents, in one worker thread."""
        names = _AccountNames()
        return await asyncio.to_thread(lambda: {r: self._read(*r, names) for r in requests})

    def _read(self, path: PurePosixPath, kind: ReadKind, names: _AccountNames) -> ReadResult:
        if kind == "pid":
            return PidState(pid=self._live_pid(path))
        if kind == "directory":
            return DirectoryState(files=self._directory(path))
        return self._stat(path, kind == "content", names)

    def _live_pid(self, pid_file: PurePosixPath) -> int | None:
        try:
            pid = int(self._real(pid_file).read_text().split()[0])
            stat_line = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError, IndexError):
            return None
        return None if stat_line.rsplit(")", 1)[-1].split()[0] == "Z" else pid  # a zombie has exited

    def _directory(self, path: PurePosixPath) -> dict[str, bytes] | None:
        real = self._real(path)
        if real.is_symlink() or not real.is_dir():
            return None
        files: dict[str, bytes] = {}
        try:
            for entry in os.scandir(real):
                if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                    try:
                        files[entry.name] = Path(entry.path).read_bytes()
                    except FileNotFoundError:
                        continue  # removed while we listed
        except OSError as e:
            raise FilesError(str(path), e.strerror or str(e)) from e
        return files

    def _stat(self, path: PurePosixPath, with_content: bool, names: _AccountNames) -> FileState:
        real = self._real_text(path)
        try:
            st = os.lstat(real)
        except FileNotFoundError:
            return FileState(path=path, kind="missing")
        except OSError as e:
            raise FilesError(str(path), e.strerror or str(e)) from e
        kind: FileKind = (
            "symlink"
            if stat.S_ISLNK(st.st_mode)
            else "directory"
            if stat.S_ISDIR(st.st_mode)
            else "file"
            if stat.S_ISREG(st.st_mode)
            else "other"
        )
        return FileState(
            path=path,
            kind=kind,
            mode=stat.S_IMODE(st.st_mode),
            owner=names.user(st.st_uid),
            group=names.group(st.st_gid),
            content=_read_bytes(real) if with_content and kind == "file" else None,
            link_target=os.readlink(real) if kind == "symlink" else None,
        )

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await asyncio.to_thread(self._write, path, content, mode, owner, group)

    def _write(
        self, path: PurePosixPath, content: bytes, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        real = self._real(path)
        tmp: str | None = None
        try:
            uid = pwd.getpwnam(owner).pw_uid if owner else -1
            gid = grp.getgrnam(group).gr_gid if group else -1
            old_mode = stat.S_IMODE(real.stat().st_mode) if real.exists() else 0o644
            fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.harmony-")
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode if mode is not None else old_mode)
            if uid != -1 or gid != -1:
                os.chown(tmp, uid, gid)
            os.replace(tmp, real)
            tmp = None
        except KeyError as e:
            raise FilesError(str(path), f"unknown user or group {e.args[0]!r}") from e
        except FileNotFoundError as e:
            raise FilesError(str(path), f"directory {real.parent} does not exist") from e
        except OSError as e:
            raise FilesError(str(path), e.strerror or str(e)) from e
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await asyncio.to_thread(self._mkdir, path, mode, owner, group)

    def _mkdir(self, path: PurePosixPath, mode: int | None, owner: str | None, group: str | None) -> None:
        real = self._real(path)
        try:
            uid = pwd.getpwnam(owner).pw_uid if owner else -1
            gid = grp.getgrnam(group).gr_gid if group else -1
            real.mkdir(exist_ok=True)
            if mode is not None:
                os.chmod(real, mode)
            if uid != -1 or gid != -1:
                os.chown(real, uid, gid)
        except KeyError as e:
            raise FilesError(str(path), f"unknown user or group {e.args[0]!r}") from e
        except FileNotFoundError as e:
            raise FilesError(str(path), f"parent directory {real.parent} does not exist") from e
        except OSError as e:
            raise FilesError(str(path), e.strerror or str(e)) from e

    async def make_symlink(self, path: PurePosixPath, target: str) -> None:
        await asyncio.to_thread(self._symlink, path, target)

    def _symlink(self, path: PurePosixPath, target: str) -> None:
        real = self._real(path)
        tmp = real.parent / f".{real.name}.harmony-link-{os.getpid()}"
        try:
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            os.replace(tmp, real)
        except FileNotFoundError as e:
            raise FilesError(str(path), f"directory {real.parent} does not exist") from e
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise FilesError(str(path), e.strerror or str(e)) from e

    async def remove_path(self, path: PurePosixPath) -> None:
        await asyncio.to_thread(self._remove, path)

    def _remove(self, path: PurePosixPath) -> None:
        real = self._real(path)
        try:
            if real.is_dir() and not real.is_symlink():
                real.rmdir()
            else:
                real.unlink(missing_ok=True)
        except FileNotFoundError:
            return
        except OSError as e:
            raise FilesError(str(path), e.strerror or str(e)) from e


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class _AccountNames:
    """User and group names by id, looked up once per batch of reads: each lookup reads /etc/passwd or
    /etc/group again (1,000 files of one owner cost 2,000 reads of them). Not kept longer, so a renamed
    account shows in the next batch."""

    def __init__(self) -> None:
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}

    def user(self, uid: int) -> str:
        return _looked_up(self._users, uid, lambda i: pwd.getpwuid(i).pw_name)

    def group(self, gid: int) -> str:
        return _looked_up(self._groups, gid, lambda i: grp.getgrgid(i).gr_name)


def _looked_up(names: dict[int, str], key: int, lookup: Callable[[int], str]) -> str:
    """``names[key]``, looked up once; an id with no name is shown as the number."""
    name = names.get(key)
    if name is None:
        try:
            name = lookup(key)
        except KeyError:
            name = str(key)
        names[key] = name
    return name
