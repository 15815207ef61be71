"""Physics of the sandbox: observations computed from the World, never read from a stored answer.

Every function here is pure: it reads state (including the clock) and returns an observation model from
telco/sandbox/observations.py. Faults change state, fixes change it back, and these functions are the only
place that decides what that state looks like to a diagnostic tool or a customer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

import yaml

from telco.errors import InvalidInput, NotFound
from telco.policy import missing_promotions
from telco.models import (
    OPERATOR_APN,
    OPERATOR_DNS,
    OPERATOR_MMSC,
    AccessNode,
    BroadbandPlan,
    BroadbandService,
    MobileLine,
    MobilePlan,
    Outage,
    PaymentRequest,
    Phone,
    Router,
)
from telco.sandbox.observations import (
    AreaStatus,
    BillCheck,
    BillIssue,
    LineTest,
    MaintenanceNotice,
    MmsCheck,
    OpticalPower,
    OutageNotice,
    PaymentStatus,
    RouterLights,
    RouterLogEvent,
    RouterStatus,
    SpeedLabel,
    SpeedTest,
    StatusBar,
    SyncState,
)
from telco.sandbox.state import Sandbox

POLICY_FILE = Path(__file__).resolve().parents[1] / "data" / "policy.yaml"

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

_BROADBAND_LATENCY = {"fiber": 8.0, "cable": 15.0, "dsl": 22.0}
OPTICAL_HEALTHY_ABOVE_DBM = -27.0
# DSL needs this much signal-to-noise margin to hold sync; the "stable" profile asks for less, costing speed.
DSL_SNR_NEEDED = {"fast": 6.0, "stable": 3.0}
STABLE_PROFILE_FACTOR = 0.85
# An overheating router cuts out and restarts roughly this often.
OVERHEAT_CYCLE_MINUTES = 30


# ---- shared helpers ---------------------------------------------------------------------------------

def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def _round(x: float) -> float:
    return round(x, 2) if x < 1 else round(x, 1)


def _mobile_label(download: float) -> SpeedLabel:
    if download < 2:
        return "poor"
    if download < 10:
        return "fair"
    if download < 40:
        return "good"
    return "excellent"


def _broadband_label(ratio: float) -> SpeedLabel:
    if ratio >= 0.8:
        return "excellent"
    if ratio >= 0.5:
        return "good"
    if ratio >= 0.25:
        return "fair"
    return "poor"


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


# ---- mobile -----------------------------------------------------------------------------------------

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


# ---- broadband --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Home:
    service: BroadbandService
    router: Router
    node: AccessNode | None
    plan: BroadbandPlan


def _home(sb: Sandbox, service_id: str) -> _Home:
    service = sb.broadband(service_id)
    plan = sb.world.plans.get(service.plan_id)
    if not isinstance(plan, BroadbandPlan):
        raise NotFound(f"broadband service {service_id!r} has no broadband plan {service.plan_id!r}",
                       kind="broadband plan", id=service.plan_id)
    return _Home(service, sb.router(service.router_id), sb.world.access_nodes.get(service.access_node_id), plan)


def _sync(home: _Home) -> SyncState:
    router, service = home.router, home.service
    if not router.powered or router.sync == "down":
        return "down"
    if service.technology == "dsl":
        noisy = router.sync == "flapping" or (router.snr_db is not None and router.snr_db < DSL_SNR_NEEDED["fast"])
        if not noisy:
            return "up"
        holds = router.snr_db is None or router.snr_db >= DSL_SNR_NEEDED[service.profile]
        return "up" if service.profile == "stable" and holds else "flapping"
    return router.sync


def _optical_healthy(router: Router) -> bool:
    # A fiber ONT with no reading has no light at all, which is as unhealthy as it gets.
    return router.optical_power_dbm is not None and router.optical_power_dbm > OPTICAL_HEALTHY_ABOVE_DBM


def _optical_low(home: _Home) -> bool:
    return home.service.technology == "fiber" and not _optical_healthy(home.router)


def _dns_ok(router: Router) -> bool:
    return bool(router.dns_servers) and all(s in OPERATOR_DNS for s in router.dns_servers)


def _broadband_blocker(sb: Sandbox, home: _Home) -> str | None:
    if home.service.status != "active":
        return f"the service is {home.service.status}"
    if not home.router.powered:
        return "the router is off"
    if home.node is None or home.node.status == "down":
        return "no internet connection"
    if _service_down_in_area(sb, home.service.area_id, "broadband"):
        return "no internet connection"
    if _sync(home) == "down":
        return "the router has no line sync"
    return None


def broadband_speed_test(sb: Sandbox, service_id: str) -> SpeedTest:
    home = _home(sb, service_id)
    blocker = _broadband_blocker(sb, home)
    if blocker is not None:
        return SpeedTest(download_mbps=0, upload_mbps=0, latency_ms=None, label="poor",
                         note=f"could not connect: {blocker}", browsing_ok=False)
    service, router, plan = home.service, home.router, home.plan
    down, up = float(plan.download_mbps), float(plan.upload_mbps)
    latency = _BROADBAND_LATENCY[service.technology]
    notes: list[str] = []
    area = sb.world.areas.get(service.area_id)
    if service.technology == "dsl" and area is not None and down > area.dsl_max_mbps:
        up, down = up * area.dsl_max_mbps / down, float(area.dsl_max_mbps)
    if service.technology == "dsl" and service.profile == "stable":
        down, up, latency = down * STABLE_PROFILE_FACTOR, up * STABLE_PROFILE_FACTOR, latency + 10
    node = home.node
    assert node is not None  # a missing node is a blocker above
    load_factor = (0.5 if node.status == "degraded" else 1.0) * (1 - max(0.0, node.load - 0.6))
    down, up = down * load_factor, up * load_factor
    unstable = _sync(home) == "flapping" or router.overheating
    if unstable:
        down, up = down * 0.15, up * 0.15
        notes.append("the connection dropped during the test")
    if _optical_low(home):
        down, up, latency = down * 0.15, up * 0.15, latency + 40
        notes.append("heavy packet loss")
    if service.port_state == "stale":
        down, up = down * 0.1, up * 0.1
    # The customer tests over Wi-Fi, so channel interference eats into whatever the line delivers.
    wifi = 1 - router.channel_interference
    down, up = down * wifi, up * wifi
    notes.append(f"over Wi-Fi {router.wifi_band}")
    browsing_ok = _dns_ok(router)
    if not browsing_ok:
        notes.append("web pages fail to load although the speed test runs")
    return SpeedTest(download_mbps=_round(down), upload_mbps=_round(up), latency_ms=latency,
                     label=_broadband_label(down / plan.download_mbps), note="; ".join(notes),
                     browsing_ok=browsing_ok)


def _online(sb: Sandbox, home: _Home) -> bool:
    return _broadband_blocker(sb, home) is None


def _lights(sb: Sandbox, home: _Home) -> dict[str, str]:
    router = home.router
    link = {"ont": "pon", "dsl_modem": "dsl", "cable_modem": "cable"}[router.kind]
    if not router.powered:
        lights = {"power": "off", link: "off", "internet": "off", "wifi": "off"}
        if router.kind == "ont":
            lights["los"] = "off"
        return lights
    sync = _sync(home)
    lights = {"power": "green", link: {"up": "green", "flapping": "blinking", "down": "off"}[sync]}
    if router.kind == "ont":
        lights["los"] = "blinking_red" if not _optical_healthy(router) else "off"
    if not _online(sb, home):
        lights["internet"] = "red"
    elif sync == "flapping" or router.overheating:
        lights["internet"] = "blinking"
    else:
        lights["internet"] = "green"
    lights["wifi"] = "green"
    return lights


def _version(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in v.split("."))


def _heat_restarts(sb: Sandbox, router: Router) -> list[datetime]:
    """Restarts the heat forced since the last boot we know of: one per overheat cycle."""
    if not (router.powered and router.overheating):
        return []
    elapsed = _minutes(sb.world.clock - router.last_boot)
    n = int(max(0.0, elapsed) // OVERHEAT_CYCLE_MINUTES)
    return [router.last_boot + timedelta(minutes=OVERHEAT_CYCLE_MINUTES * k) for k in range(1, n + 1)]


def router_status(sb: Sandbox, service_id: str) -> RouterStatus:
    home = _home(sb, service_id)
    router = home.router
    now = sb.world.clock
    heat = _heat_restarts(sb, router)
    last_boot = heat[-1] if heat else router.last_boot
    window_start = now - timedelta(hours=24)
    reboots = sum(1 for t in [*router.reboot_log, *heat] if window_start < t <= now)
    sync = _sync(home)
    return RouterStatus(
        powered=router.powered,
        uptime_minutes=int(max(0.0, _minutes(now - last_boot))) if router.powered else 0,
        temperature_c=router.temperature_c,
        overheating=router.overheating,
        reboots_last_24h=reboots,
        stable=router.powered and not router.overheating and sync == "up",
        sync=sync,
        wifi_band=router.wifi_band,
        wifi_channel=router.wifi_channel,
        channel_interference=router.channel_interference,
        firmware=router.firmware,
        firmware_outdated=_version(router.firmware) < _version(router.latest_firmware),
        dns_ok=_dns_ok(router),
        lights=_lights(sb, home),
    )


def router_lights(sb: Sandbox, service_id: str) -> RouterLights:
    home = _home(sb, service_id)
    return RouterLights(powered=home.router.powered, lights=_lights(sb, home),
                        hot_to_touch=home.router.powered and home.router.overheating)


def router_logs(sb: Sandbox, service_id: str) -> list[RouterLogEvent]:
    """The router's event log for the last 24 hours, oldest first."""
    home = _home(sb, service_id)
    router, now = home.router, sb.world.clock
    events: list[RouterLogEvent] = []
    for t in router.reboot_log:
        events.append(RouterLogEvent(at=t, event="reboot", detail="router restarted"))
    for t in _heat_restarts(sb, router):
        events.append(RouterLogEvent(at=t, event="overheat_restart",
                                     detail=f"thermal protection restarted the router at {router.temperature_c:.0f} C"))
    if router.powered and router.overheating:
        events.append(RouterLogEvent(at=now, event="temperature_high",
                                     detail=f"temperature {router.temperature_c:.0f} C"))
    sync = _sync(home)
    if sync == "flapping":
        # A flapping line drops and recovers every few minutes; the log shows the last hour of it.
        for k in range(6, 0, -1):
            lost = now - timedelta(minutes=10 * k)
            snr = f" (SNR {router.snr_db:.1f} dB)" if router.snr_db is not None else ""
            events.append(RouterLogEvent(at=lost, event="sync_lost", detail=f"line sync lost{snr}"))
            events.append(RouterLogEvent(at=lost + timedelta(minutes=2), event="sync_restored",
                                         detail="line sync restored"))
    elif sync == "down" and router.powered:
        events.append(RouterLogEvent(at=now, event="sync_lost", detail="no line sync"))
    if router.powered and _optical_low(home):
        reading = "none" if router.optical_power_dbm is None else f"{router.optical_power_dbm:.1f} dBm"
        events.append(RouterLogEvent(at=now, event="optical_power_low",
                                     detail=f"received optical power {reading}, healthy is above "
                                            f"{OPTICAL_HEALTHY_ABOVE_DBM:.0f} dBm"))
    window_start = now - timedelta(hours=24)
    return sorted((e for e in events if window_start < e.at <= now), key=lambda e: (e.at, e.event))


