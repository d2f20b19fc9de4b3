"""Agent configuration: TOML + environment, rejected at load with the field, the value and what was expected."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harmony.agent.config import AgentConfig, load_config, to_toml
from harmony.domain.errors import AgentConfigError
from harmony.infra.nats import backoff_delay

GOOD = """
node_id = "a"
cluster = "pg"
initial_role = "primary"
peers = ["b"]
state_dir = "/tmp/agent-a"

[nats]
servers = ["nats://127.0.0.1:4222"]

[timing]
heartbeat_interval = 0.5
heartbeat_timeout = 1.0
failure_threshold = 2
failover_timeout = 5.0

[postgres]
data_dir = "/var/lib/pg/a"
port = 5432
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert config.timing.failover_timeout == 5.0
    assert config.nats.bucket == "harmony_failover"


def test_failover_timeout_must_exceed_heartbeat_timeout_times_failure_threshold(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError) as e:
        load_config(write(tmp_path, GOOD.replace("failover_timeout = 5.0", "failover_timeout = 2.0")), env={})
    assert e.value.field == "timing.failover_timeout"
    assert e.value.value == 2.0
    assert "heartbeat_timeout x failure_threshold = 1.0 x 2 = 2s" in str(e.value)
    assert str(tmp_path / "agent.toml") in str(e.value)


def test_environment_overrides_the_file_and_is_validated_too(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(path, env={"HARMONY_AGENT__TIMING__FAILOVER_TIMEOUT": "9.5", "HARMONY_AGENT__NODE_ID": "z"})
    assert config.timing.failover_timeout == 9.5
    assert config.node_id == "z"
    with pytest.raises(AgentConfigError, match=r"timing\.failover_timeout"):
        load_config(path, env={"HARMONY_AGENT__TIMING__FAILURE_THRESHOLD": "10"})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("port = 5432", "port = 99999"), "postgres.port"),
        (('initial_role = "primary"', 'initial_role = "leader"'), "initial_role"),
        (("port = 5432", "port = 5432\ncolour = 1"), "postgres.colour"),
        (('servers = ["nats://127.0.0.1:4222"]', "servers = []"), "nats.servers"),
        (("heartbeat_interval = 0.5", "heartbeat_interval = 3.0"), "timing.heartbeat_interval"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, change: tuple[str, str], field: str) -> None:
    with pytest.raises(AgentConfigError) as e:
        load_config(write(tmp_path, GOOD.replace(*change)), env={})
    assert e.value.field == field


def test_missing_file_and_bad_toml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="readable TOML file"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(AgentConfigError, match="valid TOML"):
        load_config(write(tmp_path, "node_id = "), env={})


def test_to_toml_round_trips(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    again = load_config(write(tmp_path, to_toml(config)), env={})
    assert again == config
    assert isinstance(again, AgentConfig)


def test_reconnect_backoff_is_jittered_and_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base=0.1, cap=2.0, rng=rng) for n in range(20)]
    assert all(0 <= d <= 2.0 for d in delays)
    assert delays[0] <= 0.1
    assert len(set(delays)) == len(delays)


def test_metrics_listener_is_optional_and_validated(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD), env={}).metrics is None  # no section: no listener
    config = load_config(write(tmp_path, GOOD + "\n[metrics]\nport = 9101\n"), env={})
    assert config.metrics is not None and (config.metrics.port, config.metrics.host) == (9101, "127.0.0.1")
    overridden = load_config(write(tmp_path, GOOD), env={"HARMONY_AGENT__METRICS__PORT": "9102"})
    assert overridden.metrics is not None and overridden.metrics.port == 9102
    again = load_config(write(tmp_path, to_toml(config)), env={})
    assert again.metrics == config.metrics
    with pytest.raises(AgentConfigError, match=r"metrics.port = 70000"):
        load_config(write(tmp_path, GOOD + "\n[metrics]\nport = 70000\n"), env={})
