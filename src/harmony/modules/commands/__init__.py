"""A Score for running programs, with idempotence guards."""

from harmony.modules.commands.command import Command, GuardedCommands, sh

__all__ = ["Command", "GuardedCommands", "sh"]
