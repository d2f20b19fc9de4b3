"""Alertmanager behind ``AlertRouter``: one routing file, checked by amtool, readable only by its owner.

Layout under ``state_dir`` (mode 0700): ``alertmanager.yml`` (the rendering Alertmanager reads, JSON as
YAML, mode 0600: it holds receiver tokens and SMTP passwords in clear), ``routing.json`` (the
``AlertRouting`` with its secrets, 0600, to read the applied routing back), ``data/``, ``alertmanager.pid``
and ``alertmanager.log``.

How the contract is kept: a routing is rendered into a private temporary directory and checked with
``amtool check-config`` first; a rejected one changes nothing. An accepted one replaces the file and is
loaded through ``POST /-/reload``, which answers once the reload succeeded or failed. Clustering is off
(one router per site). amtool's output is never shown as is when it could echo a secret: errors are
reported with every secret of the routing masked.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
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
from harmony.domain.errors import AlertingError
from harmony.domain.secret import MASK, REVEAL, Secret
from harmony.domain.values import Port
from harmony.infra.daemon import read_pid, spawn_daemon, stop_daemon
from harmony.infra.http_api import HttpCallError, answers, http_call
from harmony.infra.local_process import run_local
from harmony.infra.programs import ALERTMANAGER, AMTOOL
from harmony.infra.state_files import write_atomic


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
    """One Alertmanager on ``host:port``, clustering off, configured under ``state_dir``."""

    def __init__(self, *, state_dir: Path, port: Port, host: str = "127.0.0.1", netns: str | None = None) -> None:
        self.state_dir = state_dir
        self.port = port
        self.host = host
        self.netns = netns

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "alertmanager.pid"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "alertmanager.yml"

    async def alert_routing(self) -> AlertRouting | None:
        if read_pid(self.pid_file) is None:
            return None
        try:
            text = await asyncio.to_thread((self.state_dir / "routing.json").read_text)
        except FileNotFoundError:
            return None
        try:
            return AlertRouting.model_validate_json(text)
        except ValidationError as e:
            raise AlertingError(f"{self.state_dir / 'routing.json'}: unreadable (edited by hand?)") from e

    async def check_alert_routing(self, routing: AlertRouting) -> None:
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="harmony-alertmanager-"))  # mode 0700
        try:
            staged = tmp / "alertmanager.yml"
            await asyncio.to_thread(write_atomic, staged, render_config(routing), mode=0o600)
            result = await run_local(AMTOOL.argv("check-config", str(staged)), timeout=60)
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)
        if not result.ok:
            detail = mask((result.stderr.strip() or result.stdout.strip())[-2000:], secrets_of(routing))
            raise AlertingError(f"alert routing rejected by amtool check-config: {detail}")

    async def apply_alert_routing(self, routing: AlertRouting) -> None:
        await self.check_alert_routing(routing)
        await asyncio.to_thread(self._prepare_dir)
        await asyncio.to_thread(write_atomic, self.config_file, render_config(routing), mode=0o600)
        dumped = routing.model_dump_json(indent=2, context=dict(REVEAL))
        await asyncio.to_thread(write_atomic, self.state_dir / "routing.json", dumped, mode=0o600)
        if read_pid(self.pid_file) is None:
            await self._start()
            return
        try:
            await http_call(f"{self.url}/-/reload", method="POST", timeout=30)
        except HttpCallError as e:
            detail = mask(e.detail, secrets_of(routing))
            raise AlertingError(f"alertmanager {self.url}: reload failed: {detail}") from e

    async def alerts(self) -> list[FiringAlert]:
        return await fetch_alerts(self.url)

    async def stop(self) -> None:
        await stop_daemon(self.pid_file)

    def _prepare_dir(self) -> None:
        (self.state_dir / "data").mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)

    async def _start(self) -> None:
        argv = ALERTMANAGER.argv(
            f"--config.file={self.config_file}",
            f"--storage.path={self.state_dir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--cluster.listen-address=",
        )
        problem = await spawn_daemon(
            argv,
            pid_file=self.pid_file,
            log_file=self.state_dir / "alertmanager.log",
            ready=lambda: answers(f"{self.url}/-/ready"),
            netns=self.netns,
        )
        if problem is not None:
            raise AlertingError(f"alertmanager {self.url}: {problem}")
