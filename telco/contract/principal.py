"""Who is calling: the principal behind an API key, resolved once at the edge and passed to every agent."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Principal(BaseModel):
    """The caller behind an API key. A customer key is bound to one customer and sees only that customer.

    It travels with the requests an agent makes on the caller's behalf (telco.contract.messages imports it, so it
    does not import that module), down to the OSS/BSS service, where the audit log names who asked for a write.
    """

    model_config = ConfigDict(extra="forbid")

    key_id: str
    role: Literal["customer", "operations", "admin"]
    customer_id: str | None = None
