"""A busybox root filesystem as a tar archive, built in memory: the offline base of every demo image.

Pure: the caller reads the static busybox binary and writes the archive wherever the runtime can import it.
The tree has ``/bin/busybox`` with a symlink per applet, ``/etc/passwd`` and ``/etc/group`` for root and
nobody, ``/tmp``, and the ``files`` given (relative paths, text, mode 0644).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Mapping

APPLETS = [
    "sh",
    "ash",
    "cat",
    "echo",
    "ls",
    "mkdir",
    "rm",
    "sleep",
    "httpd",
    "wget",
    "nc",
    "true",
    "false",
    "env",
    "ps",
    "kill",
    "grep",
    "sed",
    "head",
    "tail",
    "date",
    "hostname",
    "printf",
    "test",
    "[",
    "id",
    "sync",
    "touch",
    "cp",
    "mv",
    "ln",
    "chmod",
    "uptime",
    "top",
    "vi",
]


def busybox_rootfs_tar(busybox: bytes, files: Mapping[str, str]) -> bytes:
    """A tar of the root filesystem; the same inputs always give the same bytes (fixed mtimes, sorted)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "tmp", "www", "data"):
            _add(tar, d, None, mode=0o1777 if d == "tmp" else 0o755)
        _add(tar, "bin/busybox", busybox, mode=0o755)
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        _add(tar, "etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        _add(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        for path, text in sorted(files.items()):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                _add(tar, "/".join(parts[:i]), None, mode=0o755)
            _add(tar, "/".join(parts), text.encode())
    return buf.getvalue()


def content_digest(files: Mapping[str, str]) -> str:
    """A short digest of the files baked into an image, to tell image versions apart."""
    h = hashlib.sha256()
    for path, text in sorted(files.items()):
        h.update(f"{len(path)}:{path}:{len(text)}:".encode())
        h.update(text.encode())
    return h.hexdigest()[:12]


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, *, mode: int = 0o644) -> None:
    if name in tar.getnames():
        return
    info = tarfile.TarInfo(name)
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
