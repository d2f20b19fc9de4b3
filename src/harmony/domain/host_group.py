"""``HostGroup``: the same Scores on many hosts at once.

``HostGroup(hosts=[...]).deploy([...])`` builds the deployment and type-checks every Score against the
hosts' type, on pyright and mypy alike. ``Deployment(topology=HostGroup(...), scores=[...])`` means the same
and type-checks on pyright, but mypy cannot solve the hosts' type through ``T | HostGroup[T]``.

Running it (``harmony plan/apply``) plans and applies the whole Score list on every host, at most
``parallelism`` hosts at a time, each host with its own Maestro run, outcomes and journal entry.

Guaranteed: a host that fails (unreachable, refused, a failed Score) does not stop the others unless
``stop_on_failure`` is set, in which case hosts not yet started are skipped (hosts already running finish).
Not guaranteed: any order between hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harmony.domain.errors import InvalidValueError
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

    def deploy(self, scores: Sequence[Score[H]], *, smoke_tests: Sequence[Verification] = ()) -> Deployment[H]:
        """A deployment of ``scores`` on every host of this group."""
        from harmony.domain.deployment import Deployment  # deployment.py imports this module for its type

        return Deployment[H](topology=self, scores=scores, smoke_tests=smoke_tests)

    @property
    def name(self) -> str:
        return f"{self.label} ({len(self.hosts)} hosts)"

    async def ensure_ready(self) -> None:
        """Nothing to do for the group itself: each host gets ready in its own run."""

    async def close(self) -> None:
        """Nothing to release for the group itself: each host closes at the end of its own run."""
