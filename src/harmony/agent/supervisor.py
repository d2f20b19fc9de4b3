"""The agent's supervisor on hosts without systemd: the process a service's pid file names.

``harmony agent supervise --dir DIR -- ARGS…`` runs ``DIR/harmony-agent ARGS…`` as a child in a session of its
own and restarts it whenever it ends (a crash, ``kill -9``): after ``base_delay`` seconds, doubling up to
``max_delay`` while it keeps ending, back to ``base_delay`` once a child ran ``stable_after`` seconds. On
SIGTERM/SIGINT it stops the child (SIGTERM to its process group, SIGKILL after ``grace``) and exits.

It also applies agent upgrades, the one step an agent cannot do to itself. The agent (``fleet.agent_upgrade``)
downloads and verifies a release, leaves it at ``DIR/harmony-agent.next`` with ``upgrade.json`` saying
``staged``, and sends SIGUSR1 to the supervisor (``HARMONY_AGENT_SUPERVISOR_PID``). The supervisor stops the
child, keeps the current file as ``harmony-agent.previous`` (a hard link), renames the new one over
``harmony-agent`` (atomic), and starts it on *trial*: it is kept only if it writes ``DIR/healthy`` (the agent
does so after each heartbeat it sent to NATS) within ``trial_deadline`` seconds. If it exits first, or the
deadline passes (it hangs), it is killed, the previous file is renamed back and started, and
``upgrade.json`` says ``rolled-back`` with the reason, which the restarted agent reports to the fleet.

If the supervisor itself is killed, its agent keeps running; the next supervisor (the service started again)
stops that agent (its pid is in ``agent.pid``) before it starts its own. Not guaranteed: the supervisor itself
keeps running the code it started with (an upgrade replaces the agent, not the supervisor; the next service
restart runs the new one). A trial interrupted by the supervisor's own end (SIGTERM, reboot) is rolled back
when it starts again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmony.infra.state_files import write_atomic

ENV_DIR = "HARMONY_AGENT_SUPERVISOR_DIR"
ENV_PID = "HARMONY_AGENT_SUPERVISOR_PID"
BINARY = "harmony-agent"
EXIT_POLL = 0.05

type UpgradePhase = Literal["staged", "trial", "upgraded", "rolled-back", "refused"]


class UpgradeState(BaseModel):
    """The last agent upgrade of this host (``upgrade.json``), written by the agent and the supervisor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    """The release being (or last) installed."""
    sha256: str = ""
    previous: str
    """The release that ran before (empty: the build installed with the service)."""
    phase: UpgradePhase
    reason: str = ""


@dataclass(frozen=True)
class SupervisorPaths:
    """Where the supervised agent's files are: all in one directory, so every rename is atomic."""

    dir: Path

    @property
    def binary(self) -> Path:
        return self.dir / BINARY

    @property
    def next(self) -> Path:
        return self.dir / f"{BINARY}.next"

    @property
    def previous(self) -> Path:
        return self.dir / f"{BINARY}.previous"

    @property
    def state(self) -> Path:
        return self.dir / "upgrade.json"

    @property
    def release(self) -> Path:
        return self.dir / "release.json"

    @property
    def health(self) -> Path:
        return self.dir / "healthy"

    @property
    def agent_pid(self) -> Path:
        return self.dir / "agent.pid"

    def read_state(self) -> UpgradeState | None:
        try:
            return UpgradeState.model_validate_json(self.state.read_bytes())
        except (OSError, ValueError):
            return None

    def write_state(self, state: UpgradeState) -> None:
        write_atomic(self.state, state.model_dump_json().encode())

    def current_version(self) -> str:
        """The release the binary in place came from; empty for the build installed with the service, and when
        the file was replaced since the release was put in place (enrolling again installs the enrolled build)."""
        try:
            found = json.loads(self.release.read_bytes())
        except (OSError, ValueError):
            return ""
        if not isinstance(found, dict) or found.get("file") != self._identity():  # pyright: ignore[reportUnknownMemberType]  # JSON
            return ""
        return str(found.get("version", ""))  # pyright: ignore[reportUnknownArgumentType, reportUnknownMemberType]  # JSON

    def set_current_version(self, version: str) -> None:
        write_atomic(self.release, json.dumps({"version": version, "file": self._identity()}).encode())

    def _identity(self) -> list[int]:
        """Which file is in place (inode, size, mtime): a rename keeps it, any other writer changes it."""
        try:
            st = self.binary.stat()
        except OSError:
            return []
        return [st.st_ino, st.st_size, st.st_mtime_ns]


