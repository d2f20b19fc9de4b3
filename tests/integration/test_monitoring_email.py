"""E-mail delivery end to end: Alertmanager sends a firing alert through an SMTP server run by the test,
authenticating with the receiver's ``Secret`` password, which appears nowhere but on that SMTP session."""

from __future__ import annotations

import asyncio
import base64
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.alerting import AlertRouting, EmailReceiver
from harmony.domain.capabilities.metrics import AlertRule, AlertRuleGroup, ServiceAddress, Severity
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.secret import Secret
from harmony.domain.values import IPv4Address, Port
from harmony.maestro import Maestro
from harmony.maestro.events import Event
from harmony.modules.monitoring import AlertRoutes, AlertRules, MetricsServer
from harmony.topology.monitoring_host import MonitoringHost

pytestmark = pytest.mark.slow

PASSWORD = "smtp-pa55-9931"
FAST = timedelta(seconds=1)


@dataclass
class SmtpSink:
    """Just enough ESMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) to accept what Alertmanager sends."""

    auths: list[str] = field(default_factory=list[str])
    messages: list[str] = field(default_factory=list[str])
    received: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 sink ESMTP")
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-sink")
                    say("250 AUTH PLAIN")
                elif verb == "AUTH":
                    self.auths.append(base64.b64decode(line.split()[2]).decode())
                    say("235 2.7.0 authenticated")
                elif verb == "DATA":
                    say("354 go ahead")
                    await writer.drain()
                    body = await reader.readuntil(b"\r\n.\r\n")
                    self.messages.append(body.decode(errors="replace"))
                    self.received.set()
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    break
                else:
                    say("250 ok")
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    server = await asyncio.start_server(sink.serve, "127.0.0.1", 0)
    sink.port = int(server.sockets[0].getsockname()[1])
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


async def test_an_alert_is_mailed_with_the_secret_password_only_on_the_smtp_session(
    monitoring_host: MonitoringHost, smtp_sink: SmtpSink
) -> None:
    host = monitoring_host
    mail = EmailReceiver(
        name=ResourceName("mail"),
        to="ops@example.org",
        sender="harmony@example.org",
        smarthost=ServiceAddress(host=IPv4Address("127.0.0.1"), port=Port(smtp_sink.port)),
        username="harmony",
        password=Secret(PASSWORD),
        require_tls=False,  # the test's server speaks plain SMTP on loopback
    )
    always = AlertRule(name="AlwaysFiring", expr="vector(1) > 0", severity=Severity.INFO)
    scores: list[Score[MonitoringHost]] = [
        # the router first, so that it listens when the rule (which fires at once) is first evaluated
        AlertRoutes(
            routing=AlertRouting(
                receivers=(mail,), default_receiver=ResourceName("mail"), group_wait=FAST, group_interval=FAST
            )
        ),
        MetricsServer(scrape_interval=FAST, evaluation_interval=FAST, alert_routers=(host.alert_router_address,)),
        AlertRules(group=AlertRuleGroup(name=ResourceName("always"), rules=(always,))),
    ]
    events: list[Event] = []
    report = await Maestro(host, on_event=events.append).apply(scores)
    assert report.status is Status.SUCCESS, report.error

    await asyncio.wait_for(smtp_sink.received.wait(), 60)
    message = smtp_sink.messages[0]
    assert "To: ops@example.org" in message
    assert "AlwaysFiring" in message
    assert smtp_sink.auths[0] == f"\0harmony\0{PASSWORD}"  # AUTH PLAIN: authzid, user, password

    assert stat.S_IMODE(Path(host.alertmanager.config_file).stat().st_mode) == 0o600
    assert PASSWORD not in "".join(e.model_dump_json() for e in events)
    for log in (host.alertmanager.state_dir / "alertmanager.log", host.prometheus.state_dir / "prometheus.log"):
        assert PASSWORD not in Path(log).read_text()
