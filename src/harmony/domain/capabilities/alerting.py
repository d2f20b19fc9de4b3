"""``AlertRouter``: groups firing alerts, silences the inhibited ones and delivers them to receivers.

Receivers are typed (a webhook, an ntfy-style HTTP push, e-mail over SMTP); their tokens and passwords are
``Secret`` values. Routes pick a receiver by severity, site or any label; the first matching route wins
(unless ``continue_``), and alerts no route matches go to ``default_receiver``.

Consistency contract:
- ``alert_routing`` only reads: the routing applied now, secrets included (as ``Secret``), or ``None``.
- ``check_alert_routing`` validates without changing anything; ``apply_alert_routing`` checks the same,
  then replaces the routing as a whole (a rejected routing leaves the previous one in force) and starts the
  router if needed. Rejections raise ``AlertingError`` with the router's reason.
- A configuration holding a secret is never stored world-readable.
- ``alerts`` lists the alerts the router holds now (firing, or silenced by an inhibition).
Not guaranteed: delivery itself (a receiver that is down loses notifications after the router's retries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.capabilities.metrics import Duration, LabelName, Labels, ServiceAddress, Severity
from harmony.domain.errors import InvalidValueError
from harmony.domain.names import ResourceName
from harmony.domain.secret import Secret

_URL = r"^https?://[^\s@/]+(/[^\s]*)?$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookReceiver(_Model):
    """POSTs each notification (JSON: status, alerts with labels and annotations) to ``url``."""

    type: Literal["webhook"] = "webhook"
    name: ResourceName
    url: Annotated[str, Field(pattern=_URL, description="http(s)://host[:port]/path, no credentials in it")]
    bearer_token: Secret | None = Field(default=None, description="sent as 'Authorization: Bearer …'")
    send_resolved: bool = True


class PushReceiver(_Model):
    """An ntfy-style HTTP push: the notification is POSTed to a topic ``url`` with a bearer ``token``."""

    type: Literal["push"] = "push"
    name: ResourceName
    url: Annotated[str, Field(pattern=_URL, description="the topic URL, e.g. https://ntfy.example/site-alerts")]
    token: Secret | None = Field(default=None, description="access token of the push service")
    send_resolved: bool = True


class EmailReceiver(_Model):
    """E-mail through an SMTP relay (``smarthost``); ``password`` authenticates ``username``."""

    type: Literal["email"] = "email"
    name: ResourceName
    to: str = Field(description="recipient address")
    sender: str = Field(description="From: address")
    smarthost: ServiceAddress
    username: str | None = None
    password: Secret | None = None
    require_tls: bool = True
    send_resolved: bool = True

    @model_validator(mode="after")
    def _addresses(self) -> Self:
        for field in ("to", "sender"):
            value = getattr(self, field)
            if not _EMAIL.match(value):
                raise InvalidValueError(f"receiver {self.name}: {field}", value, "an e-mail address user@domain")
        if (self.username is None) != (self.password is None):
            raise InvalidValueError(f"receiver {self.name}: username", self.username, "username and password both")
        return self


type Receiver = Annotated[WebhookReceiver | PushReceiver | EmailReceiver, Field(discriminator="type")]


class Route(_Model):
    """Alerts whose labels match all of ``severity``, ``site`` and ``labels`` go to ``receiver``."""

    receiver: ResourceName
    severity: Severity | None = None
    site: str | None = None
    labels: Labels = Field(default_factory=dict[LabelName, str])
    group_by: tuple[LabelName, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, description="also try the routes after this one")

    def matchers(self) -> dict[str, str]:
        found = dict(self.labels)
        if self.severity is not None:
            found["severity"] = self.severity.value
        if self.site is not None:
            found["site"] = self.site
        return found


class Inhibition(_Model):
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same ``equal`` labels
    are not sent (e.g. a node down silences its disk alerts)."""

    source: Labels
    target: Labels
    equal: tuple[LabelName, ...] = ()


class AlertRouting(_Model):
    """The router's whole configuration. Rejected at load: duplicate receiver names, a route or
    ``default_receiver`` naming no receiver (the error lists the receivers)."""

    receivers: tuple[Receiver, ...]
    default_receiver: ResourceName
    routes: tuple[Route, ...] = ()
    inhibitions: tuple[Inhibition, ...] = ()
    group_by: tuple[LabelName, ...] = ("alertname",)
    group_wait: Duration = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)

    @model_validator(mode="after")
    def _receivers_exist(self) -> Self:
        names = [r.name for r in self.receivers]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise InvalidValueError(f"receivers[{i}].name", name, "a unique receiver name")
        expected = f"one of the receivers: {', '.join(names) or '(none declared)'}"
        if self.default_receiver not in names:
            raise InvalidValueError("default_receiver", self.default_receiver, expected)
        for i, route in enumerate(self.routes):
            if route.receiver not in names:
                raise InvalidValueError(f"routes[{i}].receiver", route.receiver, expected)
        return self


class FiringAlert(_Model):
    """An alert the router holds: ``state`` is ``active`` (being sent) or ``suppressed`` (inhibited, silenced)."""

    name: str
    state: str
    severity: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    receivers: tuple[str, ...] = ()


class AlertRouter(Protocol):
    async def alert_routing(self) -> AlertRouting | None: ...

    async def check_alert_routing(self, routing: AlertRouting) -> None:
        """Raise ``AlertingError`` if the router would reject ``routing``."""
        ...

    async def apply_alert_routing(self, routing: AlertRouting) -> None: ...

    async def alerts(self) -> Sequence[FiringAlert]: ...
