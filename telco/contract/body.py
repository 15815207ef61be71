"""The base of every HTTP body: unknown fields are refused, so a typo in a client's request is a 422, not ignored.

Numbers in request bodies are JSON numbers: `JsonInt` takes an integer (or a float with no fraction, which JSON
Schema counts as an integer) and refuses `true`/`false` and numeric strings, which pydantic's lax mode would take.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
