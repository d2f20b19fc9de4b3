# fails: type check
"""Handling Outcome statuses but forgetting FAILURE."""

from __future__ import annotations

from typing import assert_never

from harmony import Outcome, Status


def exit_code(outcome: Outcome) -> int:
    match outcome.status:
        case Status.SUCCESS | Status.NOOP:
            return 0
        case _:
            assert_never(outcome.status)  # expect-error
