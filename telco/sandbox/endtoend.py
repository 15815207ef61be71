"""The end-to-end tests a customer cares about, read from the physics: what "fixed" means for a fault.

Mobile (one line):
- service:    the status bar shows a usable SIM, no airplane mode and a real network (not none, not "sos");
- data:       a speed test over mobile data connects;
- data_speed: it connects and reaches the best label this line can get here (SpeedTest.at_best): nothing on the
              phone holds it back, whatever the plan and network allow ("excellent" where they allow it);
- mms:        a test picture message goes out.
Home broadband (one service):
- broadband:        a speed test connects and web pages load;
- broadband_speed:  the speed test is at least "good" for the plan;
- broadband_stable: the router holds its connection (no drops, no overheating restarts).
Account:
- bill:       the latest issued bill has no open overcharge.

faults.yaml names, for each fault, the tests it breaks; the generator of compound scenarios derives expected end
states from those lists and from here.
"""
from __future__ import annotations

from typing import Callable, Literal, get_args

from telco.sandbox import observe
from telco.sandbox.state import Sandbox

EndToEnd = Literal["service", "data", "data_speed", "mms", "broadband", "broadband_speed", "broadband_stable", "bill"]
ALL_TESTS: tuple[EndToEnd, ...] = get_args(EndToEnd)
MOBILE_TESTS: tuple[EndToEnd, ...] = ("service", "data", "data_speed", "mms")
BROADBAND_TESTS: tuple[EndToEnd, ...] = ("broadband", "broadband_speed", "broadband_stable")


def has_service(sb: Sandbox, line_id: str) -> bool:
    bar = observe.status_bar(sb, line_id)
    return bar.sim == "ok" and not bar.airplane_mode and bar.network not in ("none", "sos")


def data_works(sb: Sandbox, line_id: str) -> bool:
    return observe.mobile_speed_test(sb, line_id).latency_ms is not None


def data_at_best(sb: Sandbox, line_id: str) -> bool:
    return bool(observe.mobile_speed_test(sb, line_id).at_best)


def mms_works(sb: Sandbox, line_id: str) -> bool:
    return observe.can_send_mms(sb, line_id).can_send


def broadband_works(sb: Sandbox, service_id: str) -> bool:
    test = observe.broadband_speed_test(sb, service_id)
    return test.latency_ms is not None and test.browsing_ok


def broadband_speed_ok(sb: Sandbox, service_id: str) -> bool:
    return observe.broadband_speed_test(sb, service_id).label in ("good", "excellent")


def broadband_stable(sb: Sandbox, service_id: str) -> bool:
    return observe.router_status(sb, service_id).stable


def latest_bill_ok(sb: Sandbox, customer_id: str) -> bool:
    # A draft (charges gathering for next month, e.g. a refuel) is not a bill the customer has received yet.
    bills = [b for b in sb.bills_of(customer_id) if b.status != "draft"]
    if not bills:
        return True
    latest = max(bills, key=lambda b: (b.period, b.issued_on, b.id))
    return observe.bill_check(sb, latest.id).ok


_MOBILE: dict[EndToEnd, Callable[[Sandbox, str], bool]] = {
    "service": has_service, "data": data_works, "data_speed": data_at_best, "mms": mms_works,
}
_BROADBAND: dict[EndToEnd, Callable[[Sandbox, str], bool]] = {
    "broadband": broadband_works, "broadband_speed": broadband_speed_ok, "broadband_stable": broadband_stable,
}


def mobile_end_to_end(sb: Sandbox, line_id: str) -> dict[EndToEnd, bool]:
    return {name: test(sb, line_id) for name, test in _MOBILE.items()}


def end_to_end(sb: Sandbox, customer_id: str, line_id: str | None = None,
               broadband_id: str | None = None) -> dict[EndToEnd, bool]:
    """Every end-to-end test that applies to the customer: their (given or first) line, broadband and latest bill."""
    results: dict[EndToEnd, bool] = {}
    lines = sorted(l.id for l in sb.lines_of(customer_id))
    line = line_id or (lines[0] if lines else None)
    if line is not None:
        results.update(mobile_end_to_end(sb, line))
    services = sorted(b.id for b in sb.broadband_of(customer_id))
    service = broadband_id or (services[0] if services else None)
    if service is not None:
        results.update({name: test(sb, service) for name, test in _BROADBAND.items()})
    results["bill"] = latest_bill_ok(sb, customer_id)
    return results


def failing(sb: Sandbox, customer_id: str, line_id: str | None = None,
            broadband_id: str | None = None) -> set[EndToEnd]:
    return {name for name, ok in end_to_end(sb, customer_id, line_id, broadband_id).items() if not ok}
