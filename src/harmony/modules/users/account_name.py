"""The shape of a user or group name that every shadow tool accepts."""

from __future__ import annotations

import re

from harmony.domain.errors import InvalidValueError

_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def account_name(v: str) -> str:
    if not _NAME.match(v):
        raise InvalidValueError("name", v, "1-32 of a-z, 0-9, '_' and '-', starting with a letter or '_'")
    return v
