"""Installing the always-on agent on a host: its one-file binary, its credentials, and its service."""

from __future__ import annotations

from pathlib import PurePosixPath

from harmony.domain.capabilities.files import ManagedFiles


async def make_parents(topology: ManagedFiles, path: PurePosixPath, *, mode: int | None = None) -> None:
    """Every missing directory above ``path``, top down (``mode`` for the ones made)."""
    ancestors = [p for p in reversed(path.parents) if p != PurePosixPath("/")]
    found = await topology.stat_files(ancestors, with_content=False)
    for directory in ancestors:
        if found[directory].kind == "missing":
            await topology.make_directory(directory, mode=mode, owner=None, group=None)
