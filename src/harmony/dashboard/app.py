"""The dashboard: server-rendered pages over the controller's live view, updated by server-sent events.

Each page renders in full, or (``?partial=1``) only its live part; ``/events`` tells the page when the fleet
changed and ``static/dashboard.js`` fetches the live part again. Actions (pause, resume, abort, restart) are
POSTs from forms carrying the session's CSRF token, allowed to operators only, each written to the audit log
with its result. While NATS is unreachable every page renders from the last state seen and says so; actions
answer 503 and change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from harmony.dashboard import views
from harmony.dashboard.failover import FailoverSource
from harmony.dashboard.forms import FormError, read_form, required
from harmony.dashboard.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AuditLog,
    LoginLimiter,
    SecurityHeaders,
    Session,
    Sessions,
    same_token,
)
from harmony.dashboard.users import UserStore
from harmony.domain.errors import HarmonyError, InvalidValueError, KeyValueError
from harmony.fleet.control import DeviceOffline, FleetControl
from harmony.fleet.controller import Controller
from harmony.maestro.journal import Journal, RunRecord

HERE = Path(__file__).parent
log = logging.getLogger("harmony.dashboard")
EVENT_CHECK = 0.1  # seconds between looks at the view's change counter (a comparison of two integers)
EVENT_IDLE = 2.0  # a change event at least this often: heartbeat ages and online/offline move with time


@dataclass
class Dashboard:
    controller: Controller
    users: UserStore
    audit: AuditLog
    journal_path: Path
    failover: FailoverSource | None = None
    secure: bool = False
    sessions: Sessions = field(default_factory=Sessions)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)


class Unavailable(HarmonyError):
    """NATS is unreachable: the action was not tried."""


def create_app(d: Dashboard) -> Starlette:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    templates = Jinja2Templates(env=env)
    env.filters["age"] = _age
    env.filters["when"] = _when

    def client(request: Request) -> str:
        return request.client.host if request.client else "?"

    def session_of(request: Request) -> Session | None:
        return d.sessions.get(request.cookies.get(SESSION_COOKIE))

    def render(request: Request, name: str, code: int = 200, **context: Any) -> Response:
        session = session_of(request)
        controller = d.controller
        view = controller.view
        base: dict[str, Any] = {
            "session": session,
            "partial": request.query_params.get("partial") == "1",
            "connected": controller.connected,
            "controller": controller,
            "active": controller.is_active(),
            "controllers": sorted(view.controllers.values(), key=lambda c: c[0].controller) if view else [],
            "flash": _pop_flash(session) if request.query_params.get("partial") != "1" else "",
            "now": datetime.now(UTC),
            "live": True,
        }
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=code)

    def error(request: Request, status: int, title: str, message: str) -> Response:
        return render(request, "error.html", status, title=title, message=message, live=False)

    def page(handler: Callable[[Request, Session], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A page for any logged-in user; a partial fetch without a session answers 401 (the page reloads)."""

        async def wrapped(request: Request) -> Response:
            session = session_of(request)
            if session is None:
                if request.query_params.get("partial") == "1":
                    return Response("log in again", status_code=401)
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            try:
                return await handler(request, session)
            except FormError as e:
                return error(request, e.status, "Bad request", str(e))
            except InvalidValueError as e:
                return error(request, 400, "Bad request", str(e))

        return wrapped

    def action(
        name: str, handler: Callable[[Request, Session, dict[str, str]], Awaitable[tuple[str, str]]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A state-changing POST: session, CSRF token, operator role, then the handler; all audited.

        The handler returns (target, where to go next) and raises ``FormError``, ``Unavailable`` or a
        ``HarmonyError``; each outcome is a page with the right status and an audit line.
        """

        async def wrapped(request: Request) -> Response:
            session = session_of(request)
            who, target = (session.user if session else "-"), request.url.path

            def audit(result: str, detail: str = "") -> None:
                d.audit.write(
                    user=who, action=name, target=target, result=result, client=client(request), detail=detail
                )

            if session is None:
                audit("denied", "no session")
                return error(request, 401, "Not logged in", "Log in first; nothing was changed.")
            try:
                form = await read_form(request)
            except FormError as e:
                audit("rejected", str(e))
                return error(request, e.status, "Bad request", str(e))
            if not same_token(form.get("csrf"), session.csrf):
                audit("denied", "missing or wrong CSRF token")
                return error(request, 403, "Forbidden", "The form's CSRF token is missing or wrong; reload the page.")
            if not session.operator:
                audit("denied", f"role {session.role}")
                return error(request, 403, "Forbidden", f"Only operators may {name}; you are a {session.role}.")
            try:
                if not d.controller.connected or d.controller.control is None:
                    raise Unavailable
                target, back = await handler(request, session, form)
            except FormError as e:
                audit("rejected", str(e))
                return error(request, e.status, "Bad request", str(e))
            except Unavailable:
                audit("error", "NATS unreachable")
                return error(request, 503, "NATS unreachable", "NATS is unreachable; nothing was changed. Retry later.")
            except DeviceOffline as e:
                audit("error", str(e))
                return error(request, 503, "Device offline", str(e))
            except InvalidValueError as e:
                audit("refused", str(e))
                return error(request, 409, "Not possible now", str(e))
            except HarmonyError as e:
                audit("error", str(e))
                return error(request, 502, "Failed", str(e))
            audit("ok", target)
            return RedirectResponse(back, status_code=303)

        return wrapped

    def control() -> FleetControl:
        if d.controller.control is None:
            raise Unavailable
        return d.controller.control

    # -- login -----------------------------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = render(request, "login.html", login_csrf=token, next=_safe_next(request.query_params.get("next")))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=d.secure, path="/login")
        return response

    async def login(request: Request) -> Response:
        addr = client(request)
        try:
            form = await read_form(request)
            user_name = required(form, "username")
            password = required(form, "password")
        except FormError as e:
            return error(request, e.status, "Bad request", str(e))
        keys = (f"addr:{addr}", f"user:{user_name}")
        if not same_token(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            d.audit.write(user=user_name, action="login", target="/login", result="denied", client=addr,
                          detail="missing or wrong CSRF token")  # fmt: skip
            return error(request, 403, "Forbidden", "The login form expired; reload the page and try again.")
        wait = d.limiter.retry_after(*keys)
        if wait > 0:
            d.audit.write(user=user_name, action="login", target="/login", result="rate-limited", client=addr)
            response = error(request, 429, "Too many attempts", f"Too many failed logins; try again in {wait:.0f} s.")
            response.headers["retry-after"] = str(max(1, round(wait)))
            return response
        user = await asyncio.to_thread(d.users.verify, user_name, password)
        if user is None:
            d.limiter.failed(*keys)
            d.audit.write(user=user_name, action="login", target="/login", result="denied", client=addr,
                          detail="wrong user name or password")  # fmt: skip
            return error(request, 401, "Login failed", "Wrong user name or password.")
        d.limiter.succeeded(*keys)
        d.sessions.close(request.cookies.get(SESSION_COOKIE))
        sid, _ = d.sessions.open(user.name, user.role)
        d.audit.write(user=user.name, action="login", target="/login", result="ok", client=addr, detail=user.role)
        response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict", secure=d.secure, path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="strict", secure=d.secure)
        return response

    async def logout(request: Request) -> Response:
        session = session_of(request)
        try:
            form = await read_form(request)
        except FormError as e:
            return error(request, e.status, "Bad request", str(e))
        if session is None or not same_token(form.get("csrf"), session.csrf):
            return error(request, 403, "Forbidden", "The form's CSRF token is missing or wrong; reload the page.")
        d.sessions.close(request.cookies.get(SESSION_COOKIE))
        d.audit.write(user=session.user, action="logout", target="/logout", result="ok", client=client(request))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=d.secure)
        return response

    # -- pages -----------------------------------------------------------------------------------------

    async def overview(request: Request, session: Session) -> Response:
        filters = views.parse_filters(request.query_params)
        view = d.controller.view
        data = views.overview(view, filters, now=datetime.now(UTC)) if view else views.Overview((), 0, 0, ())
        return render(request, "overview.html", filters=filters, overview=data)

    async def device(request: Request, session: Session) -> Response:
        name = request.path_params["device"]
        view = d.controller.view
        if view is None or name not in view.devices:
            return error(request, 404, "Not found", f"No device {name!r} is registered.")
        rows = views.device_deployments(view, name)
        logs: dict[str, list[str] | str] = {}
        if request.query_params.get("partial") != "1":
            logs = await _logs(name, [r.deployment for r in rows if r.phase not in (None, "removed", "rejected")])
        beat = view.beats.get(name)
        return render(
            request, "device.html", device=name, record=view.devices[name], info=view.info.get(name),
            online=view.online().get(name, False), beat=beat, rows=rows, logs=logs,
        )  # fmt: skip

    async def _logs(device: str, deployments: list[str]) -> dict[str, list[str] | str]:
        found: dict[str, list[str] | str] = {}
        if not d.controller.connected or d.controller.control is None:
            return dict.fromkeys(deployments, "NATS is unreachable")
        for deployment in deployments:
            try:
                found[deployment] = await d.controller.control.logs(device, deployment, lines=20)
            except KeyValueError as e:
                found[deployment] = str(e)
        return found

    async def rollouts(request: Request, session: Session) -> Response:
        view = d.controller.view
        rows = (
            [views.rollout_status(view, r)[0] for r, _ in sorted(view.rollouts.values(), key=_by_name)] if view else []
        )
        return render(request, "rollouts.html", rows=rows)

    async def rollout(request: Request, session: Session) -> Response:
        name = request.path_params["deployment"]
        view = d.controller.view
        if view is None or name not in view.rollouts:
            return error(request, 404, "Not found", f"No rollout of {name!r}.")
        record, stored_at = view.rollouts[name]
        status, waves = views.rollout_status(view, record)
        return render(
            request, "rollout.html", rollout=record, stored_at=stored_at, status=status, waves=waves,
            actions=views.rollout_actions(record.phase),
        )  # fmt: skip

    async def failover(request: Request, session: Session) -> Response:
        found = await d.failover.page() if d.failover is not None else None
        return render(request, "failover.html", failover=found)

    async def journal(request: Request, session: Session) -> Response:
        runs = await asyncio.to_thread(_recent_runs, d.journal_path) if d.journal_path.exists() else []
        return render(request, "journal.html", runs=runs, path=d.journal_path)

    async def events(request: Request, session: Session) -> Response:
        async def stream() -> AsyncIterator[str]:
            sent: tuple[int, bool] | None = None
            sent_at = 0.0
            yield "retry: 2000\n\n"
            while True:
                view = d.controller.view
                now = (view.changes if view else 0, d.controller.connected)
                if now != sent or time.monotonic() - sent_at > EVENT_IDLE:
                    sent, sent_at = now, time.monotonic()
                    yield f"event: change\ndata: {now[0]}\n\n"
                await asyncio.sleep(EVENT_CHECK)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})

    # -- actions ---------------------------------------------------------------------------------------

    async def rollout_action(request: Request, session: Session, form: dict[str, str]) -> tuple[str, str]:
        name = request.path_params["deployment"]
        view = d.controller.view
        if view is None or name not in view.rollouts:
            raise FormError("deployment", f"no rollout of {name!r}", status=404)
        verb = required(form, "action", choices=("pause", "resume", "abort"))
        done = await getattr(control(), verb)(name)
        session.flash = f"{name}: {verb} done; the rollout is {done.phase}"
        return f"{name} {verb}", f"/rollouts/{name}"

    async def restart(request: Request, session: Session, form: dict[str, str]) -> tuple[str, str]:
        name = request.path_params["device"]
        view = d.controller.view
        if view is None or name not in view.devices:
            raise FormError("device", f"no device {name!r} is registered", status=404)
        known = tuple(r.deployment for r in views.device_deployments(view, name))
        deployment = required(form, "deployment")
        if deployment not in known:
            expected = f"one of: {', '.join(known)}" if known else "a deployment on this device (it has none)"
            raise FormError("deployment", f"{deployment!r} is not valid; expected {expected}")
        answer = await control().restart(name, deployment)
        if "error" in answer:
            raise InvalidValueError("deployment", deployment, str(answer["error"]))
        session.flash = f"{deployment} restarted on {name}: {answer.get('state')}"
        return f"{name} {deployment}", f"/devices/{name}"

    async def not_found(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code != 404:
            return error(request, exc.status_code, "Error", str(exc.detail))
        return error(request, 404, "Not found", f"Nothing at {request.url.path}.")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("dashboard: %s %s failed", request.method, request.url.path, exc_info=exc)
        return error(request, 500, "Internal error", "The dashboard failed to render this page; see its log.")

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", page(overview)),
        Route("/devices/{device}", page(device)),
        Route("/devices/{device}/restart", action("restart", restart), methods=["POST"]),
        Route("/rollouts", page(rollouts)),
        Route("/rollouts/{deployment}", page(rollout)),
        Route("/rollouts/{deployment}", action("rollout", rollout_action), methods=["POST"]),
        Route("/failover", page(failover)),
        Route("/journal", page(journal)),
        Route("/events", page(events)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: not_found, Exception: server_error},
    )


def _recent_runs(path: Path) -> list[RunRecord]:
    """The last runs, read in one thread (an SQLite connection stays in the thread that made it)."""
    store = Journal(path)
    try:
        return store.runs(50)
    finally:
        store.close()


def _pop_flash(session: Session | None) -> str:
    if session is None:
        return ""
    message, session.flash = session.flash, ""
    return message


def _by_name(item: tuple[Any, datetime]) -> str:
    return str(item[0].deployment)


def _safe_next(value: str | None) -> str:
    """Only a path on this site (``/x``, never ``//host`` or a URL) may follow a login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _age(at: datetime | None, now: datetime | None = None) -> str:
    if at is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - at).total_seconds()
    if seconds < 120:
        return f"{max(seconds, 0):.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def _when(at: datetime | float | None) -> str:
    if at is None:
        return ""
    if isinstance(at, float | int):
        at = datetime.fromtimestamp(at, UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S")
