"""Shared status rules for versioned artefacts (playbooks, prompts): one active version per name, history kept.

Activation rewrites the old and the new active rows in one upsert, which the writer commits as one merge_insert:
readers see either the old active version or the new one, never zero or two.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from telco.errors import InvalidInput, NotFound

Status = Literal["active", "candidate", "retired"]
STATUSES = ("active", "candidate", "retired")


def activation_rows(rows: list[dict], version: int, at: datetime, *, label: str) -> list[dict]:
    """Rows to upsert so that `version` becomes the one active row among `rows` (all versions of one name)."""
    target = next((r for r in rows if r["version"] == version), None)
    if target is None:
        raise NotFound(f"{label} has no version {version}")
    changed = []
    for r in rows:
        if r["version"] == version:
            if r["status"] != "active":
                changed.append({**r, "status": "active", "activated_at": at, "retired_at": None})
        elif r["status"] == "active":
            changed.append({**r, "status": "retired", "retired_at": at})
    return changed


def rollback_target(rows: list[dict], *, label: str) -> int:
    """The version that was active before the current one: the most recently retired row that had been active."""
    active = [r for r in rows if r["status"] == "active"]
    if not active:
        raise InvalidInput(f"{label} has no active version to roll back from")
    current = active[0]
    earlier = [r for r in rows if r["version"] != current["version"] and r.get("activated_at") is not None
               and r["status"] == "retired"]
    if not earlier:
        raise InvalidInput(f"{label} has no previously active version to roll back to")
    return max(earlier, key=lambda r: (r["retired_at"] or r["activated_at"], r["activated_at"]))["version"]
