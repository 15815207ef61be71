"""What a phone shows: the status bar, a speed test over mobile data and whether a picture message goes out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telco.models import OPERATOR_APN, OPERATOR_MMSC, MobileLine, MobilePlan, Phone
from telco.sandbox.observations import MmsCheck, SpeedLabel, SpeedTest, StatusBar
from telco.sandbox.observe.common import _round, _service_down_in_area
from telco.sandbox.state import Sandbox

# Nominal radio throughput (Mbps) and latency per technology, before load and phone settings.
_TECH_RANK = ("2G", "3G", "4G", "5G")
_MOBILE_DOWN = {"2G": 0.2, "3G": 4.0, "4G": 45.0, "5G": 250.0}
_MOBILE_UP = {"2G": 0.1, "3G": 1.0, "4G": 12.0, "5G": 40.0}
_MOBILE_LATENCY = {"2G": 500.0, "3G": 90.0, "4G": 35.0, "5G": 15.0}
# Abroad the phone camps on a partner network we do not model cell by cell.
_PARTNER_TECH, _PARTNER_LOAD, _PARTNER_BARS = "4G", 0.4, 3
DATA_SAVER_FACTOR = 0.4
VPN_FACTOR = 0.25
# Data Saver also holds apps to a low-bandwidth mode, and a consumer VPN's distant server limits what one tunnel
# carries; without these caps a fast 5G line would still look "excellent" with either switched on.
DATA_SAVER_CAP_MBPS = 3.0
VPN_CAP_MBPS = 15.0


def _mobile_label(download: float) -> SpeedLabel:
    if download < 2:
        return "poor"
    if download < 10:
        return "fair"
    if download < 40:
        return "good"
    return "excellent"


@dataclass(frozen=True)
class _Radio:
    """What the phone's radio can reach, before SIM or subscription are considered."""

    network: Literal["5G", "4G", "3G", "2G", "none"]
    bars: int
    load: float = 0.0
    degraded: bool = False
    abroad: bool = False


def _phone_of(sb: Sandbox, line: MobileLine) -> Phone:
    return sb.phone(line.device_id)


def _mobile_area_id(sb: Sandbox, line: MobileLine, phone: Phone) -> str | None:
    if phone.area_id:
        return phone.area_id
    customer = sb.world.customers.get(line.customer_id)
    return customer.address.area_id if customer else None


def _allowed_techs(sb: Sandbox, line: MobileLine, phone: Phone, area_five_g: bool) -> list[str]:
    ceiling = _TECH_RANK.index(phone.preferred_network_mode)
    allowed = list(_TECH_RANK[: ceiling + 1])
    plan = sb.world.plans.get(line.plan_id)
    plan_five_g = isinstance(plan, MobilePlan) and plan.five_g
    if "5G" in allowed and not (phone.supports_5g and area_five_g and plan_five_g):
        allowed.remove("5G")
    return allowed


def _radio(sb: Sandbox, line: MobileLine, phone: Phone) -> _Radio:
    if phone.airplane_mode:
        return _Radio("none", 0)
    if phone.abroad_country:
        allowed = _allowed_techs(sb, line, phone, area_five_g=False)
        tech = _PARTNER_TECH if _PARTNER_TECH in allowed else allowed[-1]
        return _Radio(tech, _PARTNER_BARS, _PARTNER_LOAD, abroad=True)
    area_id = _mobile_area_id(sb, line, phone)
    if area_id is None or _service_down_in_area(sb, area_id, "mobile"):
        return _Radio("none", 0)
    area = sb.world.areas.get(area_id)
    allowed = _allowed_techs(sb, line, phone, area_five_g=bool(area and area.five_g))
    best: tuple | None = None
    for cell in sb.world.cells.values():
        if cell.area_id != area_id or cell.status == "down":
            continue
        usable = [t for t in cell.technologies if t in allowed]
        if not usable:
            continue
        tech = max(usable, key=_TECH_RANK.index)
        # Prefer the best technology, then a healthy cell, then the least loaded; the id breaks ties.
        key = (_TECH_RANK.index(tech), cell.status == "up", -cell.load, cell.id)
        if best is None or key > best[0]:
            best = (key, tech, cell)
    if best is None:
        return _Radio("none", 0)
    _, tech, cell = best
    degraded = cell.status == "degraded"
    return _Radio(tech, 2 if degraded else 4, cell.load, degraded)


