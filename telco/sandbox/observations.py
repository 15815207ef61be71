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


SimIcon = Literal["ok", "no_sim", "pin_required", "puk_required"]
NetworkIcon = Literal["5G", "4G", "3G", "2G", "none", "sos"]


class StatusBar(Observation):
    """The phone's status bar, as the customer would read it aloud: only what the icons show."""

    # The SIM icon: a card in use, no card read ("No SIM", also a loose card), or a lock asking for PIN or PUK.
    sim: SimIcon
    airplane_mode: bool  # the airplane icon
    bars: int  # signal bars, 0..4; shown for any network heard, even one that allows only emergency calls
    # The network type beside the bars. "sos" = a network is heard but only emergency calls are allowed (no usable
    # SIM, or the line is not active); "none" = no network at all (airplane mode, no coverage, outage, or a network
    # mode the area does not run).
    network: NetworkIcon
    # The mobile data icon: a data session is up. It stays up when the allowance is used up (the operator holds the
    # traffic), so an icon with nothing loading points at the account, not the phone.
    data_active: bool
    roaming: bool  # the "R" beside the bars: registered on a partner network abroad
    wifi: bool  # the Wi-Fi icon
    wifi_calling: bool  # the Wi-Fi calling icon (shown while Wi-Fi calling is on and Wi-Fi is connected)
    vpn: bool  # the key icon of a connected VPN
    data_saver: bool  # the Data Saver icon


class SpeedTest(Observation):
    download_mbps: float
    upload_mbps: float
    latency_ms: float | None  # None when the test could not connect at all
    label: SpeedLabel
    note: str | None = None
    browsing_ok: bool = True  # home broadband only: False when web pages fail to load despite a link
    # Mobile only. best_label: what this line reaches here and now with the phone's own speed settings at their best
    # (network mode automatic, Data Saver off, no VPN): the plan, the handset, the network's technology, signal,
    # load and roaming decide it. None when no network could carry data even then (an outage, no coverage).
    # at_best: the test connected and its label equals best_label, so nothing on the phone holds the speed back.
    best_label: SpeedLabel | None = None
    at_best: bool | None = None


class MmsCheck(Observation):
    can_send: bool
    reason: str | None = None


class PhoneSettings(Observation):
    """The phone's settings screens as the customer reads them out (Mobile network, Access point names, Calls)."""

    airplane_mode: bool
    mobile_data: bool
    data_roaming: bool
    network_mode: str  # the "Preferred network type" entry, e.g. "auto" or "3G only"
    data_saver: bool
    vpn: bool
    wifi: bool
    wifi_calling: bool
    apn: str  # the access point name as the phone shows it
    mmsc: str  # the MMS server address (MMSC) of that access point


class SimTray(Observation):
    """What the customer sees with the SIM tray out: whether a card is in it at all (a loose card and an empty tray
    both show "No SIM" on the status bar; only opening the tray tells them apart)."""

    card_present: bool


class MessagingPermissions(Observation):
    """The messaging app's permission screen: which permissions are allowed."""

    sms: bool
    storage: bool  # "Files and media" / "Photos and videos" on newer phones
    contacts: bool


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
