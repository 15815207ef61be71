"""Physics of the sandbox: observations computed from the World, never read from a stored answer.

Every function here is pure: it reads state (including the clock) and returns an observation model from
telco/sandbox/observations.py. Faults change state, fixes change it back, and these functions are the only
place that decides what that state looks like to a diagnostic tool or a customer.
"""
from __future__ import annotations

from typing import Callable, Literal

from telco.sandbox.observe.account import bill_check, payment_status
from telco.sandbox.observe.broadband import (
    DSL_SNR_NEEDED,
    OPTICAL_HEALTHY_ABOVE_DBM,
    OVERHEAT_CYCLE_MINUTES,
    STABLE_PROFILE_FACTOR,
    broadband_speed_test,
    line_test,
    optical_power,
    router_lights,
    router_logs,
    router_status,
)
from telco.sandbox.observe.common import (
    POLICY_FILE,
    active_outages,
    open_payment_request,
    payment_link_hours,
    payment_request_expired,
)
from telco.sandbox.observe.mobile import (
    DATA_SAVER_CAP_MBPS,
    DATA_SAVER_FACTOR,
    VPN_CAP_MBPS,
    VPN_FACTOR,
    can_send_mms,
    messaging_permissions,
    mobile_label,
    mobile_speed_test,
    phone_settings,
    sim_tray,
    status_bar,
)
from telco.sandbox.observe.network import area_status

__all__ = [
    "DATA_SAVER_CAP_MBPS",
    "DATA_SAVER_FACTOR",
    "DSL_SNR_NEEDED",
    "OBSERVERS",
    "OPTICAL_HEALTHY_ABOVE_DBM",
    "OVERHEAT_CYCLE_MINUTES",
    "POLICY_FILE",
    "STABLE_PROFILE_FACTOR",
    "VPN_CAP_MBPS",
    "VPN_FACTOR",
    "active_outages",
    "area_status",
    "bill_check",
    "broadband_speed_test",
    "can_send_mms",
    "line_test",
    "messaging_permissions",
    "sim_tray",
    "mobile_label",
    "mobile_speed_test",
    "open_payment_request",
    "optical_power",
    "payment_link_hours",
    "payment_request_expired",
    "payment_status",
    "phone_settings",
    "router_lights",
    "router_logs",
    "router_status",
    "status_bar",
]

# Observations a customer step may report, by the kind of id each one takes.
OBSERVERS: dict[str, tuple[Callable, Literal["line", "broadband", "customer"]]] = {
    "status_bar": (status_bar, "line"),
    "mobile_speed_test": (mobile_speed_test, "line"),
    "can_send_mms": (can_send_mms, "line"),
    "phone_settings": (phone_settings, "line"),
    "messaging_permissions": (messaging_permissions, "line"),
    "sim_tray": (sim_tray, "line"),
    "broadband_speed_test": (broadband_speed_test, "broadband"),
    "router_lights": (router_lights, "broadband"),
    "payment_status": (payment_status, "customer"),
}
