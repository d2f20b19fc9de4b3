"""The agent's supervisor on a host without systemd, as real processes against a real nats-server.

- ``kill -9`` of the agent: the supervisor starts it again and it heartbeats again in NATS; SIGTERM to the
  supervisor stops the agent too (nothing is left running).
- An agent that keeps exiting is restarted after a back-off that doubles each time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from harmony.agent.supervisor import SupervisorPaths, UpgradeState
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.records import HEARTBEAT
from harmony.infra.nats import FleetNatsServer
from harmony.topology.agent_host import StoreHeartbeats
from tests.fixtures.supervised_agent import script, start_supervised


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_killed_agent_comes_back_and_heartbeats(
    tmp_path: Path, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    device = f"sup-{os.getpid()}"
    agent = start_supervised(tmp_path, fleet_home, fleet_server, device)
    await fleet_server.reload()
    beats = StoreHeartbeats(fleet_control.bus.bucket(HEARTBEAT))
    try:
        assert await beats.wait_heartbeat(device, after=0, timeout=90), agent.log_text()
        (first,) = agent.children()

        os.kill(first, signal.SIGKILL)
        mark = await beats.heartbeat_mark(device)  # a killed process sends nothing more: a later beat is new
        assert await beats.wait_heartbeat(device, after=mark, timeout=90), agent.log_text()
        (second,) = agent.children()
        assert second != first
        assert f"agent (pid {first}) exited with status -9" in agent.log_text()
    finally:
        children = agent.children()
        agent.stop()
    assert agent.process.returncode == 0, agent.log_text()
    assert not [pid for pid in children if alive(pid)], "the supervisor left its agent running"


def test_backoff_doubles_while_the_agent_keeps_exiting(tmp_path: Path) -> None:
    script(tmp_path / "harmony-agent", "exit 3")
    program = (
        "import sys; from pathlib import Path;"
        "from harmony.agent.supervisor import AgentSupervisor, SupervisorPaths;"
        "sys.exit(AgentSupervisor(SupervisorPaths(Path(sys.argv[1])), [], base_delay=0.05, max_delay=0.4).run())"
    )
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", program, str(tmp_path)], stdout=out, stderr=out)
    try:
        while len(re.findall(r"restarting in", log.read_text())) < 6 and process.poll() is None:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    delays = [float(d) for d in re.findall(r"exited with status 3; restarting in ([0-9.]+)s", log.read_text())]
    assert delays[:6] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4], log.read_text()
    assert process.returncode == 0


def test_a_trial_cut_short_by_the_supervisors_end_is_rolled_back_when_it_starts_again(tmp_path: Path) -> None:
    paths = SupervisorPaths(tmp_path)
    old = script(tmp_path / "harmony-agent.previous", "exec sleep 600").read_bytes()
    script(tmp_path / "harmony-agent", "exec sleep 600  # the release on trial")
    paths.write_state(UpgradeState(version="2.0.0", previous="1.0.0", phase="trial"))
    program = (
        "import sys; from pathlib import Path;"
        "from harmony.agent.supervisor import AgentSupervisor, SupervisorPaths;"
        "sys.exit(AgentSupervisor(SupervisorPaths(Path(sys.argv[1])), []).run())"
    )
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", program, str(tmp_path)], stdout=out, stderr=out)
    try:
        while "agent started" not in log.read_text() and process.poll() is None:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert (tmp_path / "harmony-agent").read_bytes() == old, log.read_text()
    state = paths.read_state()
    assert state is not None and state.phase == "rolled-back", state
    assert state.reason == "the supervisor stopped during the new agent's trial"
    assert paths.current_version() == "1.0.0"


def test_an_agent_left_by_a_killed_supervisor_keeps_running_until_the_next_supervisor_replaces_it(
    tmp_path: Path,
) -> None:
    script(tmp_path / "harmony-agent", "exec sleep 600")
    program = (
        "import sys; from pathlib import Path;"
        "from harmony.agent.supervisor import AgentSupervisor, SupervisorPaths;"
        "sys.exit(AgentSupervisor(SupervisorPaths(Path(sys.argv[1])), [], grace=2.0).run())"
    )

    def supervisor(log: Path) -> tuple[subprocess.Popen[bytes], int]:
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-c", program, str(tmp_path)], stdout=out, stderr=out)
        recorded = tmp_path / "agent.pid"  # written just after the agent started
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
            if children and recorded.exists() and recorded.read_text().strip() == children[0]:
                return process, int(children[0])
            time.sleep(0.05)
        raise AssertionError(f"no agent started: {log.read_text()}")

    first, orphan = supervisor(tmp_path / "first.log")
    first.kill()
    first.wait()
    time.sleep(0.5)
    assert alive(orphan), "the agent went down with its supervisor"

    second, agent = supervisor(tmp_path / "second.log")
    try:
        assert agent != orphan
        deadline = time.monotonic() + 30
        while alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(orphan), (tmp_path / "second.log").read_text()
        assert (
            f"stopping the agent (pid {orphan}) a previous supervisor left running"
            in (tmp_path / "second.log").read_text()
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert not alive(agent)
