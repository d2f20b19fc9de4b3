"""``harmony config`` and ``harmony secret``, through the real console script, on a real embedded store."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

HARMONY = str(Path(sys.executable).parent / "harmony")
SECRET = "Cli-Secret-" + "5f3a9"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "HARMONY_CONFIG_STORE": str(tmp_path / "data" / "config.sqlite3"),
        "HARMONY_CONFIG_KEY": str(tmp_path / "keys" / "config.key"),
        "HARMONY_DEPLOYMENT": "shop",
        "COLUMNS": "200",
    }


def hm(
    env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HARMONY, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_set_get_list_unset(env: dict[str, str], tmp_path: Path) -> None:
    assert hm(env, "config", "set", "database.host", "db1").returncode == 0
    assert hm(env, "secret", "set", "database.password", stdin=SECRET + "\n").returncode == 0
    assert hm(env, "config", "get", "database.host").stdout == "db1\n"
    got = hm(env, "secret", "get", "database.password", "--json")
    assert json.loads(got.stdout) == {
        "key": "database.password",
        "value": "********",
        "secret": True,
        "source": f"embedded store {env['HARMONY_CONFIG_STORE']}",
    }
    assert hm(env, "secret", "get", "database.password", "--reveal").stdout == SECRET + "\n"
    assert hm(env, "config", "get", "database.password").stdout == "********\n"  # a secret stays masked here too
    listed = hm(env, "config", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"key": "database.host", "value": "db1", "secret": False, "version": 1},
        {"key": "database.password", "value": "********", "secret": True, "version": 1},
    ]
    table = hm(env, "secret", "list")
    assert "database.password" in table.stdout
    assert "database.host" not in table.stdout
    # another environment is another namespace
    assert hm(env, "config", "list", "-e", "staging", "--json").stdout == "[]\n"
    # env beats the store, as in a run
    assert (
        hm({**env, "HARMONY_CONFIG_DATABASE__HOST": "from-env"}, "config", "get", "database.host").stdout
        == "from-env\n"
    )
    # a secret cannot be overwritten in clear
    clear = hm(env, "config", "set", "database.password", "oops")
    assert clear.returncode == 1
    assert "use `harmony secret set database.password`" in clear.stderr
    assert hm(env, "secret", "unset", "database.password").returncode == 0
    missing = hm(env, "secret", "get", "database.password")
    assert missing.returncode == 1
    assert "HARMONY_CONFIG_DATABASE__PASSWORD" in missing.stderr
    assert "harmony secret set database.password -d shop -e default" in missing.stderr
    for out in (got, listed, table, clear, missing):
        assert SECRET not in out.stdout + out.stderr


def test_export_masks_and_import_skips_masked(env: dict[str, str], tmp_path: Path) -> None:
    hm(env, "config", "set", "database.port", "5433")
    hm(env, "secret", "set", "api.token", stdin=SECRET)
    exported = hm(env, "config", "export")
    assert SECRET not in exported.stdout
    data = json.loads(exported.stdout)
    assert data["namespace"] == "shop/default"
    assert {"key": "api.token", "secret": True, "masked": True, "value": None} in data["entries"]

    clear_file = tmp_path / "clear.json"
    assert hm(env, "config", "export", "--reveal-secrets", "-o", str(clear_file)).returncode == 0
    assert stat.S_IMODE(clear_file.stat().st_mode) == 0o600
    assert SECRET in clear_file.read_text()

    masked_file = tmp_path / "masked.json"
    masked_file.write_text(exported.stdout)
    imported = hm(env, "config", "import", str(masked_file), "-e", "staging")
    assert "imported 1 setting(s)" in imported.stdout
    assert "skipped masked secret(s): api.token" in imported.stdout
    assert hm(env, "config", "import", str(clear_file), "-e", "prod").returncode == 0
    assert hm(env, "secret", "get", "api.token", "-e", "prod", "--reveal").stdout == SECRET + "\n"
    assert hm(env, "config", "get", "database.port", "-e", "prod").stdout == "5433\n"

    bad = tmp_path / "bad.json"
    bad.write_text('{"namespace": "x", "entries": [{"key": "a.b", "secret": true, "value": 5}]}')
    refused = hm(env, "config", "import", str(bad), "-e", "qa")
    assert refused.returncode == 1
    assert "must be strings; nothing was imported" in refused.stderr
    assert hm(env, "config", "list", "-e", "qa", "--json").stdout == "[]\n"


def test_bad_keys_and_missing_team_store(env: dict[str, str]) -> None:
    bad = hm(env, "config", "set", "Database Password", "x")
    assert bad.returncode == 1
    assert "key: 'Database Password' is not valid; expected dot-separated names" in bad.stderr
    team = hm(env, "secret", "list", "--team")
    assert team.returncode == 1
    assert "set HARMONY_BAO_ADDR" in team.stderr
    nocreds = hm({**env, "HARMONY_BAO_ADDR": "http://127.0.0.1:1"}, "secret", "list", "--team")
    assert "no credentials are" in nocreds.stderr


def test_config_set_refuses_a_key_the_deployment_declares_secret(env: dict[str, str], tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    env = {**env, "HARMONY_SECRETS_ROOT": str(tmp_path / "root"), "HARMONY_NONINTERACTIVE": "1"}
    # Any load of the deployment records its model's secret keys, even a plan that stops on missing values.
    planned = hm(env, "plan", "examples/secrets_deploy", cwd=repo)
    assert planned.returncode != 0 and "database.password" in planned.stderr
    refused = hm(env, "config", "set", "database.password", "hunter2-on-argv", "-d", "secrets_deploy")
    assert refused.returncode == 1
    said = " ".join(refused.stderr.split())  # the console wraps long lines
    assert "database.password is declared Secret by deployment secrets_deploy's config model Settings" in said
    assert "use `harmony secret set database.password -d secrets_deploy -e default`" in said
    assert "hunter2-on-argv" not in refused.stdout + refused.stderr
    assert hm(env, "config", "list", "-d", "secrets_deploy", "--json").stdout == "[]\n", "nothing was stored"
    # other keys of the model, and secrets through `secret set`, are fine
    assert hm(env, "config", "set", "database.host", "db2", "-d", "secrets_deploy").returncode == 0
    assert hm(env, "secret", "set", "database.password", "-d", "secrets_deploy", stdin=SECRET).returncode == 0
    # nor from a file as a plain value: the whole import is refused
    plain = tmp_path / "plain.json"
    plain.write_text(
        '{"namespace": "secrets_deploy/default", "entries": [{"key": "database.name", "secret": false, "value": "a"},'
        ' {"key": "api.token", "secret": false, "value": "token-in-clear"}]}'
    )
    imported = hm(env, "config", "import", str(plain), "-d", "secrets_deploy", "-e", "qa")
    assert imported.returncode == 1
    assert "api.token is declared Secret" in " ".join(imported.stderr.split())
    assert hm(env, "config", "list", "-d", "secrets_deploy", "-e", "qa", "--json").stdout == "[]\n"
    # a deployment never loaded here has no record: its keys are not guessed
    assert hm(env, "config", "set", "database.password", "x", "-d", "other").returncode == 0
