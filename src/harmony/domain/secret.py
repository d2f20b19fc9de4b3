"""``Secret``: a value whose every printable form is masked, so masking does not depend on remembering.

What is guaranteed: ``repr``, pydantic's ``model_dump`` and ``model_dump_json`` (hence the journal,
``--json`` output and plan events) and JSON schema examples all show ``MASK``, never the value. ``str()``,
``format()`` and f-strings raise ``SecretAsTextError``: a secret formatted into a file's content would
otherwise silently become ``********`` there. ``render`` is the way to put a secret into text, ``masked``
the way to show one. The clear value comes out only through ``reveal()``, or through a pydantic dump
given ``context=REVEAL`` on purpose (a round trip that must keep the value in memory), which dumps
``{"secret": clear, "masked": …}`` so that it validates back into a ``Secret`` even in a ``str | Secret`` field.

What is not: a caller that reveals a value and prints it; a secret is not wiped from memory.

``Secret`` is not a ``str`` subclass on purpose: passing one where a ``str`` is expected is a type error, and
a ``str`` given where a ``Secret`` is required is a type error too.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import string
from collections.abc import Mapping
from typing import Any, Final, Self

from pydantic import GetCoreSchemaHandler, SerializationInfo
from pydantic_core import core_schema

from harmony.domain.errors import HarmonyError

MASK: Final = "********"
REVEAL: Final[Mapping[str, bool]] = {"reveal_secrets": True}
"""Pass as ``context=`` to a pydantic dump to keep secrets in clear (never for output)."""
FINGERPRINT: Final[Mapping[str, bool]] = {"fingerprint_secrets": True}
"""Pass as ``context=`` to a pydantic dump to get each secret's ``fingerprint()``: a dump to hash, so that a
digest of a model changes when a secret in it changes (the dump itself still holds no clear value)."""


class SecretAsTextError(HarmonyError, TypeError):
    """A ``Secret`` used as text (``str()``, ``format()``, an f-string): it would silently become its mask."""

    def __init__(self) -> None:
        super().__init__(
            "a Secret cannot be turned into text with str(), format() or an f-string (the text would be the mask "
            f"{MASK!r}, not the secret); expected Secret.render(template, name=secret) to put it in a file, "
            ".masked to show it, or .reveal() where the clear value must go"
        )


class Secret:
    """A secret string: masked everywhere it could be printed; ``reveal()`` gives the clear value."""

    __slots__ = ("_masked", "_value")

    def __init__(self, value: str, *, masked: str = MASK) -> None:
        if not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]  # untyped callers
            raise TypeError(f"a Secret holds a str, not a {type(value).__name__}")
        self._value = value
        self._masked = masked

    def reveal(self) -> str:
        """The clear value. Every call site is a place where the secret leaves its wrapper."""
        return self._value

    @property
    def masked(self) -> str:
        """The printable form: ``MASK``, or a rendered template with every secret in it masked."""
        return self._masked

    def fingerprint(self) -> str:
        """A digest of the value that may be stored and shown (labels, versions): it changes with the value.

        It is scrypt (n=2**14, r=8), so every guess of the value costs tens of milliseconds and 16 MiB;
        it is salted per purpose, not per installation, so a weak value stays guessable with patience.
        """
        return _fingerprint(self._value)

    @classmethod
    def render(cls, template: str, **values: Secret | str) -> Self:
        """Fill ``$name``/``${name}`` placeholders; the result is a Secret whose masked form masks only secrets.

        A literal ``$`` is written ``$$``. Raises ``KeyError`` naming a placeholder that has no value.
        """
        t = string.Template(template)
        clear = t.substitute({k: v.reveal() if isinstance(v, Secret) else v for k, v in values.items()})
        masked = t.substitute({k: MASK if isinstance(v, Secret) else v for k, v in values.items()})
        return cls(clear, masked=masked)

    def __str__(self) -> str:
        raise SecretAsTextError

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        raise SecretAsTextError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Self:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a Secret cannot be pickled; store it through harmony.config instead")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        from_str = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        revealed = core_schema.no_info_after_validator_function(
            _from_revealed,
            core_schema.typed_dict_schema(
                {
                    "secret": core_schema.typed_dict_field(core_schema.str_schema()),
                    "masked": core_schema.typed_dict_field(core_schema.str_schema(), required=False),
                },
                extra_behavior="forbid",
            ),
        )
        return core_schema.union_schema(
            [core_schema.is_instance_schema(cls), from_str, revealed],
            serialization=core_schema.plain_serializer_function_ser_schema(_dump, info_arg=True),
        )


def _from_revealed(value: Mapping[str, str]) -> Secret:
    return Secret(value["secret"], masked=value.get("masked", MASK))


@functools.lru_cache(maxsize=256)  # the same secret is fingerprinted at plan and at apply
def _fingerprint(value: str) -> str:
    digest = hashlib.scrypt(value.encode(), salt=b"harmony.secret.fingerprint/1", n=2**14, r=8, p=1, dklen=16)
    return f"scrypt:{digest.hex()}"


def _dump(value: Secret, info: SerializationInfo) -> str | dict[str, str]:
    context: object = info.context
    if isinstance(context, Mapping) and context.get("reveal_secrets") is True:  # pyright: ignore[reportUnknownMemberType]  # any Mapping
        # Tagged, so that a ``str | Secret`` field comes back as a Secret, with its masked form.
        return {"secret": value.reveal(), "masked": value.masked}
    if isinstance(context, Mapping) and context.get("fingerprint_secrets") is True:  # pyright: ignore[reportUnknownMemberType]  # any Mapping
        return {"fingerprint": value.fingerprint()}
    return value.masked
