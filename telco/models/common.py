"""Shared field types: identifiers, money, phone numbers, dates."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalise_phone(raw: str) -> str:
    """Accept E.164 with optional spaces, dashes, dots or parentheses; reject anything else."""
    compact = re.sub(r"[\s\-().]", "", raw or "")
    if not _E164.match(compact):
        raise ValueError(
            f"malformed phone number {raw!r}: expected international format like +15551230001"
        )
    return compact


PhoneNumber = Annotated[str, AfterValidator(normalise_phone)]
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class Model(BaseModel):
    """Base for domain records: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
