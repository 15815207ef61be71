"""Subscribed services: mobile lines and home broadband."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from telco.models.common import Model, PhoneNumber

SuspensionReason = Literal["overdue_bill", "contract_ended", "customer_request", "lost_device", "fraud"]


class MobileLine(Model):
    id: str
    number: PhoneNumber
    customer_id: str
    plan_id: str
    status: Literal["active", "suspended", "pending", "closed"] = "active"
    device_id: str
    data_used_gb: float = Field(default=0, ge=0)
    data_refuelled_gb: float = Field(default=0, ge=0)
    roaming_enabled: bool = False  # the line's roaming service in the operator's systems
    contract_end: date
    suspension_reason: SuspensionReason | None = None
    suspended_since: datetime | None = None


class BroadbandService(Model):
    id: str
    customer_id: str
    plan_id: str
    technology: Literal["fiber", "dsl", "cable"]
    access_node_id: str
    port: str
    router_id: str
    area_id: str
    status: Literal["active", "suspended", "pending", "closed"] = "active"
    # "stable" trades a little speed for resilience on noisy DSL lines; "fast" is the default.
    profile: Literal["fast", "stable"] = "fast"
    # A port whose configuration went stale needs a reset by the operator.
    port_state: Literal["ok", "stale"] = "ok"
    dns_override: bool = False  # True when the router uses DNS servers other than the operator's
