"""Sub-commands load on first use: each one named in the top-level help loads and answers ``--help``, and a
plain ``harmony apply`` imports none of the agent, fleet, dashboard or SSH machinery."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from harmony.cli.app import app
from harmony.cli.lazy import LazyGroup


@pytest.mark.parametrize("name", sorted(LazyGroup.LAZY))
def test_each_lazy_sub_command_loads_and_shows_its_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and name in result.output


def test_the_top_level_help_lists_every_sub_command_with_its_summary() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert set(LazyGroup.LAZY) | {"check", "plan", "apply", "list", "journal"} <= listed


def test_loading_the_cli_for_apply_leaves_heavy_machinery_unimported() -> None:
    code = (
        "import sys, harmony.cli.app, harmony.topology.linux_host, harmony.modules.files\n"
        "print(' '.join(m for m in ('asyncssh', 'nats', 'psycopg', 'starlette', 'harmony.agent', 'harmony.fleet',"
        " 'harmony.dashboard', 'harmony.config.model') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
