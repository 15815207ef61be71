"""The per-conversation context every tool call runs in."""
from __future__ import annotations

from dataclasses import dataclass, field

from telco.sandbox.state import Sandbox


@dataclass
class ToolContext:
    """Who is asking, about which conversation, against which operator backend.

    verified_customer_id is set by the identity tools and never by the caller's say-so elsewhere;
    failed_identity_attempts lives here because the limit applies per conversation.
    The planner keeps this between turns (it is plain data).
    """

    sandbox: Sandbox
    conversation_id: str
    verified_customer_id: str | None = None
    actor: str = "agent"  # "agent", "person" or "system"; recorded on what the tools create
    failed_identity_attempts: int = field(default=0)
