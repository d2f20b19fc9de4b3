"""The example deployment takes its database password and API token from the config system — from the
environment, from the embedded store after one prompt on a real terminal, and from OpenBao — and the known
secret values appear in no output channel: stdout, stderr, --json, the journal file, exception text."""

from __future__ import annotations

import json
import os
import pty
import secrets
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.openbao import BaoServer

REPO = Path(__file__).resolve().parents[2]
HARMONY = str(Path(sys.executable).parent / "harmony")
EXAMPLE = str(REPO / "examples" / "secrets_deploy")
CONF = "etc/app/app.conf"


class Site:
    """One user's machine: its own HOME (so the default store and key paths), journal and sandbox root."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.home.mkdir()
        self.root = tmp / "root"
        self.journal = tmp / "journal.sqlite3"
        self.outputs: list[str] = []
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "HARMONY_JOURNAL": str(self.journal),
            "HARMONY_SECRETS_ROOT": str(self.root),
            "COLUMNS": "200",
        }

    def run(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [HARMONY, *args],
            cwd=self.tmp,
            capture_output=True,
            text=True,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            env={**self.env, **(env or {})},
            check=False,
            timeout=300,
        )
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def store_files(self) -> list[Path]:
        return sorted(self.home.rglob("config.sqlite3*"))

    def persisted(self) -> bytes:
        """Every byte Harmony left on disk besides the managed file: journal (with WAL) and store."""
        files = [*self.tmp.glob("journal.sqlite3*"), *self.store_files()]
        return b"".join(f.read_bytes() for f in files if f.is_file())

    def assert_no_leak(self, *values: str) -> None:
        for value in values:
            for text in self.outputs:
                assert value not in text, f"secret leaked into output:\n{text}"
            assert value.encode() not in self.persisted(), "secret leaked into the journal or the store"


def known_secrets() -> tuple[str, str]:
    return "db-Pa55-" + secrets.token_hex(8), "tok-" + secrets.token_hex(12)


def assert_rendered(site: Site, password: str, token: str) -> None:
    conf = site.root / CONF
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    text = conf.read_text()
    assert f"postgresql://app:{password}@127.0.0.1:5432/app" in text
    assert f"token = {token}" in text


def test_from_env_through_check_plan_apply_without_leaking(tmp_path: Path) -> None:
    site = Site(tmp_path)
    password, token = known_secrets()
    env = {"HARMONY_CONFIG_DATABASE__PASSWORD": password, "HARMONY_CONFIG_API__TOKEN": token}

    missing = site.run("check", EXAMPLE, env={"HARMONY_CONFIG_API__TOKEN": token})
    assert missing.returncode == 1
    assert "1 required setting(s) missing in secrets_deploy/default" in missing.stderr
    assert "database.password: set HARMONY_CONFIG_DATABASE__PASSWORD" in missing.stderr
    check = site.run("check", EXAMPLE, "--json", env=env)
    assert json.loads(check.stdout)["ok"] is True
    plan = site.run("plan", EXAMPLE, env=env)
    assert plan.returncode == 0, plan.stderr
    assert "password = " not in plan.stdout  # the template line is url = postgresql://app:********@…
    assert "postgresql://app:********@127.0.0.1:5432/app" in plan.stdout
    assert "token = ********" in plan.stdout
    assert site.run("plan", EXAMPLE, "--json", env=env).returncode == 0
    assert site.run("list", EXAMPLE, "--json", env=env).returncode == 0
    first = site.run("apply", EXAMPLE, "--yes", "--json", env=env)
    finished = [json.loads(line) for line in first.stdout.splitlines() if '"run_finished"' in line]
    assert finished[-1]["status"] == "success", first.stdout + first.stderr
    again = site.run("apply", EXAMPLE, "--yes", env=env)
    assert "3 unchanged" in again.stdout, again.stdout
    assert_rendered(site, password, token)
    site.run("journal", "--json")
    run_id = json.loads(site.outputs[-2])[0]["id"]
    site.run("journal", run_id)
    site.run("journal", run_id, "--json")

    # rotation: the plan shows the change masked, neither the old nor the new value
    new_password = "db-Rotated-" + secrets.token_hex(8)
    rotated = site.run("plan", EXAMPLE, env={**env, "HARMONY_CONFIG_DATABASE__PASSWORD": new_password})
    assert "current content of /etc/app/app.conf not shown" in rotated.stdout

    # a failing apply: the file's place is taken by a directory
    (site.root / CONF).unlink()
    (site.root / CONF).mkdir()
    failed = site.run("apply", EXAMPLE, "--yes", env=env)
    assert failed.returncode == 1
    assert "FAILURE" in failed.stdout + failed.stderr

    # bad input: a wrong type for a secret (from the local file) and for a plain setting (from env)
    (tmp_path / "harmony-config.toml").write_text("[database]\npassword = 987654321\n")
    wrong = site.run("plan", EXAMPLE, env={"HARMONY_CONFIG_API__TOKEN": token})
    assert wrong.returncode == 1
    assert "database.password from file" in wrong.stderr
    assert "expected Secret" in wrong.stderr
    port = site.run("plan", EXAMPLE, env={**env, "HARMONY_CONFIG_DATABASE__PORT": "fifty"})
    assert "database.port from env HARMONY_CONFIG_DATABASE__PORT: 'fifty' is not valid; expected Port" in port.stderr

    site.assert_no_leak(password, token, new_password, "987654321")


def test_in_process_reprs_and_errors_are_masked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    password, token = known_secrets()
    monkeypatch.setenv("HARMONY_CONFIG_DATABASE__PASSWORD", password)
    monkeypatch.setenv("HARMONY_CONFIG_API__TOKEN", token)
    monkeypatch.setenv("HARMONY_SECRETS_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("HARMONY_CONFIG_STORE", str(tmp_path / "s.sqlite3"))
    monkeypatch.setenv("HARMONY_CONFIG_KEY", str(tmp_path / "k"))
    from harmony.cli.loading import load

    loaded = load(EXAMPLE)
    module = sys.modules[loaded.name]
    texts = [repr(loaded.deployment), str(loaded.deployment), repr(module.settings), str(module.settings)]
    texts += [s.model_dump_json() for s in loaded.deployment.scores]
    for text in texts:
        assert password not in text
        assert token not in text


def read_until(fd: int, wanted: bytes, seen: bytearray, start: int, deadline: float) -> int:
    """Read the terminal until ``wanted`` shows after ``start``; returns where that occurrence ends."""
    while seen.find(wanted, start) < 0:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} on the terminal; it shows:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            assert chunk, f"terminal closed before {wanted!r}:\n{seen.decode(errors='replace')}"
            seen += chunk
    return seen.find(wanted, start) + len(wanted)


def on_terminal(site: Site, args: list[str], answers: list[tuple[bytes, str]], env: dict[str, str]) -> tuple[int, str]:
    """Run ``harmony ARGS`` on a real pseudo-terminal, typing each answer after its prompt appears."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.chdir(site.tmp)
        os.execve(HARMONY, [HARMONY, *args], {**site.env, **env})
    seen = bytearray()
    deadline = time.monotonic() + 120
    cursor = 0
    try:
        for prompt, answer in answers:
            cursor = read_until(fd, prompt, seen, cursor, deadline)
            os.write(fd, answer.encode() + b"\r")
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            try:
                chunk = os.read(fd, 4096) if ready else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(fd)
    text = seen.decode(errors="replace")
    site.outputs.append(text)
    return os.waitstatus_to_exitcode(status), text


