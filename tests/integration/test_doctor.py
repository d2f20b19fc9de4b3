"""``harmony doctor`` for real: on this (complete) machine, and with a PATH that hides podman."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from harmony.infra.doctor import check_program
from harmony.infra.programs import ALL, HAPROXY

HARMONY = Path(sys.executable).parent / "harmony"


def _doctor(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"} | ({"PATH": path} if path is not None else {})
    return subprocess.run(
        [str(HARMONY), "doctor", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _path_without(tmp_path: Path, hidden: str) -> str:
    """A bin directory with a link to every program on this machine's PATH except ``hidden``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not Path(directory).is_dir():
            continue
        for program in Path(directory).iterdir():
            link = bin_dir / program.name
            if program.name != hidden and not link.exists() and os.access(program, os.X_OK):
                link.symlink_to(program)
    return str(bin_dir)


def test_doctor_passes_on_this_machine_and_reports_every_check() -> None:
    done = _doctor("--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0, [c for c in report["checks"] if c["status"] != "ok"]
    assert report["ok"] is True
    names = {c["name"] for c in report["checks"] if c["category"] == "program"}
    assert names == {p.name for p in ALL}
    assert {c["category"] for c in report["checks"]} == {"program", "kernel", "limits", "state"}
    assert {c["name"] for c in report["checks"] if c["category"] == "kernel"} == {
        "network namespaces",
        "named network namespaces",
        "nftables",
    }
    assert all(set(c) == {"category", "name", "status", "detail", "fix"} for c in report["checks"])


def test_doctor_without_podman_names_it_and_its_package(tmp_path: Path) -> None:
    path = _path_without(tmp_path, "podman")
    done = _doctor("--json", path=path)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    missing = [c for c in report["checks"] if c["status"] == "missing"]
    assert [c["name"] for c in missing] == ["podman"]
    assert missing[0]["fix"] == "apt-get install podman"

    text = _doctor(path=path)
    assert text.returncode == 1
    assert "podman: apt-get install podman" in text.stdout


def test_a_program_older_than_its_minimum_is_missing() -> None:
    finding = check_program(replace(HAPROXY, min_version="999"))
    assert finding.status == "missing"
    assert "needs 999 or newer" in finding.detail
    assert finding.fix == "install a newer haproxy"
