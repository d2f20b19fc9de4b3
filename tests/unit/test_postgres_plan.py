"""``plan_postgres`` as a table: observed state in, exact changes out."""

from __future__ import annotations

import pytest

from harmony.domain.capabilities.postgres import PostgreSQLState, RoleState
from harmony.domain.change import Action
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.modules.postgres.server import plan_postgres, same_setting

SCORE = PostgreSQLServer(
    roles=(Role(name="app"),), databases=(Database(name="app", owner="app"),), settings={"work_mem": "8MB"}
)
DONE = PostgreSQLState(
    server="primary", databases={"app": "app"}, roles={"app": RoleState(login=True)}, settings={"work_mem": "8MB"}
)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (PostgreSQLState(server="absent"),
         [(Action.CREATE, "server"), (Action.CREATE, "role app"), (Action.CREATE, "database app"),
          (Action.UPDATE, "setting work_mem")]),
        (DONE, []),
        (DONE.model_copy(update={"roles": {}}), [(Action.CREATE, "role app")]),
        (DONE.model_copy(update={"roles": {"app": RoleState(login=False)}}), [(Action.UPDATE, "role app")]),
        (DONE.model_copy(update={"databases": {}}), [(Action.CREATE, "database app")]),
        (DONE.model_copy(update={"databases": {"app": "postgres"}}), [(Action.NONE, "database app")]),
        (DONE.model_copy(update={"settings": {"work_mem": "4MB"}}), [(Action.UPDATE, "setting work_mem")]),
    ],
)  # fmt: skip
def test_plan(state: PostgreSQLState, expected: list[tuple[Action, str]]) -> None:
    assert [(c.action, c.target) for c in plan_postgres(SCORE, state)] == expected


def test_names_are_validated() -> None:
    with pytest.raises(ValueError, match="name"):
        Database(name="App; DROP")


@pytest.mark.parametrize(
    ("current", "wanted", "same"),
    [("8MB", "8192kB", True), ("8MB", "8MB", True), ("8MB", "4MB", False), ("1s", "1000ms", True),
     ("on", "ON", True), ("8MB", "8", False), (None, "on", False), ("1GB", "1s", False)],
)  # fmt: skip
def test_same_setting_compares_units(current: str | None, wanted: str, same: bool) -> None:
    assert same_setting(current, wanted) is same
