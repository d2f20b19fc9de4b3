"""Per-host Scores on real SSH hosts: 25 lab hosts, each with its own user and file names from its
inventory variables, with no loop in the deployment. Each host is planned over one SSH connection with one
round trip of reads; the second apply is NOOP on every host; the CLI shows each host's own Scores."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from pydantic import BaseModel

from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Inventory
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.units import FileMode
from harmony.infra.ssh import SshConnector
from harmony.maestro.fanout import run_group
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.modules.users import User
from harmony.testing import converge_on_hosts
from harmony.testing.ssh_lab import SshLab
from harmony.topology.linux_host import LinuxHost

ROOT = Path(__file__).resolve().parents[2]
HARMONY = Path(sys.executable).parent / "harmony"
HOSTS = 25


class ShopVariables(BaseModel):
    shop: str
    workers: int


def shop_scores(host: LinuxHost) -> list[Score[LinuxHost]]:
    """Each host's own user, directory and config file, named from its variables."""
    shop = host.variables_as(ShopVariables)
    home = PurePosixPath("/srv") / shop.shop
    return [
        User(user=shop.shop, home=str(home), shell="/bin/sh"),
        ManagedDirectory(path=home, owner=shop.shop, mode=FileMode("0750")),
        ManagedFile(path=home / f"{shop.shop}.conf", content=f"shop = {shop.shop}\nworkers = {shop.workers}\n"),
    ]


@pytest.fixture(scope="module")
def big_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshLab]:
    with SshLab(tmp_path_factory.mktemp("lab25"), HOSTS) as lab:
        yield lab


def with_variables(lab: SshLab, token: str) -> Inventory:
    """The lab's inventory, each host given its own shop name and size (as an inventory file would)."""
    hosts = lab.inventory().hosts
    return Inventory(
        hosts=tuple(
            h.model_copy(update={"variables": {"shop": f"s{token}{i}", "workers": i + 1}}) for i, h in enumerate(hosts)
        )
    )


def accepted_logins(lab: SshLab) -> dict[str, int]:
    return {h.name: (h.dir / "sshd.log").read_text().count("Accepted publickey") for h in lab.hosts}


async def test_25_hosts_each_get_their_own_user_and_files(big_lab: SshLab) -> None:
    token = secrets.token_hex(2)
    inventory = with_variables(big_lab, token)
    hosts = [LinuxHost.from_inventory(h, known_hosts=big_lab.known_hosts) for h in inventory.hosts]
    deployment = HostGroup(hosts=hosts, parallelism=8).deploy(shop_scores)
    assert deployment.varies_per_host
    assert [s.name for s in deployment.scores_on(hosts[7])] == [
        f"user:s{token}7",
        f"directory:/srv/s{token}7",
        f"file:/srv/s{token}7/s{token}7.conf",
    ]

    first, second = await converge_on_hosts(deployment)
    assert [h.status for h in first.hosts] == [Status.SUCCESS] * HOSTS
    assert [h.status for h in second.hosts] == [Status.NOOP] * HOSTS

    for i in (0, 7, HOSTS - 1):
        check = LinuxHost.from_inventory(inventory.hosts[i], known_hosts=big_lab.known_hosts)
        await check.ensure_ready()
        conf = await check.run_command(["cat", f"/srv/s{token}{i}/s{token}{i}.conf"])
        owner = await check.run_command(["stat", "-c", "%U %a", f"/srv/s{token}{i}"])
        users = (await check.accounts()).users
        await check.close()
        assert conf.stdout == f"shop = s{token}{i}\nworkers = {i + 1}\n"
        assert owner.stdout.split() == [f"s{token}{i}", "750"]
        assert f"s{token}{i}" in users
        assert f"s{token}{(i + 1) % HOSTS}" not in users, "each user must exist on its own host only"


