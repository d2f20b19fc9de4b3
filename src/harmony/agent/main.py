"""The composition root: build the agent's adapters from its configuration and run it until stopped."""

from __future__ import annotations

import asyncio
import logging

from harmony.agent.config import AgentConfig
from harmony.agent.daemon import Agent
from harmony.agent.local_postgres import AgentPostgres
from harmony.domain.errors import KeyValueUnavailable
from harmony.infra.nats import EmbeddedNats, NatsKeyValue, NatsOptions
from harmony.infra.postgres import PostgresInstance

log = logging.getLogger("harmony.agent")


def nats_options(config: AgentConfig, *, extra_servers: tuple[str, ...] = ()) -> NatsOptions:
    """How to reach the mesh: ``extra_servers`` first, then the embedded server (if on a fixed port), then
    the configured servers."""
    n, t = config.nats, config.timing
    embedded = (f"nats://{n.embedded.host}:{n.embedded.port}",) if n.embedded and n.embedded.port else ()
    return NatsOptions(
        servers=tuple(dict.fromkeys((*extra_servers, *embedded, *n.servers))),
        user=n.user,
        password=n.password.get_secret_value() if n.password else None,
        credentials_file=n.credentials_file,
        timeout=t.heartbeat_timeout,
        reconnect_cap=min(2.0, t.heartbeat_timeout),
        name=f"harmony-agent-{config.node_id}",
    )


def postgres_instance(config: AgentConfig) -> PostgresInstance:
    p = config.postgres
    return PostgresInstance(
        name=config.node_id,
        data_dir=p.data_dir,
        port=p.port,
        listen_address=p.listen_address,
        socket_dir=p.socket_dir,
        bin_dir=p.bin_dir,
        run_as=p.run_as,
        trusted_networks=p.trusted_networks,
    )


async def run_agent(config: AgentConfig) -> None:
    """Run until SIGTERM/SIGINT. An embedded NATS, if configured, lives and dies with the agent."""
    embedded: EmbeddedNats | None = None
    extra: tuple[str, ...] = ()
    if config.nats.embedded is not None:
        e = config.nats.embedded
        embedded = EmbeddedNats(store_dir=e.store_dir, host=e.host, port=e.port, server_name=config.node_id)
        await embedded.start()
        extra = (embedded.url,)
    try:
        store = await _connect(config, extra)
        try:
            await Agent(config, store=store, db=AgentPostgres(postgres_instance(config))).run()
        finally:
            await store.close()
    finally:
        if embedded is not None:
            await embedded.stop()


async def _connect(config: AgentConfig, extra: tuple[str, ...]) -> NatsKeyValue:
    """Keep trying until the mesh answers: without it nothing may be served (the server stays down)."""
    delay = 0.1
    while True:
        try:
            return await NatsKeyValue.connect(
                nats_options(config, extra_servers=extra), bucket=config.nats.bucket, replicas=config.nats.replicas
            )
        except KeyValueUnavailable as e:
            log.warning("%s: %s; retrying in %.1fs", config.node_id, e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
