"""PostgreSQL failover inside a site cut off from the hub: the agents use the site's own JetStream domain.

A real PostgreSQL pair with two real ``harmony agent run`` processes whose NATS is the site's leaf node (in a
namespace, linked to a real three-server hub). The site is cut off from the hub with nftables inside its
namespace; then the primary's PostgreSQL is killed: the replica is promoted all the same, every write the old
primary acknowledged is on it, and the failover state never existed at the hub.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import nats.js.errors
import pytest

from harmony.agent.records import ClusterState, Stamped
from harmony.topology.sites import SitesTopology
from tests.fixtures.failover import Pair, WriteChecker, postgres_base, remove_base, rows, wait_for
from tests.fixtures.failover_netns import Netns
from tests.fixtures.sites import cut_site, start_sites

pytestmark = pytest.mark.slow


@pytest.fixture
async def site(tmp_path: Path, failover_netns: Netns) -> AsyncIterator[SitesTopology]:
    topology = await start_sites(tmp_path, ["remote"], netns={"remote": failover_netns})
    try:
        yield topology
    finally:
        await topology.close()


@pytest.fixture
async def pair(site: SitesTopology) -> AsyncIterator[Pair]:
    base = postgres_base()
    made = Pair(base, [site.spec.site_url("remote")])
    try:
        await made.deploy()
        await made.start_agents()
        await made.wait_ready()
        yield made
    finally:
        await made.close()
        print(made.logs())
        remove_base(base)


async def test_a_cut_off_site_fails_over_without_the_hub(
    site: SitesTopology, pair: Pair, failover_netns: Netns
) -> None:
    hub = await site.connect_hub()
    try:
        leaf_log = site.sites["remote"].log_file
        closed = leaf_log.read_text().count("Leafnode connection closed")
        cut_site(site, failover_netns)

        async def link_down() -> bool | None:
            gone = leaf_log.read_text().count("Leafnode connection closed") > closed
            return True if gone and not await hub.domain_answers("remote") else None

        await wait_for(link_down, 30, "the site's leaf connections to the hub dropped")

        checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")})
        checker.start()

        async def some_on_a() -> bool | None:
            return True if checker.acked_on("a") else None

        await wait_for(some_on_a, 10, "writes acknowledged by a")
        os.kill(pair.postmaster_pid("a"), signal.SIGKILL)

        async def promoted() -> Stamped[ClusterState] | None:
            s = await pair.state()
            return s if s and s.record.primary == "b" else None

        state = await wait_for(promoted, 30, "b promoted")

        async def some_on_b() -> bool | None:
            return True if checker.acked_on("b") else None

        await wait_for(some_on_b, 20, "writes acknowledged by b")
        await checker.stop()
        # promoted while the hub was unreachable the whole time, from state the hub never held
        assert not await hub.domain_answers("remote")
        assert state.record.primary == "b"
        with pytest.raises(nats.js.errors.NotFoundError):
            await hub.js.stream_info("KV_harmony_failover")
        on_b = {int(str(r[0])) for r in await rows(pair.endpoint("b"), "SELECT v FROM checker")}
        lost = [a.value for a in checker.acked_on("a") if a.value not in on_b]
        assert lost == [], f"writes acknowledged by a are missing on b: {lost[:10]}"
    finally:
        failover_netns.heal()
        await hub.close()
