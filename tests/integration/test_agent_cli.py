"""``harmony agent run`` with an embedded NATS: a real process that starts its own nats-server, ticks,
reports through ``harmony agent status``, logs JSON lines, and stops cleanly on SIGTERM; bad
configuration is rejected before anything starts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from harmony.agent.config import AgentConfig, EmbeddedNatsConfig, NatsConfig, PostgresConfig, to_toml
from tests.fixtures.ports import free_port

HARMONY = Path(sys.executable).parent / "harmony"


def config(tmp_path: Path) -> Path:
    cfg = AgentConfig(
        node_id="solo",
        cluster="cli",
        initial_role="replica",
        peers=("other",),
        state_dir=tmp_path / "state",
        nats=NatsConfig(embedded=EmbeddedNatsConfig(store_dir=tmp_path / "js", port=free_port())),
        postgres=PostgresConfig(data_dir=tmp_path / "nodata", port=free_port()),
    )
    path = tmp_path / "agent.toml"
    path.write_text(to_toml(cfg))
    return path


def test_agent_with_embedded_nats_reports_status_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = config(tmp_path)
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(
        [str(HARMONY), "agent", "run", "--config", str(path), "--json-logs"], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            out = subprocess.run(
                [str(HARMONY), "agent", "status", "--config", str(path), "--json"], capture_output=True, text=True
            )
            if out.returncode == 0:
                status = json.loads(out.stdout)["status"]
                if status["nats_ok"]:
                    break
            time.sleep(0.2)
        assert status.get("nats_ok") is True, "the agent never reached its embedded NATS"
        assert status["status"] == "absent"
        assert "waiting for the primary" in str(status["last_reason"])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "agent.log").read_text().splitlines() if line.startswith("{")]
    assert any("shutting down" in line["message"] for line in lines)


def test_bad_timing_is_rejected_at_load_naming_the_field(tmp_path: Path) -> None:
    path = config(tmp_path)
    path.write_text(path.read_text().replace("failover_timeout = 5.0", "failover_timeout = 1.5"))
    out = subprocess.run(
        [str(HARMONY), "agent", "run", "--config", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 1
    assert "timing.failover_timeout = 1.5 is not valid" in out.stderr
    assert not (tmp_path / "state").exists(), "something started despite the bad configuration"
