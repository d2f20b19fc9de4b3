"""``SiteRegistry``: the site's image registry — a read-only pull endpoint and a push endpoint over TLS.

What a plan compares: the applied settings (endpoints, storage, accounts and, by keyed hash, their passwords)
and whether both endpoints run. Passwords never appear in a plan or an outcome; a changed one shows as
"password of NAME changed".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import model_validator

from harmony.domain.capabilities.registry import ImageRegistry, RegistrySettings, RegistryStatus
from harmony.domain.change import Change
from harmony.domain.claims import Claim, ListenClaim
from harmony.domain.errors import InvalidValueError, RegistryError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score


class SiteRegistry(Score[ImageRegistry]):
    kind: Literal["site_registry"] = "site_registry"
    settings: RegistrySettings

    @model_validator(mode="after")
    def _distinct(self) -> SiteRegistry:
        s = self.settings
        if s.pull_port == s.push_port:
            raise InvalidValueError("settings.push_port", int(s.push_port), "a port other than pull_port")
        users = [s.pusher.user, *(a.user for a in s.pullers)]
        if len(set(users)) != len(users):
            raise InvalidValueError("settings.pullers", users, "account names used once (the push account included)")
        return self

    @property
    def name(self) -> str:
        return f"registry:{self.settings.pull_endpoint}"

    def claims(self) -> Sequence[Claim]:
        s = self.settings
        return [
            ListenClaim(s.address, int(s.pull_port), "tcp", "registry pull endpoint", "settings.pull_port"),
            ListenClaim(s.address, int(s.push_port), "tcp", "registry push endpoint", "settings.push_port"),
        ]

    def interpret(self) -> Interpret[ImageRegistry]:
        return SiteRegistryInterpret(self)


def describe(settings: RegistrySettings) -> str:
    pullers = ", ".join(a.user for a in settings.pullers) or "none"
    return (
        f"pull {settings.pull_endpoint} (read-only; accounts: {settings.pusher.user}, {pullers})\n"
        f"push {settings.push_endpoint} (account: {settings.pusher.user})\nstorage {settings.storage}\n"
    )


def plan_registry(score: SiteRegistry, status: RegistryStatus | None) -> list[Change]:
    """A pure diff from what the registry host reports to ``score``."""
    target = f"registry {score.settings.pull_endpoint}"
    if status is None:
        return [Change.create(target, describe(score.settings))]
    if not status.settings_applied:
        return [Change.update(target, "".join(f"{c}\n" for c in status.changed))]
    down = [role for role, up in (("pull", status.pull_running), ("push", status.push_running)) if not up]
    if down:
        return [Change.update(target, "".join(f"{role} endpoint: stopped -> running\n" for role in down))]
    return []


class SiteRegistryInterpret(Interpret[ImageRegistry]):
    def __init__(self, score: SiteRegistry) -> None:
        self.score = score

    async def plan(self, topology: ImageRegistry) -> Sequence[Change]:
        return plan_registry(self.score, await topology.registry_status(self.score.settings))

    async def apply(self, topology: ImageRegistry, changes: Sequence[Change]) -> Outcome:
        s = self.score.settings
        try:
            await topology.serve_registry(s)
        except RegistryError as e:
            return Outcome.failure(str(e), *e.evidence)
        return Outcome.success(
            f"registry serving: pull {s.pull_endpoint} (read-only), push {s.push_endpoint}",
            "hosts trust the site CA (site_ca_certificate) and log in with their own pull account",
        )