def _data_left_gb(sb: Sandbox, line: MobileLine) -> float:
    plan = sb.world.plans.get(line.plan_id)
    limit = plan.data_limit_gb if isinstance(plan, MobilePlan) else 0.0
    return limit + line.data_refuelled_gb - line.data_used_gb


def _data_blocker(sb: Sandbox, line: MobileLine, phone: Phone, radio: _Radio) -> str | None:
    """Why mobile data does not work, phrased as the customer would experience it; None when it works."""
    if phone.sim == "missing":
        return "no SIM card detected"
    if phone.sim == "pin_locked":
        return "the SIM card is locked"
    if phone.airplane_mode:
        return "airplane mode is on"
    if radio.network == "none":
        return "no network"
    if line.status != "active":
        return "emergency calls only"
    if not phone.mobile_data:
        return "mobile data is switched off"
    if _data_left_gb(sb, line) <= 0:
        return "the operator's message says the data allowance is used up"
    if phone.apn.apn != OPERATOR_APN:
        return "connected to the network but no internet"
    if radio.abroad and not phone.data_roaming:
        return "data roaming is switched off on the phone"
    if radio.abroad and not line.roaming_enabled:
        return "connected to a partner network but no internet"
    return None


def status_bar(sb: Sandbox, line_id: str) -> StatusBar:
    line = sb.line(line_id)
    phone = _phone_of(sb, line)
    radio = _radio(sb, line, phone)
    sim = {"active": "ok", "missing": "no_sim", "pin_locked": "sim_locked"}[phone.sim]
    if radio.network == "none":
        network, bars = "none", 0
    elif sim != "ok" or line.status != "active":
        # The radio hears a network, but without a working SIM or subscription only emergency calls get through.
        network, bars = "sos", radio.bars
    else:
        network, bars = radio.network, radio.bars
    return StatusBar(
        sim=sim,
        airplane_mode=phone.airplane_mode,
        bars=bars,
        network=network,
        data_active=_data_blocker(sb, line, phone, radio) is None,
        roaming=radio.abroad and network != "none",
    )


def mobile_speed_test(sb: Sandbox, line_id: str) -> SpeedTest:
    line = sb.line(line_id)
    phone = _phone_of(sb, line)
    radio = _radio(sb, line, phone)
    blocker = _data_blocker(sb, line, phone, radio)
    if blocker is not None:
        return SpeedTest(download_mbps=0, upload_mbps=0, latency_ms=None, label="poor",
                         note=f"could not connect: {blocker}")
    tech = radio.network
    factor = (1 - 0.6 * radio.load) * (0.5 if radio.degraded else 1.0)
    down, up, latency = _MOBILE_DOWN[tech] * factor, _MOBILE_UP[tech] * factor, _MOBILE_LATENCY[tech]
    notes = [f"measured over {tech}"]
    if phone.data_saver:
        down, up = min(down * DATA_SAVER_FACTOR, DATA_SAVER_CAP_MBPS), min(up * DATA_SAVER_FACTOR, DATA_SAVER_CAP_MBPS)
        notes.append("Data Saver is on")
    if phone.vpn:
        down, up = min(down * VPN_FACTOR, VPN_CAP_MBPS), min(up * VPN_FACTOR, VPN_CAP_MBPS)
        latency += 80
        notes.append("a VPN is connected")
    if radio.abroad:
        notes.append(f"roaming in {phone.abroad_country}")
    return SpeedTest(download_mbps=_round(down), upload_mbps=_round(up), latency_ms=latency,
                     label=_mobile_label(down), note="; ".join(notes))


def can_send_mms(sb: Sandbox, line_id: str) -> MmsCheck:
    line = sb.line(line_id)
    phone = _phone_of(sb, line)
    radio = _radio(sb, line, phone)
    reason: str | None = None
    if phone.sim != "active":
        reason = "no SIM card detected" if phone.sim == "missing" else "the SIM card is locked"
    elif phone.airplane_mode:
        reason = "airplane mode is on"
    elif radio.network == "none":
        reason = "no network"
    elif line.status != "active":
        reason = "not registered on the network"
    elif not phone.mobile_data:
        reason = "picture messages need mobile data, which is switched off"
    elif phone.apn.mmsc_url != OPERATOR_MMSC:
        reason = "message failed: the MMS server could not be reached"
    elif phone.wifi_calling and phone.wifi_calling_breaks_mms:
        reason = "message failed while Wi-Fi calling is on"
    elif missing := [p for p in ("sms", "storage") if p not in phone.messaging_permissions]:
        reason = "the messaging app asks for permission: " + ", ".join(missing)
    return MmsCheck(can_send=reason is None, reason=reason)
