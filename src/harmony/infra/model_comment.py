"""A model carried as comment lines at the top of a configuration file it was rendered into.

Daemons limit line length (dnsmasq ~1 KiB, HAProxy 2 KiB), so the JSON is cut into short ``#~`` lines
after a ``# harmony:<kind>`` marker. Reading back returns the JSON only when the marker matches; whether
the rest of the file is still exactly the rendering of that model is the caller's check.
"""

from __future__ import annotations

CHUNK = 160
MARK = "# harmony:"


def embed(kind: str, model_json: str) -> str:
    """The comment block to put first in the file (ends with a newline)."""
    chunks = [model_json[i : i + CHUNK] for i in range(0, len(model_json), CHUNK)] or [""]
    return f"{MARK}{kind}\n" + "".join(f"#~{c}\n" for c in chunks)


def extract(text: str) -> tuple[str, str] | None:
    """``(kind, model_json)`` from a file that starts with an embedded model, else ``None``."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(MARK):
        return None
    kind = lines[0].removeprefix(MARK)
    chunks: list[str] = []
    for line in lines[1:]:
        if not line.startswith("#~"):
            break
        chunks.append(line[2:])
    return kind, "".join(chunks)
