"""Resolve a config model: for each setting, the first source that has it wins.

Order: the sources as given (env → local file → embedded store → team store), then, only when a
``Prompter`` is given (a terminal), a prompt whose validated answer is saved to the embedded store so it
is asked once. A required setting found nowhere is collected; at the end one ``MissingConfigError`` lists
every missing key and where it could come from — a non-interactive run never waits for input.

Errors are never swallowed into "missing": a store that is unreachable, sealed or holds a corrupted entry
stops the resolution with its own error, and nothing is prompted for or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ValidationError

from harmony.config.model import Setting, nest, settings_of
from harmony.config.sources import Found, Source
from harmony.domain.config_store import ConfigStore, Namespace, Plain
from harmony.domain.errors import ConfigTypeError, MissingConfigError
from harmony.domain.secret import MASK, Secret

PROMPT_ATTEMPTS = 3


class Prompter(Protocol):
    def ask(self, setting: Setting, namespace: Namespace, problem: str | None) -> str | None:
        """The user's answer, or ``None`` if they gave none; ``problem`` says what was wrong last time."""
        ...


class Resolver:
    def __init__(
        self,
        namespace: Namespace,
        sources: Sequence[Source],
        *,
        prompter: Prompter | None = None,
        save_to: ConfigStore | None = None,
        prompt_hint: str = "run on a terminal to be asked",
    ) -> None:
        self.namespace = namespace
        self.sources = tuple(sources)
        self.prompter = prompter
        self.save_to = save_to
        self._prompt_hint = prompt_hint

    def resolve[M: BaseModel](self, model: type[M]) -> M:
        """An instance of ``model`` with every setting resolved and validated.

        Raises ``MissingConfigError`` (every missing key), ``ConfigTypeError`` (key, source, expected type),
        or a ``ConfigStoreError`` from a store that cannot answer.
        """
        values: dict[str, object] = {}
        missing: list[Setting] = []
        settings = settings_of(model)
        for setting in settings:
            found = self.lookup(setting)
            if found is not None:
                values[setting.key] = validate(setting, found)
            elif setting.required:
                missing.append(setting)
        values |= self._ask(missing)
        missing = [s for s in missing if s.key not in values]
        if missing:
            reason = "no terminal to ask on" if self.prompter is None else "no answer given"
            raise MissingConfigError(str(self.namespace), [(s.key, self.hints(s)) for s in missing], reason=reason)
        try:
            return model.model_validate(nest(values, [s.key for s in settings]))
        except ValidationError as e:  # a model-level rule across settings
            raise ConfigTypeError(model.__name__, "the combined settings", "the values", _messages(e)) from None

    def lookup(self, setting: Setting) -> Found | None:
        for source in self.sources:
            found = source.lookup(self.namespace, setting.key)
            if found is not None:
                return found
        return None

    def hints(self, setting: Setting) -> list[str]:
        hints = [s.hint(self.namespace, setting) for s in self.sources]
        return [*hints, self._prompt_hint] if self.prompter is None else hints

    def _ask(self, missing: list[Setting]) -> dict[str, object]:
        """Ask for each missing setting on the terminal; save each valid answer; return the answers."""
        answers: dict[str, object] = {}
        if self.prompter is None:
            return answers
        for setting in missing:
            problem: str | None = None
            for _ in range(PROMPT_ATTEMPTS):
                raw = self.prompter.ask(setting, self.namespace, problem)
                if raw is None:
                    break
                try:
                    value = validate(setting, Found(raw, "prompt"))
                except ConfigTypeError as e:
                    problem = e.expected
                    continue
                if self.save_to is not None:
                    self.save_to.put(self.namespace, setting.key, _storable(value, raw))
                answers[setting.key] = value
                break
        return answers


def validate(setting: Setting, found: Found) -> object:
    """The typed value of ``found`` for ``setting``, or ``ConfigTypeError`` naming key, source and type."""
    if isinstance(found.value, Secret) and not setting.secret:
        # Validating it as a plain type would unmask it in the model, its reprs and its dumps.
        raise ConfigTypeError(
            setting.key,
            found.source,
            MASK,
            f"a {setting.type_name}, but it is stored as a secret: declare the setting as Secret, "
            f"or store it with `harmony config set`",
        )
    raw: object = found.value.reveal() if isinstance(found.value, Secret) else found.value
    try:
        return setting.adapter.validate_python(raw)
    except ValidationError as e:
        shown = MASK if setting.secret or isinstance(found.value, Secret) else repr(raw)
        raise ConfigTypeError(setting.key, found.source, shown, f"{setting.type_name} ({_messages(e)})") from None


def _messages(e: ValidationError) -> str:
    # pydantic's messages do not repeat the input, so they are safe to show for secrets too.
    return "; ".join(err["msg"] for err in e.errors(include_input=False, include_url=False))


def _storable(value: object, raw: str) -> Secret | Plain:
    if isinstance(value, Secret):
        return value
    if isinstance(value, bool | int | float):
        return value
    return raw
