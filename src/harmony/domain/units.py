"""Units as types: a duration is a ``timedelta``, a size is ``Bytes``, a file mode is a ``FileMode``.

Each is a type a bare number is not, so ``interval=2000`` (milliseconds? seconds?), ``memory=512`` (bytes?
MiB?) and ``mode=400`` (meant ``0o400``) are type errors before anything runs; the operator writes
``timedelta(seconds=2)``, ``MiB(512)`` and ``FileMode("0400")``, which cannot be misread. A size is not a
duration and neither is a mode, so one passed for another is a type error too.

Pydantic still accepts the plain wire form when a model is loaded from JSON (seconds or ``"30s"`` for a
duration, a byte count for a size, the permission bits or an octal string for a mode): that form is written
by Harmony itself, not by hand.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, NewType, Self

from pydantic import BeforeValidator, GetCoreSchemaHandler, PlainSerializer
from pydantic_core import core_schema

from harmony.domain.errors import InvalidValueError

__all__ = [
    "Bytes",
    "Duration",
    "FileMode",
    "GiB",
    "KiB",
    "MiB",
    "Size",
    "TiB",
    "format_duration",
    "format_size",
    "parse_duration",
    "parse_size",
]

# -- sizes --------------------------------------------------------------------------------------------------

Bytes = NewType("Bytes", int)
"""A size in bytes. Written with the unit it is thought in: ``MiB(512)``, ``GiB(2)``, or ``Bytes(4096)``."""

_KIB = 1024


def _size(count: float, factor: int, unit: str) -> Bytes:
    value = count * factor
    if isinstance(count, bool) or value < 0 or value != int(value):
        raise InvalidValueError(unit, count, f"a non-negative number of {unit} that is a whole number of bytes")
    return Bytes(int(value))


def KiB(count: float) -> Bytes:
    """``count`` kibibytes (1024 bytes) as ``Bytes``."""
    return _size(count, _KIB, "KiB")


def MiB(count: float) -> Bytes:
    """``count`` mebibytes (1024 KiB) as ``Bytes``."""
    return _size(count, _KIB**2, "MiB")


def GiB(count: float) -> Bytes:
    """``count`` gibibytes (1024 MiB) as ``Bytes``."""
    return _size(count, _KIB**3, "GiB")


def TiB(count: float) -> Bytes:
    """``count`` tebibytes (1024 GiB) as ``Bytes``."""
    return _size(count, _KIB**4, "TiB")


def format_size(size: int) -> str:
    """``size`` in the largest binary unit that keeps it readable: ``512 MiB``, ``1.5 GiB``, ``300 B``."""
    for unit, factor in (("TiB", _KIB**4), ("GiB", _KIB**3), ("MiB", _KIB**2), ("KiB", _KIB)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} B"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)\s*$")
_FACTORS = {"B": 1, "KiB": _KIB, "MiB": _KIB**2, "GiB": _KIB**3, "TiB": _KIB**4}


def parse_size(value: object) -> int:
    """Bytes from a byte count (the wire form) or a string with its unit such as ``"16GiB"`` or ``"512 MiB"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _SIZE.match(value) if isinstance(value, str) else None
    size = float(m.group(1)) * _FACTORS[m.group(2)] if m is not None else -1.0
    if size >= 0 and size == int(size):
        return int(size)
    raise InvalidValueError("size", value, 'a size with its unit, such as "16GiB" or "512MiB" (B, KiB, MiB, GiB, TiB)')


type Size = Annotated[Bytes, BeforeValidator(parse_size)]
"""A size: written ``GiB(16)`` in Python; in a file (an inventory) ``"16GiB"`` or a byte count."""


# -- durations ----------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_UNITS = (("y", 365 * 86400.0), ("w", 7 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))


def parse_duration(value: object) -> timedelta:
    """``timedelta`` from a ``timedelta``, seconds (the wire form) or a duration such as ``1h30m``."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value and (m := _DURATION.match(value)) is not None:
        groups = m.groups()
        seconds = sum(float(groups[2 * i + 1] or 0) * factor for i, (_, factor) in enumerate(_UNITS))
        seconds += float(groups[13] or 0) / 1000
    else:
        raise InvalidValueError("duration", value, "a timedelta, or a duration such as 30s, 5m, 1h30m")
    if seconds < 0 or round(seconds * 1000) != seconds * 1000:
        raise InvalidValueError("duration", value, "a non-negative whole number of milliseconds")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The Prometheus form of ``value``: ``0s``, ``1500ms``, ``1h30m``."""
    millis = round(value.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    if millis % 1000:
        return f"{millis}ms"
    seconds, parts = millis // 1000, list[str]()
    for unit, factor in _UNITS[2:]:
        count, seconds = divmod(seconds, int(factor))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


type Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
"""A duration: written ``timedelta(seconds=2)``; loaded from JSON as ``"2s"``/``"1h30m"`` or seconds."""


# -- file modes ---------------------------------------------------------------------------------------------

_OCTAL_MODE = re.compile(r"^(0o|0)?([0-7]{3,4})$")


def _octal_bits(octal: object) -> int:
    """The bits of ``octal``, typed ``object``: callers outside the type checker may pass anything."""
    m = _OCTAL_MODE.match(octal) if isinstance(octal, str) else None
    if m is None:
        raise InvalidValueError("mode", octal, 'octal permission digits as a string, e.g. FileMode("0644")')
    return int(m.group(2), 8)


class FileMode(int):
    """Permission bits, written as the octal digits ``chmod`` takes: ``FileMode("0640")``, ``FileMode("750")``.

    Built from a string so that the digits are always read as octal: ``mode=400`` (decimal, meaning
    ``0o620``) is a type error, and so is a bare ``0o400``, which would read the same as the mistake.
    """

    def __new__(cls, octal: str) -> Self:
        return super().__new__(cls, _octal_bits(octal))

    @classmethod
    def from_bits(cls, bits: int) -> FileMode:
        """The mode with permission bits ``bits`` (as ``os.stat`` gives them), for code reading a host."""
        if isinstance(bits, bool) or not 0 <= bits <= 0o7777:
            raise InvalidValueError("mode", bits, "permission bits from 0 to 0o7777")
        return cls(f"{bits:04o}")

    def __repr__(self) -> str:
        return f'FileMode("{self:04o}")'

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def parse(value: object) -> FileMode:
            if isinstance(value, FileMode):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return cls.from_bits(value)  # the wire form, written by Harmony
            if isinstance(value, str):
                return cls(value)
            raise InvalidValueError("mode", value, 'octal permission digits as a string, e.g. FileMode("0644")')

        return core_schema.no_info_plain_validator_function(
            parse, serialization=core_schema.plain_serializer_function_ser_schema(int)
        )
