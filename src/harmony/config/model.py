"""Config models: the schema of a deployment's settings, declared in its code ("schema in Git").

A ``ConfigModel`` is a frozen pydantic model whose fields are settings or sections (nested models). Every
setting has a dotted key (``database.password``) under a ``Namespace`` (deployment and environment); its
value comes from a source at run time ("state in the store"), never from the repository. A field typed
``Secret`` is a secret: masked everywhere, encrypted at rest, asked for without echo.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any, cast, get_args

from pydantic import BaseModel, ConfigDict, TypeAdapter

from harmony.domain.config_store import check_key
from harmony.domain.secret import Secret


class ConfigModel(BaseModel):
    """Base of a deployment's settings. Subclass it; nest ``ConfigSection`` models for groups of settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigSection(BaseModel):
    """A group of settings inside a ``ConfigModel`` (``database``, ``api``): its field name prefixes the keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Setting:
    """One leaf of a config model: its key, how to validate it, whether it is secret or required."""

    key: str
    type_name: str
    secret: bool
    required: bool
    description: str | None
    adapter: TypeAdapter[Any]


@functools.cache
def settings_of(model: type[BaseModel], prefix: str = "") -> tuple[Setting, ...]:
    """Every setting of ``model`` in declaration order, sections flattened into dotted keys (built once)."""
    found: list[Setting] = []
    for name, info in model.model_fields.items():
        key = check_key(f"{prefix}{name}")
        annotation: object = cast(object, info.annotation)
        type_name = _type_name(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(settings_of(annotation, prefix=f"{key}."))
            continue
        full: Any = Annotated[annotation, *info.metadata] if info.metadata else annotation  # pyright: ignore[reportUnknownVariableType]  # a type expression built at run time
        found.append(
            Setting(
                key=key,
                type_name=type_name,
                secret=annotation is Secret or Secret in get_args(annotation),
                required=info.is_required(),
                description=info.description,
                adapter=TypeAdapter(full),
            )
        )
    return tuple(found)


def nest(values: dict[str, object], keys: list[str]) -> dict[str, object]:
    """``{"database.port": 1}`` → ``{"database": {"port": 1}}``, for validating the whole model at once.

    Every section on the path of one of ``keys`` exists, even when all its settings keep their defaults.
    """
    tree: dict[str, object] = {}
    for key in keys:
        *sections, leaf = key.split(".")
        node = tree
        for section in sections:
            child = node.get(section)
            if not isinstance(child, dict):
                child = node[section] = dict[str, object]()
            node = cast(dict[str, object], child)
        if key in values:
            node[leaf] = values[key]
    return tree


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
