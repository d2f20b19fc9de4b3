"""Scores for PostgreSQL."""

from harmony.modules.postgres.server import Database, PostgreSQLServer, Role

__all__ = ["Database", "PostgreSQLServer", "Role"]
