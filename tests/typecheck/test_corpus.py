"""The corpus of what Harmony refuses, and of what it must accept.

Every ``fail/`` file starts with a header comment saying how it fails:
- ``# fails: type check`` — both pyright and mypy (strict) report an error on each line marked
  ``# expect-error`` and on no other line;
- ``# fails: load`` — the file type-checks cleanly, and loading it (as ``harmony check`` does) fails with an
  error naming the file and the line marked ``# expect-load-error: <text>``, containing ``<text>`` and saying
  what was expected.
Every ``pass/`` file type-checks cleanly, and when it defines a ``deployment`` that deployment loads and
validates with no finding at all (``--strict``). Files are grouped by capability through their name prefix.

Each checker runs once over the whole corpus; each file is then its own test case.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from harmony.cli.loading import load
from harmony.cli.typecheck import run_mypy
from harmony.domain.deployment import Deployment
from harmony.domain.errors import DeploymentError
from harmony.domain.topology import Topology

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
PASS = sorted((HERE / "pass").glob("*.py"))
FAIL = sorted((HERE / "fail").glob("*.py"))
MARK = "# expect-error"
LOAD_MARK = "# expect-load-error:"
HEADERS = {"# fails: type check": MARK, "# fails: load": LOAD_MARK}

type Errors = dict[str, set[int]]


def marked_lines(path: Path) -> set[int]:
    return {n for n, line in enumerate(path.read_text().splitlines(), 1) if MARK in line}


@cache
def pyright_errors(kind: str) -> Errors:
    files = PASS if kind == "pass" else FAIL
    proc = subprocess.run(
        [str(BIN / "pyright"), "--outputjson", *map(str, files)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    report = json.loads(proc.stdout)
    errors: Errors = defaultdict(set)
    for d in report["generalDiagnostics"]:
        if d["severity"] == "error":
            errors[str(Path(d["file"]).resolve())].add(d["range"]["start"]["line"] + 1)
    return errors


@cache
def mypy_errors(kind: str) -> Errors:
    """mypy as ``harmony check`` runs it (its configuration, a fresh cache), so the corpus proves that checker."""
    files = PASS if kind == "pass" else FAIL
    with tempfile.TemporaryDirectory(prefix="harmony-corpus-mypy-") as cache:
        diagnostics = run_mypy(files, extra_paths=[], cache_dir=Path(cache))
    errors: Errors = defaultdict(set)
    for d in diagnostics:
        errors[str(Path(d.file).resolve())].add(d.line)
    return errors


@cache
def _base_from_another_checkout() -> Path:
    """A base for seeded caches (``harmony.cli.mypy_base``), built as a machine would build it: by checking another
    copy of the same files (the must-fail corpus, at another path: the case where mypy replays errors)."""
    root = Path(_TEMP.name)
    copy = root / "other-checkout"
    copy.mkdir()
    for f in FAIL:
        shutil.copy(f, copy / f.name)
    base = root / "base"
    run_mypy(sorted(copy.glob("*.py")), extra_paths=[], cache_dir=root / "other-cache", base_dir=base)
    assert base.is_dir(), "the first check on the machine left no base"
    return base


_TEMP = tempfile.TemporaryDirectory(prefix="harmony-corpus-base-")


@cache
def mypy_seeded_errors(kind: str) -> Errors:
    """mypy as ``harmony check`` runs a new deployment on a machine that checked one before: its fresh cache
    starts from the base of Harmony's types, built from another checkout of the same files."""
    files = PASS if kind == "pass" else FAIL
    base = _base_from_another_checkout()
    with tempfile.TemporaryDirectory(prefix="harmony-corpus-mypy-") as cache:
        diagnostics = run_mypy(files, extra_paths=[], cache_dir=Path(cache), base_dir=base)
    errors: Errors = defaultdict(set)
    for d in diagnostics:
        errors[str(Path(d.file).resolve())].add(d.line)
    return errors


def load_mark(path: Path) -> tuple[int, str] | None:
    """The line marked ``# expect-load-error: <text>`` and its text, if any."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if LOAD_MARK in line:
            return n, line.split(LOAD_MARK, 1)[1].strip()
    return None


LOAD_FAIL = [p for p in FAIL if load_mark(p) is not None]


def test_corpus_is_not_empty() -> None:
    assert len(FAIL) >= 100, "the corpus should cover at least 100 misconfiguration classes"
    assert len(PASS) >= len(FAIL), "at least as many must-pass files as must-fail ones"
    stems = [p.stem for p in PASS + FAIL]
    assert len(stems) == len(set(stems)), "file names are module names: each once across pass/ and fail/"
    for path in FAIL:
        header = path.read_text().splitlines()[0]
        assert header in HEADERS, f"{path.name} starts with {header!r}, expected one of {sorted(HEADERS)}"
        mark = HEADERS[header]
        assert mark in path.read_text(), f"{path.name} says {header!r} but has no line marked {mark!r}"


def _load(path: Path) -> Deployment[Topology] | None:
    sys.modules.pop(path.stem, None)
    try:
        return load(str(path)).deployment
    except DeploymentError as e:
        if "defines no `deployment" in str(e):
            return None
        raise


@pytest.mark.parametrize("path", LOAD_FAIL, ids=lambda p: p.name)
def test_must_fail_at_load_at_marked_line(path: Path) -> None:
    mark = load_mark(path)
    assert mark is not None
    line, text = mark
    with pytest.raises(DeploymentError) as e:
        _load(path)
    message = str(e.value)
    assert f"{path.resolve()}:{line}:" in message, f"{path.name}: the error names no line {line}: {message}"
    assert text in message, f"{path.name}: {text!r} not in {message}"
    assert "expected" in message, f"{path.name}: the error does not say what was expected: {message}"


@pytest.mark.parametrize("path", PASS, ids=lambda p: p.name)
def test_must_pass_loads_without_findings(path: Path) -> None:
    deployment = _load(path)
    if deployment is not None:
        deployment.validate(strict=True)


@pytest.mark.parametrize("path", PASS, ids=lambda p: p.name)
@pytest.mark.parametrize(
    "checker", [pyright_errors, mypy_errors, mypy_seeded_errors], ids=["pyright", "mypy", "mypy-seeded"]
)
def test_must_pass(path: Path, checker: Callable[[str], Errors]) -> None:
    errors = checker("pass")
    assert not errors.get(str(path.resolve())), f"{path.name} should type-check cleanly"


@pytest.mark.parametrize("path", FAIL, ids=lambda p: p.name)
@pytest.mark.parametrize(
    "checker", [pyright_errors, mypy_errors, mypy_seeded_errors], ids=["pyright", "mypy", "mypy-seeded"]
)
def test_must_fail_at_marked_line(path: Path, checker: Callable[[str], Errors]) -> None:
    errors = checker("fail")
    found = errors.get(str(path.resolve()), set())
    expected = marked_lines(path)
    assert found == expected, f"{path.name}: errors on lines {sorted(found)}, expected exactly {sorted(expected)}"
