"""The base of every HTTP body: unknown fields are refused, so a typo in a client's request is a 422, not ignored."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