def test_embedded_store_after_one_prompt_on_a_terminal(tmp_path: Path) -> None:
    site = Site(tmp_path)
    password, token = known_secrets()

    code, screen = on_terminal(
        site, ["plan", EXAMPLE], [(b"database.password: ", password), (b"api.token: ", token)], env={}
    )
    assert code == 0, screen
    assert "secrets_deploy/default needs database.password (Secret, secret, not echoed)" in screen
    assert "the app's database password" in screen  # the field's description
    assert "postgresql://app:********@" in screen  # then it planned, masked

    # asked once: from now on the embedded store answers, with no terminal at all
    applied = site.run("apply", EXAMPLE, "--yes")
    assert applied.returncode == 0, applied.stderr
    assert_rendered(site, password, token)
    listed = site.run("secret", "list", "-d", "secrets_deploy", "--json")
    assert {r["key"] for r in json.loads(listed.stdout)} == {"database.password", "api.token"}
    # the default places: store under the data dir, key under the config dir, 0600
    key = site.home / ".config" / "harmony" / "config.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert site.store_files()[0].name == "config.sqlite3"
    site.assert_no_leak(password, token)  # not echoed, not journaled, encrypted at rest


def test_a_terminal_in_ci_gets_an_error_not_a_prompt(tmp_path: Path) -> None:
    site = Site(tmp_path)
    code, screen = on_terminal(site, ["plan", EXAMPLE], [], env={"CI": "true"})
    assert code == 1
    assert "2 required setting(s) missing in secrets_deploy/default (no terminal to ask on)" in screen
    assert "HARMONY_CONFIG_DATABASE__PASSWORD" in screen
    assert "HARMONY_CONFIG_API__TOKEN" in screen
    assert "needs database.password" not in screen


