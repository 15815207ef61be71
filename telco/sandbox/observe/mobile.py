"""What a phone shows: the status bar, the settings screens, a speed test over mobile data and whether a picture
message goes out.

The rules, in the order a phone meets them (docs/telecom-physics.md lists them with their tests):
- radio: airplane mode off, and a network whose technologies overlap what the network mode, the handset and the
  plan allow: a cell of the area at home (no outage or maintenance), the roaming partner abroad;
- service (calls, texts): the radio, plus a SIM present, seated and not asking for a PIN or PUK, plus an active
  line; with a network but no usable SIM or line only emergency calls get through ("sos");
- a data session (the data icon): service, plus the data switch, and abroad the phone's data roaming and the
  line's roaming, plus the operator's APN;
- data traffic: a session, plus allowance left (plan + refuels - used);
- speed: technology, load, signal bars and roaming set what the network gives; network mode, Data Saver and a VPN
  are what the phone takes away;
- MMS: service on 3G or better, data traffic (even while the phone sits on Wi-Fi: MMS always travels over the
  mobile data bearer), the operator's MMS server, Wi-Fi calling off on handsets that route MMS through it, and the
  messaging app's SMS and storage permissions.
"""
from __future__ import annotations

from dataclasses import dataclass

from telco.models import OPERATOR_APN, OPERATOR_MMSC, RADIO_RANK, MobileLine, MobilePlan, Phone, RadioTech
from telco.sandbox.observations import (
    MessagingPermissions,
    MmsCheck,
    PhoneSettings,
    SimIcon,
    SimTray,
    SpeedLabel,
    SpeedTest,
    StatusBar,
)
from telco.sandbox.observe.common import _round, _service_down_in_area
from telco.sandbox.state import Sandbox

# Nominal radio throughput (Mbps) and latency per technology, before load, signal and phone settings.
_MOBILE_DOWN = {"2G": 0.2, "3G": 4.0, "4G": 45.0, "5G": 250.0}
_MOBILE_UP = {"2G": 0.1, "3G": 1.0, "4G": 12.0, "5G": 40.0}
_MOBILE_LATENCY = {"2G": 500.0, "3G": 90.0, "4G": 35.0, "5G": 15.0}
# A fully loaded cell leaves each user 40% of its nominal throughput.
LOAD_PENALTY = 0.6
# Signal bars scale throughput: four bars give it all, one bar a quarter.
FULL_BARS = 4
# Roaming data is routed home through the partner's interconnect: a fifth of the throughput and some delay go.
ROAMING_FACTOR = 0.8
ROAMING_LATENCY_MS = 40.0
DATA_SAVER_FACTOR = 0.4
VPN_FACTOR = 0.25
VPN_LATENCY_MS = 80.0
# Data Saver also holds apps to a low-bandwidth mode, and a consumer VPN's distant server limits what one tunnel
# carries; without these caps a fast 5G line would still look "excellent" with either switched on.
DATA_SAVER_CAP_MBPS = 3.0
VPN_CAP_MBPS = 15.0
# Picture messages need a packet bearer of 3G or better; 2G data is too slow for the MMS centre's timeouts.
MMS_MIN_TECH: RadioTech = "3G"
# Download Mbps at which each label starts: below 2 poor, 2-10 fair, 10-40 good, from 40 excellent.
SPEED_LABEL_FROM: tuple[tuple[float, SpeedLabel], ...] = ((40.0, "excellent"), (10.0, "good"), (2.0, "fair"))
MMS_PERMISSIONS = ("sms", "storage")


def mobile_label(download_mbps: float) -> SpeedLabel:
    for threshold, label in SPEED_LABEL_FROM:
        if download_mbps >= threshold:
            return label
    return "poor"


@dataclass(frozen=True)
class _Radio:
    """The network the phone's radio camps on, before SIM, subscription or settings beyond the radio count."""

    network: RadioTech | None  # None: no network heard at all
    bars: int = 0
    load: float = 0.0
    abroad: bool = False


def _phone_of(sb: Sandbox, line: MobileLine) -> Phone:
    return sb.phone(line.device_id)


def _mobile_area_id(sb: Sandbox, line: MobileLine, phone: Phone) -> str | None:
    if phone.area_id:
        return phone.area_id
    customer = sb.world.customers.get(line.customer_id)
    return customer.address.area_id if customer else None


def _allowed_techs(sb: Sandbox, line: MobileLine, phone: Phone) -> set[str]:
    """What the phone may use: its network mode, the handset's own radio, and 5G only on a 5G plan."""
    allowed = set(phone.network_techs())
    plan = sb.world.plans.get(line.plan_id)
    if not (isinstance(plan, MobilePlan) and plan.five_g):
        allowed.discard("5G")
    return allowed


def _best(techs) -> RadioTech:
    return max(techs, key=RADIO_RANK.index)


