"""The export/import format: masked secrets stay masked, bad files change nothing and are not echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmony.config import Namespace, Secret
from harmony.config.transfer import export, parse
from harmony.domain.errors import ConfigError
from harmony.infra.embedded_store import EmbeddedStore

NS = Namespace("shop")
LEAK = "Leak-Me-If-You-Can-77"


def test_export_masks_unless_asked(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite3", tmp_path / "k" / "key")
    store.put(NS, "api.token", Secret(LEAK))
    store.put(NS, "api.retries", 3)
    masked = export(store, NS, reveal_secrets=False).model_dump_json()
    assert LEAK not in masked
    clear = export(store, NS, reveal_secrets=True).model_dump_json()
    assert parse(clear.encode(), source="f") == [("api.retries", 3), ("api.token", Secret(LEAK))]
    assert parse(masked.encode(), source="f") == [("api.retries", 3)]


@pytest.mark.parametrize(
    "text",
    [
        '{"namespace": "x", "entries": [{"key": "a.b", "secret": true, "value": ["LEAK"]}]}',
        '{"namespace": 5, "entries": [{"key": "a.b", "secret": true, "value": "LEAK"}]}',
        '{"namespace": "x", "entries": [{"key": "a.b", "secret": "maybe", "value": "LEAK"}]}',
        '{"namespace": "x", "entries": [{"key": "a.b", "value": "LEAK"',
    ],
    ids=["secret-not-a-string", "namespace-not-a-string", "flag-not-a-bool", "truncated"],
)
def test_bad_files_are_refused_without_echoing_values(text: str) -> None:
    with pytest.raises(ConfigError, match="nothing was imported") as e:
        parse(text.replace("LEAK", LEAK).encode(), source="backup.json")
    assert LEAK not in str(e.value)
    assert "backup.json" in str(e.value)
