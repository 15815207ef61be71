"""Bills, line items, payments, credits and disputes."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from telco.models.common import Model, Money, PositiveMoney

BillStatus = Literal["draft", "issued", "awaiting_payment", "paid", "overdue", "disputed"]


class LineItem(Model):
    id: str
    description: str
    kind: Literal["plan", "usage", "roaming", "refuel", "device", "fee", "promotion", "credit"]
    amount: Money
    service_id: str | None = None
    disputed: bool = False


class Bill(Model):
    id: str
    customer_id: str
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    issued_on: date
    due_date: date
    status: BillStatus
    items: list[LineItem]

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal("0"))


class Promotion(Model):
    id: str
    customer_id: str
    description: str
    monthly_discount: PositiveMoney
    starts: str = Field(pattern=r"^\d{4}-\d{2}$")


class PaymentRequest(Model):
    id: str
    customer_id: str
    bill_id: str
    amount: PositiveMoney
    payment_method_id: str
    status: Literal["sent", "paid", "expired"] = "sent"
    created_at: datetime


class Credit(Model):
    id: str
    customer_id: str
    amount: PositiveMoney
    kind: Literal["goodwill", "correction", "outage"]
    reason: str
    bill_id: str | None = None
    approved_by: str  # "policy" for automatic credits, a person's id otherwise
    created_at: datetime
    # For correction credits: what was proved over-charged, so the same evidence is never credited twice.
    evidence: str | None = None


class Dispute(Model):
    id: str
    customer_id: str
    bill_id: str
    item_id: str
    reason: str
    status: Literal["open", "upheld", "rejected"] = "open"
    created_at: datetime
