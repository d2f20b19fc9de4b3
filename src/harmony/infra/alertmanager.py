"""Alertmanager behind ``AlertRouter``: one routing file, checked by amtool, readable only by its owner.

Layout under ``state_dir`` (mode 0700): ``alertmanager.yml`` (the rendering Alertmanager reads, JSON as
YAML, mode 0600: it holds receiver tokens and SMTP passwords in clear), ``routing.json`` (the
``AlertRouting`` with its secrets, 0600, to read the applied routing back), ``data/``, ``alertmanager.pid``
and ``alertmanager.log``, all on the host behind the adapter's connector (this machine, a namespace or an
SSH host); the daemon runs as that host runs daemons (``harmony.infra.daemon``).

How the contract is kept: a routing is rendered into a private temporary directory and checked with
``amtool check-config`` first; a rejected one changes nothing. An accepted one replaces the file and is
loaded through ``POST /-/reload``, which answers once the reload succeeded or failed. Clustering is off
(one router per site). amtool's output is never shown as is when it could echo a secret: errors are
reported with every secret of the routing masked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError

from harmony.domain.capabilities.alerting import (
    AlertRouting,
    EmailReceiver,
    FiringAlert,
    PushReceiver,
    Receiver,
    Route,
    WebhookReceiver,
)
from harmony.domain.capabilities.metrics import format_duration
from harmony.domain.errors import AlertingError, MissingProgramError
from harmony.domain.secret import MASK, REVEAL, Secret
from harmony.domain.values import Port
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on, find_programs, kept_in, start_until_ready
from harmony.infra.http_api import HttpCallError, answers, http_call
from harmony.infra.programs import ALERTMANAGER, AMTOOL, SH, START_STOP_DAEMON, Program


def _matchers(labels: dict[str, str]) -> list[str]:
    return [f"{name}={json.dumps(value)}" for name, value in sorted(labels.items())]


def _bearer(token: Secret | None) -> dict[str, Any]:
    return (
        {} if token is None else {"http_config": {"authorization": {"type": "Bearer", "credentials": token.reveal()}}}
    )


def _render_receiver(r: Receiver) -> dict[str, Any]:
    match r:
        case WebhookReceiver():
            config = {"url": r.url, "send_resolved": r.send_resolved, **_bearer(r.bearer_token)}
            return {"name": r.name, "webhook_configs": [config]}
        case PushReceiver():
            config = {"url": r.url, "send_resolved": r.send_resolved, **_bearer(r.token)}
            return {"name": r.name, "webhook_configs": [config]}
        case EmailReceiver():
            email: dict[str, Any] = {
                "to": r.to,
                "from": r.sender,
                "smarthost": str(r.smarthost),
                "require_tls": r.require_tls,
                "send_resolved": r.send_resolved,
            }
            if r.username is not None and r.password is not None:
                email |= {"auth_username": r.username, "auth_password": r.password.reveal()}
            return {"name": r.name, "email_configs": [email]}


def _render_route(route: Route) -> dict[str, Any]:
    rendered: dict[str, Any] = {"receiver": route.receiver, "matchers": _matchers(route.matchers())}
    if route.group_by is not None:
        rendered["group_by"] = list(route.group_by)
    for field in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, field)
        if value is not None:
            rendered[field] = format_duration(value)
    if route.continue_:
        rendered["continue"] = True
    return rendered


def render_config(routing: AlertRouting) -> str:
    """Alertmanager's configuration, secrets in clear: write it only to a 0600 file."""
    config = {
        "route": {
            "receiver": routing.default_receiver,
            "group_by": list(routing.group_by),
            "group_wait": format_duration(routing.group_wait),
            "group_interval": format_duration(routing.group_interval),
            "repeat_interval": format_duration(routing.repeat_interval),
            "routes": [_render_route(r) for r in routing.routes],
        },
        "inhibit_rules": [
            {
                "source_matchers": _matchers(dict(i.source)),
                "target_matchers": _matchers(dict(i.target)),
                "equal": list(i.equal),
            }
            for i in routing.inhibitions
        ],
        "receivers": [_render_receiver(r) for r in routing.receivers],
    }
    return json.dumps(config, indent=2) + "\n"


def secrets_of(routing: AlertRouting) -> list[str]:
    found: list[Secret | None] = []
    for r in routing.receivers:
        match r:
            case WebhookReceiver():
                found.append(r.bearer_token)
            case PushReceiver():
                found.append(r.token)
            case EmailReceiver():
                found.append(r.password)
    return [s.reveal() for s in found if s is not None and s.reveal()]


