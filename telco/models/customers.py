"""Customers, their addresses and payment methods."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field

from telco.models.common import Model, Money, PhoneNumber


class Address(Model):
    street: str
    city: str
    postcode: str
    area_id: str


class PaymentMethod(Model):
    id: str
    kind: Literal["card", "bank_account", "wallet"]
    # Only the last four digits are ever stored; the full number never enters the system.
    last4: str = Field(pattern=r"^\d{4}$")
    label: str
    default: bool = False
    expires: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")


class Customer(Model):
    id: str = Field(pattern=r"^C\d{4,9}$")
    name: str
    date_of_birth: date
    phone: PhoneNumber
    email: str
    address: Address
    status: Literal["active", "suspended", "closed"] = "active"
    payment_methods: list[PaymentMethod] = []
    goodwill_credit_used_this_year: Money = Decimal("0")
    segment: Literal["consumer", "small_business"] = "consumer"
