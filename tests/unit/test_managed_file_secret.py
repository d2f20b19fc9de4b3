"""Plans of a secret-bearing file show the masked rendering, never the secret and never the current content."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from harmony.config import MASK, Secret
from harmony.domain.capabilities.files import FileState
from harmony.domain.change import Action
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.modules.files.managed_file import plan_file

PATH = PurePosixPath("/etc/app/app.conf")
NEW, OLD = "New-Secret-111", "Old-Secret-000"
CONTENT = Secret.render("user = app\npassword = $pw\n", pw=Secret(NEW))
SCORE = ManagedFile(path=PATH, content=CONTENT, mode=FileMode("0600"))


def state(content: str | None, mode: int = 0o600) -> FileState:
    if content is None:
        return FileState(path=PATH, kind="missing")
    return FileState(path=PATH, kind="file", mode=mode, content=content.encode())


@pytest.mark.parametrize(
    ("current", "action", "shows"),
    [
        (state(None), Action.CREATE, ["+user = app", f"+password = {MASK}"]),
        (
            state(f"user = app\npassword = {OLD}\n"),
            Action.UPDATE,
            ["not shown: the file holds secrets", f"+password = {MASK}"],
        ),
        (state(f"user = app\npassword = {NEW}\n", mode=0o644), Action.UPDATE, ["mode 0o644 -> 0o600"]),
        (state(f"user = app\npassword = {NEW}\n"), None, []),
    ],
    ids=["create", "rotate", "mode-only", "in-sync"],
)
def test_secret_file_plans(current: FileState, action: Action | None, shows: list[str]) -> None:
    changes = plan_file(SCORE, current)
    if action is None:
        assert changes == []
        return
    (change,) = changes
    assert change.action is action
    for line in shows:
        assert line in change.diff
    for clear in (NEW, OLD):
        assert clear not in change.diff
        assert clear not in change.model_dump_json()


def test_removing_a_secret_file_hides_its_content() -> None:
    gone = ManagedFile(path=PATH, content=CONTENT, present=False)
    (change,) = plan_file(gone, state(f"password = {OLD}\n"))
    assert change.action is Action.DELETE
    assert OLD not in change.diff
