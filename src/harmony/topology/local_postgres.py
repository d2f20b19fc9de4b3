"""``LocalPostgreSQL``: one PostgreSQL server on this machine (see ``postgres_host`` for a server on any host)."""

from harmony.topology.postgres_host import LocalPostgreSQL

__all__ = ["LocalPostgreSQL"]
