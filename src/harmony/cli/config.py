"""``harmony config …`` and ``harmony secret …``: read and write settings in the embedded or team store.

Secrets never come from the command line (shell history, ``ps``): ``harmony secret set`` reads them from the
terminal without echo, or from stdin. Every listing masks secrets; ``get --reveal`` and
``export --reveal-secrets`` are the only ways to print one, and an export file with clear secrets is 0600.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.config import declared, transfer, wiring
from harmony.config.model import Setting
from harmony.config.sources import Found, Source, StoreSource
from harmony.domain.config_store import ConfigStore, Entry, Namespace, Plain, Value, check_key
from harmony.domain.errors import ConfigError, MissingConfigError
from harmony.domain.secret import MASK, Secret
from harmony.infra.state_files import write_atomic

config_app = typer.Typer(help="Settings of a deployment per environment, in the embedded store (or --team).")
secret_app = typer.Typer(help="Secrets of a deployment per environment: masked, encrypted at rest, never on argv.")
console = Console()

Key = Annotated[str, typer.Argument(help="A dotted setting key, e.g. database.password.")]
DeploymentOpt = Annotated[
    str, typer.Option("--deployment", "-d", envvar="HARMONY_DEPLOYMENT", help="The deployment's namespace.")
]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Environment (default: $HARMONY_ENV or default).")]
TeamOpt = Annotated[bool, typer.Option("--team", help="Use the team store (OpenBao, HARMONY_BAO_ADDR).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Reveal = Annotated[bool, typer.Option("--reveal", help="Print a secret in clear.")]


def _store(team: bool) -> ConfigStore:
    if not team:
        return wiring.embedded_store()
    store = wiring.team_store()
    if store is None:
        raise ConfigError("--team needs a team store: set HARMONY_BAO_ADDR and HARMONY_BAO_TOKEN (or AppRole)")
    return store


def _chain(team: bool) -> list[Source]:
    if team:
        return [StoreSource(_store(True), how_to_set=wiring.TEAM_HOW)]
    return wiring.sources()


def _shown(value: Value, *, reveal: bool) -> Plain:
    if isinstance(value, Secret):
        return value.reveal() if reveal else MASK
    return value


def _get(deployment: str, env: str | None, key: str, *, team: bool, secret: bool) -> tuple[Namespace, Found]:
    ns = wiring.namespace(deployment, env)
    check_key(key)
    sources = _chain(team)
    for source in sources:
        found = source.lookup(ns, key)
        if found is not None:
            return ns, found
    setting = Setting(key, "value", secret, True, None, TypeAdapter(object))
    raise MissingConfigError(str(ns), [(key, [s.hint(ns, setting) for s in sources])], reason="not set anywhere")


def _print_value(key: str, found: Found, *, secret: bool, reveal: bool, as_json: bool) -> None:
    value = found.value
    if secret and not isinstance(value, Secret):
        value = Secret(value if isinstance(value, str) else json.dumps(value))
    if as_json:
        print(
            json.dumps(
                {
                    "key": key,
                    "value": _shown(value, reveal=reveal),
                    "secret": isinstance(value, Secret),
                    "source": found.source,
                }
            )
        )
    else:
        shown = _shown(value, reveal=reveal)
        print(shown if isinstance(shown, str) else json.dumps(shown))


def _write(store: ConfigStore, ns: Namespace, key: str, value: Value) -> int:
    """Check-and-set over what was read: a corrupted entry is an error (nothing is overwritten)."""
    current = store.get(ns, key)
    if current is not None and current.secret and not isinstance(value, Secret):
        raise ConfigError(f"{key} is a secret in {store.location}; use `harmony secret set {key}`")
    return store.put(ns, key, value, expected_version=0 if current is None else current.version)


def _refuse_declared_secret(ns: Namespace, key: str, what: str) -> None:
    """``ConfigError`` when the deployment's config model declares ``key`` a Secret (see ``config.declared``)."""
    model = declared.declared_secret(wiring.declared_directory(), ns, key)
    if model is not None:
        raise ConfigError(
            f"{key} is declared Secret by deployment {ns.deployment}'s config model {model}, so it {what}; "
            f"use `harmony secret set {key} -d {ns.deployment} -e {ns.environment}` "
            "(it reads the value without echo, or from stdin)"
        )


def _table(entries: list[Entry], title: str, *, as_json: bool) -> None:
    rows = [
        {"key": e.key, "value": _shown(e.value, reveal=False), "secret": e.secret, "version": e.version}
        for e in entries
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=title, title_justify="left")
    for col in ("key", "value", "secret", "version"):
        table.add_column(col)
    for r in rows:
        value = r["value"]
        table.add_row(
            Text(str(r["key"])),
            Text(value if isinstance(value, str) else json.dumps(value)),
            "yes" if r["secret"] else "",
            str(r["version"]),
        )
    console.print(table)


@config_app.command("get")
@guarded
def config_get(
    key: Key,
    deployment: DeploymentOpt,
    env: EnvOpt = None,
    team: TeamOpt = False,
    reveal: Reveal = False,
    as_json: AsJson = False,
) -> None:
    """The value of KEY as a run would resolve it (env, file, store, team); secrets masked."""
    _, found = _get(deployment, env, key, team=team, secret=False)
    _print_value(key, found, secret=False, reveal=reveal, as_json=as_json)


