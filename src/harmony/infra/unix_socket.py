"""One request/answer exchange over a unix stream socket on this machine, in-process (no ``socat``).

The shape of HAProxy's runtime API and master CLI in non-interactive mode: send the request, half-close
(the peer answers once it sees the end of the request), read until the peer closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import PurePosixPath

from harmony.domain.errors import CommandError


async def exchange_unix(path: PurePosixPath, request: bytes, *, timeout: float) -> bytes:
    """The peer's whole answer to ``request``; ``CommandError`` if nothing listens or no answer in time."""
    what = f"unix socket {path}"
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(request)
                await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
                return await reader.read()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError as e:
        raise CommandError(what, None, f"no answer within {timeout}s; is the daemon behind it stuck?") from e
    except OSError as e:
        raise CommandError(what, None, f"{e.strerror or e}; is the daemon behind it running?") from e
