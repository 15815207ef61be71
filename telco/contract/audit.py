"""The audit log's record: one row per attempt at an account write, kept apart from the turn traces.

Traces say what a turn did for the customer; the audit log says who changed what on the operator's systems, for
people who answer for those changes. A row is written by the OSS/BSS service around each write tool call (the one
place every write passes), appended and never updated (memory table `audit`).

Results:
- ok: the write was applied; refused: a policy rule or precondition said no (`policy_rule` names it);
- error: anything else stopped it (bad arguments, unknown record, a key reused with other arguments);
- queued: its system was down and the write waits in the outbox; a second row (ok/refused/error) follows when it
  is applied;
- replayed: the idempotency key was already applied, so the stored result was returned and nothing was written
  again. An idempotency key therefore has at most one `ok` row, however often the write is retried.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AuditResult = Literal["ok", "refused", "error", "queued", "replayed"]
AUDIT_RESULTS: tuple[str, ...] = ("ok", "refused", "error", "queued", "replayed")
MAX_AUDIT_PAGE = 1000
SYSTEM_ACTOR = "system"  # key_id and role of a write no API key asked for (a drill, a job)


class AuditRecord(BaseModel):
    """Who asked for which write, under which rules, and what became of it."""

    model_config = ConfigDict(extra="forbid")

    audit_id: str
    at: datetime
    key_id: str = Field(description="the API key's name behind the request; 'system' when no key asked")
    role: str = Field(description="customer, operations, admin, or system")
    conversation_id: str
    customer_id: str | None = Field(default=None, description="the verified customer the write acted for")
    tool: str
    args: dict[str, Any] = Field(description="the tool's arguments, redacted like everything kept in memory")
    policy_rules: list[str] = Field(default=[], description="the policy rules this tool's write is checked against")
    policy_rule: str | None = Field(default=None, description="the rule that refused it (result 'refused')")
    result: AuditResult
    message: str | None = Field(default=None, description="why it was refused or failed; what a queued write waits for")
    idempotency_key: str | None = None


class AuditQuery(BaseModel):
    """Filters of GET /v1/ops/audit; every one is optional and they combine with AND."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = None
    customer_id: str | None = None
    tool: str | None = None
    result: AuditResult | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=MAX_AUDIT_PAGE)
