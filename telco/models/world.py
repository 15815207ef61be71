"""The whole OSS/BSS state as one serialisable record."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .billing import Bill, Credit, Dispute, PaymentRequest, Promotion
from .common import Model
from .customers import Customer
from .devices import Phone, Router
from .network import AccessNode, Area, Cell, Maintenance, Outage
from .plans import Plan
from .services import BroadbandService, MobileLine
from .work import Appointment, Handoff, Order, Ticket


class AppliedWrite(Model):
    """Ledger entry for an idempotent write: the same key returns this result instead of acting again."""

    key: str
    tool: str
    args_digest: str
    result: Any
    at: datetime


class World(Model):
    clock: datetime
    seed: int | None = None
    plans: dict[str, Plan] = {}
    areas: dict[str, Area] = {}
    cells: dict[str, Cell] = {}
    access_nodes: dict[str, AccessNode] = {}
    outages: dict[str, Outage] = {}
    maintenance: dict[str, Maintenance] = {}
    customers: dict[str, Customer] = {}
    lines: dict[str, MobileLine] = {}
    broadband: dict[str, BroadbandService] = {}
    phones: dict[str, Phone] = {}
    routers: dict[str, Router] = {}
    bills: dict[str, Bill] = {}
    promotions: dict[str, Promotion] = {}
    payment_requests: dict[str, PaymentRequest] = {}
    credits: dict[str, Credit] = {}
    disputes: dict[str, Dispute] = {}
    appointments: dict[str, Appointment] = {}
    tickets: dict[str, Ticket] = {}
    orders: dict[str, Order] = {}
    handoffs: dict[str, Handoff] = {}
    applied_writes: dict[str, AppliedWrite] = {}
    # Per-prefix counters so new record ids are deterministic for a given history.
    id_counters: dict[str, int] = {}