def _radio(sb: Sandbox, line: MobileLine, phone: Phone) -> _Radio:
    if phone.airplane_mode:
        return _Radio(None)
    allowed = _allowed_techs(sb, line, phone)
    if phone.abroad_country:
        partner = sb.world.roaming_partners.get(phone.abroad_country)
        usable = [t for t in partner.technologies if t in allowed] if partner else []
        if not usable:  # no roaming agreement there, or the partner runs nothing the phone may use
            return _Radio(None, abroad=True)
        return _Radio(_best(usable), partner.bars, partner.load, abroad=True)
    area_id = _mobile_area_id(sb, line, phone)
    if area_id is None or _service_down_in_area(sb, area_id, "mobile"):
        return _Radio(None)
    area = sb.world.areas.get(area_id)
    running = set(area.radio) if area else set()
    best: tuple | None = None
    for cell in sb.world.cells.values():
        if cell.area_id != area_id or cell.status == "down":
            continue
        usable = [t for t in cell.technologies if t in allowed and t in running]
        if not usable:
            continue
        tech = _best(usable)
        # Prefer the best technology, then a healthy cell, then the least loaded; the id breaks ties.
        key = (RADIO_RANK.index(tech), cell.status == "up", -cell.load, cell.id)
        if best is None or key > best[0]:
            best = (key, tech, cell)
    if best is None:
        return _Radio(None)
    _, tech, cell = best
    return _Radio(tech, 2 if cell.status == "degraded" else FULL_BARS, cell.load)


def _sim_icon(phone: Phone) -> SimIcon:
    if not phone.sim_present or not phone.sim_seated:
        return "no_sim"  # a card that makes no contact reads exactly like no card
    return {"none": "ok", "pin": "pin_required", "puk": "puk_required"}[phone.sim_lock]


def _data_left_gb(sb: Sandbox, line: MobileLine) -> float:
    plan = sb.world.plans.get(line.plan_id)
    limit = plan.data_limit_gb if isinstance(plan, MobilePlan) else 0.0
    return limit + line.data_refuelled_gb - line.data_used_gb


def _service_blocker(line: MobileLine, phone: Phone, radio: _Radio) -> str | None:
    """Why calls and texts fail, as the customer experiences it; None when they work."""
    if phone.airplane_mode:
        return "airplane mode is on"
    sim = _sim_icon(phone)
    if sim == "no_sim":
        return "no SIM card detected"
    if sim == "pin_required":
        return "the SIM card asks for its PIN"
    if sim == "puk_required":
        return "the SIM card is locked and asks for a PUK code"
    if radio.network is None:
        return "no network"
    if line.status != "active":
        return "emergency calls only"
    return None


def _session_blocker(line: MobileLine, phone: Phone, radio: _Radio) -> str | None:
    """Why no data session comes up (no data icon); None when one does."""
    if (reason := _service_blocker(line, phone, radio)) is not None:
        return reason
    if not phone.mobile_data:
        return "mobile data is switched off"
    if radio.abroad and not phone.data_roaming:
        return "data roaming is switched off on the phone"
    if radio.abroad and not line.roaming_enabled:
        return "connected to a partner network but no internet"
    if phone.apn.apn != OPERATOR_APN:
        return "connected to the network but no internet"
    return None


def _data_blocker(sb: Sandbox, line: MobileLine, phone: Phone, radio: _Radio) -> str | None:
    """Why no data gets through; None when it does. A used-up allowance keeps the session but holds the traffic."""
    if (reason := _session_blocker(line, phone, radio)) is not None:
        return reason
    if _data_left_gb(sb, line) <= 0:
        return "the operator's message says the data allowance is used up"
    return None


def _wifi_connected(phone: Phone) -> bool:
    return phone.wifi and not phone.airplane_mode


def status_bar(sb: Sandbox, line_id: str) -> StatusBar:
    line = sb.line(line_id)
    phone = _phone_of(sb, line)
    radio = _radio(sb, line, phone)
    sim = _sim_icon(phone)
    if radio.network is None:
        network, bars = "none", 0
    elif sim != "ok" or line.status != "active":
        # The radio hears a network, but without a working SIM or subscription only emergency calls get through.
        network, bars = "sos", radio.bars
    else:
        network, bars = radio.network, radio.bars
    wifi = _wifi_connected(phone)
    return StatusBar(
        sim=sim,
        airplane_mode=phone.airplane_mode,
        bars=bars,
        network=network,
        data_active=_session_blocker(line, phone, radio) is None,
        roaming=radio.abroad and network not in ("none", "sos"),
        wifi=wifi,
        wifi_calling=phone.wifi_calling and wifi,
        vpn=phone.vpn,
        data_saver=phone.data_saver,
    )


