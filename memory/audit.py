"""The audit log in memory: append-only rows (table `audit`), written through the single writer, read with filters.

The table refuses upserts and deletes (TableSpec.append_only, enforced by the writer), so a row once written is
never changed. Row ids are chosen so that a retried append cannot double a row: a final result of one
idempotency key has one id (`<key>` + result), so a refused write that is retried and refused again is one row,
and an applied write has one `ok` row (a replay of it is recorded as `replayed`, telco/contract/audit.py).
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any

from memory.redact import redact
from memory.store import MemoryStore, sql_str, sql_ts
from memory.writer import Op, WriterBase
from telco.contract.audit import AuditQuery, AuditRecord

TABLE = "audit"


def audit_id(conversation_id: str, idempotency_key: str | None, result: str) -> str:
    """Deterministic for a keyed write's queued and final rows (a retried append is a no-op); random otherwise."""
    if idempotency_key is None or result == "replayed":
        return f"A-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{conversation_id}\x00{idempotency_key}\x00{result}".encode()).hexdigest()
    return f"A-{digest[:32]}"


def _utc(value: datetime | None) -> datetime | str | None:
    """The instant in UTC; a valid local time beyond UTC's range (year 1 at +14:00, year 9999 at -12:00) is a bound
    before or after every row, not an error."""
    if value is None:
        return None
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        return "before_all" if value.year == 1 else "after_all"


def to_row(record: AuditRecord) -> dict[str, Any]:
    row = record.model_dump()
    # The arguments are redacted here, at memory's write boundary, like turns and episodes.
    row["args"] = json.dumps(redact(record.args), sort_keys=True, default=str)
    return row


def from_row(row: dict[str, Any]) -> AuditRecord:
    data = {k: row.get(k) for k in AuditRecord.model_fields}
    data["args"] = json.loads(row["args"]) if row.get("args") else {}
    data["policy_rules"] = list(row.get("policy_rules") or [])
    return AuditRecord.model_validate(data)


class AuditLog:
    """Appends audit records (through the writer) and lists them (straight from the table)."""

    def __init__(self, store: MemoryStore, writer: WriterBase | None = None) -> None:
        """`writer`: None for a reader (the operations route), which never appends."""
        self.store, self.writer = store, writer

    async def append(self, records: list[AuditRecord]) -> None:
        if records:
            if self.writer is None:
                raise RuntimeError("this AuditLog reads only: it was opened without a writer")
            await self.writer.apply_async([Op(table=TABLE, kind="append", rows=[to_row(r) for r in records])])

    def query(self, q: AuditQuery) -> list[AuditRecord]:
        """Rows matching every filter given, newest first."""
        where = [f"{col} = {sql_str(value)}" for col, value in (
            ("conversation_id", q.conversation_id), ("customer_id", q.customer_id), ("tool", q.tool),
            ("result", q.result)) if value is not None]
        since, until = _utc(q.since), _utc(q.until)
        if since == "after_all" or until == "before_all":
            return []  # an empty window: later than any instant there is, or earlier
        if isinstance(since, datetime):
            where.append(f"at >= {sql_ts(since)}")
        if isinstance(until, datetime):
            where.append(f"at < {sql_ts(until)}")
        search = self.store.table(TABLE).search()
        if where:
            search = search.where(" AND ".join(where))
        # Newest first needs every match in hand: LanceDB returns rows in storage order, not by time.
        rows = search.limit(None).to_list()
        rows.sort(key=lambda r: (r["at"], r["audit_id"]), reverse=True)
        return [from_row(r) for r in rows[:q.limit]]


def local_audit(memory_uri: str) -> AuditLog:
    """An AuditLog with an in-process writer (the in-process system, jobs, tests)."""
    from memory.store import connect
    from memory.writer import LocalWriter

    store = connect(memory_uri)
    return AuditLog(store, LocalWriter(store))


def ray_audit(memory_uri: str) -> AuditLog:
    """An AuditLog whose appends go to the cluster's one writer actor of the audit group."""
    from memory.store import connect
    from memory.writer import RayWriter

    return AuditLog(connect(memory_uri), RayWriter(memory_uri))
