"""Plan helper: the changes between two keyed collections (records, reservations, backends, rules).

Each side maps a stable key (what identifies the item) to a one-line description (what it is). A key only
on the right is created, only on the left deleted, and on both with another description updated.
"""

from __future__ import annotations

from collections.abc import Mapping

from harmony.domain.change import Change


def keyed_changes(what: str, before: Mapping[str, str], after: Mapping[str, str]) -> list[Change]:
    """Changes turning ``before`` into ``after``, ``what`` prefixing each target (``dns record``)."""
    changes: list[Change] = []
    for key in sorted(before.keys() - after.keys()):
        changes.append(Change.delete(f"{what} {key}", f"- {before[key]}\n"))
    for key in sorted(after.keys() - before.keys()):
        changes.append(Change.create(f"{what} {key}", f"+ {after[key]}\n"))
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            changes.append(Change.update(f"{what} {key}", f"- {before[key]}\n+ {after[key]}\n"))
    return changes


def field_changes(target: str, before: Mapping[str, object], after: Mapping[str, object]) -> list[Change]:
    """One update listing every field whose value differs (``lease_time 3600 -> 7200``), or nothing."""
    lines = [f"{k}: {before.get(k)} -> {after.get(k)}\n" for k in sorted(after) if before.get(k) != after.get(k)]
    return [Change.update(target, "".join(lines))] if lines else []
