"""Typed results of the tools (what the agents and the LLM see). Dates of birth never appear here."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from telco.models import Address, LineItem
from telco.sandbox.observations import MaintenanceNotice, OutageNotice, RouterLogEvent


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- customers and identity -------------------------------------------------------------------------
class CustomerMatch(Result):
    customer_id: str
    name: str
    matched_on: Literal["customer_id", "account_phone", "line_number"]
    line_id: str | None = None
    verified: bool  # whether this conversation has verified this customer's identity


class IdentityResult(Result):
    customer_id: str | None
    verified: bool
    attempts_left: int
    message: str


class PaymentMethodView(Result):
    id: str
    kind: str
    label: str
    last4: str
    default: bool
    expires: str | None


class LineSummary(Result):
    line_id: str
    number: str
    plan_id: str
    status: str


class BroadbandSummary(Result):
    service_id: str
    plan_id: str
    technology: str
    status: str
    area_id: str


class CustomerDetails(Result):
    customer_id: str
    name: str
    email: str
    phone: str
    address: Address
    status: str
    segment: str
    payment_methods: list[PaymentMethodView]
    lines: list[LineSummary]
    broadband: list[BroadbandSummary]
    goodwill_credit_used_this_year: Decimal
    verified: bool


# ---- bills ------------------------------------------------------------------------------------------
class BillView(Result):
    bill_id: str
    period: str
    issued_on: date
    due_date: date
    status: str
    total: Decimal
    items: list[LineItem]


class BillsResult(Result):
    customer_id: str
    bills: list[BillView]
    overdue_bill_ids: list[str]
    open_payment_request_ids: list[str]
    active_promotions: list[dict[str, Any]]


# ---- lines and plans --------------------------------------------------------------------------------
class LineStatus(Result):
    line_id: str
    number: str
    customer_id: str
    status: str
    plan_id: str
    plan_name: str
    suspension_reason: str | None
    suspended_since: datetime | None
    contract_end: date
    contract_ended: bool
    roaming_enabled: bool
    device_id: str
    device_model: str
    device_supports_5g: bool
    visiting_country: str | None  # the network sees where a roaming line is registered
    home_area_id: str | None


class DataUsage(Result):
    line_id: str
    plan_limit_gb: float
    used_gb: float
    refuelled_gb: float
    remaining_gb: float
    refuel_price_per_gb: Decimal
    refuel_left_this_cycle_gb: float
    refuel_max_per_request_gb: float


class PlanView(Result):
    plan_id: str
    kind: str
    name: str
    monthly_price: Decimal
    data_limit_gb: float | None = None
    refuel_price_per_gb: Decimal | None = None
    five_g: bool | None = None
    roaming_included: bool | None = None
    download_mbps: int | None = None
    upload_mbps: int | None = None
    technologies: list[str] | None = None
    eligible: bool = True
    note: str | None = None


class PlansResult(Result):
    plans: list[PlanView]


class Serviceability(Result):
    postcode: str
    serviceable: bool
    area_id: str | None = None
    area_name: str | None = None
    technologies: list[str] = []
    dsl_max_mbps: int | None = None
    five_g: bool | None = None
    plan_ids: list[str] = []


class Slot(Result):
    date: date
    window: str
    start: datetime
    end: datetime


class SlotsResult(Result):
    service_id: str
    slots: list[Slot]


class OutagesResult(Result):
    area_id: str
    outages: list[OutageNotice]
    planned_maintenance: list[MaintenanceNotice]


class RouterLogsResult(Result):
    service_id: str
    events: list[RouterLogEvent]


# ---- write results ----------------------------------------------------------------------------------
class LineChange(Result):
    line_id: str
    status: str
    suspension_reason: str | None
    roaming_enabled: bool
    plan_id: str


class PaymentRequestResult(Result):
    payment_request_id: str
    bill_id: str
    amount: Decimal
    payment_method: str
    expires_at: datetime
    status: str


class RefuelResult(Result):
    line_id: str
    gb_added: float
    refuelled_this_cycle_gb: float
    remaining_gb: float
    charge: Decimal
    bill_id: str
    line_item_id: str


class BroadbandChange(Result):
    service_id: str
    profile: str
    port_state: str
    dns_override: bool
    dns_servers: list[str]


class RouterChange(Result):
    service_id: str
    router_id: str
    last_boot: datetime
    wifi_band: str
    wifi_channel: int
    channel_interference: float
    firmware: str
    order_id: str | None = None
    note: str


class OrderResult(Result):
    order_id: str
    kind: str
    service_id: str
    status: str
    details: dict[str, Any]


class CreditResult(Result):
    credit_id: str
    customer_id: str
    kind: str
    amount: Decimal
    bill_id: str  # the bill the credit is for
    credited_on_bill_id: str  # the bill that carries the negative item (a later one when bill_id is paid)
    line_item_id: str
    goodwill_credit_used_this_year: Decimal


class AppointmentResult(Result):
    appointment_id: str
    ticket_id: str
    service_id: str
    slot_start: datetime
    slot_end: datetime


class TicketResult(Result):
    ticket_id: str
    category: str
    priority: str
    status: str


class DisputeResult(Result):
    dispute_id: str
    bill_id: str
    item_id: str
    status: str
    bill_status: str
    credit_id: str | None = None
    message: str


class HandoffResult(Result):
    handoff_id: str
    queue: str
    message: str
