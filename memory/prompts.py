"""Prompt registry: role prompts with versions, a status (active, candidate, retired) and per-version metrics.

One active version per role at any time; versions are never deleted, so the history of what ran when stays
queryable for the prompt-evaluation jobs.
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from pydantic import BaseModel, Field

from memory.redact import redact_text
from memory.store import MemoryStore, now_utc, sql_str
from memory.versioned import Status, activation_rows, rollback_target
from memory.writer import WriterBase
from telco.errors import InvalidInput, NotFound

_ROLE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class PromptVersion(BaseModel):
    role: str
    version: int
    text: str
    status: Status
    metrics: dict[str, float] = Field(default_factory=dict)
    note: str | None = None
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None


def _pv(r: dict) -> PromptVersion:
    return PromptVersion(**{**{k: r.get(k) for k in PromptVersion.model_fields},
                            "metrics": json.loads(r.get("metrics") or "{}")})


class PromptRegistry:
    def __init__(self, store: MemoryStore, writer: WriterBase, *, clock=now_utc) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock

    def _rows(self, role: str) -> list[dict]:
        if not isinstance(role, str) or not _ROLE.match(role):
            raise InvalidInput(f"prompt role must be a lowercase name like 'planner', got {role!r}")
        rows = self.store.table("prompts").search().where(f"role = {sql_str(role)}").limit(100_000).to_list()
        return sorted(rows, key=lambda r: r["version"])

    def register(self, role: str, text: str, *, status: Status = "candidate", note: str | None = None) -> PromptVersion:
        """Add the next version for a role. status="active" also activates it (retiring the current one)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("a prompt needs non-empty text")
        if status not in ("active", "candidate", "retired"):
            raise InvalidInput(f"prompt status must be active, candidate or retired, got {status!r}")
        rows = self._rows(role)
        version = (rows[-1]["version"] + 1) if rows else 1
        now = self.clock()
        row = {"prompt_id": f"{role}@{version}", "role": role, "version": version, "text": redact_text(text),
               "status": "retired" if status == "retired" else "candidate", "metrics": "{}", "note": note,
               "created_at": now, "activated_at": None, "retired_at": now if status == "retired" else None}
        self.writer.upsert("prompts", [row])
        if status == "active":
            return self.activate(role, version)
        return _pv(row)

    def active(self, role: str) -> PromptVersion:
        rows = [r for r in self._rows(role) if r["status"] == "active"]
        if not rows:
            raise NotFound(f"role {role!r} has no active prompt")
        return _pv(rows[0])

    def get(self, role: str, version: int) -> PromptVersion:
        for r in self._rows(role):
            if r["version"] == version:
                return _pv(r)
        raise NotFound(f"role {role!r} has no prompt version {version}")

    def candidates(self, role: str) -> list[PromptVersion]:
        return [_pv(r) for r in self._rows(role) if r["status"] == "candidate"]

    def history(self, role: str) -> list[PromptVersion]:
        return [_pv(r) for r in self._rows(role)]

    def activate(self, role: str, version: int) -> PromptVersion:
        changed = activation_rows(self._rows(role), version, self.clock(), label=f"role {role!r}")
        if changed:
            self.writer.upsert("prompts", changed)
        return self.get(role, version)

    def retire(self, role: str, version: int) -> PromptVersion:
        row = next((r for r in self._rows(role) if r["version"] == version), None)
        if row is None:
            raise NotFound(f"role {role!r} has no prompt version {version}")
        if row["status"] == "active":
            raise InvalidInput(f"{role}@{version} is the active prompt; activate another version instead of "
                               "retiring it, so the role always has one")
        self.writer.upsert("prompts", [{**row, "status": "retired", "retired_at": self.clock()}])
        return self.get(role, version)

    def rollback(self, role: str) -> PromptVersion:
        return self.activate(role, rollback_target(self._rows(role), label=f"role {role!r}"))

    def record_metrics(self, role: str, version: int, metrics: dict[str, float]) -> PromptVersion:
        """Merge metric values into a version (e.g. {"pass_rate": 0.82, "n": 50}); later values replace earlier."""
        row = next((r for r in self._rows(role) if r["version"] == version), None)
        if row is None:
            raise NotFound(f"role {role!r} has no prompt version {version}")
        for k, v in metrics.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise InvalidInput(f"metric {k!r} must be a number, got {v!r}")
        merged = {**json.loads(row["metrics"] or "{}"), **{k: float(v) for k, v in metrics.items()}}
        self.writer.upsert("prompts", [{**row, "metrics": json.dumps(merged, sort_keys=True)}])
        return self.get(role, version)
