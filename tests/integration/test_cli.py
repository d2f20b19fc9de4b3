"""The `harmony` command, run through the real console script against the real local filesystem."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HARMONY = str(Path(sys.executable).parent / "harmony")

DEPLOY = """
from pathlib import Path, PurePosixPath
from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(
    topology=LinuxHost.local(root=Path({root!r})),
    scores=[
        ManagedDirectory(path=PurePosixPath("/etc")),
        ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\\n", mode=FileMode("0644")),
        ManagedFile(path=PurePosixPath("/etc/app.conf"), content="a=1\\n", mode=FileMode({mode!r})),
    ],
)
"""


def harmony(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HARMONY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
        timeout=300,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


@pytest.fixture
def deploy(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "site_deploy.py"
    path.write_text(DEPLOY.format(root=str(root), mode="0600"))
    return path


def journal_rows(journal: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(journal) as db:
        return db.execute("SELECT mode, status, error FROM runs ORDER BY started").fetchall()


def test_check_passes_a_good_deployment(deploy: Path) -> None:
    result = harmony("check", str(deploy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 Score(s) on localhost type-check and validate" in result.stdout


def test_check_reports_a_type_error_at_its_line_and_loads_nothing(tmp_path: Path, root: Path) -> None:
    marker = tmp_path / "imported"
    bad = tmp_path / "bad_deploy.py"
    bad.write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        from harmony import Deployment, Host, Hostname
        from harmony.topology.linux_host import LinuxHost

        Path({str(marker)!r}).touch()
        web = Host(name=Hostname("web-1"), address="10.0.0.5")
        deployment = Deployment(topology=LinuxHost.local(root=Path({str(root)!r})), scores=[])
    """)
    )
    result = harmony("check", str(bad))  # mypy, the default
    assert result.returncode == 1
    assert f"{bad}:7: error [type_error]" in result.stdout
    assert 'Argument "address" to "Host" has incompatible type "str"; expected "IPv4Address' in result.stdout
    result = harmony("check", "--checker", "pyright", str(bad))
    assert result.returncode == 1
    assert f"{bad}:7: error [type_error]" in result.stdout
    assert '"Literal[\'10.0.0.5\']" is not assignable to "IPv4Address"' in result.stdout
    assert "nothing was loaded or run" in result.stderr
    assert not marker.exists()


def test_the_type_check_cache_never_hides_an_error_made_after_a_clean_check(
    tmp_path: Path, deploy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert harmony("check", str(deploy)).returncode == 0
    cache = tmp_path / "cache" / "harmony"
    assert sum(1 for p in cache.glob("mypy-*/*/*") if p.is_file()) > 0, "Harmony's own types are cached"
    source = deploy.read_text()
    deploy.write_text(source.replace('content="hello\\n"', "content=42"))
    assert deploy.read_text() != source
    result = harmony("check", str(deploy))
    assert result.returncode == 1
    assert f"{deploy}:" in result.stdout and "[type_error]" in result.stdout and '"int"' in result.stdout


def test_plan_shows_the_diff_and_changes_nothing(deploy: Path, root: Path) -> None:
    result = harmony("plan", str(deploy))
    assert result.returncode == 0, result.stderr
    assert "+ file /etc/motd" in result.stdout
    assert "+hello" in result.stdout
    assert "plan: 3 Score(s) to change, 0 unchanged" in result.stdout
    assert list(root.iterdir()) == []


def test_apply_refuses_without_yes_in_a_non_interactive_shell(deploy: Path, root: Path, journal_path: Path) -> None:
    result = harmony("apply", str(deploy))
    assert result.returncode == 1
    assert "refusing to apply without confirmation in a non-interactive shell" in result.stdout
    assert "--yes" in result.stdout
    assert list(root.iterdir()) == []
    assert journal_rows(journal_path)[-1][:2] == ("apply", "failure")


def test_apply_then_noop_as_json_lines(deploy: Path, root: Path) -> None:
    first = harmony("apply", str(deploy), "--yes", "--json")
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert [e["event"] for e in events][:2] == ["run_started", "topology_ready"]
    assert events[-1]["event"] == "run_finished"
    assert events[-1]["status"] == "success"
    assert (root / "etc/app.conf").stat().st_mode & 0o777 == 0o600

    second = harmony("apply", str(deploy), "--yes", "--json")
    outcomes = [json.loads(line) for line in second.stdout.splitlines()]
    finished = [e["outcome"]["status"] for e in outcomes if e["event"] == "score_finished"]
    assert finished == ["noop", "noop", "noop"]
    assert outcomes[-1]["counts"] == {"success": 0, "noop": 3, "failure": 0, "skipped": 0}


def test_apply_human_output_and_journal(deploy: Path, journal_path: Path) -> None:
    result = harmony("apply", str(deploy), "--yes")
    assert result.returncode == 0, result.stderr
    assert "apply: 3 changed, 0 unchanged, 0 failed, 0 skipped" in result.stdout
    run_id = result.stdout.rsplit("(run ", 1)[1].split(")")[0]

    listing = harmony("journal", "--json")
    runs = json.loads(listing.stdout)
    assert runs[0]["id"] == run_id
    assert runs[0]["status"] == "success"

    detail = harmony("journal", run_id[:5], "--json")
    record = json.loads(detail.stdout)
    assert [r["score"] for r in record["results"]] == ["directory:/etc", "file:/etc/motd", "file:/etc/app.conf"]
    assert record["results"][1]["outcome"]["status"] == "success"

    human = harmony("journal", run_id)
    assert "file:/etc/motd" in human.stdout
    assert harmony("journal", "no-such-run").returncode == 1


def test_filter_applies_matching_scores(deploy: Path, root: Path) -> None:
    assert harmony("apply", str(deploy), "--yes", "--filter", "directory:*").returncode == 0
    assert list(root.joinpath("etc").iterdir()) == []
    result = harmony("apply", str(deploy), "--yes", "--filter", "*motd")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "etc/motd").exists()
    assert not (root / "etc/app.conf").exists()
    nothing = harmony("apply", str(deploy), "--yes", "--filter", "nomatch")
    assert nothing.returncode == 1
    assert "matches no Score; the Scores are: directory:/etc, file:/etc/motd, file:/etc/app.conf" in nothing.stderr


