"""Where in the user's code an object (a Score) was built, so a finding can name the file and line.

The origin is the innermost frame outside Harmony's own package and pydantic when the object is made, or,
when that frame is a helper function, the outermost call to it from the same file. It is
kept beside the object (by identity), not in it: two equal Scores built on different lines stay equal, and
the origin never reaches the Score's JSON form.
"""

from __future__ import annotations

import functools
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

_HARMONY = str(Path(__file__).resolve().parent.parent)
_SKIP = ("<string>", "/pydantic/", "/pydantic_core/", "<frozen ", "/typing.py", "/functools.py")
_ORIGINS: dict[int, Origin] = {}


@dataclass(frozen=True)
class Origin:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def record_origin(obj: object) -> None:
    """Remember where ``obj`` is being built (call from its constructor)."""
    frame: FrameType | None = sys._getframe(1)  # pyright: ignore[reportPrivateUsage]  # cheap, once per Score
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return
    # A helper in the same file (``def web_app(name): return Application(...)``) is not the place the user
    # looks for: the outermost call in that file is.
    while frame.f_back is not None and frame.f_back.f_code.co_filename == frame.f_code.co_filename:
        frame = frame.f_back
    key = id(obj)
    try:
        weakref.finalize(obj, _ORIGINS.pop, key, None)
    except TypeError:  # no weak references: an id could be reused by another object, so remember nothing
        return
    _ORIGINS[key] = Origin(frame.f_code.co_filename, frame.f_lineno)


@functools.cache  # a handful of files, asked once per frame of every Score built
def _internal(filename: str) -> bool:
    return filename.startswith(_HARMONY) or any(part in filename for part in _SKIP)


def origin_of(obj: object) -> Origin | None:
    """Where ``obj`` was built, if it was recorded."""
    return _ORIGINS.get(id(obj))
