"""Sessions, CSRF tokens, the login rate limit, security headers and the audit log.

- Sessions live in this process's memory: a random id in a cookie (HttpOnly, SameSite=Strict, Secure under
  TLS), a role, a CSRF token and an idle/absolute expiry. Not guaranteed: a restart, or another controller
  of the same fleet, does not know the session (log in again).
- CSRF: every state-changing request carries the session's token in a form field (compared in constant
  time). The login form, before a session exists, uses a double-submit cookie.
- Login: at most ``LOGIN_FAILURES`` failures per ``LOGIN_WINDOW`` seconds per client address and per user
  name; past that, refused without checking the password until the window moves on.
- Every response carries a strict Content-Security-Policy: nothing inline, nothing from elsewhere.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harmony.dashboard.users import Role

SESSION_COOKIE = "harmony_session"
LOGIN_CSRF_COOKIE = "harmony_login_csrf"
SESSION_IDLE = 8 * 3600.0
SESSION_MAX = 24 * 3600.0
LOGIN_FAILURES = 5
LOGIN_WINDOW = 60.0

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response (errors and static files included), and a
    ``Server-Timing`` header with the time from the request to the response's start (what a render costs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message["headers"] = [*message.get("headers", []), *HEADERS, (b"server-timing", took)]
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class Session:
    user: str
    role: Role
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)
    flash: str = ""  # the result of the last action, shown once

    @property
    def operator(self) -> bool:
        return self.role == "operator"


class Sessions:
    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def open(self, user: str, role: Role) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(user=user, role=role)
        self._by_id[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        now = time.monotonic()
        if session is None or now - session.seen > SESSION_IDLE or now - session.created > SESSION_MAX:
            self._by_id.pop(sid, None)
            return None
        session.seen = now
        return session

    def close(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


class LoginLimiter:
    """Failed logins per key (a client address, a user name) in a sliding window."""

    def __init__(self, *, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW) -> None:
        self.failures = failures
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login may be tried for these keys (0: now)."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            times = self._seen.get(key)
            while times and now - times[0] > self.window:
                times.popleft()
            if times is not None and len(times) >= self.failures:
                wait = max(wait, self.window - (now - times[0]))
        return wait

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._seen.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._seen.pop(key, None)


class AuditLog:
    """One JSON object per line, appended (mode 0600): who did what to what, from where, and the result."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, *, user: str, action: str, target: str, result: str, client: str, detail: str = "") -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"), "user": user, "action": action,
            "target": target, "result": result, "client": client, "detail": detail,
        }  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def entries(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
