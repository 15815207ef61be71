"""What a home connection shows: speed test, router status, lights and logs, optical power and the line test."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from telco.errors import InvalidInput, NotFound
from telco.models import OPERATOR_DNS, AccessNode, BroadbandPlan, BroadbandService, Router
from telco.sandbox.observations import (
    LineTest,
    OpticalPower,
    RouterLights,
    RouterLogEvent,
    RouterStatus,
    SpeedLabel,
    SpeedTest,
    SyncState,
)
from telco.sandbox.observe.common import _minutes, _round, _service_down_in_area
from telco.sandbox.state import Sandbox

_BROADBAND_LATENCY = {"fiber": 8.0, "cable": 15.0, "dsl": 22.0}
OPTICAL_HEALTHY_ABOVE_DBM = -27.0
# DSL needs this much signal-to-noise margin to hold sync; the "stable" profile asks for less, costing speed.
DSL_SNR_NEEDED = {"fast": 6.0, "stable": 3.0}
STABLE_PROFILE_FACTOR = 0.85
# An overheating router cuts out and restarts roughly this often.
OVERHEAT_CYCLE_MINUTES = 30


def _broadband_label(ratio: float) -> SpeedLabel:
    if ratio >= 0.8:
        return "excellent"
    if ratio >= 0.5:
        return "good"
    if ratio >= 0.25:
        return "fair"
    return "poor"


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
