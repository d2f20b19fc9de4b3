"""Companions are tied to one Score type. A ``SmokeTest[S]`` checks that what a Score of type ``S`` deployed
actually works; ``verify(score, test)`` pairs them, and pairing a test with another Score type is a type
error. The Maestro runs a Score's smoke tests right after applying it (and on a NOOP run too, so a run
reports what works now), and the Score's Outcome is FAILURE with the test's evidence unless they pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from harmony.domain.outcome import Outcome
from harmony.domain.score import AnyScore


class SmokeTest[S](ABC):
    """Checks a deployed Score of type ``S``. Blocks until it passes or its own time limit runs out."""

    @abstractmethod
    async def run(self, score: S) -> Outcome:
        """SUCCESS with what was observed, or FAILURE with the evidence (status, body, last log lines)."""


@dataclass(frozen=True, slots=True)
class Verification:
    """A Score paired with a smoke test written for its type (build it with ``verify``)."""

    score: AnyScore
    test_name: str
    run: Callable[[], Awaitable[Outcome]]


def verify[S: AnyScore](score: S, test: SmokeTest[S]) -> Verification:
    """Pair ``score`` with ``test``; a test written for another Score type is a type error here."""

    async def run() -> Outcome:
        return await test.run(score)

    return Verification(score=score, test_name=type(test).__name__, run=run)
