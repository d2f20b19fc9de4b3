"""A client hammering a URL from a thread while a deploy runs: every request's result is recorded."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from types import TracebackType


class ClientLoop:
    def __init__(self, url: str, *, host: str | None = None) -> None:
        self.url = url
        self.host = host
        self.bodies: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            request = urllib.request.Request(self.url, headers={"Host": self.host} if self.host else {})
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    self.bodies[r.read().decode()] += 1
            except (urllib.error.URLError, OSError) as e:
                self.failures.append(str(e))

    @property
    def requests(self) -> int:
        return sum(self.bodies.values()) + len(self.failures)

    def __enter__(self) -> ClientLoop:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
