"""Writes held while their back-end system is down, applied in the order they came, each once, when it is back.

Only the writes telco/data/backends.yaml lists under `queued_while_down` (a ticket can wait; a conversation should
not fail for it). The OSS/BSS service owns one outbox next to the state it applies to; the caller gets a receipt
saying the write is queued, and the write keeps its idempotency key, so applying it later cannot apply it twice.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from pydantic import BaseModel

from telco.contract.messages import Identity
from telco.contract.principal import Principal

log = logging.getLogger(__name__)


class QueuedWrite(BaseModel):
    queued_id: str
    system: str
    conversation_id: str
    identity: Identity
    tool: str
    args: dict[str, Any]
    idempotency_key: str | None = None
    principal: Principal | None = None  # who asked: the audit row of the applied write names them too


class Outbox:
    def __init__(self) -> None:
        self.pending: list[QueuedWrite] = []
        self._count = 0

    def hold(self, system: str, conversation_id: str, identity: Identity, tool: str, args: dict[str, Any],
             idempotency_key: str | None, principal: Principal | None = None) -> dict[str, Any]:
        """Queue the write; the receipt is the tool's result meanwhile."""
        self._count += 1
        write = QueuedWrite(queued_id=f"Q-{self._count:05d}", system=system, conversation_id=conversation_id,
                            identity=identity, tool=tool, args=args, idempotency_key=idempotency_key,
                            principal=principal)
        self.pending.append(write)
        return {"status": "queued", "queued_id": write.queued_id, "system": system,
                "message": f"the {system.upper()} system is down; this is queued and applied once it is back"}

    async def release(self, is_up: Callable[[str], bool],
                      apply: Callable[[QueuedWrite], Awaitable[dict[str, Any]]]) -> int:
        """Apply the queued writes whose system is up again, oldest first; returns how many were applied."""
        waiting: list[QueuedWrite] = []
        done = 0
        for write in self.pending:
            if not is_up(write.system):
                waiting.append(write)
                continue
            outcome = await apply(write)
            if outcome.get("error"):
                log.warning("queued %s %s refused when applied: %s", write.tool, write.queued_id, outcome["error"])
            done += 1
        self.pending = waiting
        return done

    def clear(self) -> None:
        """A new world: writes meant for the old one are dropped."""
        self.pending = []
