"""Asking for a missing setting on the terminal — and only there.

``interactive()`` is false in CI (``CI`` set), with ``HARMONY_NONINTERACTIVE=1``, or when stdin is not a
terminal; then no prompt is ever shown and a missing setting is an error instead of a hang. Prompts are
written to and read from ``/dev/tty``, so ``--json`` output on stdout stays clean; secrets are read without
echo (``getpass``).
"""

from __future__ import annotations

import getpass
import os
import sys

from harmony.config.model import Setting
from harmony.domain.config_store import Namespace


def interactive() -> bool:
    if os.environ.get("CI") or os.environ.get("HARMONY_NONINTERACTIVE") == "1":
        return False
    try:
        if not sys.stdin.isatty():
            return False
        with open("/dev/tty", "w"):  # a controlling terminal to ask on, not just a tty on stdin
            return True
    except (ValueError, OSError):  # stdin closed, or no controlling terminal
        return False


class TerminalPrompt:
    def ask(self, setting: Setting, namespace: Namespace, problem: str | None) -> str | None:
        with open("/dev/tty", "w", encoding="utf-8") as out, open("/dev/tty", encoding="utf-8") as inp:
            if problem:
                out.write(f"  not valid: expected {problem}\n")
            about = f" — {setting.description}" if setting.description else ""
            kind = f"{setting.type_name}, secret, not echoed" if setting.secret else setting.type_name
            out.write(f"{namespace} needs {setting.key} ({kind}){about}\n")
            out.flush()
            try:
                if setting.secret:
                    answer = getpass.getpass(f"{setting.key}: ", stream=out)
                else:
                    out.write(f"{setting.key}: ")
                    out.flush()
                    line = inp.readline()
                    if not line:
                        return None
                    answer = line.rstrip("\n")
            except EOFError:
                return None
        return answer or None
