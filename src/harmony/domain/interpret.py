"""An Interpret turns one Score into capability calls: ``plan`` reads, ``apply`` changes.

The contract every Interpret keeps:
- ``plan`` only reads current state through the topology's capabilities and returns the changes an apply
  would make. It never mutates anything.
- ``apply`` makes exactly the planned changes. After a successful apply, a new ``plan`` returns no pending
  change, so a second run is a NOOP (the Maestro does not even call ``apply`` when nothing is pending).
- Failures raise ``InterpretError`` (or a ``CapabilityError`` the Maestro wraps into one) naming the step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from harmony.domain.change import Change
from harmony.domain.outcome import Outcome


class Interpret[T](ABC):
    """The logic of one Score, run against a topology that provides the capabilities ``T``."""

    @abstractmethod
    async def plan(self, topology: T) -> Sequence[Change]:
        """Read the current state and return the changes an apply would make."""

    @abstractmethod
    async def apply(self, topology: T, changes: Sequence[Change]) -> Outcome:
        """Make the planned ``changes`` (never empty) and say what was done."""
