"""The agent's NATS credentials against a real nats-server that requires them: the right password
(from env, from the embedded store or OpenBao via ``harmony secret set``) gives heartbeats; a wrong one stops
the agent at once with an error naming the server and "authorization"; no secret appears in any output
(logs, ``harmony agent status`` as table and JSON, the state directory, errors)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harmony.agent.config import AgentConfig, NatsConfig, PostgresConfig, load_config, to_toml
from harmony.agent.main import resolve_credentials
from harmony.domain.errors import AgentConfigError, KeyValueAuthError
from harmony.domain.secret import Secret
from harmony.infra.nats import NatsKeyValue, NatsOptions
from tests.fixtures.nats_auth import USER, AuthServer
from tests.fixtures.openbao import BaoServer
from tests.fixtures.ports import free_port

HARMONY = str(Path(sys.executable).parent / "harmony")


def agent_toml(tmp_path: Path, url: str, **nats: object) -> Path:
    cfg = AgentConfig(
        node_id="solo",
        cluster="creds",
        initial_role="replica",
        peers=("other",),
        state_dir=tmp_path / "state",
        nats=NatsConfig.model_validate({"servers": (url,), "user": USER, **nats}),
        postgres=PostgresConfig(data_dir=tmp_path / "nodata", port=free_port()),
    )
    path = tmp_path / "agent.toml"
    path.write_text(to_toml(cfg))
    return path


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HARMONY_AGENT__", "HARMONY_CONFIG", "HARMONY_BAO"))
    }
    return {
        **env,
        "HARMONY_CONFIG_STORE": str(tmp_path / "store" / "config.sqlite3"),
        "HARMONY_CONFIG_KEY": str(tmp_path / "store" / "config.key"),
        "HARMONY_CONFIG_FILE": str(tmp_path / "absent.toml"),
        "HARMONY_NONINTERACTIVE": "1",
        **extra,
    }


def run_until_heartbeating(tmp_path: Path, path: Path, env: dict[str, str]) -> list[str]:
    """Run the agent until its status says the mesh took a heartbeat; every output it produced."""
    log_path = tmp_path / "agent.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [HARMONY, "agent", "run", "--config", str(path), "--json-logs", "-v"], env=env, stdout=log, stderr=log
        )
    outputs: list[str] = []
    try:
        deadline = time.monotonic() + 30
        status: dict[str, object] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            out = subprocess.run(
                [HARMONY, "agent", "status", "--config", str(path), "--json"], env=env, capture_output=True, text=True
            )
            outputs += [out.stdout, out.stderr]
            if out.returncode == 0:
                status = json.loads(out.stdout)["status"]
                if status["nats_ok"]:
                    break
            time.sleep(0.2)
        assert status.get("nats_ok") is True, f"no heartbeat reached NATS; log: {log_path.read_text()[-2000:]}"
        table = subprocess.run(
            [HARMONY, "agent", "status", "--config", str(path)], env=env, capture_output=True, text=True
        )
        assert table.returncode == 0, table.stderr
        outputs += [table.stdout, table.stderr]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    outputs.append(log_path.read_text())
    outputs += [p.read_text() for p in (tmp_path / "state").iterdir()]
    return outputs


def assert_nowhere(secret: Secret, outputs: list[str]) -> None:
    assert outputs
    leaks = [o for o in outputs if secret.reveal() in o]
    assert not leaks, f"the secret appears in {len(leaks)} output(s)"


def test_password_from_env_heartbeats_and_is_never_printed(tmp_path: Path, nats_password_server: AuthServer) -> None:
    path = agent_toml(tmp_path, nats_password_server.url)
    env = clean_env(tmp_path, HARMONY_AGENT__NATS__PASSWORD=nats_password_server.secret.reveal())
    outputs = run_until_heartbeating(tmp_path, path, env)
    history = subprocess.run(
        [HARMONY, "failover", "history", "--config", str(path), "--json"], env=env, capture_output=True, text=True
    )
    assert history.returncode == 0, history.stderr
    assert any(row["kind"] == "heartbeat" and row["node"] == "solo" for row in json.loads(history.stdout))
    assert_nowhere(nats_password_server.secret, [*outputs, history.stdout, history.stderr])


def test_password_from_the_embedded_store_set_by_harmony_secret_set(
    tmp_path: Path, nats_password_server: AuthServer
) -> None:
    path = agent_toml(tmp_path, nats_password_server.url, secrets_deployment="pg-pair")
    env = clean_env(tmp_path)
    stored = subprocess.run(
        [HARMONY, "secret", "set", "nats.password", "-d", "pg-pair"],
        env=env,
        input=nats_password_server.secret.reveal() + "\n",
        capture_output=True,
        text=True,
    )
    assert stored.returncode == 0, stored.stderr
    assert nats_password_server.secret.reveal().encode() not in (tmp_path / "store" / "config.sqlite3").read_bytes()
    outputs = run_until_heartbeating(tmp_path, path, env)
    assert_nowhere(nats_password_server.secret, [stored.stdout, stored.stderr, *outputs])


def test_token_from_openbao_set_by_harmony_secret_set_team(
    tmp_path: Path, nats_token_server: AuthServer, openbao_dev: BaoServer
) -> None:
    path = agent_toml(tmp_path, nats_token_server.url, secrets_deployment="pg-pair")
    path.write_text(path.read_text().replace('user = "agent"\n', ""))
    env = clean_env(
        tmp_path,
        HARMONY_BAO_ADDR=openbao_dev.url,
        HARMONY_BAO_TOKEN=openbao_dev.root_token,
        HARMONY_BAO_PREFIX="agent-" + secrets.token_hex(4),
    )
    stored = subprocess.run(
        [HARMONY, "secret", "set", "nats.token", "--team", "-d", "pg-pair"],
        env=env,
        input=nats_token_server.secret.reveal(),
        capture_output=True,
        text=True,
    )
    assert stored.returncode == 0, stored.stderr
    outputs = run_until_heartbeating(tmp_path, path, env)
    assert (
        not (tmp_path / "store" / "config.sqlite3").exists()
        or nats_token_server.secret.reveal().encode() not in (tmp_path / "store" / "config.sqlite3").read_bytes()
    )
    assert_nowhere(nats_token_server.secret, [stored.stdout, stored.stderr, *outputs])


def test_no_stored_value_means_no_password_and_a_clear_refusal(
    tmp_path: Path, nats_password_server: AuthServer
) -> None:
    """Without a stored value the agent connects without a password: refused, naming authorization."""
    path = agent_toml(tmp_path, nats_password_server.url, secrets_deployment="pg-pair")
    done = subprocess.run(
        [HARMONY, "agent", "run", "--config", str(path)], env=clean_env(tmp_path), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "refused user 'agent': authorization violation" in " ".join(done.stderr.split())


def test_wrong_password_fails_at_once_naming_the_server_and_authorization(
    tmp_path: Path, nats_password_server: AuthServer
) -> None:
    wrong = Secret("wrong-" + nats_password_server.secret.reveal()[:8])
    path = agent_toml(tmp_path, nats_password_server.url)
    env = clean_env(tmp_path, HARMONY_AGENT__NATS__PASSWORD=wrong.reveal())
    # timeout=60 only guards the suite against the old behaviour (retrying a refused login forever)
    done = subprocess.run(
        [HARMONY, "agent", "run", "--config", str(path), "--json-logs"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    said = " ".join(done.stderr.split())  # the console wraps long lines
    assert f"NATS at {nats_password_server.url} refused user '{USER}': authorization violation" in said
    assert "Traceback" not in done.stderr
    assert_nowhere(wrong, [done.stdout, done.stderr])
    assert_nowhere(nats_password_server.secret, [done.stdout, done.stderr])


async def test_token_auth_right_and_wrong(nats_token_server: AuthServer) -> None:
    ok = NatsOptions(servers=[nats_token_server.url], token=nats_token_server.secret)
    store = await NatsKeyValue.connect(ok, bucket="tok")
    try:
        entry = await store.put("k", b"v")
        assert entry.value == b"v"
    finally:
        await store.close()
    bad = NatsOptions(servers=[nats_token_server.url], token=Secret("not-the-token"))
    with pytest.raises(KeyValueAuthError) as caught:
        await NatsKeyValue.connect(bad, bucket="tok")
    assert nats_token_server.url in str(caught.value)
    assert "refused the token: authorization violation" in str(caught.value)
    assert "not-the-token" not in str(caught.value)
    assert nats_token_server.secret.reveal() not in repr(ok)


def test_config_masks_the_password_in_repr_dump_and_errors(tmp_path: Path) -> None:
    path = agent_toml(tmp_path, "nats://127.0.0.1:4222", password="hunter2-secret")
    cfg = load_config(path, env={})
    assert cfg.nats.password is not None
    assert cfg.nats.password.reveal() == "hunter2-secret"
    for text in (repr(cfg), str(cfg), cfg.model_dump_json(), json.dumps(cfg.model_dump(mode="json"))):
        assert "hunter2" not in text
    assert "hunter2-secret" in to_toml(cfg), "to_toml writes the file the agent reads back"
    assert load_config(path, env={"HARMONY_AGENT__NATS__PASSWORD": "12345"}).nats.password == Secret("12345")
    bad = path.read_text().replace('user = "agent"\n', "")
    path.write_text(bad)
    with pytest.raises(AgentConfigError, match=r"nats\.user") as caught:
        load_config(path, env={})
    assert "hunter2" not in str(caught.value)
    path.write_text(bad.replace('password = "hunter2-secret"', "password = 12345"))
    with pytest.raises(AgentConfigError, match=r"nats.password = '\*+'") as caught:
        load_config(path, env={})
    assert "12345" not in str(caught.value)


def test_a_server_url_with_credentials_in_it_is_rejected_masked(tmp_path: Path) -> None:
    path = agent_toml(tmp_path, "nats://127.0.0.1:4222")
    path.write_text(path.read_text().replace("nats://", "nats://agent:hunter2-secret@"))
    with pytest.raises(AgentConfigError, match=r"nats\.servers = 'nats://\*+@127\.0\.0\.1:4222'") as caught:
        load_config(path, env={})
    assert "hunter2" not in str(caught.value)
    assert "nats.user/nats.password or nats.token" in str(caught.value)


def test_the_agent_s_own_setting_wins_over_harmony_config(tmp_path: Path) -> None:
    env = clean_env(tmp_path, HARMONY_CONFIG_NATS__PASSWORD="from-harmony-config")
    with_toml = load_config(
        agent_toml(tmp_path, "nats://127.0.0.1:4222", password="own", secrets_deployment="d"), env={}
    )
    assert resolve_credentials(with_toml, env).nats.password == Secret("own")
    without = with_toml.model_copy(update={"nats": with_toml.nats.model_copy(update={"password": None})})
    assert resolve_credentials(without, env).nats.password == Secret("from-harmony-config")
    not_asked = without.model_copy(update={"nats": without.nats.model_copy(update={"secrets_deployment": None})})
    assert resolve_credentials(not_asked, env).nats.password is None
