"""Sub-commands imported only when they run.

``harmony apply`` on a no-op deployment should cost little more than the interpreter's start-up; importing
the agent, the fleet, the dashboard and PostgreSQL drivers for every command cost more than half a second.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import typer
from typer import _click as click  # typer vendors click; its groups take these types, not the click package's
from typer.core import TyperGroup

type Loader = Callable[[], click.Command]


def group(module: str, attr: str) -> Loader:
    """A sub-command group: the ``typer.Typer`` named ``attr`` in ``module``."""

    def load() -> click.Command:
        sub: typer.Typer = getattr(import_module(module), attr)
        return typer.main.get_group(sub)

    return load


def command(module: str, attr: str) -> Loader:
    """A single sub-command: the function named ``attr`` in ``module``."""

    def load() -> click.Command:
        holder = typer.Typer()
        holder.command()(getattr(import_module(module), attr))
        return typer.main.get_command(holder)

    return load


class LazyGroup(TyperGroup):
    """The top-level group: its own commands, plus ``LAZY`` ones loaded by name on first use."""

    LAZY: dict[str, Loader] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.LAZY if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.LAZY:
            loaded = self.LAZY[cmd_name]()
            loaded.name = cmd_name
            self.add_command(loaded)
        return super().get_command(ctx, cmd_name)