def optical_power(sb: Sandbox, service_id: str) -> OpticalPower:
    home = _home(sb, service_id)
    if home.service.technology != "fiber":
        raise InvalidInput(
            f"broadband service {service_id!r} is {home.service.technology}; optical power exists only on fiber"
        )
    if not home.router.powered:
        return OpticalPower(dbm=None, healthy=False)
    return OpticalPower(dbm=home.router.optical_power_dbm, healthy=_optical_healthy(home.router))


def line_test(sb: Sandbox, service_id: str) -> LineTest:
    home = _home(sb, service_id)
    sync = _sync(home)
    node_status = home.node.status if home.node is not None else "down"
    if node_status == "down":
        verdict = "node_down"
    elif not home.router.powered:
        verdict = "router_offline"
    elif home.service.port_state == "stale":
        verdict = "port_stale"
    elif _optical_low(home):
        verdict = "low_optical_power"
    elif sync != "up":
        verdict = "line_fault"
    else:
        verdict = "ok"
    return LineTest(
        sync=sync,
        snr_db=home.router.snr_db if home.service.technology == "dsl" else None,
        port_state=home.service.port_state,
        node_status=node_status,
        verdict=verdict,
    )


# ---- network ----------------------------------------------------------------------------------------

def _equipment_outages(sb: Sandbox, area_id: str, service: str | None) -> list[OutageNotice]:
    """Failed equipment is an outage whether or not anyone has logged one, and ends when the equipment is back."""
    now = sb.world.clock
    found: list[OutageNotice] = []
    if service in (None, "broadband"):
        for node in sorted(sb.world.access_nodes.values(), key=lambda n: n.id):
            if node.area_id == area_id and node.status == "down":
                found.append(OutageNotice(id=node.id, services=["broadband"], cause=f"access node {node.id} is down",
                                          started_at=node.down_since or now, expected_end=None))
    cells = [c for c in sb.world.cells.values() if c.area_id == area_id]
    # One dead cell among working ones is covered by its neighbours; only a dead area is an outage.
    if service in (None, "mobile") and cells and all(c.status == "down" for c in cells):
        since = [c.down_since for c in cells if c.down_since is not None]
        found.append(OutageNotice(id=f"{area_id}-cells", services=["mobile"],
                                  cause="every mobile cell in the area is down",
                                  started_at=max(since) if since else now, expected_end=None))
    return found


