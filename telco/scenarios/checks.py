"""End-state checks: each `expect` key of a scenario names one check here, evaluated on the final world."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from pydantic import BaseModel

from telco.models import World
from telco.sandbox import observe
from telco.sandbox.endtoend import mobile_end_to_end
from telco.sandbox.state import Sandbox
from telco.scenarios.outcome import Outcome
from telco.scenarios.spec import Scenario

LABELS = ["poor", "fair", "good", "excellent"]


class CheckResult(BaseModel):
    check: str
    ok: bool
    detail: str


@dataclass
class CheckContext:
    scenario: Scenario
    before: World
    after: Sandbox
    outcome: Outcome

    def new(self, table: str) -> list[Any]:
        """Records of a world table that the conversation created."""
        old = getattr(self.before, table)
        return [rec for key, rec in getattr(self.after.world, table).items() if key not in old]

    @property
    def customer_id(self) -> str:
        assert self.scenario.customer_id, "this check needs a scenario customer"
        return self.scenario.customer_id

    def line_id(self) -> str:
        if self.scenario.service_id and self.scenario.service_id in self.after.world.lines:
            return self.scenario.service_id
        return self.after.lines_of(self.customer_id)[0].id

    def broadband_id(self) -> str:
        if self.scenario.service_id and self.scenario.service_id in self.after.world.broadband:
            return self.scenario.service_id
        return self.after.broadband_of(self.customer_id)[0].id


Check = Callable[[Any, CheckContext], tuple[bool, str]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn
    return register


def _at_least(label: str, minimum: str) -> bool:
    return LABELS.index(label) >= LABELS.index(minimum)


@check("broadband_speed")
def _broadband_speed(expected: str, c: CheckContext) -> tuple[bool, str]:
    test = observe.broadband_speed_test(c.after, c.broadband_id())
    ok = _at_least(test.label, expected) and getattr(test, "browsing_ok", True)
    return ok, f"home speed test {test.download_mbps:.0f} Mbps ({test.label}), want at least {expected}"


@check("mobile_speed")
def _mobile_speed(expected: str, c: CheckContext) -> tuple[bool, str]:
    test = observe.mobile_speed_test(c.after, c.line_id())
    return _at_least(test.label, expected), f"phone speed test {test.download_mbps:.1f} Mbps ({test.label}), want at least {expected}"


@check("can_send_mms")
def _mms(expected: bool, c: CheckContext) -> tuple[bool, str]:
    mms = observe.can_send_mms(c.after, c.line_id())
    return mms.can_send == expected, f"can send MMS: {mms.can_send} ({mms.reason}), want {expected}"


@check("has_service")
def _has_service(expected: bool, c: CheckContext) -> tuple[bool, str]:
    bar = observe.status_bar(c.after, c.line_id())
    working = bar.sim == "ok" and not bar.airplane_mode and bar.network not in ("none", "sos")
    return working == expected, f"status bar {bar.model_dump()}, want service={expected}"


@check("router_stable")
def _router_stable(expected: bool, c: CheckContext) -> tuple[bool, str]:
    status = observe.router_status(c.after, c.broadband_id())
    return status.stable == expected, f"router stable: {status.stable}, want {expected}"


@check("line_status")
def _line_status(expected: str, c: CheckContext) -> tuple[bool, str]:
    status = c.after.line(c.line_id()).status
    return status == expected, f"line status {status}, want {expected}"


@check("no_overdue_bill")
def _no_overdue(expected: bool, c: CheckContext) -> tuple[bool, str]:
    overdue = [b.id for b in c.after.bills_of(c.customer_id) if b.status == "overdue"]
    return (not overdue) == expected, f"overdue bills: {overdue or 'none'}"


@check("data_refuelled_gb")
def _refuelled(expected: float, c: CheckContext) -> tuple[bool, str]:
    delta = c.after.line(c.line_id()).data_refuelled_gb - c.before.lines[c.line_id()].data_refuelled_gb
    return abs(delta - float(expected)) < 1e-9, f"refuelled {delta} GB, want {expected}"


@check("credit")
def _credit(expected: dict[str, Any], c: CheckContext) -> tuple[bool, str]:
    credits = [cr for cr in c.new("credits") if cr.kind == expected.get("kind", cr.kind)]
    total = sum((cr.amount for cr in credits), Decimal("0"))
    lo, hi = Decimal(str(expected.get("min", "0.01"))), Decimal(str(expected.get("max", "1e9")))
    return lo <= total <= hi, f"new {expected.get('kind', 'any')} credits total {total}, want {lo}..{hi}"


@check("no_credit")
def _no_credit(expected: bool, c: CheckContext) -> tuple[bool, str]:
    new = c.new("credits")
    return (not new) == expected, f"new credits: {[cr.amount for cr in new]}"


@check("dispute")
def _dispute(expected: str, c: CheckContext) -> tuple[bool, str]:
    statuses = [d.status for d in c.new("disputes")]
    return expected in statuses, f"new disputes {statuses}, want one {expected}"


@check("ticket")
def _ticket(expected: str, c: CheckContext) -> tuple[bool, str]:
    cats = [t.category for t in c.new("tickets")]
    return expected in cats, f"new tickets {cats}, want a {expected} ticket"


@check("appointment")
def _appointment(expected: bool, c: CheckContext) -> tuple[bool, str]:
    new = c.new("appointments")
    return bool(new) == expected, f"new appointments: {len(new)}, want {'some' if expected else 'none'}"


@check("order")
def _order(expected: str | dict[str, Any], c: CheckContext) -> tuple[bool, str]:
    """A new order of a kind (a string), or of a kind with these details (a mapping with `kind`)."""
    want = {"kind": expected} if isinstance(expected, str) else dict(expected)
    kind = want.pop("kind")
    orders = [o for o in c.new("orders") if o.kind == kind]
    ok = any(all(o.details.get(k) == v for k, v in want.items()) for o in orders)
    return ok, f"new {kind} orders {[o.details for o in orders]}, want one with {want or 'any details'}"


@check("plan")
def _plan(expected: str, c: CheckContext) -> tuple[bool, str]:
    sid = c.scenario.service_id
    services = list(c.after.world.lines.values()) + list(c.after.world.broadband.values())
    plans = [s.plan_id for s in services if s.customer_id == c.customer_id and (sid is None or s.id == sid)]
    return expected in plans, f"plans {plans}, want {expected}"


@check("handoff")
def _handoff(expected: bool | dict[str, Any], c: CheckContext) -> tuple[bool, str]:
    new = c.new("handoffs")
    if expected is False:
        return not new, f"handoffs: {[h.reason for h in new] or 'none'}, want none"
    if not new:
        return False, "no handoff to a person, want one"
    want = expected if isinstance(expected, dict) else {}
    h = new[-1]
    problems = []
    if "queue" in want and h.queue != want["queue"]:
        problems.append(f"queue {h.queue} != {want['queue']}")
    if "reason_contains" in want and want["reason_contains"] not in h.reason:
        problems.append(f"reason {h.reason!r} lacks {want['reason_contains']!r}")
    if "called_for" in want and bool(h.context.get("called_for")) != want["called_for"]:
        problems.append(f"called_for {h.context.get('called_for')!r} != {want['called_for']!r}")
    return not problems, f"handoff to {h.queue}: {h.reason}" + (f" ({'; '.join(problems)})" if problems else "")


@check("informed")
def _informed(expected: list[str], c: CheckContext) -> tuple[bool, str]:
    missing = [n for n in expected if n not in c.outcome.informed]
    return not missing, f"told {c.outcome.informed}, missing {missing or 'nothing'}"


@check("informed_any")
def _informed_any(expected: list[str], c: CheckContext) -> tuple[bool, str]:
    told = [n for n in expected if n in c.outcome.informed]
    return bool(told), f"told {c.outcome.informed}, want one of {expected}"


@check("no_writes")
def _no_writes(expected: bool, c: CheckContext) -> tuple[bool, str]:
    # A handoff is not an action on the account; every other write is.
    writes = [w for w in c.outcome.writes if w != "transfer_to_person"]
    return (not writes) == expected, f"writes: {writes or 'none'}"


@check("writes_exclude")
def _writes_exclude(expected: list[str], c: CheckContext) -> tuple[bool, str]:
    done = [w for w in c.outcome.writes if w in expected]
    return not done, f"forbidden writes done: {done or 'none'}"


@check("end_to_end")
def _end_to_end(expected: list[str], c: CheckContext) -> tuple[bool, str]:
    results = mobile_end_to_end(c.after, c.line_id())
    failing = [t for t in expected if not results[t]]
    return not failing, f"end-to-end {results}, failing {failing or 'none'}"


@check("end_to_end_fails")
def _end_to_end_fails(expected: list[str], c: CheckContext) -> tuple[bool, str]:
    # A fault we may not fix (a person's job, an offer turned down) must still be there: nothing claimed it away.
    results = mobile_end_to_end(c.after, c.line_id())
    passing = [t for t in expected if results[t]]
    return not passing, f"end-to-end {results}, unexpectedly passing {passing or 'none'}"


@check("writes_within")
def _writes_within(expected: list[str], c: CheckContext) -> tuple[bool, str]:
    extra = [w for w in c.outcome.writes if w not in expected and w != "transfer_to_person"]
    return not extra, f"writes outside {expected}: {extra or 'none'}"


def evaluate(ctx: CheckContext) -> list[CheckResult]:
    results = []
    for name, expected in ctx.scenario.expect.items():
        fn = CHECKS.get(name)
        if fn is None:
            results.append(CheckResult(check=name, ok=False, detail=f"unknown check {name!r}"))
            continue
        try:
            ok, detail = fn(expected, ctx)
        except Exception as exc:  # a check that cannot be evaluated is a failed check, with the reason
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        results.append(CheckResult(check=name, ok=ok, detail=detail))
    return results
