"""Shared-library look-ups from the dynamic linker's cache, while a module that probes for optional C libraries
is imported.

On Linux, ``ctypes.util.find_library`` runs ``ldconfig -p`` and, for a library missing from the linker's
cache, a C compiler (``gcc -Wl,-t``) and then ``ld``: 20 ms on a quiet machine, up to 120 ms on a busy one,
for each library that is not installed. asyncssh pays it on every import, which is every ``harmony`` run
over SSH: it looks for liboqs twice (post-quantum sntrup761 key exchange) and for libnettle (UMAC MACs), and
has no setting to skip that. Within ``linker_cache_lookups()``, ``find_library`` answers from one listing of
the cache for all look-ups, and from the directories of ``LD_LIBRARY_PATH``. A library installed by the
package manager is found as before; one that only the compiler's own search path reaches (not the loader's)
is not, and asyncssh then leaves out the algorithm it would provide. Connections still negotiate curve25519
and AES-GCM, which need neither library.

Replacing a function of ``ctypes.util`` is a patch of the standard library: it lasts for the ``with`` block
only (one import) and is undone after it, also when the import fails.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Generator
from pathlib import Path

from harmony.infra.programs import LDCONFIG

# As ctypes.util does: the ABI tag of this interpreter's entries in ``ldconfig -p`` (libc6 when not listed)
_ABI = {
    "x86_64-64": "libc6,x86-64",
    "ppc64-64": "libc6,64bit",
    "sparc64-64": "libc6,64bit",
    "s390x-64": "libc6,64bit",
    "ia64-64": "libc6,IA-64",
}


@contextlib.contextmanager
def linker_cache_lookups() -> Generator[None]:
    """Within the block, ``ctypes.util.find_library`` looks in the linker's cache and ``LD_LIBRARY_PATH`` only
    (on Linux; elsewhere it is left alone)."""
    if not sys.platform.startswith("linux"):
        yield
        return
    original = ctypes.util.find_library
    ctypes.util.find_library = _cache_lookup()  # type: ignore[assignment]  # mypy: a Callable is not a "def"
    try:
        yield
    finally:
        ctypes.util.find_library = original


def _cache_lookup() -> Callable[[str], str | None]:
    listing: bytes | None = None

    def find_library(name: str) -> str | None:
        nonlocal listing
        for directory in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
            found = sorted(Path(directory).glob(f"lib{name}.so*")) if directory else []
            if found:
                return str(found[0])
        if listing is None:
            listing = _ld_cache()
        return in_ld_cache(name, listing)

    return find_library


def _ld_cache() -> bytes:
    ldconfig = LDCONFIG.find()
    if ldconfig is None:  # nothing listed: asyncssh leaves out the algorithms of the libraries it looks for
        return b""
    try:
        return subprocess.run(
            [str(ldconfig), "-p"], capture_output=True, env={"LC_ALL": "C", "LANG": "C"}, check=False
        ).stdout
    except OSError:
        return b""


def in_ld_cache(name: str, listing: bytes) -> str | None:
    """The file name of ``lib<name>`` for this interpreter's ABI in ``listing`` (``ldconfig -p``'s output), as
    ``ctypes.util.find_library`` finds it there."""
    machine = f"{os.uname().machine}-{struct.calcsize('l') * 8}"
    abi = _ABI.get(machine, "libc6")
    found = re.search(rf"\s+(lib{re.escape(name)}\.[^\s]+)\s+\({re.escape(abi)}".encode(), listing)
    return os.fsdecode(found.group(1)) if found else None