def test_a_corrupted_entry_is_reported_not_prompted_over(tmp_path: Path) -> None:
    site = Site(tmp_path)
    password, token = known_secrets()
    site.run("secret", "set", "database.password", "-d", "secrets_deploy", stdin=password + "\n")
    site.run("secret", "set", "api.token", "-d", "secrets_deploy", stdin=token)
    import sqlite3

    (db,) = [p for p in site.store_files() if p.name == "config.sqlite3"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE entries SET value = X'000102030405060708090A0B0C0D0E0F10' WHERE key = 'api.token'")
    before = db.read_bytes()
    code, screen = on_terminal(site, ["plan", EXAMPLE], [], env={})
    assert code == 1
    assert "api.token is corrupted" in screen
    assert "needs api.token" not in screen
    refused = site.run("secret", "set", "api.token", "-d", "secrets_deploy", stdin="replacement")
    assert refused.returncode == 1
    assert "corrupted" in refused.stderr
    assert db.read_bytes() == before
    site.assert_no_leak(password)


def test_from_openbao_without_leaking(openbao_dev: BaoServer, tmp_path: Path) -> None:
    site = Site(tmp_path)
    password, token = known_secrets()
    prefix = "e2e-" + secrets.token_hex(4)
    bao = {
        "HARMONY_BAO_ADDR": openbao_dev.url,
        "HARMONY_BAO_TOKEN": openbao_dev.root_token,
        "HARMONY_BAO_PREFIX": prefix,
    }
    assert (
        site.run(
            "secret", "set", "database.password", "--team", "-d", "secrets_deploy", env=bao, stdin=password
        ).returncode
        == 0
    )
    assert (
        site.run("secret", "set", "api.token", "--team", "-d", "secrets_deploy", env=bao, stdin=token).returncode == 0
    )
    site.run("config", "set", "database.name", "shop", "--team", "-d", "secrets_deploy", env=bao)

    plan = site.run("plan", EXAMPLE, "--json", env=bao)
    assert plan.returncode == 0, plan.stderr
    applied = site.run("apply", EXAMPLE, "--yes", env=bao)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    text = (site.root / CONF).read_text()
    assert f"postgresql://app:{password}@127.0.0.1:5432/shop" in text
    assert f"token = {token}" in text
    listed = site.run("config", "list", "--team", "-d", "secrets_deploy", env=bao)
    assert "database.name" in listed.stdout
    assert "********" in listed.stdout
    assert site.store_files() == []  # nothing was written locally
    site.assert_no_leak(password, token)
