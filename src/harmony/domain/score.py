"""Scores: declarative desired state, generic in the capability set ``T`` they need from a topology.

A ``Score[T]`` is contravariant in ``T``: a ``Score[DnsServer]`` runs on every topology that structurally
provides ``DnsServer``, and using it on one that does not is a type error. ``Score[Never]`` is therefore
"any Score".

Every concrete Score declares ``kind: Literal["…"] = "…"``. The kinds form one discriminated union
(``score_adapter``), so any Score round-trips through JSON, e.g. as a fleet's desired state, without a
hand-rolled envelope. Kinds are registered when their class is defined; a second class claiming a kind
that another class owns is a ``DeploymentError``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any, Literal, Never, Union, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from harmony.domain.errors import DeploymentError
from harmony.domain.interpret import Interpret
from harmony.domain.origin import record_origin

if TYPE_CHECKING:
    from harmony.domain.claims import Claim

type AnyScore = Score[Never]

_KINDS: dict[str, type[AnyScore]] = {}


class Score[T](BaseModel, ABC):
    """Desired state needing the capabilities ``T``. Carries data only; its Interpret does the I/O."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def model_post_init(self, context: Any, /) -> None:
        record_origin(self)  # the user's file and line, for findings about this Score

    @field_validator("*", mode="after")
    @classmethod
    def _text_a_machine_can_take(cls, value: object) -> object:
        """No lone surrogate in any text (it cannot be written, journaled or sent), no NUL in a path."""
        _check_text(value)
        return value

    @abstractmethod
    def interpret(self) -> Interpret[T]:
        """The logic that plans and applies this Score."""

    @property
    def name(self) -> str:
        """A short, unique, human name (``file:/etc/motd``), used by ``--filter`` and in reports."""
        return kind_of(self)

    def depends_on(self) -> Sequence[str]:
        """Names of Scores that must be applied before this one in the same run."""
        return ()

    def claims(self) -> Sequence[Claim]:
        """What this Score takes on its host (paths, ports, names, records, accounts …), for the
        deployment-wide checks of ``domain.consistency`` that relate Scores of every class."""
        return ()

    @classmethod
    def check_alongside(cls, scores: Sequence[AnyScore]) -> None:
        """Validate the Scores of this class that run together (``scores``, all of this class), before
        anything is applied.

        For conflicts no single Score can see: two frontends on one port in two Scores, overlapping
        subnets. Raise ``InvalidValueError`` or ``DeploymentError`` naming the offending values.
        """

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if inspect.isabstract(cls) or cls.__pydantic_generic_metadata__["origin"] is not None:
            return
        kind = _declared_kind(cls)
        owner = _KINDS.get(kind)
        if owner is not None and (owner.__module__, owner.__qualname__) != (cls.__module__, cls.__qualname__):
            raise DeploymentError(
                f"Score kind {kind!r} of {cls.__module__}.{cls.__qualname__} is already used by "
                f"{owner.__module__}.{owner.__qualname__}; give each Score class its own kind"
            )
        _KINDS[kind] = cls


def _check_text(value: object) -> None:
    match value:
        case PurePath() if "\0" in str(value):
            raise ValueError(f"the path {str(value)!r} contains a NUL byte")
        case str():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(
                    f"text with a lone surrogate at position {e.start} (undecodable bytes, e.g. from a file or "
                    "variable that is not UTF-8); expected valid UTF-8 text"
                ) from None
        case tuple() | list() | frozenset() | set():
            for item in cast(Iterable[object], value):
                _check_text(item)
        case dict():
            for k, v in cast(dict[object, object], value).items():
                _check_text(k)
                _check_text(v)
        case _:
            pass


def _declared_kind(cls: type[BaseModel]) -> str:
    field = cls.model_fields.get("kind")
    where = f"{cls.__module__}.{cls.__qualname__}"
    if field is None or get_origin(field.annotation) is not Literal or len(get_args(field.annotation)) != 1:
        raise DeploymentError(f'{where} must declare its kind as `kind: Literal["name"] = "name"`')
    (kind,) = get_args(field.annotation)
    if not isinstance(kind, str) or field.default != kind:
        raise DeploymentError(f'{where} must declare its kind as `kind: Literal["{kind}"] = "{kind}"`')
    return kind


def kind_of(score: AnyScore) -> str:
    """The ``kind`` discriminator of a Score instance."""
    kind: str = getattr(score, "kind")  # noqa: B009 - declared by each concrete subclass, not the base
    return kind


def score_kinds() -> dict[str, type[AnyScore]]:
    """Every registered Score kind and its class."""
    return dict(_KINDS)


def score_adapter() -> TypeAdapter[AnyScore]:
    """A validator/serializer for the discriminated union of every registered Score kind."""
    classes = tuple(_KINDS.values())
    if not classes:
        raise DeploymentError("no Score kinds are registered; import the modules that define them")
    if classes not in _ADAPTERS:  # building one cost 6 ms: `check` on 1,000 Scores built it 1,000 times
        if len(classes) == 1:
            _ADAPTERS[classes] = TypeAdapter(classes[0])
        else:
            union: Any = Annotated[Union[classes], Field(discriminator="kind")]  # noqa: UP007 - built at run time
            _ADAPTERS[classes] = TypeAdapter(union)
    return _ADAPTERS[classes]


# One adapter per set of registered kinds (importing a module that defines Scores adds kinds).
_ADAPTERS: dict[tuple[type[AnyScore], ...], TypeAdapter[AnyScore]] = {}
