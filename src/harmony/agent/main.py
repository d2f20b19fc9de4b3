"""The composition root: build the agent's adapters from its configuration and run it until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from pydantic import Field

from harmony.agent.config import AgentConfig
from harmony.agent.daemon import Agent
from harmony.agent.local_postgres import AgentPostgres
from harmony.config.model import ConfigModel, ConfigSection
from harmony.config.wiring import namespace, resolver
from harmony.domain.errors import KeyValueUnavailable
from harmony.domain.secret import Secret
from harmony.infra.nats import EmbeddedNats, NatsKeyValue, NatsOptions
from harmony.infra.postgres import PostgresInstance

log = logging.getLogger("harmony.agent")


class AgentNatsSecrets(ConfigSection):
    password: Secret | None = Field(default=None, description="the agent's NATS password (with nats.user)")
    token: Secret | None = Field(default=None, description="the agent's NATS authorization token")


class AgentSecrets(ConfigModel):
    """What an agent may take from Harmony's config system: ``nats.password`` and ``nats.token``."""

    nats: AgentNatsSecrets = AgentNatsSecrets()


def resolve_credentials(config: AgentConfig, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """``config`` with a missing NATS password/token taken from Harmony's config system, never by prompting.

    Only when ``nats.secrets_deployment`` is set: then ``HARMONY_CONFIG_NATS__PASSWORD`` (``__TOKEN``), the
    local config file, the embedded store and the team store (OpenBao) are asked, in that order, under
    that deployment and ``$HARMONY_ENV``. A value in the agent's own TOML or ``HARMONY_AGENT__NATS__…`` wins.
    """
    n = config.nats
    if n.secrets_deployment is None or (n.password is not None or n.token is not None):
        return config
    found = resolver(namespace(n.secrets_deployment, environ=environ), ask=False, environ=environ).resolve(AgentSecrets)
    update = {k: v for k, v in (("password", found.nats.password), ("token", found.nats.token)) if v is not None}
    return config.model_copy(update={"nats": n.model_copy(update=update)}) if update else config


def nats_options(config: AgentConfig, *, extra_servers: tuple[str, ...] = ()) -> NatsOptions:
    """How to reach the mesh: ``extra_servers`` first, then the embedded server (if on a fixed port), then
    the configured servers."""
    n, t = config.nats, config.timing
    embedded = (f"nats://{n.embedded.host}:{n.embedded.port}",) if n.embedded and n.embedded.port else ()
    return NatsOptions(
        servers=tuple(dict.fromkeys((*extra_servers, *embedded, *n.servers))),
        user=n.user,
        password=n.password,
        token=n.token,
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
    """Run until SIGTERM/SIGINT. An embedded NATS, if configured, lives and dies with the agent.

    Raises ``KeyValueAuthError`` at once when NATS refuses the credentials (never retried: it cannot heal).
    """
    config = resolve_credentials(config)
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
