"""Who is calling: the principal behind an API key, resolved once at the edge and passed to every agent."""
from __future__ import annotations

from typing import Literal

from telco.contract.messages import Msg


class Principal(Msg):
    """The caller behind an API key. A customer key is bound to one customer and sees only that customer."""

    key_id: str
    role: Literal["customer", "operations", "admin"]
    customer_id: str | None = None
