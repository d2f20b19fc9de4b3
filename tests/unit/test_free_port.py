"""The port picker of tests and benches stays out of the kernel's ephemeral range and never repeats itself."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.fixtures import ports
from tests.fixtures.ports import free_port


def test_picked_ports_are_distinct_free_and_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    picked = [free_port() for _ in range(200)]
    assert len(set(picked)) == len(picked)
    assert all(1024 <= p < low for p in picked)
    for port in picked[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            tcp.bind(("127.0.0.1", port))
            udp.bind(("127.0.0.1", port))


def test_a_port_in_use_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))  # UDP only: the port must be free for both
        taken = held.getsockname()[1]
        free = next(p for p in range(25_000, 32_000) if p not in ports._handed_out and ports._free("127.0.0.1", p))
        tries = iter([taken, taken, free])
        monkeypatch.setattr(ports.random, "choice", lambda _: next(tries))
        assert ports.free_port() == free
