"""Scores for local users and groups."""

from harmony.modules.users.group import Group
from harmony.modules.users.user import User

__all__ = ["Group", "User"]