def area_status(sb: Sandbox, area_id: str, service: str | None = None) -> AreaStatus:
    if service not in (None, "mobile", "broadband"):
        raise InvalidInput(f"service must be 'mobile', 'broadband' or omitted, not {service!r}")
    if area_id not in sb.world.areas:
        raise NotFound(f"no area with id {area_id!r}", kind="area", id=area_id)
    now = sb.world.clock
    outages = [
        OutageNotice(id=o.id, services=list(o.services), cause=o.cause, started_at=o.started_at,
                     expected_end=o.expected_end)
        for o in active_outages(sb, area_id, service)
    ]
    outages += _equipment_outages(sb, area_id, service)
    maintenance = [
        MaintenanceNotice(id=m.id, services=list(m.services), description=m.description, starts_at=m.starts_at,
                          ends_at=m.ends_at, in_progress=m.starts_at <= now)
        for m in sorted(sb.world.maintenance.values(), key=lambda m: (m.starts_at, m.id))
        if m.area_id == area_id and m.ends_at > now and (service is None or service in m.services)
    ]
    cells = [c.id for c in sb.world.cells.values() if c.area_id == area_id and c.status != "up"]
    nodes = [n.id for n in sb.world.access_nodes.values() if n.area_id == area_id and n.status != "up"]
    return AreaStatus(
        area_id=area_id,
        active_outages=outages,
        planned_maintenance=maintenance,
        degraded_cells=sorted(cells) if service in (None, "mobile") else [],
        degraded_nodes=sorted(nodes) if service in (None, "broadband") else [],
    )


