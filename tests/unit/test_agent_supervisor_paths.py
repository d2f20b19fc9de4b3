"""The supervisor's record of which release is in place: true only while that very file is there."""

from __future__ import annotations

import os
from pathlib import Path

from harmony.agent.supervisor import SupervisorLink, SupervisorPaths


def test_the_release_in_place_is_forgotten_when_another_writer_replaces_the_file(tmp_path: Path) -> None:
    paths = SupervisorPaths(tmp_path)
    paths.binary.write_bytes(b"release 2")
    assert paths.current_version() == ""  # nothing recorded: the installed build
    paths.set_current_version("2.0.0")
    assert paths.current_version() == "2.0.0"
    paths.binary.rename(tmp_path / "kept")  # the supervisor's own renames keep the file's identity
    (tmp_path / "kept").rename(paths.binary)
    assert paths.current_version() == "2.0.0"

    staged = tmp_path / ".upload"
    staged.write_bytes(b"the enrolled build")  # what an install (AgentBinary) puts there
    os.replace(staged, paths.binary)
    assert paths.current_version() == ""


def test_an_agent_knows_its_supervisor_only_from_both_variables(tmp_path: Path) -> None:
    both = {"HARMONY_AGENT_SUPERVISOR_DIR": str(tmp_path), "HARMONY_AGENT_SUPERVISOR_PID": "42"}
    link = SupervisorLink.from_env(both)
    assert link is not None and (link.paths.dir, link.pid) == (tmp_path, 42)
    assert SupervisorLink.from_env({"HARMONY_AGENT_SUPERVISOR_DIR": str(tmp_path)}) is None
    assert SupervisorLink.from_env({**both, "HARMONY_AGENT_SUPERVISOR_PID": "x"}) is None
