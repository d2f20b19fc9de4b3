"""A hub publish survives its connection being dropped: sent again on the next connection, stored once.

The fault is real, not simulated: this process's event loop is blocked (``time.sleep``) longer than the hub
servers wait for a client's pongs (three pings a second apart), so the server closes the connection as stale.
Before the fix the next publish went out on the dead connection and waited out the whole timeout unacknowledged
(the sites benchmark's "first outbox publish gets no acknowledgement" at 50+ devices per site: starting the
device workers blocked its loop).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harmony.infra.nats.sites import JetStreamLink, outbox_stream, outbox_subject
from harmony.topology.sites import SitesTopology
from tests.fixtures.sites import start_sites

STALL = 5.0  # > the servers' 1 s ping interval x 3 unanswered pings


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[JetStreamLink]:
    topology: SitesTopology = await start_sites(tmp_path, ["north"])
    try:
        link = await topology.connect_hub(timeout=20.0)
        try:
            yield link
        finally:
            await link.close()
    finally:
        await topology.close()


async def test_a_publish_after_the_server_dropped_a_stalled_client_is_stored_once(hub: JetStreamLink) -> None:
    subject = outbox_subject("north", "dev.web")
    first = await hub.publish(subject, b"v1")
    reconnects = hub.nc.stats["reconnects"]
    time.sleep(STALL)  # the fault under test: a stalled event loop
    second = await hub.publish(subject, b"v2", headers={"Nats-Expected-Last-Subject-Sequence": str(first)})
    assert hub.nc.stats["reconnects"] > reconnects  # the server did close the stalled connection
    assert second > first
    stored = await hub.stream_messages(outbox_stream("north"), subject)
    assert [m.value for m in stored] == [b"v1", b"v2"]