@config_app.command("set")
@guarded
def config_set(
    key: Key,
    value: Annotated[str, typer.Argument(help="The value (not for secrets: see `harmony secret set`).")],
    deployment: DeploymentOpt,
    env: EnvOpt = None,
    team: TeamOpt = False,
) -> None:
    """Store a (non-secret) setting; its model validates the type when a run reads it."""
    ns = wiring.namespace(deployment, env)
    _refuse_declared_secret(ns, check_key(key), "is not set on the command line")
    store = _store(team)
    version = _write(store, ns, key, value)
    console.print(f"{ns} {key} set (version {version}) in {store.location}", highlight=False, markup=False)


@config_app.command("list")
@guarded
def config_list(deployment: DeploymentOpt, env: EnvOpt = None, team: TeamOpt = False, as_json: AsJson = False) -> None:
    """Every setting stored for the namespace; secrets masked."""
    ns = wiring.namespace(deployment, env)
    store = _store(team)
    _table(store.entries(ns), f"{ns} in {store.location}", as_json=as_json)


@config_app.command("unset")
@guarded
def config_unset(key: Key, deployment: DeploymentOpt, env: EnvOpt = None, team: TeamOpt = False) -> None:
    """Remove KEY from the store (also a corrupted entry)."""
    ns = wiring.namespace(deployment, env)
    store = _store(team)
    removed = store.delete(ns, check_key(key))
    console.print(
        f"{ns} {key} {'removed' if removed else 'was not set'} in {store.location}", highlight=False, markup=False
    )


@config_app.command("export")
@guarded
def config_export(
    deployment: DeploymentOpt,
    env: EnvOpt = None,
    team: TeamOpt = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")] = None,
    reveal_secrets: Annotated[
        bool, typer.Option("--reveal-secrets", help="Write secrets in clear (file mode 0600).")
    ] = False,
) -> None:
    """Export the namespace as JSON; secrets are masked (not importable) unless --reveal-secrets."""
    ns = wiring.namespace(deployment, env)
    exported = transfer.export(_store(team), ns, reveal_secrets=reveal_secrets)
    text = exported.model_dump_json(indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        # a new file replaces the old one: an existing file's mode (0644?) never applies to clear secrets
        write_atomic(output, text, mode=0o600 if reveal_secrets else 0o644)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot write {output}: {getattr(e, 'strerror', None) or e}; pick another file") from e
    console.print(f"exported {len(exported.entries)} setting(s) of {ns} to {output}", highlight=False, markup=False)


@config_app.command("import")
@guarded
def config_import(
    file: Annotated[Path, typer.Argument(help="A file written by `harmony config export`.")],
    deployment: DeploymentOpt,
    env: EnvOpt = None,
    team: TeamOpt = False,
) -> None:
    """Import settings; masked secrets are skipped and listed. Validates the whole file before writing."""
    ns = wiring.namespace(deployment, env)
    try:
        text = file.read_bytes()
    except OSError as e:
        raise ConfigError(f"{file}: cannot read it: {e.strerror}") from None
    todo = transfer.parse(text, source=str(file))
    for key, value in todo:
        if not isinstance(value, Secret):
            _refuse_declared_secret(ns, key, "is not imported as a plain value (nothing was imported)")
    store = _store(team)
    for key, value in todo:
        store.put(ns, key, value)
    skipped = transfer.masked_keys(text)
    console.print(f"imported {len(todo)} setting(s) into {ns} in {store.location}", highlight=False, markup=False)
    if skipped:
        console.print(
            f"skipped masked secret(s): {', '.join(skipped)} — set them with `harmony secret set`",
            highlight=False,
            markup=False,
        )


@secret_app.command("set")
@guarded
def secret_set(key: Key, deployment: DeploymentOpt, env: EnvOpt = None, team: TeamOpt = False) -> None:
    """Store a secret, read from the terminal without echo (twice), or from stdin when piped."""
    ns = wiring.namespace(deployment, env)
    check_key(key)
    if sys.stdin.isatty():
        value = getpass.getpass(f"{key}: ")
        if getpass.getpass(f"{key} again: ") != value:
            raise ConfigError(f"the two values for {key} differ; nothing was stored")
    else:
        value = sys.stdin.read().removesuffix("\n")
    if not value:
        raise ConfigError(f"empty value for {key}; nothing was stored")
    store = _store(team)
    version = _write(store, ns, key, Secret(value))
    console.print(f"{ns} {key} set (secret, version {version}) in {store.location}", highlight=False, markup=False)


@secret_app.command("get")
@guarded
def secret_get(
    key: Key,
    deployment: DeploymentOpt,
    env: EnvOpt = None,
    team: TeamOpt = False,
    reveal: Reveal = False,
    as_json: AsJson = False,
) -> None:
    """Where a run would find the secret KEY; masked unless --reveal."""
    _, found = _get(deployment, env, key, team=team, secret=True)
    _print_value(key, found, secret=True, reveal=reveal, as_json=as_json)


@secret_app.command("list")
@guarded
def secret_list(deployment: DeploymentOpt, env: EnvOpt = None, team: TeamOpt = False, as_json: AsJson = False) -> None:
    """The secrets stored for the namespace, masked."""
    ns = wiring.namespace(deployment, env)
    store = _store(team)
    _table([e for e in store.entries(ns) if e.secret], f"secrets of {ns} in {store.location}", as_json=as_json)


@secret_app.command("unset")
@guarded
def secret_unset(key: Key, deployment: DeploymentOpt, env: EnvOpt = None, team: TeamOpt = False) -> None:
    """Remove the secret KEY from the store."""
    config_unset(key, deployment, env, team)
