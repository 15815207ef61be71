"""What diagnostics and customers can see: typed observations computed from state by telco/sandbox/observe/.

These are read-only views. Nothing here is ever stored in the World; every field is derived from the state at
the moment of observation, so changing the cause changes what is observed.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

SpeedLabel = Literal["poor", "fair", "good", "excellent"]
SyncState = Literal["up", "flapping", "down"]


class Observation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusBar(Observation):
    """The phone's status bar, as the customer would read it aloud."""

    sim: Literal["ok", "no_sim", "sim_locked"]
    airplane_mode: bool
    bars: int
    # "sos" = the phone sees a network but may only place emergency calls; "none" = no network at all.
    network: Literal["5G", "4G", "3G", "2G", "none", "sos"]
    data_active: bool
    roaming: bool


class SpeedTest(Observation):
    download_mbps: float
    upload_mbps: float
    latency_ms: float | None  # None when the test could not connect at all
    label: SpeedLabel
    note: str | None = None
    browsing_ok: bool = True  # home broadband only: False when web pages fail to load despite a link


class MmsCheck(Observation):
    can_send: bool
    reason: str | None = None


class RouterStatus(Observation):
    """The operator's remote view of a home router/ONT."""

    powered: bool
    uptime_minutes: int
    temperature_c: float
    overheating: bool
    reboots_last_24h: int
    stable: bool
    sync: SyncState
    wifi_band: Literal["2.4GHz", "5GHz"]
    wifi_channel: int
    channel_interference: float
    firmware: str
    firmware_outdated: bool
    dns_ok: bool
    lights: dict[str, str]


class RouterLights(Observation):
    """What a customer standing next to the router can tell us."""

    powered: bool
    lights: dict[str, str]
    hot_to_touch: bool


class RouterLogEvent(Observation):
    at: datetime
    event: Literal["reboot", "overheat_restart", "sync_lost", "sync_restored", "optical_power_low", "temperature_high"]
    detail: str


class OpticalPower(Observation):
    dbm: float | None  # None when the ONT is off and reports nothing
    healthy: bool


class LineTest(Observation):
    sync: SyncState
    snr_db: float | None
    port_state: Literal["ok", "stale"]
    node_status: Literal["up", "degraded", "down"]
    verdict: Literal["ok", "line_fault", "node_down", "port_stale", "low_optical_power", "router_offline"]


class OutageNotice(Observation):
    id: str
    services: list[str]
    cause: str
    started_at: datetime
    expected_end: datetime | None


class MaintenanceNotice(Observation):
    id: str
    services: list[str]
    description: str
    starts_at: datetime
    ends_at: datetime
    in_progress: bool


class AreaStatus(Observation):
    area_id: str
    active_outages: list[OutageNotice]
    planned_maintenance: list[MaintenanceNotice]  # in progress or upcoming
    degraded_cells: list[str]
    degraded_nodes: list[str]


class BillIssue(Observation):
    kind: Literal["duplicate_charge", "unexpected_roaming", "missing_promotion"]
    item_id: str | None  # the suspect item; None when the problem is an item that is absent
    amount: Decimal  # what the customer was overcharged by this issue
    detail: str


class BillCheck(Observation):
    """An audit of one bill against the account's state (services, roaming, promotions, corrections)."""

    bill_id: str
    total: Decimal
    issues: list[BillIssue]
    overcharge: Decimal
    corrected: Decimal  # correction credits already booked against this bill
    ok: bool


class PaymentStatus(Observation):
    request_id: str | None
    request_status: Literal["sent", "paid", "expired"] | None
    bill_id: str | None
    bill_status: str | None
    amount: Decimal | None
