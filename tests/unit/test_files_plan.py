"""The pure half of managed files: observed state + desired Score -> exact changes."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from harmony import Action
from harmony.domain.capabilities import FileState
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.modules.files.directory import plan_directory
from harmony.modules.files.managed_file import plan_file

P = PurePosixPath("/etc/app.conf")


def state(kind: str = "file", content: bytes | None = b"a=1\n", mode: int = 0o644, owner: str = "root") -> FileState:
    return FileState.model_validate(
        {"path": P, "kind": kind, "content": content, "mode": mode, "owner": owner, "group": "root"}
    )


@pytest.mark.parametrize(
    ("score", "current", "expected"),
    [
        (ManagedFile(path=P, content="a=1\n"), state(), []),
        (ManagedFile(path=P, content="a=1\n", mode=FileMode("0644"), owner="root"), state(), []),
        (ManagedFile(path=P, content="a=2\n"), state(), [Action.UPDATE]),
        (ManagedFile(path=P, content="a=1\n", mode=FileMode("0600")), state(), [Action.UPDATE]),
        (ManagedFile(path=P, content="a=1\n", owner="nobody"), state(), [Action.UPDATE]),
        (ManagedFile(path=P, content="a=1\n"), FileState(path=P, kind="missing"), [Action.CREATE]),
        (ManagedFile(path=P, content="a=1\n"), state(kind="directory", content=None), [Action.UPDATE]),
        (ManagedFile(path=P, present=False), state(), [Action.DELETE]),
        (ManagedFile(path=P, present=False), FileState(path=P, kind="missing"), []),
    ],
    ids=["same", "same-with-meta", "content", "mode", "owner", "missing", "dir-in-the-way", "remove", "already-gone"],
)
def test_plan_file(score: ManagedFile, current: FileState, expected: list[Action]) -> None:
    assert [c.action for c in plan_file(score, current)] == expected


def test_plan_file_diff_shows_old_and_new_lines_and_metadata() -> None:
    (change,) = plan_file(ManagedFile(path=P, content="a=2\n", mode=FileMode("0600")), state())
    assert "-a=1" in change.diff
    assert "+a=2" in change.diff
    assert "mode 0o644 -> 0o600" in change.diff
    assert change.target == "file /etc/app.conf"


@pytest.mark.parametrize(
    ("score", "current", "expected"),
    [
        (ManagedDirectory(path=P), state(kind="directory", content=None), []),
        (ManagedDirectory(path=P, mode=FileMode("0700")), state(kind="directory", content=None), [Action.UPDATE]),
        (ManagedDirectory(path=P), FileState(path=P, kind="missing"), [Action.CREATE]),
        (ManagedDirectory(path=P), state(), [Action.UPDATE]),
    ],
    ids=["same", "mode", "missing", "file-in-the-way"],
)
def test_plan_directory(score: ManagedDirectory, current: FileState, expected: list[Action]) -> None:
    assert [c.action for c in plan_directory(score, current)] == expected


@pytest.mark.parametrize("path", ["etc/motd", "/etc/../root/.ssh/authorized_keys"])
def test_managed_paths_must_be_absolute_and_plain(path: str) -> None:
    with pytest.raises(ValueError, match="absolute path"):
        ManagedFile(path=PurePosixPath(path))


def test_mode_out_of_range_names_the_field() -> None:
    with pytest.raises(ValueError, match="mode"):
        ManagedFile(path=P, mode=FileMode("17777"))
