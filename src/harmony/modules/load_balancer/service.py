"""``LoadBalancing``: frontends and their backends on a load balancer.

Backend admin states are part of the declaration, so a blue-green switch is a Score change: declare the
new backend ``active`` and the old one ``draining``, and the apply drains without a reload. Frontends
that this Score does not list are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self

from pydantic import model_validator

from harmony.domain.capabilities.load_balancer import Backend, Frontend, LoadBalancer, binds_clash, check_binds
from harmony.domain.change import Change
from harmony.domain.claims import Claim, ListenClaim, NameClaim, Suspicion
from harmony.domain.errors import InterpretError
from harmony.domain.interpret import Interpret
from harmony.domain.names import NonEmpty
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.keyed_diff import field_changes, keyed_changes


class LoadBalancing(Score[LoadBalancer]):
    """These frontends, each exactly as declared; no two may listen on the same port.

    With ``present=False`` the frontends of these names are removed.
    """

    kind: Literal["load_balancing"] = "load_balancing"
    frontends: NonEmpty[Frontend]
    present: bool = True

    @model_validator(mode="after")
    def _one_port_one_frontend(self) -> Self:
        check_binds(self.frontends)
        return self

    @property
    def name(self) -> str:
        return "lb:" + ",".join(f.name for f in self.frontends)

    def claims(self) -> Sequence[Claim]:
        """Each frontend's name and port: frontends of different Scores (or an application's) must not share
        them either, which the deployment-wide pass checks."""
        if not self.present:
            return ()
        claims: list[Claim] = []
        for i, f in enumerate(self.frontends):
            field = f"frontends[{i}]"
            claims.append(NameClaim("frontend name", f.name, f"{field}.name"))
            claims.append(ListenClaim(f.address, f.port, "tcp", f"load-balancer frontend {f.name}", f"{field}.port"))
            if all(b.state == "draining" for b in f.backends):
                claims.append(
                    Suspicion(
                        "all_backends_draining",
                        f"{field}.backends",
                        f"every backend of frontend {f.name} is draining: it takes connections and serves none",
                    )
                )
        return claims

    def interpret(self) -> Interpret[LoadBalancer]:
        return LoadBalancingInterpret(self)


class LoadBalancingInterpret(Interpret[LoadBalancer]):
    def __init__(self, score: LoadBalancing) -> None:
        self.score = score

    async def plan(self, topology: LoadBalancer) -> Sequence[Change]:
        current = {f.name: f for f in await topology.frontends()}
        if not self.score.present:
            return [c for f in self.score.frontends if f.name in current for c in plan_removal(current[f.name])]
        mine = {f.name for f in self.score.frontends}
        for wanted in self.score.frontends:
            for other in current.values():
                if other.name not in mine and binds_clash(other, wanted):
                    raise InterpretError(
                        self.score.name,
                        "plan",
                        f"frontend {wanted.name} ({wanted.bind}) would take the port of frontend "
                        f"{other.name} ({other.bind}); pick another port or remove {other.name}",
                    )
        return [c for f in self.score.frontends for c in plan_frontend(f, current.get(f.name))]

    async def apply(self, topology: LoadBalancer, changes: Sequence[Change]) -> Outcome:
        current = {f.name: f for f in await topology.frontends()}
        if not self.score.present:
            gone = [f.name for f in self.score.frontends if f.name in current]
            for name in gone:
                await topology.remove_frontend(name)
            return Outcome.success(f"{len(gone)} frontends removed: {', '.join(gone)}")
        changed = [f for f in self.score.frontends if current.get(f.name) != f]
        for frontend in changed:
            await topology.put_frontend(frontend)
        return Outcome.success(
            f"{len(changed)} frontends updated: {', '.join(f.name for f in changed)}", *(c.target for c in changes)
        )


def _backend(b: Backend) -> str:
    return f"{b.address}:{b.port} weight {b.weight} {b.state}"


def _settings(f: Frontend) -> dict[str, object]:
    return {
        "bind": f.bind,
        "mode": f.mode,
        "balance": f.balance,
        "health_check": f.health_check and f.health_check.model_dump_json(),
    }


def plan_frontend(desired: Frontend, current: Frontend | None) -> list[Change]:
    """The frontend's settings and backends (by name) an apply would change (pure, tested as a table)."""
    changes: list[Change] = []
    if current is None:
        changes.append(Change.create(f"lb frontend {desired.name}", f"+ listen on {desired.bind} ({desired.mode})\n"))
    else:
        changes += field_changes(f"lb frontend {desired.name}", _settings(current), _settings(desired))
    changes += keyed_changes(
        "lb backend",
        {f"{desired.name}/{b.name}": _backend(b) for b in current.backends} if current else {},
        {f"{desired.name}/{b.name}": _backend(b) for b in desired.backends},
    )
    return changes


def plan_removal(current: Frontend) -> list[Change]:
    """Removing a frontend: the frontend and each of its backends."""
    return [
        Change.delete(f"lb frontend {current.name}", f"- listen on {current.bind} ({current.mode})\n"),
        *keyed_changes("lb backend", {f"{current.name}/{b.name}": _backend(b) for b in current.backends}, {}),
    ]
