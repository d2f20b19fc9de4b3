"""The agent as one executable file: PyInstaller's one-file mode over the ``harmony`` command.

Why PyInstaller: it is a plain wheel (no compiler, no network at build time), it bundles this very
interpreter and every imported wheel, C extensions included (pydantic-core, cryptography, psycopg's binary),
and its one-file output is a self-extracting ELF that needs nothing but the C library of a Debian 12 or newer
machine. Nuitka compiles to C (minutes of gcc on two cores per build); shiv/zipapp and PEX still need a
Python on the target; python-build-standalone is not on the package index.

The file holds the whole ``harmony`` command, so every agent role is in it: ``agent run`` (failover
member), ``fleet agent`` (fleet device), ``containers supervise`` (container supervisor) and what later
roles add. Builds are cached by a hash of the source (``source_digest``): a second build of unchanged source
costs a hash of the tree, not a minute of PyInstaller. Not guaranteed: the file runs on machines of this
architecture and a C library at least as new as the build machine's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from harmony.domain.errors import HarmonyError
from harmony.modules.agent.binary import sha256_of

BINARY_NAME = "harmony-agent"
_ENTRY = "from harmony.cli.app import main\n\nmain()\n"
_SKIP_DIRS = {"__pycache__"}
# The CLI loads its command modules by name when a command runs (cli/lazy.py), the package namespaces resolve
# names on first use (domain/exports.py), and an agent validates Scores of any registered kind from desired
# state: PyInstaller sees only imports it can read, so every module of ``harmony`` is collected.
_COLLECT = ("harmony",)


class AgentBuildError(HarmonyError):
    """PyInstaller failed or is missing; the message carries the end of its output."""


@dataclass(frozen=True)
class AgentBinary:
    path: Path
    sha256: str
    source_digest: str
    size: int
    build_seconds: float
    """0.0 when the file came from the cache."""
    cached: bool


def source_root() -> Path:
    return Path(__file__).resolve().parent.parent  # the ``harmony`` package (not imported: layering)


def source_digest(root: Path | None = None) -> str:
    """SHA-256 over every file of the ``harmony`` package (path and bytes), this Python and PyInstaller."""
    root = root or source_root()
    h = hashlib.sha256()
    h.update(f"{sys.version}|{_pyinstaller_version()}|{_ENTRY}|{_COLLECT}".encode())
    h.update(_installed_distributions().encode())
    for path in sorted(_files(root)):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            if not name.endswith((".pyc", ".pyo")):
                yield Path(dirpath) / name


def _installed_distributions() -> str:
    """Every wheel of this environment with its version: an upgraded dependency is a new build too."""
    found = {f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()}
    return ",".join(sorted(found))


def _pyinstaller_version() -> str:
    try:
        from PyInstaller import __version__  # type: ignore[import-untyped]  # PyInstaller ships no type hints

        return str(__version__)  # pyright: ignore[reportUnknownArgumentType]
    except ImportError:
        return "missing"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harmony" / "agent-builds"


def build_agent(*, cache_dir: Path | None = None, force: bool = False) -> AgentBinary:
    """The agent executable for the current source: from the cache, or built now (about a minute).

    Concurrent builds of the same source wait for each other (a lock file per digest), so a test session
    with many workers builds once.
    """
    if _pyinstaller_version() == "missing":
        raise AgentBuildError(
            "PyInstaller is not installed in this environment: pip install 'pyinstaller>=6' "
            "(it is in Harmony's dev extra: bash scripts/install)"
        )
    digest = source_digest()
    folder = (cache_dir or default_cache_dir()) / digest[:24]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / BINARY_NAME
    with _locked(folder / ".lock"):
        if target.exists() and not force:
            return AgentBinary(target, sha256_of(target), digest, target.stat().st_size, 0.0, cached=True)
        started = time.monotonic()
        _run_pyinstaller(target)
        elapsed = time.monotonic() - started
    return AgentBinary(target, sha256_of(target), digest, target.stat().st_size, elapsed, cached=False)


@contextlib.contextmanager
def _locked(path: Path) -> Generator[None]:
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run_pyinstaller(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="harmony-agent-build-") as work:
        w = Path(work)
        entry = w / "harmony_agent_entry.py"
        entry.write_text(_ENTRY)
        argv = [
            sys.executable, "-m", "PyInstaller", "--onefile", "--noconfirm", "--log-level", "WARN",
            "--name", BINARY_NAME, "--distpath", str(w / "dist"), "--workpath", str(w / "build"),
            "--specpath", str(w), "--collect-data", "harmony",
            *(f"--collect-submodules={m}" for m in _COLLECT), str(entry),
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, cwd=w, check=False)
        built = w / "dist" / BINARY_NAME
        if done.returncode != 0 or not built.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise AgentBuildError(f"PyInstaller exited with {done.returncode}:\n{tail}")
        staged = target.with_name(f".{BINARY_NAME}.{os.getpid()}")
        shutil.copy2(built, staged)
        staged.chmod(0o755)
        staged.replace(target)  # atomic: a reader sees the old file or the whole new one
