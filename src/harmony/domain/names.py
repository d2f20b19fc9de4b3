"""Names of configured objects (frontends, backends, zones, record sets) and non-empty collections.

``ResourceName`` is deliberately narrow (``a-z``, digits, ``-``, ``_``; starts with a letter; at most 63) so
that every backend can use it verbatim as an identifier: a proxy section name, a firewall chain name, a file
name. ``NonEmpty[T]`` is a tuple with at least one element: to the type checkers ``tuple[T, *tuple[T, ...]]``
(so ``()`` is a type error), at run time a tuple validated to have ``min_length=1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from harmony.domain.errors import InvalidValueError
from harmony.domain.values import ValidatedStr

__all__ = ["NonEmpty", "ResourceName", "non_empty"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class ResourceName(ValidatedStr):
    """The name of a configured object: ``web``, ``app_blue``, ``lan``."""

    _what = "name"
    _expected = "1-63 characters of a-z, 0-9, '-' and '_', starting with a letter"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        return value if _NAME.match(value) else None


if TYPE_CHECKING:
    type NonEmpty[T] = tuple[T, *tuple[T, ...]]
else:

    class _NonEmptyAlias:
        def __getitem__(self, item: object) -> object:
            return Annotated[tuple[item, ...], Field(min_length=1)]

    NonEmpty = _NonEmptyAlias()


def non_empty[T](items: Iterable[T], what: str) -> NonEmpty[T]:
    """``items`` as a ``NonEmpty`` tuple, for code that builds collections at run time.

    Raises ``InvalidValueError`` naming ``what`` when there is nothing.
    """
    values = tuple(items)
    if not values:
        raise InvalidValueError(what, values, "at least one element")
    first, *rest = values
    return (first, *rest)
