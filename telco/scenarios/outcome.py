"""What a conversation did, as seen from outside: the same record whichever runner drove it."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Exchange(BaseModel):
    """One thing said or done in the conversation, for the printed transcript."""

    who: str  # "customer" | "system" | "tool" | "customer_step"
    text: str
    data: Any = None


class Outcome(BaseModel):
    scenario_id: str
    identified_customer_id: str | None = None
    informed: list[str] = []
    writes: list[str] = []  # write tools that took effect, in order
    transcript: list[Exchange] = []
    turns: int = 0
    error: str | None = None
    # Hand-overs the conversation made (read from the world at the end): queue, reason, called_for.
    handoffs: list[dict[str, Any]] = []
    # How many times the system put each question (by slot) to the customer, re-asks included.
    asked: dict[str, int] = {}
