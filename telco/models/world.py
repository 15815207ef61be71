"""The whole OSS/BSS state as one serialisable record."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import model_validator

from telco.models.billing import Bill, Credit, Dispute, PaymentRequest, Promotion
from telco.models.common import Model
from telco.models.customers import Customer
from telco.models.devices import RADIO_RANK, Phone, Router
from telco.models.network import AccessNode, Area, Cell, Maintenance, Outage, RoamingPartner
from telco.models.plans import Plan
from telco.models.services import BroadbandService, MobileLine
from telco.models.work import Appointment, Handoff, Order, Ticket


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
    # Partner networks abroad by country code; a country without one has no roaming agreement, so no network.
    roaming_partners: dict[str, RoamingPartner] = {}
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

    @model_validator(mode="before")
    @classmethod
    def _areas_without_radio(cls, data: Any) -> Any:
        """Worlds saved before areas named their radio technologies: an area runs what its cells radiate."""
        if not isinstance(data, dict) or not isinstance(data.get("areas"), dict):
            return data
        missing = [k for k, a in data["areas"].items() if isinstance(a, dict) and "radio" not in a]
        if not missing:
            return data
        radiated: dict[str, set[str]] = {}
        for cell in (data.get("cells") or {}).values():
            area_id, techs = (cell.get("area_id"), cell.get("technologies", [])) if isinstance(cell, dict) else \
                (cell.area_id, cell.technologies)
            radiated.setdefault(area_id, set()).update(techs)
        areas = dict(data["areas"])
        for key in missing:
            techs = radiated.get(areas[key].get("id", key), set())
            areas[key] = {**areas[key], "radio": [t for t in RADIO_RANK if t in techs]}
        return {**data, "areas": areas}
