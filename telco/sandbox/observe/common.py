"""Helpers every family of observations shares: the clock, outages and maintenance in an area, payment links."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

import yaml

from telco.data import POLICY_FILE
from telco.models import Outage, PaymentRequest
from telco.sandbox.state import Sandbox

# This file sits one package deeper than telco/sandbox, hence parents[2] to reach telco/.


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def _round(x: float) -> float:
    return round(x, 2) if x < 1 else round(x, 1)


def _outage_active(o: Outage, now: datetime) -> bool:
    return o.started_at <= now and (o.resolved_at is None or o.resolved_at > now)


def active_outages(sb: Sandbox, area_id: str, service: str | None = None) -> list[Outage]:
    now = sb.world.clock
    return sorted(
        (o for o in sb.world.outages.values()
         if o.area_id == area_id and (service is None or service in o.services) and _outage_active(o, now)),
        key=lambda o: (o.started_at, o.id),
    )


def _maintenance_in_progress(sb: Sandbox, area_id: str, service: str) -> bool:
    now = sb.world.clock
    return any(
        m.area_id == area_id and service in m.services and m.starts_at <= now < m.ends_at
        for m in sb.world.maintenance.values()
    )


def _service_down_in_area(sb: Sandbox, area_id: str, service: str) -> bool:
    return bool(active_outages(sb, area_id, service)) or _maintenance_in_progress(sb, area_id, service)


@lru_cache(maxsize=1)
def payment_link_hours() -> float:
    policy = yaml.safe_load(POLICY_FILE.read_text())
    return float(policy["payment_request"]["expires_hours"])


def payment_request_expired(sb: Sandbox, request: PaymentRequest) -> bool:
    return sb.world.clock > request.created_at + timedelta(hours=payment_link_hours())


def open_payment_request(sb: Sandbox, customer_id: str) -> PaymentRequest | None:
    """The customer's newest payment link that can still be paid (sent and not yet expired)."""
    candidates = [
        r for r in sb.world.payment_requests.values()
        if r.customer_id == customer_id and r.status == "sent" and not payment_request_expired(sb, r)
    ]
    return max(candidates, key=lambda r: (r.created_at, r.id), default=None)
