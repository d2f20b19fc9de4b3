"""Atomic writes of files on this machine (daemon configuration, status, credentials): one helper.

Used by the local daemons' adapters (Prometheus, Alertmanager, node_exporter), the agent's status file, the
CLI's config export, the fleet's credentials and the dashboard's users. Adapters that may run on another host
(HAProxy, dnsmasq, nftables, PostgreSQL) write through their ``Connector.write_file`` instead, which is
``LocalFiles`` (its own atomic write, resolving owner and group names) on this machine.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(
    path: Path,
    content: str | bytes,
    *,
    mode: int = 0o644,
    owner: tuple[int, int] | None = None,
    directory_mode: int = 0o755,
) -> None:
    """Replace ``path`` by ``content`` in one step; a reader sees the old or the new file, never a torn one.

    The temporary file (unique, beside ``path``) has ``mode`` before any byte is written, so a file holding
    a secret (``0o600``) is never readable by others, not even for an instant; ``owner`` (uid, gid) is set
    before the rename too. Missing parent directories are created with ``directory_mode``.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=directory_mode)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
