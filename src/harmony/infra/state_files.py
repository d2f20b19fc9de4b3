"""Atomic writes of an adapter's state files, with the mode set before the content exists under its name."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` by ``text`` in one step; a reader sees the old or the new file, never a torn one.

    The temporary file is created with ``mode`` (e.g. ``0o600`` for a file holding a secret), so the
    content is never readable by others, not even for an instant.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
