"""Dashboard sessions kept in a 0600 file: a restart (a new ``Sessions`` on the same file) keeps them, the
file never holds a session id, and a session whose user no longer stands is dropped when the file is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harmony.dashboard import security
from harmony.dashboard.security import SESSION_IDLE, Sessions


def test_a_new_process_keeps_the_logins_of_the_last(tmp_path: Path) -> None:
    path = tmp_path / "home" / "dashboard-sessions.json"
    before = Sessions(path)
    sid, session = before.open("alice", "operator")
    assert path.stat().st_mode & 0o777 == 0o600
    assert sid not in path.read_text()

    after = Sessions(path)
    kept = after.get(sid)
    assert kept is not None and (kept.user, kept.role, kept.csrf) == ("alice", "operator", session.csrf)
    assert after.get("not-a-session") is None

    after.close(sid)
    assert Sessions(path).get(sid) is None


def test_sessions_of_removed_or_changed_users_are_dropped_on_reading(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    first = Sessions(path)
    alice, _ = first.open("alice", "operator")
    bob, _ = first.open("bob", "operator")
    carol, _ = first.open("carol", "viewer")
    roles = {"alice": "operator", "bob": "viewer"}  # bob demoted, carol removed
    again = Sessions(path, valid=lambda user, role: roles.get(user) == role)
    assert again.get(alice) is not None
    assert again.get(bob) is None and again.get(carol) is None


def test_an_expired_session_is_not_brought_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sessions.json"
    sid, _ = Sessions(path).open("alice", "viewer")
    later = security.time.time() + SESSION_IDLE + 1
    monkeypatch.setattr(security.time, "time", lambda: later)  # the clock moved on: no real 8 h wait
    assert Sessions(path).get(sid) is None


def test_a_file_others_can_read_or_garbage_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    sid, _ = Sessions(path).open("alice", "viewer")
    os.chmod(path, 0o644)
    assert Sessions(path).get(sid) is None
    path.write_text("{not json")
    os.chmod(path, 0o600)
    assert Sessions(path).get(sid) is None
