"""Every ``harmony`` command fed odd input — brackets rich would parse, NUL bytes, lone surrogates, missing
files, module names, read-only places — answers with one error line and a status, never a traceback.

The fixed cases run the real console script; the property-based ones run the same Typer app in-process
(hypothesis makes hundreds of names and paths, too many for a process each). Either way an error Harmony
did not expect is a failure: it prints "unexpected …" instead of a traceback, which these tests reject too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harmony.cli.app import app

REPO = Path(__file__).resolve().parents[2]
HARMONY = str(Path(sys.executable).parent / "harmony")
BRACKETS = "[bold red]x[/] [/…/fe-web.cfg:5] /[/x]"

ODD_FILE_DEPLOY = """
from pathlib import Path, PurePosixPath
from harmony import Deployment
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(
    topology=LinuxHost.local(root=Path({root!r}), create_root=True),
    scores=[
        ManagedDirectory(path=PurePosixPath("/[")),
        ManagedFile(path=PurePosixPath("/[/x]"), content="[bold red]not a style[/]\\n"),
    ],
)
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HARMONY_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "HARMONY_HELLO_ROOT": str(tmp_path / "hello"),
        "HARMONY_FLEET_HOME": str(tmp_path / "fleet"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HARMONY_NONINTERACTIVE": "1",
        "COLUMNS": "300",
    }


def harmony(env: dict[str, str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HARMONY, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *said: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    for text in said:
        assert text in " ".join((result.stdout + result.stderr).split()), result


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("apply", "nope.py", "--yes"), "nope.py: no such deployment file"),
        (("plan", "examples.no_such_deploy"), "examples.no_such_deploy: no such deployment"),
        (("plan", BRACKETS), BRACKETS),
        (("list", "/[/x]"), "/[/x]: no such deployment"),
        (("check", "a\udcffb"), "no such deployment"),
        (("journal", "[bold]"), "no single run matches '[bold]'"),
        (("config", "get", "[a]", "-d", "[x]"), ""),
        (("config", "set", "database.password", "[bold]v", "-d", "shop\udcff"), ""),
        (("secret", "get", "x.y", "-d", "[bold]shop"), ""),
        (("containers", "ps", "nope.py"), "no such deployment"),
        (("lb", "status", "[b]"), "no such deployment"),
        (("fleet", "register", "[pi]"), ""),
    ],
)
def test_odd_arguments_are_one_line_errors(env: dict[str, str], args: tuple[str, ...], said: str) -> None:
    # a lone surrogate reaches argv as the undecodable byte it stands for
    argv = [a.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") for a in args]
    assert_clean_error(harmony(env, *argv), said)


def test_a_module_name_works_from_the_repository_root(env: dict[str, str]) -> None:
    result = harmony(env, "plan", "examples.hello_deploy")
    assert result.returncode == 0, result.stderr
    assert "3 Score(s) to change" in result.stdout


def test_a_file_named_with_brackets_is_planned_applied_and_journaled_as_text(
    env: dict[str, str], tmp_path: Path
) -> None:
    deploy = tmp_path / "odd_file_deploy.py"
    deploy.write_text(ODD_FILE_DEPLOY.format(root=str(tmp_path / "root")))
    plan = harmony(env, "plan", str(deploy))
    assert plan.returncode == 0, plan.stderr
    assert "/[/x]" in plan.stdout and "[bold red]not a style[/]" in plan.stdout
    applied = harmony(env, "apply", str(deploy), "--yes")
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "root" / "[" / "x]").read_text() == "[bold red]not a style[/]\n"
    run_id = applied.stdout.rsplit("(run ", 1)[1].split(")")[0]
    shown = harmony(env, "journal", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "file:/[/x]" in shown.stdout and "[bold red]not a style[/]" in shown.stdout


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "read-only"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(where)], check=True)
    yield where
    subprocess.run(["umount", str(where)], check=True)


@pytest.mark.slow
def test_a_read_only_sandbox_root_state_dir_or_journal_is_a_one_line_error(
    env: dict[str, str], tmp_path: Path, read_only_dir: Path
) -> None:
    deploy = tmp_path / "ro_deploy.py"
    deploy.write_text(ODD_FILE_DEPLOY.format(root=str(read_only_dir / "root")))
    assert_clean_error(harmony(env, "apply", str(deploy), "--yes"), "cannot create root directory", "Read-only")
    web_state = {**env, "HARMONY_WEB_STATE": str(read_only_dir / "web")}
    assert_clean_error(harmony(web_state, "apply", "examples/web_deploy", "--yes"), "Read-only")
    in_read_only = {**env, "HARMONY_JOURNAL": str(read_only_dir / "journal.sqlite3")}
    assert_clean_error(harmony(in_read_only, "plan", "examples.hello_deploy"), "read-only file system", "move it")


def test_a_lone_surrogate_in_content_is_a_validation_error(env: dict[str, str], tmp_path: Path) -> None:
    deploy = tmp_path / "surrogate_deploy.py"
    deploy.write_text(ODD_FILE_DEPLOY.format(root=str(tmp_path / "root")).replace('"[bold red]', '"\\udcff[bold red]'))
    assert_clean_error(harmony(env, "plan", str(deploy)), "ManagedFile.content", "lone surrogate")


def test_a_nul_byte_in_a_path_is_a_validation_error(env: dict[str, str], tmp_path: Path) -> None:
    deploy = tmp_path / "nul_deploy.py"
    deploy.write_text(ODD_FILE_DEPLOY.format(root=str(tmp_path / "root")).replace('"/[/x]"', '"/a\\x00b"'))
    assert_clean_error(harmony(env, "plan", str(deploy)), "ManagedFile.path", "NUL byte")


# --- property-based, in-process ------------------------------------------------------------------------

ODD = st.sampled_from(["[", "]", "[/]", "[bold red]", "/", "\0", "\udcff", "..", " ", "\n", "é", "*"])
NAMES = st.builds(
    lambda head, odd, tail: head + odd + tail,
    st.text(st.characters(codec="utf-8"), max_size=12),
    ODD,
    st.text(st.characters(codec="utf-8"), max_size=12),
)


@pytest.fixture
def runner(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner()


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, other=NAMES)
def test_generated_names_and_paths_never_crash_a_command(runner: CliRunner, name: str, other: str) -> None:
    for args in (
        ["plan", name],
        ["list", name],
        ["journal", name],
        ["config", "get", "a.b", "-d", name],
        ["config", "set", "a.b", other, "-d", name],
        ["config", "list", "-d", name, "--json"],
        ["secret", "list", "-d", other],
        ["lb", "status", name],
        ["containers", "ps", other],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 1, 2), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.output and "unexpected" not in result.output, (args, result.output)