async def test_each_host_is_planned_over_one_connection_with_one_round_trip_of_reads(big_lab: SshLab) -> None:
    inventory = with_variables(big_lab, secrets.token_hex(2))
    hosts = [LinuxHost.from_inventory(h, known_hosts=big_lab.known_hosts) for h in inventory.hosts]
    logins_before = accepted_logins(big_lab)

    report = await run_group(HostGroup(hosts=hosts).deploy(shop_scores).topology, shop_scores, mode="plan")

    assert report.status is Status.SUCCESS
    for run in report.hosts:
        assert run.report is not None
        assert [r.score.split(":")[0] for r in run.report.results] == ["user", "directory", "file"]
    assert [len(h.report.results) if h.report else 0 for h in report.hosts] == [3] * HOSTS
    for host in hosts:
        assert isinstance(host.connector, SshConnector)
        assert host.connector.round_trips == 1, f"{host.name}: reads of all its plans in one round trip"
    logins_after = accepted_logins(big_lab)
    assert {name: logins_after[name] - logins_before[name] for name in logins_after} == dict.fromkeys(
        logins_after, 1
    ), "one SSH connection per host"


async def test_a_bad_value_for_one_host_fails_the_load_naming_it_and_nothing_runs(big_lab: SshLab) -> None:
    inventory = with_variables(big_lab, secrets.token_hex(2))
    bad = list(inventory.hosts)
    bad[3] = bad[3].model_copy(update={"variables": {"shop": "s-x", "workers": "many"}})
    hosts = [LinuxHost.from_inventory(h, known_hosts=big_lab.known_hosts) for h in bad]
    logins_before = accepted_logins(big_lab)
    with pytest.raises(Exception, match=r"host lab3 cannot be built: host lab3: variable workers: 'many'"):
        HostGroup(hosts=hosts).deploy(shop_scores)
    assert accepted_logins(big_lab) == logins_before


@pytest.fixture
def deploy_file(tmp_path: Path, big_lab: SshLab) -> Path:
    token = secrets.token_hex(2)
    inventory = with_variables(big_lab, token)
    (tmp_path / "inventory.json").write_text(inventory.model_dump_json())
    path = tmp_path / "shops.py"
    path.write_text(
        f'''"""Three of the lab's hosts, each with its own shop user and files."""

from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Inventory
from harmony.domain.score import Score
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost


class ShopVariables(BaseModel):
    shop: str
    workers: int


def shop_scores(host: LinuxHost) -> list[Score[LinuxHost]]:
    shop = host.variables_as(ShopVariables)
    home = PurePosixPath("/srv") / shop.shop
    return [
        User(user=shop.shop),
        ManagedDirectory(path=home),
        ManagedFile(path=home / f"{{shop.shop}}.conf", content=f"workers = {{shop.workers}}\\n"),
    ]


inventory = Inventory.model_validate_json(Path({str(tmp_path / "inventory.json")!r}).read_text())
known = Path({str(big_lab.known_hosts)!r})
hosts = [LinuxHost.from_inventory(h, known_hosts=known) for h in inventory.hosts[:3]]
deployment = HostGroup(hosts=hosts, label="shops").deploy(shop_scores)
'''
    )
    return path


def harmony(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(HARMONY), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_the_cli_checks_lists_plans_and_applies_each_hosts_own_scores(deploy_file: Path) -> None:
    check = harmony("check", str(deploy_file))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "9 Score(s) on shops (3 hosts)" in check.stdout

    listed = harmony("list", str(deploy_file), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["scores"]
    users = {r["host"]: r["score"] for r in rows if r["kind"] == "user"}
    assert sorted(users) == ["lab0", "lab1", "lab2"]
    assert len(set(users.values())) == 3

    plan = harmony("plan", str(deploy_file), "--filter", "*.conf")  # each host's file has its own name
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for host in ("lab0", "lab1", "lab2"):
        assert f"── {host}: 1 Score(s) to change" in plan.stdout
    assert re.search(r"\+ file /srv/s\w+1/s\w+1\.conf", plan.stdout)

    nothing = harmony("plan", str(deploy_file), "--filter", "nosuch*")
    assert nothing.returncode == 1
    assert "matches no Score on any host" in nothing.stdout + nothing.stderr

    first = harmony("apply", str(deploy_file), "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "apply on 3 hosts: SUCCESS" in first.stdout
    second = harmony("apply", str(deploy_file), "--yes")
    assert "apply on 3 hosts: NOOP" in second.stdout, second.stdout
