"""Form bodies (``application/x-www-form-urlencoded`` only, bounded) and the errors that name the field."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from harmony.domain.errors import HarmonyError

MAX_FORM = 16 * 1024


class FormError(HarmonyError):
    """A malformed form: HTTP 400 naming ``field`` (``status`` 413 for a body that is too large)."""

    def __init__(self, field: str, message: str, *, status: int = 400) -> None:
        self.field = field
        self.status = status
        super().__init__(f"field {field!r}: {message}")


async def read_form(request: Request) -> dict[str, str]:
    """One value per field (a repeated field is malformed)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise FormError(
            "content-type", f"{kind or 'none'!r} is not accepted; expected application/x-www-form-urlencoded"
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError("body", f"larger than {MAX_FORM} bytes", status=413)
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as e:
        raise FormError("body", f"not a url-encoded form ({e})") from e
    for name, values in fields.items():
        if len(values) != 1:
            raise FormError(name, f"given {len(values)} times; expected once")
    return {name: values[0] for name, values in fields.items()}


def required(form: dict[str, str], field: str, *, choices: tuple[str, ...] = ()) -> str:
    value = form.get(field, "").strip()
    if not value:
        raise FormError(field, "missing" + (f"; expected one of: {', '.join(choices)}" if choices else ""))
    if choices and value not in choices:
        raise FormError(field, f"{value!r} is not valid; expected one of: {', '.join(choices)}")
    return value
