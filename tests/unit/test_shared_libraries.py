"""Importing the SSH adapter looks asyncssh's optional C libraries up in the linker's cache, with no compiler
run, and finds what ``ctypes.util.find_library`` finds; the patch does not outlive the import."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

from harmony.infra.shared_libraries import in_ld_cache, linker_cache_lookups

LISTING = b"""3 libs found in cache `/etc/ld.so.cache'
\tlibnettle.so.8 (libc6,x86-64) => /lib/x86_64-linux-gnu/libnettle.so.8
\tlibnettle.so.8 (libc6) => /lib/i386-linux-gnu/libnettle.so.8
\tlibz.so.1 (libc6) => /lib/i386-linux-gnu/libz.so.1
"""


def test_a_library_is_found_for_this_interpreter_s_abi_only() -> None:
    on_x86_64 = os.uname().machine == "x86_64"
    assert in_ld_cache("nettle", LISTING) == "libnettle.so.8"
    assert in_ld_cache("z", LISTING) == (None if on_x86_64 else "libz.so.1"), "a 32-bit entry only"
    assert in_ld_cache("oqs", LISTING) is None


def test_ld_library_path_is_looked_in_too(tmp_path: Path) -> None:
    (tmp_path / "libhmtest.so.3").write_bytes(b"")
    env = {**os.environ, "LD_LIBRARY_PATH": f"/nonexistent:{tmp_path}"}
    code = (
        "import ctypes.util\n"
        "from harmony.infra.shared_libraries import linker_cache_lookups\n"
        "with linker_cache_lookups():\n    print(ctypes.util.find_library('hmtest'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == str(tmp_path / "libhmtest.so.3")


def test_the_patch_is_undone_after_the_block_also_when_it_fails() -> None:
    original = ctypes.util.find_library
    try:
        with linker_cache_lookups():
            assert ctypes.util.find_library is not original
            raise ImportError("a failed import")
    except ImportError:
        pass
    assert ctypes.util.find_library is original


def test_importing_the_ssh_adapter_runs_no_compiler_and_finds_what_ctypes_finds(tmp_path: Path) -> None:
    """``gcc``, ``cc`` and ``ld`` on PATH log their calls: none is run, and asyncssh's post-quantum and UMAC
    algorithms are there exactly when ``find_library`` (the real one, run afterwards) finds their libraries."""
    log = tmp_path / "calls.log"
    for tool in ("gcc", "cc", "ld"):
        wrapper = tmp_path / tool
        wrapper.write_text(f"#!/bin/sh\necho {tool} >> {log}\nexit 1\n")
        wrapper.chmod(0o755)
    code = (
        "import ctypes.util, sys\n"
        "original = ctypes.util.find_library\n"
        "import harmony.infra.ssh\n"
        "from asyncssh.crypto import pq, umac\n"
        "assert ctypes.util.find_library is original\n"
        "print(pq.sntrup_available, hasattr(umac, 'umac64'))\n"
    )
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert not log.exists(), f"a compiler or linker ran: {log.read_text()}"
    oqs = bool(ctypes.util.find_library("oqs") or ctypes.util.find_library("liboqs"))
    nettle = bool(ctypes.util.find_library("nettle") or ctypes.util.find_library("libnettle"))
    assert out.split() == [str(oqs), str(nettle)]
