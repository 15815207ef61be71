"""GET /v1/ops/audit: the audit log of account writes (who, what, under which rule, with which result), filtered.

Read straight from memory's append-only `audit` table (memory/audit.py); the OSS/BSS service writes it. For the
people who answer for account changes: operations and admin keys only.
"""
# No `from __future__ import annotations`: FastAPI reads the route annotations as real objects.
import asyncio
import re
from datetime import datetime
from typing import Annotated, Any, Awaitable, Callable

from fastapi import APIRouter, Depends, Query
from pydantic import BeforeValidator

from serve.auth import require_operations_or_admin
from telco.contract.audit import MAX_AUDIT_PAGE, AuditQuery, AuditRecord, AuditResult
from telco.contract.principal import Principal

Ident = r"^[A-Za-z0-9_-]{1,64}$"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$")


def _instant(value: Any) -> Any:
    # Only an ISO 8601 instant with its timezone: pydantic would also read "0.5" as seconds since 1970.
    if isinstance(value, str) and not _ISO.match(value):
        raise ValueError("an ISO 8601 date and time with a timezone, e.g. 2026-12-07T10:00:00Z")
    return value


Instant = Annotated[datetime, BeforeValidator(_instant)]


def audit_router(memory_uri: str, caller: Callable[..., Awaitable[Principal]],
                 responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    async def operations(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_operations_or_admin(principal)

    router = APIRouter(prefix="/v1/ops", tags=["operations"], responses=responses)
    log: dict[str, Any] = {}

    def read(q: AuditQuery) -> list[AuditRecord]:
        if "audit" not in log:  # opened on first use: most ingress replicas never serve this route
            from memory.audit import AuditLog
            from memory.store import connect

            log["audit"] = AuditLog(connect(memory_uri))
        return log["audit"].query(q)

    @router.get("/audit", response_model=list[AuditRecord],
                summary="account writes, newest first: who asked, the tool and arguments, the rule, the result")
    async def audit(_: Annotated[Principal, Depends(operations)],
                    conversation_id: str | None = Query(default=None, pattern=Ident),
                    customer_id: str | None = Query(default=None, pattern=r"^C\d{4,9}$"),
                    tool: str | None = Query(default=None, pattern=r"^[a-z_]{1,64}$"),
                    result: AuditResult | None = None,
                    since: Instant | None = Query(default=None, description="from this instant (with a timezone)"),
                    until: Instant | None = Query(default=None, description="before this instant (with a timezone)"),
                    limit: int = Query(default=100, ge=1, le=MAX_AUDIT_PAGE)) -> list[AuditRecord]:
        q = AuditQuery(conversation_id=conversation_id, customer_id=customer_id, tool=tool, result=result,
                       since=since, until=until, limit=limit)
        return await asyncio.to_thread(read, q)

    return router