# ---- billing ----------------------------------------------------------------------------------------

def bill_check(sb: Sandbox, bill_id: str) -> BillCheck:
    """Audit a bill against the account: repeated charges, roaming on a line without roaming, missing promotions."""
    bill = sb.world.bills.get(bill_id)
    if bill is None:
        raise NotFound(f"no bill with id {bill_id!r}", kind="bill", id=bill_id)
    issues: list[BillIssue] = []
    # A disputed item is already being handled, so it no longer counts as an open problem.
    charges = [i for i in bill.items if i.amount > 0 and not i.disputed]
    first_seen: dict[tuple, str] = {}
    for item in charges:
        key = (item.kind, item.description, item.amount, item.service_id)
        if key in first_seen:
            issues.append(BillIssue(kind="duplicate_charge", item_id=item.id, amount=item.amount,
                                    detail=f"charged again: same as item {first_seen[key]}"))
        else:
            first_seen[key] = item.id
    for item in charges:
        if item.kind != "roaming":
            continue
        line = sb.world.lines.get(item.service_id or "")
        if line is None or not line.roaming_enabled:
            issues.append(BillIssue(kind="unexpected_roaming", item_id=item.id, amount=item.amount,
                                    detail="roaming charged on a line without roaming enabled"))
    for promo in missing_promotions(bill, sb.world.promotions.values()):
        issues.append(BillIssue(kind="missing_promotion", item_id=None, amount=promo.monthly_discount,
                                detail=f"promotion {promo.id} ({promo.description}) not applied"))
    overcharge = sum((i.amount for i in issues), Decimal("0"))
    corrected = sum(
        (c.amount for c in sb.world.credits.values() if c.bill_id == bill.id and c.kind == "correction"),
        Decimal("0"),
    )
    return BillCheck(bill_id=bill.id, total=bill.total, issues=issues, overcharge=overcharge, corrected=corrected,
                     ok=overcharge <= corrected)


def payment_status(sb: Sandbox, customer_id: str) -> PaymentStatus:
    """The state of the customer's newest payment link, with expiry computed from the clock."""
    sb.customer(customer_id)
    requests = [r for r in sb.world.payment_requests.values() if r.customer_id == customer_id]
    if not requests:
        return PaymentStatus(request_id=None, request_status=None, bill_id=None, bill_status=None, amount=None)
    latest = max(requests, key=lambda r: (r.created_at, r.id))
    status = "expired" if latest.status == "sent" and payment_request_expired(sb, latest) else latest.status
    bill = sb.world.bills.get(latest.bill_id)
    return PaymentStatus(request_id=latest.id, request_status=status, bill_id=latest.bill_id,
                         bill_status=bill.status if bill else None, amount=latest.amount)


# Observations a customer step may report, by the kind of id each one takes.
OBSERVERS: dict[str, tuple[Callable, Literal["line", "broadband", "customer"]]] = {
    "status_bar": (status_bar, "line"),
    "mobile_speed_test": (mobile_speed_test, "line"),
    "can_send_mms": (can_send_mms, "line"),
    "broadband_speed_test": (broadband_speed_test, "broadband"),
    "router_lights": (router_lights, "broadband"),
    "payment_status": (payment_status, "customer"),
}
