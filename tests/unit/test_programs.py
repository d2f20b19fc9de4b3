"""The program registry: lookup, the error naming the package, versions; an adapter that finds its program
missing says which package provides it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmony.domain.errors import HarmonyError, MissingProgramError
from harmony.infra.podman import Podman
from harmony.infra.programs import HAPROXY, IP, PG_BIN, PG_CTL, PODMAN, Program


def test_a_missing_program_names_its_debian_package() -> None:
    absent = Program("harmony-no-such-program", "harmony-pkg", "nothing at all")
    assert absent.find() is None
    with pytest.raises(MissingProgramError) as raised:
        absent.argv("x")
    assert isinstance(raised.value, HarmonyError)
    assert raised.value.package == "harmony-pkg"
    assert "apt-get install harmony-pkg" in str(raised.value)


def test_a_missing_wheel_program_names_its_python_package() -> None:
    absent = Program(
        "harmony-no-such-daemon", "harmony-wheel", "nothing", source="wheel", directory=Path("/nonexistent")
    )
    with pytest.raises(MissingProgramError, match="Python package harmony-wheel"):
        absent.require()


def test_argv_keeps_a_path_program_bare_and_gives_a_directory_program_in_full() -> None:
    assert IP.argv("netns", "list") == ["ip", "netns", "list"]
    assert PG_CTL.argv("--version") == [str(PG_BIN / "pg_ctl"), "--version"]


def test_versions_are_read_and_compared_numerically() -> None:
    version = HAPROXY.version()
    assert version is not None
    assert HAPROXY.version_ok(version)
    assert HAPROXY.version_ok("2.10.1")
    assert not HAPROXY.version_ok("2.5.9")


async def test_podman_adapter_without_podman_on_path_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert PODMAN.find() is None
    with pytest.raises(MissingProgramError) as raised:
        await Podman(root=tmp_path / "root").list_containers()
    assert raised.value.program == "podman"
    assert raised.value.package == "podman"
