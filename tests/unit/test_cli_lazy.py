"""Sub-commands load on first use: each one named in the top-level help loads and answers ``--help``, and a
plain ``harmony apply`` imports none of the agent, fleet, dashboard or SSH machinery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


# What a no-op ``harmony apply`` of local files never needs: other adapters' drivers, the firewall's models
# (no firewall Score), the click package (typer vendors its own), the type checkers' machinery, the web, and
# rich's progress bar and emoji codes (output to a pipe, no :codes: rendered).
NOT_ON_THE_APPLY_PATH = (
    "asyncssh",
    "nats",
    "psycopg",
    "hvac",
    "dns",
    "prometheus_client",
    "starlette",
    "jinja2",
    "click",
    "harmony.agent",
    "harmony.fleet",
    "harmony.dashboard",
    "harmony.config.model",
    "harmony.cli.check",
    "harmony.cli.typecheck",
    "harmony.domain.capabilities.firewall",
    "harmony.domain.firewall_analysis",
    "harmony.infra.ssh",
    "rich.progress",  # the bar is drawn on a terminal only
    "rich._emoji_codes",
)


def test_a_real_apply_of_local_files_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    deploy = tmp_path / "few_files.py"
    deploy.write_text(
        "from pathlib import Path, PurePosixPath\n"
        "from harmony.domain.deployment import Deployment\n"
        "from harmony.modules.files import ManagedFile\n"
        "from harmony.topology.linux_host import LinuxHost\n"
        f"deployment = Deployment(topology=LinuxHost.local(root=Path({str(tmp_path / 'root')!r}), create_root=True),"
        " scores=[ManagedFile(path=PurePosixPath(f'/f{i}.conf'), content='x') for i in range(3)])\n"
    )
    code = (
        "import sys\n"
        "from harmony.cli.app import main\n"
        f"sys.argv = ['harmony', 'apply', {str(deploy)!r}, '--yes']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('LOADED', *(m for m in {NOT_ON_THE_APPLY_PATH!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "HARMONY_JOURNAL": str(tmp_path / "journal.sqlite3")}
    for run in ("first", "no-op"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
        assert (tmp_path / "root" / "f2.conf").read_text() == "x"
        loaded = next(line for line in out.splitlines() if line.startswith("LOADED")).split()[1:]
        assert loaded == [], f"the {run} apply imported {loaded}"


def test_the_host_checks_of_a_deployment_without_a_firewall_build_no_firewall_models() -> None:
    """Every SSH host's management port is checked against the deployment's firewall Scores: without one, the
    firewall's models are not imported (a few ms of every run over SSH)."""
    code = (
        "import sys\n"
        "from pathlib import PurePosixPath\n"
        "from harmony.domain.consistency import check_host_services\n"
        "from harmony.modules.files import ManagedFile\n"
        "scores = [ManagedFile(path=PurePosixPath('/etc/x.conf'), content='x')]\n"
        "assert check_host_services(scores, host='h', management=[22], served=[('tcp', 22)]) == []\n"
        "print(*(m for m in ('harmony.domain.capabilities.firewall', 'harmony.domain.firewall_analysis')"
        " if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
