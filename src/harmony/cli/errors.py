"""Every error the CLI can meet becomes one message here, with what to do next; exit status 1 (2: usage)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.exceptions import TyperException

from harmony.cli.loading import describe_validation_error
from harmony.cli.signals import Interrupted
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
    # a lone surrogate (from an undecodable path or argument) cannot be written to a UTF-8 terminal
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    # A deployment that fails to load wraps the error of its configuration: the cause decides the hint.
    hint = next((h for t, h in _NEXT_STEP if isinstance(e, t) or isinstance(e.__cause__, t)), "")
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        stderr.print(f"[dim]{hint}[/]")


DEBUG = os.environ.get("HARMONY_DEBUG", "") not in ("", "0")


def guarded[**P](fn: Callable[P, None]) -> Callable[P, None]:
    """Run a command, turning every error into one message and an exit status: 1, or 128 + the signal that
    interrupted it. Only ``--debug`` shows a traceback (of an error Harmony did not expect)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Interrupted as e:
            report(e)
            sys.exit(e.exit_status)
        except (HarmonyError, ValidationError) as e:
            report(e)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            stderr.print("interrupted", highlight=False)
            sys.exit(130)
        except (typer.Exit, typer.Abort, TyperException, SystemExit):  # typer's usage errors are TyperExceptions
            raise
        except Exception as e:
            if DEBUG:
                raise
            report(_Unexpected(e))
            raise typer.Exit(1) from None

    return wrapper


class _Unexpected(HarmonyError):
    def __init__(self, e: Exception) -> None:
        super().__init__(
            f"unexpected {type(e).__name__}: {e} (a bug in Harmony; rerun with --debug for the traceback and report it)"
        )
