"""The README walkthrough through the real ``harmony`` console script: a fleet server, three device agents
(own podman store and identity each), a staged rollout, status as JSON, logs, a bad version halted at the
canary, a device going offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.fleet.credentials import Identity
from tests.fixtures.podman import podman_in, wipe
from tests.fixtures.ports import free_port

HARMONY = str(Path(sys.executable).parent / "harmony")
ROOT = Path(__file__).resolve().parents[2]
DEVICES = ("pi-1", "pi-2", "pi-3")


class Operator:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "HARMONY_FLEET_HOME": str(tmp / "fleet")}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.outputs: list[str] = []  # every CLI output, scanned for passwords at the end

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [HARMONY, "fleet", *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        self.outputs += [done.stdout, done.stderr]
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def start(self, name: str, *args: str) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [HARMONY, "fleet", *args], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def operator(tmp_path: Path) -> Iterator[Operator]:
    op = Operator(tmp_path)
    try:
        yield op
    finally:
        for name in list(op.procs):
            op.stop(name)
        for device in DEVICES:
            wipe(podman_in(tmp_path / device))


def wait_until(check: object, timeout: float = 30) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.3)


def test_readme_walkthrough(operator: Operator, tmp_path: Path) -> None:
    op = operator
    op.run("init", "--port", str(free_port()))
    auth = tmp_path / "fleet" / "nats-auth.conf"
    auth.write_text(auth.read_text() + "# as an older release wrote it\n")
    op.start("server", "server")
    wait_until(
        lambda: (
            (tmp_path / "fleet" / "nats.log").exists()
            and "Server is ready" in (tmp_path / "fleet" / "nats.log").read_text()
        )
    )
    assert "older release" not in auth.read_text()  # the server's start rewrote the authorization
    op.run("busybox-tar", str(tmp_path / "web.tar"))
    for device in DEVICES:
        op.run("register", device, "-l", "site=lab", "-l", f"ring={'canary' if device == 'pi-1' else 'main'}")
    for device in DEVICES:
        podman_in(tmp_path / device)  # this machine's containers.conf for that store
        op.start(
            device, "agent", "--credentials", str(tmp_path / "fleet" / "devices" / f"{device}.json"),
            "--store", str(tmp_path / device), "--heartbeat", "0.5", "--ground-truth", "2",
            "--image", f"localhost/fleetweb:1={tmp_path / 'web.tar'}",
        )  # fmt: skip
    wait_until(lambda: all(op.run("ping", d, ok=False).returncode == 0 for d in DEVICES))

    staged = ("-s", "site=lab", "--canary", "0.3", "--waves", "2", "--json")
    v1 = json.loads(op.run("deploy", "web", "examples/fleet_web/web_v1.py", *staged).stdout)
    assert (v1["phase"], v1["targeted"], v1["healthy"], v1["failed"]) == ("done", 3, 3, 0)
    assert "serving v1" in op.run("logs", "pi-2", "web", "--lines", "20").stdout

    bad = op.run("deploy", "web", "examples/fleet_web/web_v3_broken.py", *staged, ok=False)
    assert bad.returncode == 1
    halted = json.loads(bad.stdout)
    assert (halted["phase"], halted["failed"], halted["healthy"]) == ("halted", 1, 0)
    verdicts = {d["device"]: d["verdict"] for d in halted["devices"]}
    assert verdicts == {"pi-1": "failed", "pi-2": "pending", "pi-3": "pending"}
    assert "exit code 3" in {d["device"]: d["message"] for d in halted["devices"]}["pi-1"]

    v2 = json.loads(op.run("deploy", "web", "examples/fleet_web/web_v2.py", *staged).stdout)
    assert (v2["phase"], v2["healthy"]) == ("done", 3)
    status = json.loads(op.run("status", "web", "--json").stdout)[0]
    assert status["version"] == v2["version"] and status["healthy"] == 3

    overview = {d["device"]: d for d in json.loads(op.run("devices", "--json").stdout)}
    assert overview["pi-1"]["online"] and overview["pi-1"]["labels"] == {"site": "lab", "ring": "canary"}
    assert overview["pi-2"]["healthy"] == 1

    # An agent killed outright: its workload keeps running; restarted, it adopts it and reports healthy again.
    op.procs["pi-2"].kill()
    op.procs.pop("pi-2").wait()
    assert op.run("ping", "pi-2", ok=False).returncode == 1
    op.start(
        "pi-2", "agent", "--credentials", str(tmp_path / "fleet" / "devices" / "pi-2.json"),
        "--store", str(tmp_path / "pi-2"), "--heartbeat", "0.5", "--ground-truth", "2",
    )  # fmt: skip

    def pong() -> dict[str, dict[str, dict[str, str]]]:
        answer = op.run("ping", "pi-2", ok=False)
        return json.loads(answer.stdout) if answer.returncode == 0 else {"deployments": {}}

    wait_until(lambda: pong()["deployments"].get("web", {}).get("phase") == "running")
    assert pong()["deployments"]["web"] == {"version": v2["version"], "phase": "running"}
    # The same container: its log starts at v2 (all of it: on a slow machine, health checks add many lines).
    assert "serving v2" in op.run("logs", "pi-2", "web", "--lines", "500").stdout

    op.stop("pi-3")
    offline = op.run("ping", "pi-3", ok=False)
    assert offline.returncode == 1 and "offline" in offline.stderr

    assert_no_password_in(op, tmp_path / "fleet")


def assert_no_password_in(op: Operator, home: Path) -> None:
    """No generated password in any output of the walkthrough: CLI stdout/stderr (status and deploy JSON
    included), device agent and server logs; the identity files that hold them are 0600."""
    files = [home / "control.json", *sorted((home / "devices").glob("*.json"))]
    passwords = [Identity.model_validate_json(f.read_text()).password.reveal() for f in files]
    assert len(set(passwords)) == 1 + len(DEVICES)
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in [*files, home / "nats-auth.conf"])
    logs = [p.read_text(errors="replace") for p in (*op.tmp.glob("*.log"), *home.glob("*.log"))]
    outputs = [*op.outputs, *logs]
    assert len(logs) >= 1 + len(DEVICES) and len(op.outputs) > 20
    leaked = [i for i, p in enumerate(passwords) if any(p in o for o in outputs)]
    assert not leaked, f"{len(leaked)} password(s) appear in the walkthrough's outputs"
