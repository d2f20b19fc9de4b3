"""A base for new deployments' mypy caches: the cached types of Harmony, the standard library and the installed
packages, so that the first check of a deployment checks the deployment, not the framework again.

Built from the first deployment's cache checked on this machine (by this interpreter, copy of Harmony, mypy and
configuration: the key), and copied into each new deployment's empty cache. mypy keeps, per module, the path of
the file it checked and replays its errors when that file is unchanged (the reason caches are per deployment,
see ``typecheck``); so the base holds only modules whose file cannot depend on the deployment: ``harmony`` (the
installed copy is part of the key), the standard library and the site-packages of this interpreter. A deployment
that could shadow one of them (a file, a directory or a path component with that name, in what it checks, on its
module path, or in the working directory) neither adds it to the base nor gets it from there. mypy checks every
copied module's file against its cache entry (mtime, size, hash) as for any cache, so an edited Harmony or an
upgraded package is checked again, not replayed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sqlite3
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

_PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def base_dir(cache_root: Path, key: str) -> Path:
    """Where the base for ``key`` (Harmony's path, mypy's version, the configuration) lives. Not ``mypy-*``: the
    deployments' caches are evicted by that name."""
    full = "\0".join([key, sys.executable])
    return cache_root / f"mypybase-{_PY}-{hashlib.sha256(full.encode()).hexdigest()[:16]}"


def is_empty(cache: Path) -> bool:
    """A cache mypy has not written to yet (only our configuration file in it)."""
    return not (cache / _PY).exists()


def seed(cache: Path, base: Path, *, shadowed: set[str]) -> bool:
    """Copy ``base`` into the empty ``cache``, without the modules named in ``shadowed``; False without a base."""
    src = base / _PY
    if not src.is_dir():
        return False
    dest = cache / _PY
    try:
        shutil.copytree(src, dest)
        _drop(dest, keep=lambda top: top not in shadowed)
    except (OSError, sqlite3.Error):
        shutil.rmtree(dest, ignore_errors=True)  # a partial seed is no seed: mypy builds the cache itself
        return False
    return True


def build(cache: Path, base: Path, *, shadowed: set[str], harmony: Path) -> None:
    """Make ``base`` from ``cache`` (a deployment's, just checked) if there is none yet: its modules of Harmony,
    the standard library and site-packages only, minus ``shadowed``. Best effort: without a base, checks are
    only slower."""
    if base.exists() or not (cache / _PY).is_dir():
        return
    independent = _independent_names(harmony)
    tmp = base.with_name(f"{base.name}.tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(cache / _PY, tmp / _PY)
        _drop(tmp / _PY, keep=lambda top: top in independent and top not in shadowed)
        tmp.rename(base)  # atomic: a seed sees no base or a whole one
    except (OSError, sqlite3.Error):
        shutil.rmtree(tmp, ignore_errors=True)


def shadowed_names(paths: list[Path], extra_paths: list[Path]) -> set[str]:
    """Every top-level module name a deployment could define: the components of its paths, what sits beside the
    checked files, in its module path and in the working directory."""
    names: set[str] = set()
    cwd = Path.cwd()
    places = [cwd]
    for p in [*paths, *extra_paths]:
        r = p.resolve()
        names.update(_stem(part) for part in r.parts)
        places.append(r if r.is_dir() else r.parent)
    names.update(_stem(part) for part in cwd.parts)
    for place in places:
        try:
            names.update(_stem(child.name) for child in place.iterdir())
        except OSError:
            continue
    return names


def _stem(name: str) -> str:
    return name.split(".")[0]


def _independent_names(harmony: Path) -> set[str]:
    """Top-level modules whose files do not depend on a deployment: Harmony, the standard library (typeshed's
    list) and the packages installed in this interpreter's site-packages."""
    names = {harmony.name}
    spec = importlib.util.find_spec("mypy")
    try:
        if spec is None or spec.origin is None:
            raise OSError("mypy is not installed")
        versions = Path(spec.origin).parent / "typeshed" / "stdlib" / "VERSIONS"
        for line in versions.read_text().splitlines():
            name = line.split("#")[0].split(":")[0].strip()
            if name:
                names.add(name.split(".")[0])
    except OSError:
        pass  # then the base holds Harmony and site-packages only
    for key in ("purelib", "platlib"):
        site = Path(sysconfig.get_paths()[key])
        try:
            names.update(_stem(child.name) for child in site.iterdir() if not child.name.endswith((".pth", "-info")))
        except OSError:
            continue
    return names


def _drop(cache_version_dir: Path, *, keep: Callable[[str], bool]) -> None:
    """Delete from mypy's sqlite cache shards the entries of modules ``keep`` refuses (by top-level name). A
    cache in another layout (mypy's file per module) cannot be filtered here: refused, so never copied whole."""
    entries = list(cache_version_dir.iterdir())
    if not entries or any(not (e.is_file() and e.name.startswith("cache") and e.suffix == ".db") for e in entries):
        raise OSError(f"{cache_version_dir} is not a sqlite cache of mypy")
    for db in entries:
        with sqlite3.connect(db) as conn:
            rows = [path for (path,) in conn.execute("SELECT path FROM files2")]
            gone = [(p,) for p in rows if not p.startswith("@") and not keep(p.split("/")[0].split(".")[0])]
            conn.executemany("DELETE FROM files2 WHERE path = ?", gone)
        conn.close()
