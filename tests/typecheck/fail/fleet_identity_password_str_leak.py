# fails: type check
"""A fleet password used where a ``str`` is expected without ``reveal()``: a ``Secret`` is not a ``str``."""

from __future__ import annotations

from harmony.fleet.credentials import new_password


def connect_line(user: str, password: str) -> str:
    return f"{user}:{password}"


line = connect_line("control", new_password())  # expect-error
