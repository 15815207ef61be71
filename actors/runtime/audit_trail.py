"""The OSS/BSS service's side of the audit log: one record per attempt at a write tool, shaped from the call.

Every write passes through OssBss.call_tool (the flows, the model's proposals, hand-overs, tickets), so recording
there misses none. The record is appended before the call returns, so a write the caller saw has its row; when
memory cannot take it, the row is kept and sent with the next one (its id makes a second append of it a no-op).
"""
from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable

from telco.contract.audit import SYSTEM_ACTOR, AuditRecord, AuditResult
from telco.contract.principal import Principal
from telco.tools import TOOLS
from telco.tools.write_rules import rules_of

log = logging.getLogger(__name__)
REFUSALS = ("policy_denied", "identity_not_verified", "forbidden")  # error codes that are a rule saying no
RECENT = 1000  # records kept in the process as well (an OssBss without memory: tools, tests)


def is_write(tool: str) -> bool:
    spec = TOOLS.get(tool)
    return spec is not None and spec.kind == "write"


def judged(error: dict[str, Any] | None) -> tuple[AuditResult, str | None, str | None]:
    """(result, the refusing rule, message) of a finished call from its error (None: applied)."""
    if error is None:
        return "ok", None, None
    rule = (error.get("details") or {}).get("rule")
    refused = error.get("code") in REFUSALS or rule is not None
    return ("refused" if refused else "error"), (str(rule) if rule else None), str(error.get("message", ""))


class AuditTrail:
    """Shapes and appends audit records; `log` is a memory.audit.AuditLog (None: records stay in `recent` only)."""

    def __init__(self, log: Any = None, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.log, self.clock = log, clock
        self.recent: deque[AuditRecord] = deque(maxlen=RECENT)
        self.unsent: list[AuditRecord] = []

    async def record(self, *, principal: Principal | None, conversation_id: str, customer_id: str | None,
                     tool: str, args: dict[str, Any], idempotency_key: str | None, result: AuditResult,
                     rule: str | None = None, message: str | None = None) -> AuditRecord:
        from memory.audit import audit_id

        rec = AuditRecord(
            audit_id=audit_id(conversation_id, idempotency_key, result), at=self.clock(),
            key_id=principal.key_id if principal else SYSTEM_ACTOR, role=principal.role if principal else SYSTEM_ACTOR,
            conversation_id=conversation_id, customer_id=customer_id, tool=tool, args=dict(args or {}),
            policy_rules=rules_of(tool), policy_rule=rule, result=result, message=message,
            idempotency_key=idempotency_key)
        self.recent.append(rec)
        if self.log is not None:
            batch, self.unsent = [*self.unsent, rec], []
            try:
                await self.log.append(batch)
            except Exception:  # noqa: BLE001 - the write itself stands; its row waits for the next append
                log.exception("audit rows not yet stored (%d); retried with the next write", len(batch))
                self.unsent = batch
        return rec
