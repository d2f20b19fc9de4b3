"""Sessions, CSRF tokens, the login rate limit, security headers and the audit log.

- Sessions: a random id in a cookie (HttpOnly, SameSite=Strict, Secure under TLS), a role, a CSRF token and
  an idle/absolute expiry (wall-clock). With a file (``fleet serve``: ``<home>/dashboard-sessions.json``,
  mode 0600) they survive a restart: the file holds each id's SHA-256, never the id itself, and is
  rewritten on each login and logout (and when a session's last use moves by a minute or more). Sessions of a
  user who was removed or whose role changed are dropped when the file is read. Not guaranteed: another
  controller of the same fleet does not know the session (log in there again).
- CSRF: every state-changing request carries the session's token in a form field (compared in constant
  time). The login form, before a session exists, uses a double-submit cookie.
- Login: at most ``LOGIN_FAILURES`` failures per ``LOGIN_WINDOW`` seconds per client address and per user
  name; past that, refused without checking the password until the window moves on.
- Every response carries a strict Content-Security-Policy: nothing inline, nothing from elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harmony.dashboard.users import ROLES, Role
from harmony.infra.state_files import write_atomic

log = logging.getLogger("harmony.dashboard")

SESSION_COOKIE = "harmony_session"
LOGIN_CSRF_COOKIE = "harmony_login_csrf"
SESSION_IDLE = 8 * 3600.0
SESSION_MAX = 24 * 3600.0
SEEN_WRITE_EVERY = 60.0  # a session's last use is written back at most this often
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
    created: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)
    flash: str = ""  # the result of the last action, shown once (not kept across a restart)

    @property
    def operator(self) -> bool:
        return self.role == "operator"


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    """Open sessions by (the hash of) their id; kept in ``path`` (mode 0600) when given, else in memory only.

    ``valid(user, role)`` decides, when the file is read, whether a stored session still stands."""

    def __init__(self, path: Path | None = None, *, valid: Callable[[str, Role], bool] | None = None) -> None:
        self.path = path
        self._by_key: dict[str, Session] = {}
        self._written_seen: dict[str, float] = {}
        if path is not None:
            self._load(path, valid or (lambda _user, _role: True))

    def open(self, user: str, role: Role) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(user=user, role=role)
        self._by_key[_key(sid)] = session
        self._save()
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        key = _key(sid)
        session = self._by_key.get(key)
        now = time.time()
        if session is None or now - session.seen > SESSION_IDLE or now - session.created > SESSION_MAX:
            if self._by_key.pop(key, None) is not None:
                self._save()
            return None
        session.seen = now
        if now - self._written_seen.get(key, session.created) >= SEEN_WRITE_EVERY:
            self._save()
        return session

    def close(self, sid: str | None) -> None:
        if sid and self._by_key.pop(_key(sid), None) is not None:
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        now = time.time()
        live = {
            k: s for k, s in self._by_key.items() if now - s.seen <= SESSION_IDLE and now - s.created <= SESSION_MAX
        }
        self._by_key = live
        stored = {k: {n: v for n, v in asdict(s).items() if n != "flash"} for k, s in live.items()}
        try:
            write_atomic(self.path, json.dumps(stored, indent=1), mode=0o600, directory_mode=0o700)
        except OSError as e:  # the dashboard keeps working; only a restart would lose these sessions
            log.warning("cannot write the dashboard sessions to %s: %s", self.path, e)
            return
        self._written_seen = {k: s.seen for k, s in live.items()}

    def _load(self, path: Path, valid: Callable[[str, Role], bool]) -> None:
        try:
            raw = json.loads(path.read_text())
            if path.stat().st_mode & 0o077:
                log.warning("%s is readable by others: its sessions are ignored (log in again)", path)
                return
            for key, fields in raw.items():
                session = Session(**fields)
                if session.role in ROLES and valid(session.user, session.role):
                    self._by_key[str(key)] = session
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as e:
            log.warning("%s is unreadable (%s): its sessions are ignored (log in again)", path, e)
            self._by_key = {}
            return
        self._written_seen = {k: s.seen for k, s in self._by_key.items()}
        self._save()  # without the expired and no longer valid ones


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
