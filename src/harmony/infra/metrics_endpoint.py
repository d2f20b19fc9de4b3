"""A process's own ``/metrics`` (Prometheus text format), through ``prometheus-client``.

Each ``MetricsEndpoint`` has its own registry, so several agents in one process (tests, a bench) do not
share series. Metrics are always counted (a few integers); only ``start`` opens a listener, so an agent
without a metrics port in its configuration listens on nothing. The listener runs in a daemon thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server


class MetricsEndpoint:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, doc, labelnames=labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, doc, labelnames=labels, registry=self.registry)

    def histogram(self, name: str, doc: str, buckets: Sequence[float]) -> Histogram:
        return Histogram(name, doc, buckets=buckets, registry=self.registry)

    def start(self, *, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` (port 0: a free one); returns the port."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def text(self) -> str:
        """The current exposition (for tests and ``--once`` style commands)."""
        return generate_latest(self.registry).decode()
