"""Versioned intent example sets: what the intent classifier serves.

A set is a version number, its (intent, text) rows and the calibration fitted on exactly those rows, stored as one
immutable row of `intent_sets`. One set is active; every Intent replica follows it (actors/agents/intent_source.py)
by reading the active version, a one-row query. A learning run publishes a new set only through the gate in
jobs/intent/publish.py; bootstrap publishes version 1 from the catalogue. Activation and rollback reuse the
playbook/prompt rules (memory/versioned.py): one upsert rewrites the old and new active rows, so a reader sees one
active set, never zero or two.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from memory.store import MemoryStore, now_utc
from memory.versioned import Status, activation_rows, rollback_target
from memory.writer import WriterBase
from telco.errors import InvalidInput, NotFound

TABLE = "intent_sets"
LABEL = "the intent example set"


class IntentSet(BaseModel):
    version: int
    status: Status
    examples: list[tuple[str, str]] = Field(default_factory=list)
    calibration: dict[str, Any] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None


def _set(r: dict, *, with_examples: bool = True) -> IntentSet:
    return IntentSet(
        version=r["version"], status=r["status"],
        examples=[tuple(x) for x in json.loads(r["examples"])] if with_examples and r.get("examples") else [],
        calibration=json.loads(r["calibration"]) if r.get("calibration") else None,
        metrics=json.loads(r.get("metrics") or "{}"), note=r.get("note"), created_at=r["created_at"],
        activated_at=r.get("activated_at"), retired_at=r.get("retired_at"))


class IntentSets:
    def __init__(self, store: MemoryStore, writer: WriterBase | None = None, *, clock=now_utc) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock

    def _rows(self, columns: list[str] | None = None) -> list[dict]:
        q = self.store.table(TABLE).search()
        if columns:
            q = q.select(columns)
        return sorted(q.limit(100_000).to_list(), key=lambda r: r["version"])

    def _write(self, rows: list[dict]) -> None:
        if self.writer is None:
            raise InvalidInput("this IntentSets reads only; publishing needs a writer")
        self.writer.upsert(TABLE, rows)

    # -- reading ---------------------------------------------------------------------------------------------
    def active_version(self) -> int | None:
        """The version replicas should serve: the cheap check (one row, two columns)."""
        rows = (self.store.table(TABLE).search().where("status = 'active'").select(["version"])
                .limit(2).to_list())
        return max((r["version"] for r in rows), default=None)

    def active(self) -> IntentSet:
        rows = self.store.table(TABLE).search().where("status = 'active'").limit(2).to_list()
        if not rows:
            raise NotFound(f"{LABEL} has no active version; run the memory bootstrap (telco up or make run)")
        return _set(max(rows, key=lambda r: r["version"]))

    def get(self, version: int) -> IntentSet:
        rows = self.store.table(TABLE).search().where(f"version = {int(version)}").limit(1).to_list()
        if not rows:
            raise NotFound(f"{LABEL} has no version {version}")
        return _set(rows[0])

    def history(self) -> list[IntentSet]:
        """Every version, oldest first, without its rows (the counts are in metrics)."""
        cols = ["version", "status", "calibration", "metrics", "note", "created_at", "activated_at", "retired_at"]
        return [_set(r, with_examples=False) for r in self._rows(cols)]

    # -- writing ---------------------------------------------------------------------------------------------
    def add(self, examples: Sequence[tuple[str, str]], calibration: dict[str, Any] | None, *,
            activate: bool = False, note: str | None = None, metrics: dict[str, Any] | None = None) -> IntentSet:
        """Store the next version (a candidate, or refused: never activated); activate=True makes it active."""
        rows = [tuple(x) for x in examples]
        if not rows:
            raise InvalidInput("an intent example set needs at least one example")
        existing = self._rows(["version"])
        version = existing[-1]["version"] + 1 if existing else 1
        now = self.clock()
        row = {"set_id": f"v{version}", "version": version, "status": "candidate",
               "examples": json.dumps([list(x) for x in rows]),
               "calibration": json.dumps(calibration) if calibration is not None else None,
               "metrics": json.dumps({"examples": len(rows), **(metrics or {})}, sort_keys=True), "note": note,
               "created_at": now, "activated_at": None, "retired_at": None}
        self._write([row])
        return self.activate(version) if activate else _set(row)

    def refuse(self, version: int, metrics: dict[str, Any]) -> IntentSet:
        """A candidate the gate turned down: retired without ever being active, so no rollback returns to it."""
        row = self._row(version)
        if row["status"] == "active":
            raise InvalidInput(f"{LABEL} v{version} is active; roll back instead of refusing it")
        merged = {**json.loads(row["metrics"] or "{}"), **metrics}
        self._write([{**row, "status": "retired", "retired_at": self.clock(),
                      "metrics": json.dumps(merged, sort_keys=True)}])
        return self.get(version)

    def record(self, version: int, metrics: dict[str, Any]) -> IntentSet:
        row = self._row(version)
        merged = {**json.loads(row["metrics"] or "{}"), **metrics}
        self._write([{**row, "metrics": json.dumps(merged, sort_keys=True)}])
        return self.get(version)

    def activate(self, version: int) -> IntentSet:
        changed = activation_rows(self._rows(), version, self.clock(), label=LABEL)
        if changed:
            self._write(changed)
        return self.get(version)

    def rollback(self) -> IntentSet:
        """Reactivate the set that was active before the current one."""
        return self.activate(rollback_target(self._rows(), label=LABEL))

    def _row(self, version: int) -> dict:
        rows = self.store.table(TABLE).search().where(f"version = {int(version)}").limit(1).to_list()
        if not rows:
            raise NotFound(f"{LABEL} has no version {version}")
        return rows[0]


def publish_catalogue(store: MemoryStore, writer: WriterBase, examples: Sequence[tuple[str, str]],
                      calibration: dict[str, Any]) -> IntentSet | None:
    """Version 1 from the catalogue, once: a memory that already has sets keeps them (and what was learned)."""
    sets = IntentSets(store, writer)
    if sets._rows(["version"]):
        return None
    return sets.add(examples, calibration, activate=True, note="the catalogue's examples (bootstrap)",
                    metrics={"source": "catalogue"})
