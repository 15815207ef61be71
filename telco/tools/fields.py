"""Argument field types for the tools: each rejects bad input with a message that says what is wrong."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from telco.models import normalise_phone

_ISO_DATE_LEN = len("YYYY-MM-DD")


def _iso_date(value: Any) -> date:
    # pydantic's lax mode would also take unix timestamps and datetimes; a tool argument must be one exact form.
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    text = value.strip() if isinstance(value, str) else None
    if text is None or len(text) != _ISO_DATE_LEN or text[4] != "-" or text[7] != "-":
        raise ValueError(f"date must be in ISO format YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date (ISO format YYYY-MM-DD)") from None


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"amount must be a number, got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"amount must be a number, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount must be positive, got {value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"amount has at most 2 decimal places, got {value!r}")
    return amount.quantize(Decimal("0.01"))


def _gigabytes(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"gigabytes must be a number, got {value!r}")
    try:
        gb = float(value)
    except ValueError:
        raise ValueError(f"gigabytes must be a number, got {value!r}") from None
    if not gb > 0 or gb == float("inf"):
        raise ValueError(f"gigabytes must be positive, got {value!r}")
    return gb


def _phone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"phone number must be text like +15551230001, got {value!r}")
    return normalise_phone(value)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
Gigabytes = Annotated[float, BeforeValidator(_gigabytes)]
PhoneArg = Annotated[str, BeforeValidator(_phone)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Args(BaseModel):
    """Base for tool arguments: an unknown argument is an error (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(Args):
    pass
