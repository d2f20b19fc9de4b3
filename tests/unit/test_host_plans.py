"""The pure halves of the host Scores as tables: observed state in, exact changes out."""

from __future__ import annotations

import base64
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.files import FileState
from harmony.domain.capabilities.users import Accounts
from harmony.domain.change import Action
from harmony.domain.errors import InvalidValueError
from harmony.infra.apt import parse_dpkg_query
from harmony.infra.posix_shell import parse_stat
from harmony.infra.shadow import parse_accounts
from harmony.modules.commands.command import Command, plan_command
from harmony.modules.files import Symlink, UploadedFile, render_template
from harmony.modules.files.symlink import plan_symlink
from harmony.modules.files.upload import plan_upload
from harmony.modules.packages import DebianPackage
from harmony.modules.packages.debian_package import plan_package
from harmony.modules.users import Group, User
from harmony.modules.users.group import plan_group
from harmony.modules.users.user import plan_user

P = PurePosixPath
PASSWD = "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1000:1000:Deploy:/home/deploy:/bin/sh\n"
GROUP = "root:x:0:\ndeploy:x:1000:\nweb:x:2000:deploy,other\nops:x:2001:\n"
ACCOUNTS = parse_accounts(PASSWD, GROUP)


def test_parse_accounts() -> None:
    assert ACCOUNTS.users["deploy"].home == "/home/deploy"
    assert ACCOUNTS.groups["web"].members == ("deploy", "other")
    assert ACCOUNTS.groups_of("deploy") == {"web"}


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (User(user="new"), [Action.CREATE]),
        (User(user="deploy"), []),
        (User(user="deploy", shell="/bin/sh", groups=("web",)), []),
        (User(user="deploy", shell="/bin/bash"), [Action.UPDATE]),
        (User(user="deploy", groups=("web", "ops")), [Action.UPDATE]),
        (User(user="deploy", groups=()), [Action.UPDATE]),
        (User(user="deploy", uid=1001), [Action.UPDATE]),
        (User(user="deploy", primary_group="deploy"), []),
        (User(user="deploy", primary_group="web"), [Action.UPDATE]),
        (User(user="deploy", present=False), [Action.DELETE]),
        (User(user="ghost", present=False), []),
    ],
)
def test_plan_user(score: User, expected: list[Action]) -> None:
    assert [c.action for c in plan_user(score, ACCOUNTS)] == expected


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (Group(group="new"), [Action.CREATE]),
        (Group(group="web"), []),
        (Group(group="web", gid=2000), []),
        (Group(group="web", gid=3000), [Action.UPDATE]),
        (Group(group="web", present=False), [Action.DELETE]),
        (Group(group="ghost", present=False), []),
    ],
)
def test_plan_group(score: Group, expected: list[Action]) -> None:
    assert [c.action for c in plan_group(score, ACCOUNTS)] == expected


@pytest.mark.parametrize(
    ("score", "installed", "expected"),
    [
        (DebianPackage(package="curl"), None, [Action.CREATE]),
        (DebianPackage(package="curl"), "7.88", []),
        (DebianPackage(package="curl", version="7.88"), "7.88", []),
        (DebianPackage(package="curl", version="7.88"), "8.0", [Action.UPDATE]),
        (DebianPackage(package="curl", version="7.88"), None, [Action.CREATE]),
        (DebianPackage(package="curl", state="absent"), "7.88", [Action.DELETE]),
        (DebianPackage(package="curl", state="absent"), None, []),
    ],
)
def test_plan_package(score: DebianPackage, installed: str | None, expected: list[Action]) -> None:
    assert [c.action for c in plan_package(score, installed)] == expected


def test_parse_dpkg_query_only_counts_installed() -> None:
    out = "curl\t7.88\tii \nvim\t9.0\trc \n"
    assert parse_dpkg_query(["curl", "vim", "nano"], out) == {"curl": "7.88", "vim": None, "nano": None}


@pytest.mark.parametrize(
    ("guards", "created", "unless_ok", "onlyif_ok", "runs"),
    [
        ({}, False, False, True, True),
        ({"creates": P("/x")}, False, False, True, True),
        ({"creates": P("/x")}, True, False, True, False),
        ({"unless": ("true",)}, False, True, True, False),
        ({"unless": ("false",)}, False, False, True, True),
        ({"onlyif": ("false",)}, False, False, False, False),
        ({"onlyif": ("true",)}, False, False, True, True),
    ],
)
def test_plan_command(guards: dict[str, object], created: bool, unless_ok: bool, onlyif_ok: bool, runs: bool) -> None:
    score = Command.model_validate({"argv": ("make",), **guards})
    assert bool(plan_command(score, created=created, unless_ok=unless_ok, onlyif_ok=onlyif_ok)) is runs


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (FileState(path=P("/l"), kind="missing"), [Action.CREATE]),
        (FileState(path=P("/l"), kind="symlink", link_target="/t"), []),
        (FileState(path=P("/l"), kind="symlink", link_target="/old"), [Action.UPDATE]),
        (FileState(path=P("/l"), kind="file"), [Action.UPDATE]),
    ],
)
def test_plan_symlink(current: FileState, expected: list[Action]) -> None:
    assert [c.action for c in plan_symlink(Symlink(path=P("/l"), target="/t"), current)] == expected


def test_plan_upload_binary_and_same() -> None:
    score = UploadedFile(source=Path("/dev/null"), path=P("/f"))
    same = FileState(path=P("/f"), kind="file", content=b"\xff\x00")
    assert plan_upload(score, b"\xff\x00", same) == []
    (change,) = plan_upload(score, b"\xff\x01\x02", same)
    assert change.diff == "binary content: 2 -> 3 bytes\n"


def test_parse_stat_output() -> None:
    reqs = [(P("/a"), True), (P("/l"), False), (P("/m"), False), (P("/d"), False)]
    out = "\n".join(
        [
            "regular file|644|root|root|" + base64.b64encode(b"hi|there\n").decode(),
            "symbolic link|777|root|root|" + base64.b64encode(b"/target").decode(),
            "missing",
            "directory|755|www|www|",
        ]
    )
    states = parse_stat(reqs, out + "\n")
    assert states[(P("/a"), True)].content == b"hi|there\n"
    assert states[(P("/l"), False)].link_target == "/target"
    assert states[(P("/m"), False)].kind == "missing"
    assert (states[(P("/d"), False)].kind, states[(P("/d"), False)].owner, states[(P("/d"), False)].mode) == (
        "directory",
        "www",
        0o755,
    )


def test_template_names_the_missing_variable() -> None:
    assert render_template("a={{ a }}\n", {"a": 1}) == "a=1\n"
    with pytest.raises(InvalidValueError, match="'b' is undefined"):
        render_template("{{ a }}{{ b }}", {"a": 1})


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: User(user="Bad Name"), "name"),
        (lambda: DebianPackage(package="Curl!"), "package"),
        (lambda: DebianPackage(package="curl", state="absent", version="1"), "version"),
        (lambda: Symlink(path=P("relative"), target="/x"), "path"),
    ],
)
def test_bad_input_names_the_field(make: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()  # type: ignore[operator]  # each case is a zero-argument lambda


def test_accounts_model_is_frozen() -> None:
    assert isinstance(ACCOUNTS, Accounts)
