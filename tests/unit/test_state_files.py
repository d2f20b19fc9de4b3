"""``write_atomic``: the one helper every state file and credential goes through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harmony.infra.state_files import write_atomic


def test_replaces_the_file_with_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "private" / "creds.json"
    write_atomic(target, "old", mode=0o600, directory_mode=0o700)
    write_atomic(target, b"new", mode=0o600, directory_mode=0o700)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in target.parent.iterdir()) == ["creds.json"]


def test_sets_the_owner_before_the_rename(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root (chown)")
    target = tmp_path / "owned.conf"
    write_atomic(target, "x", owner=(65534, 65534))
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]  # a wrong content type fails after the temp file exists
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
