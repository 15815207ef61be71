"""Records built from already-typed values without per-record pydantic validation (see _Fast for why)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from telco.models import (
    Address,
    ApnSettings,
    Bill,
    BroadbandService,
    Customer,
    LineItem,
    MobileLine,
    PaymentMethod,
    PaymentRequest,
    Phone,
    Promotion,
    Router,
    World,
)

_IMMUTABLE = (type(None), bool, int, float, str, tuple, frozenset, Decimal, date, datetime)


class _Fast:
    """Creates instances of one model from already-typed field values, without per-record validation.

    Why: a 100k-customer world holds over a million records; validating each one roughly doubles generation
    time. The values come from code that builds them with the right types, and the tests push a generated
    world through World.model_validate_json to prove it. Every instance shares one fields-set holding all field
    names (adding a name already present is a no-op), which saves ~0.7 KB per record.
    """

    __slots__ = ("cls", "fields_set", "n", "defaults")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls
        self.fields_set = set(cls.model_fields)
        self.n = len(self.fields_set)
        # Only immutable defaults may be filled in: a shared list or model would alias between records.
        self.defaults = {
            name: f.default
            for name, f in cls.model_fields.items()
            if not f.is_required() and f.default_factory is None and isinstance(f.default, _IMMUTABLE)
        }

    def __call__(self, **values: Any) -> Any:
        if len(values) != self.n:
            self._complete(values)
        m = self.cls.__new__(self.cls)
        object.__setattr__(m, "__dict__", values)
        object.__setattr__(m, "__pydantic_fields_set__", self.fields_set)
        object.__setattr__(m, "__pydantic_extra__", None)
        object.__setattr__(m, "__pydantic_private__", None)
        return m

    def _complete(self, values: dict[str, Any]) -> None:
        unknown = values.keys() - self.fields_set
        if unknown:
            raise TypeError(f"{self.cls.__name__} has no fields {sorted(unknown)}")
        for name in self.fields_set - values.keys():
            if name not in self.defaults:
                raise TypeError(f"{self.cls.__name__}.{name} must be given explicitly (required or mutable default)")
            values[name] = self.defaults[name]
        # Keep field order equal to the model's so dumps match validated records byte for byte.
        ordered = {name: values[name] for name in self.cls.model_fields}
        values.clear()
        values.update(ordered)


_customer, _address, _method = _Fast(Customer), _Fast(Address), _Fast(PaymentMethod)
_line, _phone, _apn = _Fast(MobileLine), _Fast(Phone), _Fast(ApnSettings)
_broadband, _router = _Fast(BroadbandService), _Fast(Router)
_bill, _item, _promotion, _request = _Fast(Bill), _Fast(LineItem), _Fast(Promotion), _Fast(PaymentRequest)
_world = _Fast(World)