@dataclass(frozen=True)
class SupervisorLink:
    """What an agent started by the supervisor knows of it (from its environment)."""

    paths: SupervisorPaths
    pid: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SupervisorLink | None:
        where, pid = env.get(ENV_DIR), env.get(ENV_PID, "")
        if not where or not pid.isdigit():
            return None
        return cls(SupervisorPaths(Path(where)), int(pid))

    def beat(self) -> None:
        """Tell the supervisor this agent is healthy (it sent a heartbeat). The file is made once: the supervisor
        removes it before each trial, and a beat costs a stat, not a write (flash storage wears)."""
        if not self.paths.health.exists():
            self.paths.health.write_bytes(b"")

    def request_upgrade(self) -> None:
        os.kill(self.pid, signal.SIGUSR1)


class AgentSupervisor:
    def __init__(
        self,
        paths: SupervisorPaths,
        args: Sequence[str],
        *,
        trial_deadline: float = 60.0,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        grace: float = 10.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = paths
        self.args = tuple(args)
        self.trial_deadline = trial_deadline
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.grace = grace
        self.log = log or _log
        self._stop = False
        self._upgrade = False

    def _on_stop(self, _sig: int, _frame: FrameType | None) -> None:
        self._stop = True

    def _on_upgrade(self, _sig: int, _frame: FrameType | None) -> None:
        self._upgrade = True

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT; the exit status of the supervisor."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_upgrade)
        if not self.paths.binary.is_file():
            self.log(f"no agent at {self.paths.binary}: install it (harmony fleet enroll) and start the service again")
            return 2
        self._stop_leftover()
        self._recover()
        delay = self.base_delay
        while not self._stop:
            child = self._trial() if self._staged() else self._start()
            if child is None:
                break
            started = time.monotonic()
            ended = self._wait(child)
            if ended != "exited":
                self._terminate(child)
                continue  # stop: the loop ends; upgrade: the next round swaps the file
            self._reap(child)
            if time.monotonic() - started > self.stable_after:
                delay = self.base_delay
            self.log(f"agent (pid {child.pid}) exited with status {child.returncode}; restarting in {delay:g}s")
            self._sleep(delay)
            delay = min(delay * 2, self.max_delay)
        self.log("supervisor stopped")
        return 0

    def _start(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [str(self.paths.binary), *self.args], env=child_env(self.paths), start_new_session=True
        )
        write_atomic(self.paths.agent_pid, f"{child.pid}\n".encode())
        self.log(f"agent started (pid {child.pid}, release {self.paths.current_version() or 'as installed'})")
        return child

    def _stop_leftover(self) -> None:
        """The agent a previous supervisor left running (it was killed, the agent was not): stopped before a new
        one starts, so a device never runs two agents. Only a process this directory's supervisor started is."""
        try:
            pid = int(self.paths.agent_pid.read_text())
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except (OSError, ValueError):
            return
        if f"{ENV_DIR}={self.paths.dir}".encode() not in environ.split(b"\0"):
            return  # that pid is now another program's
        self.log(f"stopping the agent (pid {pid}) a previous supervisor left running")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while _state(pid) not in ("", "Z") and time.monotonic() < deadline:
            time.sleep(EXIT_POLL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def _wait(self, child: subprocess.Popen[bytes]) -> Literal["exited", "stop", "upgrade"]:
        while True:
            if self._stop:
                return "stop"
            if self._upgrade:
                self._upgrade = False
                if self._staged():
                    return "upgrade"
                self.log("upgrade requested but nothing is staged: ignored")
            if child.poll() is not None:
                return "exited"
            time.sleep(EXIT_POLL)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stop and time.monotonic() < end:
            time.sleep(EXIT_POLL)

    def _terminate(self, child: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the child's process group, SIGKILL after ``grace``; its leftovers too."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            self.log(f"agent (pid {child.pid}) ignored SIGTERM for {self.grace:g}s: killed")
        self._reap(child)

    def _reap(self, child: subprocess.Popen[bytes]) -> None:
        """Whatever is left of the child's session (a one-file binary's inner process) is killed."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    # upgrades

    def _staged(self) -> bool:
        state = self.paths.read_state()
        return state is not None and state.phase == "staged" and self.paths.next.is_file()

    def _recover(self) -> None:
        state = self.paths.read_state()
        if state is not None and state.phase == "trial" and self.paths.previous.is_file():
            self._roll_back(state, "the supervisor stopped during the new agent's trial")

    def _trial(self) -> subprocess.Popen[bytes] | None:
        state = self.paths.read_state()
        assert state is not None
        p = self.paths
        link = p.dir / f".{BINARY}.previous.partial"
        try:
            link.unlink(missing_ok=True)
            os.link(p.binary, link)
            link.replace(p.previous)
            p.next.replace(p.binary)
        except OSError as e:  # the agent in place is untouched: it starts again, the upgrade is reported failed
            why = f"could not put the new agent in place ({e}); check the space and permissions of {p.dir}"
            p.write_state(state.model_copy(update={"phase": "rolled-back", "reason": why}))
            self.log(f"upgrade to {state.version} abandoned: {why}")
            return self._start()
        trial = state.model_copy(update={"phase": "trial"})
        p.write_state(trial)
        p.health.unlink(missing_ok=True)
        self.log(f"upgrade to {state.version}: on trial for {self.trial_deadline:g}s")
        start = time.monotonic()
        child = self._start()
        deadline = start + self.trial_deadline
        while True:
            if p.health.exists():
                p.set_current_version(state.version)
                p.write_state(trial.model_copy(update={"phase": "upgraded", "reason": ""}))
                self.log(f"upgrade to {state.version}: the new agent heartbeats; kept")
                return child
            if self._stop:
                self._terminate(child)
                self._roll_back(trial, "the supervisor was stopped during the trial")
                return None
            if child.poll() is not None:
                why = (
                    f"the new agent {state.version} exited with status {child.returncode} "
                    f"{time.monotonic() - start:.1f}s after it started, before any heartbeat"
                )
                break
            if time.monotonic() > deadline:
                why = f"the new agent {state.version} sent no heartbeat within {self.trial_deadline:g}s"
                break
            time.sleep(EXIT_POLL)
        self._terminate(child)
        self._roll_back(trial, why)
        return self._start()

    def _roll_back(self, state: UpgradeState, why: str) -> None:
        self.paths.previous.replace(self.paths.binary)
        self.paths.set_current_version(state.previous)
        self.paths.write_state(state.model_copy(update={"phase": "rolled-back", "reason": why}))
        self.log(f"upgrade to {state.version} rolled back to {state.previous or 'the installed build'}: {why}")


def _state(pid: int) -> str:
    """The process's state letter (``Z``: a zombie), empty when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def child_env(paths: SupervisorPaths) -> dict[str, str]:
    """This environment, plus where the supervisor is; when the supervisor is itself a one-file binary, without
    what its bootloader set up for it: the agent file (maybe a new release) must unpack and load its own
    libraries, not this process's (PyInstaller reuses a parent's unpacked copy unless told otherwise)."""
    env = {**os.environ, ENV_DIR: str(paths.dir), ENV_PID: str(os.getpid()), "PYINSTALLER_RESET_ENVIRONMENT": "1"}
    if getattr(sys, "frozen", False):
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        if original is None:
            env.pop("LD_LIBRARY_PATH", None)
        else:
            env["LD_LIBRARY_PATH"] = original
    return env


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} supervisor: {message}", file=sys.stderr, flush=True)
