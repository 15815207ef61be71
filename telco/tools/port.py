"""How a playbook run reaches the tools: an async port, local (in-process sandbox) or remote (the OSS/BSS service).

The port also carries what the conversation has proved about identity, because identity tools change it and
every later write depends on it.
"""
from __future__ import annotations

from typing import Any, Protocol

from telco.sandbox.state import Sandbox
from telco.tools.context import ToolContext
from telco.tools.registry import call_tool


class ToolPort(Protocol):
    conversation_id: str
    verified_customer_id: str | None
    failed_identity_attempts: int

    async def call(self, name: str, args: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        ...


class LocalToolPort:
    """Runs tools against a Sandbox in this process (the playbook runner CLI, tests, the OSS/BSS service itself)."""

    def __init__(self, sandbox: Sandbox, conversation_id: str, verified_customer_id: str | None = None,
                 failed_identity_attempts: int = 0) -> None:
        self.ctx = ToolContext(sandbox=sandbox, conversation_id=conversation_id,
                               verified_customer_id=verified_customer_id,
                               failed_identity_attempts=failed_identity_attempts)

    @property
    def conversation_id(self) -> str:
        return self.ctx.conversation_id

    @property
    def verified_customer_id(self) -> str | None:
        return self.ctx.verified_customer_id

    @property
    def failed_identity_attempts(self) -> int:
        return self.ctx.failed_identity_attempts

    async def call(self, name: str, args: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        return call_tool(self.ctx, name, args, idempotency_key=idempotency_key)