def test_list_as_json(deploy: Path) -> None:
    result = harmony("list", str(deploy), "--json")
    assert json.loads(result.stdout) == {
        "topology": "localhost",
        "scores": [
            {"score": "directory:/etc", "kind": "managed_directory", "depends_on": []},
            {"score": "file:/etc/motd", "kind": "managed_file", "depends_on": []},
            {"score": "file:/etc/app.conf", "kind": "managed_file", "depends_on": []},
        ],
    }


def test_a_deployment_that_fails_to_import_names_file_and_line(tmp_path: Path, journal_path: Path) -> None:
    bad = tmp_path / "broken_deploy.py"
    bad.write_text("import harmony\n\nraise RuntimeError('no network config')\n")
    result = harmony("apply", str(bad), "--yes")
    assert result.returncode == 1
    assert f"{bad}:3: cannot import broken_deploy: RuntimeError: no network config" in result.stderr
    assert journal_rows(journal_path) == [("apply", "failure", result.stderr.split("error: ")[1].split("\n")[0])]


def test_an_invalid_value_names_field_value_and_expectation(tmp_path: Path, root: Path, journal_path: Path) -> None:
    bad = tmp_path / "badmode_deploy.py"
    bad.write_text(DEPLOY.format(root=str(root), mode="77777"))
    result = harmony("apply", str(bad), "--yes")
    assert result.returncode == 1
    assert "badmode_deploy.py:13:" in result.stderr
    assert "mode: '77777' is not valid; expected octal permission digits as a string" in result.stderr
    assert list(root.iterdir()) == []
    assert journal_rows(journal_path)[0][:2] == ("apply", "failure")


def test_a_topology_that_cannot_get_ready(tmp_path: Path, journal_path: Path) -> None:
    gone = tmp_path / "gone_deploy.py"
    gone.write_text(DEPLOY.format(root=str(tmp_path / "no-such-root"), mode="0600"))
    result = harmony("apply", str(gone), "--yes")
    assert result.returncode == 1
    assert "root directory" in result.stdout and "does not exist" in result.stdout
    assert journal_rows(journal_path)[0][1] == "failure"


def test_a_missing_deployment_says_what_it_accepts() -> None:
    result = harmony("plan", "no/such/thing.py")
    assert result.returncode == 1
    assert "no such deployment file, package directory or module" in result.stderr


def test_the_example_runs_with_python_dash_m(tmp_path: Path) -> None:
    env = {**os.environ, "HARMONY_HELLO_ROOT": str(tmp_path / "hello")}
    result = subprocess.run(
        [sys.executable, "-m", "examples.hello_deploy", "apply", "--yes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello/etc/motd").read_text() == "Welcome to a Harmony-managed host.\n"
