"""examples/hosts_deploy through the real ``harmony`` command: the local host and three SSH lab hosts.
Plan shows per-host diffs; the first apply is SUCCESS on every host; the second is NOOP on every host."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.testing.ssh_lab import SshLab

ROOT = Path(__file__).resolve().parents[2]
HARMONY = Path(sys.executable).parent / "harmony"


@pytest.fixture
def demo_dir() -> Iterator[str]:
    path = f"/srv/hm-e2e-{secrets.token_hex(3)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)  # the local host's copy; lab hosts' copies vanish with the lab


def harmony(lab: SshLab, demo: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONY_LAB": str(lab.workdir), "HARMONY_DEMO_DIR": demo}
    return subprocess.run(
        [str(HARMONY), *args, "examples/hosts_deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def finished_by_host(stdout: str) -> dict[str, str]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {e["host"]: e["status"] for e in events if e["event"] == "run_finished"}


def test_plan_then_apply_twice(ssh_lab: SshLab, demo_dir: str) -> None:
    plan = harmony(ssh_lab, demo_dir, "plan")
    assert plan.returncode == 0, plan.stderr
    for host in ("local", "lab0", "lab1", "lab2"):
        assert f"── {host}: 5 Score(s) to change" in plan.stdout
    assert f"+ file {demo_dir}/app.conf" in plan.stdout
    assert "+site = office-1" in plan.stdout

    first = harmony(ssh_lab, demo_dir, "apply", "--yes", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    assert finished_by_host(first.stdout) == dict.fromkeys(("local", "lab0", "lab1", "lab2"), "success")
    assert Path(demo_dir, "app.conf").read_text().endswith("site = office-1\nworkers = 4\n")
    assert os.readlink(Path(demo_dir, "current.conf")) == "app.conf"

    second = harmony(ssh_lab, demo_dir, "apply", "--yes")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "apply on 4 hosts: NOOP" in second.stdout
    again = harmony(ssh_lab, demo_dir, "apply", "--yes", "--json")
    assert finished_by_host(again.stdout) == dict.fromkeys(("local", "lab0", "lab1", "lab2"), "noop")


def test_one_unreachable_host_fails_alone_in_the_summary(ssh_lab: SshLab, tmp_path: Path, demo_dir: str) -> None:
    deploy = tmp_path / "partly_down.py"
    deploy.write_text(
        f"""
from pathlib import Path, PurePosixPath
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Inventory
from harmony.domain.values import Port
from harmony.modules.files import ManagedDirectory
from harmony.topology.linux_host import LinuxHost

inventory = Inventory.model_validate_json(Path({str(ssh_lab.workdir / "inventory.json")!r}).read_text())
known = Path({str(ssh_lab.known_hosts)!r})
first = inventory.hosts[0]
hosts = [LinuxHost.from_inventory(h, known_hosts=known) for h in inventory.hosts]
hosts.append(LinuxHost.ssh(first.address, name="down", port=Port(2222), key=first.key, known_hosts=known))
deployment = HostGroup(hosts=hosts).deploy([ManagedDirectory(path=PurePosixPath({demo_dir!r}))])
"""
    )
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        [str(HARMONY), "apply", str(deploy), "--yes"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert "Connection refused" in rows["down"] and "failure" in rows["down"]
    assert all("success" in rows[h] for h in ("lab0", "lab1", "lab2"))
    assert "apply on 4 hosts: FAILURE" in result.stdout
