"""Run pyright in strict mode over a deployment's files: the static half of ``harmony check``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

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
