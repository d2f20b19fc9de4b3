"""``HostGroup``: Scores on many hosts at once, the same on every host or a function of the host.

``HostGroup(hosts=[...]).deploy([...])`` builds the deployment and type-checks every Score against the
hosts' type, on pyright and mypy alike. ``.deploy(lambda host: [...])`` gives each host its own Scores
(its own user, file names, ports …); the function is called once per host when the deployment is built, so
a bad value for one host is an error before anything runs, and its result is type-checked like the list.
``Deployment(topology=HostGroup(...), scores=[...])`` means the same and type-checks on pyright, but mypy
cannot solve the hosts' type through ``T | HostGroup[T]``.

Running it (``harmony plan/apply``) plans and applies each host's Score list on that host, at most
``parallelism`` hosts at a time, each host with its own Maestro run, outcomes and journal entry.

Guaranteed: a host that fails (unreachable, refused, a failed Score) does not stop the others unless
``stop_on_failure`` is set, in which case hosts not yet started are skipped (hosts already running finish).
Not guaranteed: any order between hosts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harmony.domain.errors import InvalidValueError
from harmony.domain.origin import record_origin
from harmony.domain.topology import Topology

if TYPE_CHECKING:
    from harmony.domain.companion import Verification
    from harmony.domain.deployment import Deployment
    from harmony.domain.score import Score


@dataclass(frozen=True)
class HostGroup[H: Topology]:
    hosts: Sequence[H]
    parallelism: int = 32
    stop_on_failure: bool = False
    label: str = "hosts"

    def __post_init__(self) -> None:
        if self.parallelism < 1:
            raise InvalidValueError("parallelism", self.parallelism, "at least 1 host at a time")
        if not self.hosts:
            raise InvalidValueError("hosts", list(self.hosts), "at least one host")
        record_origin(self)  # findings about the group (a host listed twice) name this line

    def deploy(
        self,
        scores: Sequence[Score[H]] | Callable[[H], Sequence[Score[H]]],
        *,
        smoke_tests: Sequence[Verification] = (),
    ) -> Deployment[H]:
        """A deployment of ``scores`` on every host of this group, or of ``scores(host)`` on each host."""
        from harmony.domain.deployment import Deployment  # deployment.py imports this module for its type

        return Deployment[H](topology=self, scores=scores, smoke_tests=smoke_tests)

    @property
    def name(self) -> str:
        return f"{self.label} ({len(self.hosts)} hosts)"

    async def ensure_ready(self) -> None:
        """Nothing to do for the group itself: each host gets ready in its own run."""

    async def close(self) -> None:
        """Nothing to release for the group itself: each host closes at the end of its own run."""