def mask(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def parse_alerts(raw: bytes) -> list[FiringAlert]:
    """Alerts from Alertmanager's ``GET /api/v2/alerts``."""
    alerts: list[FiringAlert] = []
    for item in json.loads(raw):
        labels: dict[str, str] = item.get("labels", {})
        alerts.append(
            FiringAlert(
                name=labels.get("alertname", ""),
                state=item.get("status", {}).get("state", "unknown"),
                severity=labels.get("severity"),
                labels=labels,
                annotations=item.get("annotations", {}),
                starts_at=datetime.fromisoformat(item["startsAt"]),
                receivers=tuple(r["name"] for r in item.get("receivers", [])),
            )
        )
    return sorted(alerts, key=lambda a: (a.starts_at, a.name))


async def fetch_alerts(url: str) -> list[FiringAlert]:
    """The alerts the Alertmanager at ``url`` (``http://host:port``) holds now."""
    try:
        raw = await http_call(f"{url.rstrip('/')}/api/v2/alerts", timeout=10)
    except HttpCallError as e:
        raise AlertingError(f"alertmanager {url} did not answer: {e.detail} (is it running? --url)") from e
    return parse_alerts(raw)


class Alertmanager:
    """One Alertmanager on ``host:port``, clustering off, configured under ``state_dir`` on the connector's host.

    ``host`` is the listen address; readiness and reloads go over HTTP to it from where Harmony runs.
    """

    def __init__(self, *, state_dir: PurePosixPath, port: Port, connector: Connector, host: str = "127.0.0.1") -> None:
        self.state_dir = state_dir
        self.port = port
        self.host = host
        self._c = connector
        self._tools: dict[str, str | None] = {}
        self._control: DaemonControl | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> PurePosixPath:
        return self.state_dir / "alertmanager.pid"

    @property
    def config_file(self) -> PurePosixPath:
        return self.state_dir / "alertmanager.yml"

    async def pid(self) -> int | None:
        """The running router's pid."""
        return (await self._c.read_pids([self.pid_file]))[self.pid_file]

    async def alert_routing(self) -> AlertRouting | None:
        path = self.state_dir / "routing.json"
        found, pids = await asyncio.gather(
            self._c.stat_files([path], with_content=True), self._c.read_pids([self.pid_file])
        )
        state = found[path]
        if pids[self.pid_file] is None or state.kind != "file" or state.content is None:
            return None
        try:
            return AlertRouting.model_validate_json(state.content)
        except ValidationError as e:
            raise AlertingError(f"{path}: unreadable (edited by hand?)") from e

    async def check_alert_routing(self, routing: AlertRouting) -> None:
        try:
            amtool = await self._tool(AMTOOL)
        except MissingProgramError as e:
            raise AlertingError(f"alert routing cannot be checked: {e}") from e
        made = await self._c.run_command(["mktemp", "-d", "/tmp/harmony-alertmanager-XXXXXXXX"], timeout=30)  # 0700
        if not made.ok:
            raise AlertingError(f"alert routing cannot be checked: no scratch directory: {made.stderr.strip()}")
        tmp = PurePosixPath(made.stdout.strip())
        try:
            staged = tmp / "alertmanager.yml"
            await self._c.write_file(staged, render_config(routing).encode(), mode=0o600, owner=None, group=None)
            result = await self._c.run_command([amtool, "check-config", str(staged)], timeout=60)
        finally:
            await self._c.run_command(["rm", "-rf", "--", str(tmp)], timeout=30)
        if not result.ok:
            detail = mask((result.stderr.strip() or result.stdout.strip())[-2000:], secrets_of(routing))
            raise AlertingError(f"alert routing rejected by amtool check-config: {detail}")

    async def apply_alert_routing(self, routing: AlertRouting) -> None:
        await self.check_alert_routing(routing)
        data = self.state_dir / "data"
        made = await self._c.run_command(
            [SH.name, "-c", 'mkdir -p -- "$1" "$2" && chmod 700 -- "$1"', "sh", str(self.state_dir), str(data)],
            timeout=30,
        )
        if not made.ok:
            raise AlertingError(f"alertmanager {self.url}: cannot create {self.state_dir}: {made.stderr.strip()}")
        await self._c.write_file(self.config_file, render_config(routing).encode(), mode=0o600, owner=None, group=None)
        dumped = routing.model_dump_json(indent=2, context=dict(REVEAL)).encode()
        await self._c.write_file(self.state_dir / "routing.json", dumped, mode=0o600, owner=None, group=None)
        if await self.pid() is None:
            await self._start(routing)
            return
        try:
            await http_call(f"{self.url}/-/reload", method="POST", timeout=30)
        except HttpCallError as e:
            detail = mask(e.detail, secrets_of(routing))
            raise AlertingError(f"alertmanager {self.url}: reload failed: {detail}") from e

    async def alerts(self) -> list[FiringAlert]:
        return await fetch_alerts(self.url)

    async def stop(self) -> None:
        await (await self._daemons()).stop(self._daemon(""))

    async def _tool(self, program: Program) -> str:
        if program.name not in self._tools:
            self._tools |= await find_programs(self._c, [ALERTMANAGER.name, AMTOOL.name, START_STOP_DAEMON.name])
        path = self._tools.get(program.name)
        if path is None:
            raise MissingProgramError(program.name, program.package, program.purpose)
        return path

    async def _daemons(self) -> DaemonControl:
        if self._control is None:
            self._control = await daemons_on(self._c)
        return self._control

    def _daemon(self, executable: str, *args: str, launcher: str = "") -> Daemon:
        """The router as a daemon (``executable``/``launcher`` matter only to start it)."""
        return kept_in(
            "alertmanager", self.state_dir, (executable, *args), launcher=launcher, pid_file=self.pid_file,
            description="Alertmanager (alert router)",
        )  # fmt: skip

    async def _start(self, routing: AlertRouting) -> None:
        try:
            executable, launcher = await self._tool(ALERTMANAGER), await self._tool(START_STOP_DAEMON)
        except MissingProgramError as e:
            raise AlertingError(f"alertmanager {self.url}: {e}") from e
        daemon = self._daemon(
            executable,
            f"--config.file={self.config_file}",
            f"--storage.path={self.state_dir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--cluster.listen-address=",
            launcher=launcher,
        )
        problem = await start_until_ready(
            self._c, await self._daemons(), daemon, ready=lambda: answers(f"{self.url}/-/ready")
        )
        if problem is not None:
            raise AlertingError(f"alertmanager {self.url}: {mask(problem, secrets_of(routing))}")