def _throughput(phone: Phone, radio: _Radio) -> tuple[float, float, float, list[str]]:
    """Download, upload (Mbps), latency (ms) and notes for a phone whose data gets through on this radio."""
    tech = radio.network
    assert tech is not None
    factor = (1 - LOAD_PENALTY * radio.load) * radio.bars / FULL_BARS
    down, up, latency = _MOBILE_DOWN[tech] * factor, _MOBILE_UP[tech] * factor, _MOBILE_LATENCY[tech]
    notes = [f"measured over {tech}"]
    if radio.abroad:
        down, up, latency = down * ROAMING_FACTOR, up * ROAMING_FACTOR, latency + ROAMING_LATENCY_MS
        notes.append(f"roaming in {phone.abroad_country}")
    if phone.data_saver:
        down, up = min(down * DATA_SAVER_FACTOR, DATA_SAVER_CAP_MBPS), min(up * DATA_SAVER_FACTOR, DATA_SAVER_CAP_MBPS)
        notes.append("Data Saver is on")
    if phone.vpn:
        down, up = min(down * VPN_FACTOR, VPN_CAP_MBPS), min(up * VPN_FACTOR, VPN_CAP_MBPS)
        latency += VPN_LATENCY_MS
        notes.append("a VPN is connected")
    return down, up, latency, notes


def _best_label(sb: Sandbox, line: MobileLine, phone: Phone) -> SpeedLabel | None:
    """The label with the phone's own radio and speed settings at their best; the network and plan stay as they are."""
    ideal = phone.model_copy(update={"airplane_mode": False, "preferred_network_mode": "auto",
                                     "data_saver": False, "vpn": False})
    radio = _radio(sb, line, ideal)
    if radio.network is None:
        return None
    return mobile_label(_throughput(ideal, radio)[0])


def mobile_speed_test(sb: Sandbox, line_id: str) -> SpeedTest:
    line = sb.line(line_id)
    phone = _phone_of(sb, line)
    radio = _radio(sb, line, phone)
    best = _best_label(sb, line, phone)
    blocker = _data_blocker(sb, line, phone, radio)
    if blocker is not None:
        return SpeedTest(download_mbps=0, upload_mbps=0, latency_ms=None, label="poor",
                         note=f"could not connect: {blocker}", best_label=best, at_best=False)
    down, up, latency, notes = _throughput(phone, radio)
    label = mobile_label(down)
    return SpeedTest(download_mbps=_round(down), upload_mbps=_round(up), latency_ms=latency, label=label,
                     note="; ".join(notes), best_label=best, at_best=label == best)


def _mms_blocker(sb: Sandbox, line: MobileLine, phone: Phone, radio: _Radio) -> str | None:
    if (reason := _service_blocker(line, phone, radio)) is not None:
        return reason
    assert radio.network is not None
    if RADIO_RANK.index(radio.network) < RADIO_RANK.index(MMS_MIN_TECH):
        return f"picture messages need {MMS_MIN_TECH} or better, and the phone is on {radio.network}"
    if (reason := _data_blocker(sb, line, phone, radio)) is not None:
        return f"picture messages travel over mobile data, which is not working: {reason}"
    if phone.apn.mmsc_url != OPERATOR_MMSC:
        return "message failed: the MMS server could not be reached"
    if phone.wifi_calling and phone.wifi_calling_breaks_mms and _wifi_connected(phone):
        return "message failed while Wi-Fi calling is on"
    if missing := [p for p in MMS_PERMISSIONS if p not in phone.messaging_permissions]:
        return "the messaging app asks for permission: " + ", ".join(missing)
    return None


def can_send_mms(sb: Sandbox, line_id: str) -> MmsCheck:
    line = sb.line(line_id)
    phone = _phone_of(sb, line)
    reason = _mms_blocker(sb, line, phone, _radio(sb, line, phone))
    return MmsCheck(can_send=reason is None, reason=reason)


def phone_settings(sb: Sandbox, line_id: str) -> PhoneSettings:
    phone = _phone_of(sb, sb.line(line_id))
    return PhoneSettings(
        airplane_mode=phone.airplane_mode, mobile_data=phone.mobile_data, data_roaming=phone.data_roaming,
        network_mode=phone.preferred_network_mode, data_saver=phone.data_saver, vpn=phone.vpn, wifi=phone.wifi,
        wifi_calling=phone.wifi_calling, apn=phone.apn.apn, mmsc=phone.apn.mmsc_url,
    )


def sim_tray(sb: Sandbox, line_id: str) -> SimTray:
    return SimTray(card_present=_phone_of(sb, sb.line(line_id)).sim_present)


def messaging_permissions(sb: Sandbox, line_id: str) -> MessagingPermissions:
    granted = _phone_of(sb, sb.line(line_id)).messaging_permissions
    return MessagingPermissions(sms="sms" in granted, storage="storage" in granted, contacts="contacts" in granted)
