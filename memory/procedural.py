"""Procedural memory: playbooks as versioned records with outcome statistics.

Versions live in `procedures` (one row per name@version, one active per name); every run of a playbook is an
appended row in `procedure_runs`, and statistics are aggregated from those rows. Appending runs instead of
incrementing counters means concurrent replicas never lose an update and the learning jobs see every run.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Iterable, Literal

from pydantic import BaseModel, Field

from memory.store import MemoryStore, now_utc, sql_str
from memory.versioned import Status, activation_rows, rollback_target
from memory.writer import WriterBase
from telco.errors import InvalidInput, NotFound

RunOutcome = Literal["resolved", "escalated", "abandoned", "unresolved"]


class ProcedureVersion(BaseModel):
    name: str
    version: int
    title: str | None = None
    intents: list[str] = Field(default_factory=list)
    service_type: str | None = None
    status: Status
    body: dict
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    note: str | None = None


class StepStats(BaseModel):
    outcomes: dict[str, int] = Field(default_factory=dict)


class ProcedureStats(BaseModel):
    name: str
    version: int
    runs: int = 0
    resolved: int = 0
    escalated: int = 0
    abandoned: int = 0
    mean_turns: float | None = None
    resolution_rate: float | None = None
    steps: dict[str, StepStats] = Field(default_factory=dict)


def _pid(name: str, version: int) -> str:
    return f"{name}@{version}"


def _row_to_version(r: dict) -> ProcedureVersion:
    return ProcedureVersion(**{**{k: r[k] for k in ProcedureVersion.model_fields if k != "body" and k in r},
                               "body": json.loads(r["body"]), "intents": list(r.get("intents") or [])})


class ProceduralMemory:
    def __init__(self, store: MemoryStore, writer: WriterBase, *, clock=now_utc) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock

    @property
    def table(self):
        return self.store.table("procedures")

    def _versions(self, name: str) -> list[dict]:
        rows = self.table.search().where(f"name = {sql_str(name)}").limit(100_000).to_list()
        return sorted(rows, key=lambda r: r["version"])

    # -- versions ----------------------------------------------------------------------------------------------
    def add_version(self, body: dict, *, status: Status = "candidate", note: str | None = None) -> ProcedureVersion:
        """Store a playbook body (dict with id, version, title, intents, service). Identical to an existing
        version: that version is returned unchanged. The version number must be new otherwise."""
        for f in ("id", "version", "intents", "service"):
            if f not in body:
                raise InvalidInput(f"a playbook needs {f!r}; got keys {sorted(body)}")
        name, version = body["id"], int(body["version"])
        existing = {r["version"]: r for r in self._versions(name)}
        canonical = json.dumps(body, sort_keys=True)
        if version in existing:
            if json.dumps(json.loads(existing[version]["body"]), sort_keys=True) == canonical:
                return _row_to_version(existing[version])
            raise InvalidInput(f"playbook {name!r} version {version} already exists with different steps; "
                               "bump the version")
        now = self.clock()
        row = {"procedure_id": _pid(name, version), "name": name, "version": version, "title": body.get("title"),
               "intents": list(body["intents"]), "service_type": body["service"], "status": "candidate",
               "body": canonical, "created_at": now, "activated_at": None, "retired_at": None, "note": note}
        self.writer.upsert("procedures", [row])
        if status == "active":
            return self.activate(name, version)
        if status == "retired":
            self.writer.upsert("procedures", [{**row, "status": "retired", "retired_at": now}])
        return self.get(name, version)

    def load_playbooks(self, books: Iterable | None = None) -> list[str]:
        """Ingest telco/data/playbooks: each new name@version is stored, and activated when the name has no active
        version yet (a new version of a running playbook stays candidate until someone activates it)."""
        if books is None:
            from telco.playbooks import load_playbooks

            books = load_playbooks().values()
        added = []
        for book in books:
            body = book.model_dump(mode="json", exclude_none=True) if hasattr(book, "model_dump") else dict(book)
            rows = self._versions(body["id"])
            has_active = any(r["status"] == "active" for r in rows)
            known = any(r["version"] == int(body["version"]) for r in rows)
            self.add_version(body, status="candidate" if has_active else "active")
            if not known:
                added.append(_pid(body["id"], int(body["version"])))
        return added

    def get(self, name: str, version: int | None = None) -> ProcedureVersion:
        rows = self._versions(name)
        if version is None:
            rows = [r for r in rows if r["status"] == "active"]
            if not rows:
                raise NotFound(f"playbook {name!r} has no active version")
        else:
            rows = [r for r in rows if r["version"] == version]
            if not rows:
                raise NotFound(f"playbook {name!r} has no version {version}")
        return _row_to_version(rows[0])

    def versions(self, name: str) -> list[ProcedureVersion]:
        return [_row_to_version(r) for r in self._versions(name)]

    def lookup(self, intent: str, service_type: str | None = None) -> ProcedureVersion | None:
        """The active playbook for an intent (and service type when given), or None."""
        where = f"status = 'active' AND array_has(intents, {sql_str(intent)})"
        if service_type:
            where += f" AND service_type = {sql_str(service_type)}"
        rows = self.table.search().where(where).limit(100).to_list()
        if not rows:
            return None
        return _row_to_version(sorted(rows, key=lambda r: r["name"])[0])

    def activate(self, name: str, version: int) -> ProcedureVersion:
        rows = self._versions(name)
        changed = activation_rows(rows, version, self.clock(), label=f"playbook {name!r}")
        if changed:
            self.writer.upsert("procedures", changed)
        return self.get(name, version)

    def rollback(self, name: str) -> ProcedureVersion:
        """Re-activate the version that was active before the current one."""
        return self.activate(name, rollback_target(self._versions(name), label=f"playbook {name!r}"))

    # -- statistics --------------------------------------------------------------------------------------------
    def record_run(self, run_id: str, name: str, version: int, *, outcome: RunOutcome, turns: int,
                   step_outcomes: dict[str, str] | None = None, at: datetime | None = None) -> None:
        """Append one run; run_id makes a retried report count once."""
        if outcome not in ("resolved", "escalated", "abandoned", "unresolved"):
            raise InvalidInput(f"run outcome must be resolved, escalated, abandoned or unresolved, got {outcome!r}")
        if turns < 0:
            raise InvalidInput(f"turns must be >= 0, got {turns}")
        self.get(name, version)
        self.writer.append("procedure_runs", [{
            "run_id": run_id, "procedure_id": _pid(name, version), "name": name, "version": version,
            "outcome": outcome, "turns": turns, "step_outcomes": json.dumps(step_outcomes or {}, sort_keys=True),
            "at": at or self.clock(),
        }])

    def stats(self, name: str, version: int | None = None) -> ProcedureStats:
        v = version if version is not None else self.get(name).version
        rows = (self.store.table("procedure_runs").search().where(f"procedure_id = {sql_str(_pid(name, v))}")
                .limit(10_000_000).to_list())
        counts = Counter(r["outcome"] for r in rows)
        steps: dict[str, Counter] = defaultdict(Counter)
        for r in rows:
            for step, result in json.loads(r["step_outcomes"] or "{}").items():
                steps[step][result] += 1
        n = len(rows)
        return ProcedureStats(
            name=name, version=v, runs=n, resolved=counts["resolved"], escalated=counts["escalated"],
            abandoned=counts["abandoned"],
            mean_turns=(sum(r["turns"] or 0 for r in rows) / n) if n else None,
            resolution_rate=(counts["resolved"] / n) if n else None,
            steps={s: StepStats(outcomes=dict(c)) for s, c in sorted(steps.items())},
        )
