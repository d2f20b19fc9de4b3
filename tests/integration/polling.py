"""Poll for a condition with a deadline (readiness, not timing: tests never assert how long it took)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(condition: Callable[[], Awaitable[bool]], *, what: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not await condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what} after {deadline}s")
        await asyncio.sleep(0.2)
