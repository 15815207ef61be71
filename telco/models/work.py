"""Work the operator does for a customer: appointments, tickets, orders, handoffs to people."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from telco.models.common import Model


class Appointment(Model):
    id: str
    customer_id: str
    service_id: str
    kind: Literal["technician_visit", "installation"] = "technician_visit"
    slot_start: datetime
    slot_end: datetime
    reason: str
    status: Literal["booked", "done", "cancelled"] = "booked"


class Ticket(Model):
    id: str
    customer_id: str | None
    category: Literal["technical", "billing", "account", "complaint", "outage", "other"]
    subject: str
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    status: Literal["open", "pending", "closed"] = "open"
    created_at: datetime
    details: dict[str, Any] = {}


class Order(Model):
    id: str
    customer_id: str
    kind: Literal["plan_change", "move_service", "new_service", "firmware_update"]
    service_id: str
    details: dict[str, Any]
    status: Literal["placed", "completed", "cancelled"] = "placed"
    created_at: datetime


class Handoff(Model):
    id: str
    customer_id: str | None
    reason: str
    summary: str
    queue: Literal["support", "billing", "retention", "technical", "complaints"] = "support"
    created_at: datetime
    context: dict[str, Any] = {}
    # The queue's own lifecycle (GET /v1/handoffs): waiting, taken by a person, done.
    status: Literal["queued", "claimed", "resolved"] = "queued"
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: Literal["resolved", "unresolved"] | None = None
    note: str | None = None
