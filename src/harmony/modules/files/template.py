"""File content from a Jinja2 template, rendered when the deployment is built.

``render_template`` fails at load time, naming the template and the undefined variable, instead of
writing a file with a silent blank in it (``StrictUndefined``). The rendered text is what a ``ManagedFile``
stores, so the plan diffs the final content.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from harmony.domain.errors import InvalidValueError

if TYPE_CHECKING:
    import jinja2

type TemplateValue = str | int | float | bool | list[TemplateValue] | dict[str, TemplateValue] | None


@functools.cache
def _env() -> jinja2.Environment:
    import jinja2  # 0.14 s to import: only deployments that render a template pay it

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render_template(template: str | Path, variables: dict[str, TemplateValue]) -> str:
    """Render ``template`` (its text, or a ``Path`` to a template file) with ``variables``."""
    where = str(template) if isinstance(template, Path) else "template"
    source = template.read_text() if isinstance(template, Path) else template
    import jinja2

    try:
        return _env().from_string(source).render(variables)
    except jinja2.UndefinedError as e:
        raise InvalidValueError(where, sorted(variables), f"a value for every variable it uses ({e.message})") from e
    except jinja2.TemplateSyntaxError as e:
        raise InvalidValueError(where, f"line {e.lineno}", f"valid Jinja2 syntax ({e.message})") from e
