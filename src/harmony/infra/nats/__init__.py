"""NATS, the agents' and the fleet's one mesh: a connection (``connection``), KV buckets behind
``WatchableKeyValueStore`` (``bucket``), files through an object store (``objects``), and a real
``nats-server`` this process can own (``server``).

The only package that imports ``nats``; nothing from it crosses this package (errors are Harmony's).
"""

from harmony.infra.nats.bucket import NatsKeyValue, NatsWatch
from harmony.infra.nats.connection import (
    MAX_HISTORY,
    NatsConnection,
    NatsOptions,
    NoResponders,
    Serving,
    backoff_delay,
    connect_failure,
    fleet_options,
    is_refusal,
)
from harmony.infra.nats.objects import NatsObjectStore, ObjectMissing
from harmony.infra.nats.server import EmbeddedNats, FleetNatsServer, nats_server_binary

__all__ = [
    "MAX_HISTORY",
    "EmbeddedNats",
    "FleetNatsServer",
    "NatsConnection",
    "NatsKeyValue",
    "NatsObjectStore",
    "NatsOptions",
    "NatsWatch",
    "NoResponders",
    "ObjectMissing",
    "Serving",
    "backoff_delay",
    "connect_failure",
    "fleet_options",
    "is_refusal",
    "nats_server_binary",
]
