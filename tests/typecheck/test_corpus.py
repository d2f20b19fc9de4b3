"""The type-check corpus: every ``pass/`` file is clean on pyright and mypy (strict); every ``fail/`` file
gets an error from both checkers on each line marked ``# expect-error`` and on no other line.

Each checker runs once over the whole corpus; each file is then its own test case.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
PASS = sorted((HERE / "pass").glob("*.py"))
FAIL = sorted((HERE / "fail").glob("*.py"))
MARK = "# expect-error"

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
    files = PASS if kind == "pass" else FAIL
    proc = subprocess.run(
        [str(BIN / "mypy"), "--no-incremental", "--show-absolute-path", "--no-error-summary", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    errors: Errors = defaultdict(set)
    for line in proc.stdout.splitlines():
        m = re.match(r"^(.+?\.py):(\d+): error:", line)
        if m:
            errors[str(Path(m.group(1)).resolve())].add(int(m.group(2)))
    return errors


def test_corpus_is_not_empty() -> None:
    assert len(PASS) >= 3
    assert len(FAIL) >= 15, "the corpus should cover at least 15 misconfiguration classes"
    for path in FAIL:
        assert marked_lines(path), f"{path.name} has no line marked {MARK!r}"


@pytest.mark.parametrize("path", PASS, ids=lambda p: p.name)
@pytest.mark.parametrize("checker", [pyright_errors, mypy_errors], ids=["pyright", "mypy"])
def test_must_pass(path: Path, checker: Callable[[str], Errors]) -> None:
    errors = checker("pass")
    assert not errors.get(str(path.resolve())), f"{path.name} should type-check cleanly"


@pytest.mark.parametrize("path", FAIL, ids=lambda p: p.name)
@pytest.mark.parametrize("checker", [pyright_errors, mypy_errors], ids=["pyright", "mypy"])
def test_must_fail_at_marked_line(path: Path, checker: Callable[[str], Errors]) -> None:
    errors = checker("fail")
    found = errors.get(str(path.resolve()), set())
    expected = marked_lines(path)
    assert found == expected, f"{path.name}: errors on lines {sorted(found)}, expected exactly {sorted(expected)}"
