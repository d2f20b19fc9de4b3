"""Every error the CLI can meet becomes one message here, with what to do next; exit status 1 (2: usage)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from harmony.cli.loading import describe_validation_error
from harmony.domain.errors import (
    ConfigError,
    ConfigStoreError,
    DeploymentError,
    HarmonyError,
    MissingProgramError,
    TopologyError,
)

stderr = Console(stderr=True)

_NEXT_STEP: list[tuple[type[BaseException], str]] = [
    (ConfigError, "provide the settings listed (nothing was applied); `harmony config --help` shows how"),
    (ConfigStoreError, "fix the store named above, then run again; nothing was applied or overwritten"),
    (DeploymentError, "fix the deployment file and run `harmony check` again"),
    (MissingProgramError, "install it (bash scripts/install installs everything); `harmony doctor` checks the rest"),
    (TopologyError, "make the topology reachable, then run again; nothing was applied"),
]


def report(e: BaseException) -> None:
    message = describe_validation_error(e) if isinstance(e, ValidationError) else str(e)
    # A deployment that fails to load wraps the error of its configuration: the cause decides the hint.
    hint = next((h for t, h in _NEXT_STEP if isinstance(e, t) or isinstance(e.__cause__, t)), "")
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        stderr.print(f"[dim]{hint}[/]")


def guarded[**P](fn: Callable[P, None]) -> Callable[P, None]:
    """Run a command, turning Harmony's own errors into a message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except (HarmonyError, ValidationError) as e:
            report(e)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            stderr.print("interrupted")
            sys.exit(130)

    return wrapper
