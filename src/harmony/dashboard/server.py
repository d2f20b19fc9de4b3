"""Serving the dashboard with uvicorn inside the controller's event loop (the caller owns the signals)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

log = logging.getLogger("harmony.dashboard")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield  # ``harmony fleet serve`` handles SIGTERM/SIGINT for the controller and the dashboard together


async def serve_dashboard(
    app: Starlette, *, host: str, port: int, stop: asyncio.Event, tls: tuple[Path, Path] | None = None
) -> None:
    """Serve until ``stop`` is set; open event streams get two seconds to end."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=2,
        ssl_certfile=str(tls[0]) if tls else None, ssl_keyfile=str(tls[1]) if tls else None,
    )  # fmt: skip
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopped], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await serving
