"""Read tools: account views, network/device diagnostics, the catalogue and scheduling.

Diagnostics are computed by telco.sandbox.observe from the state at the moment of the call.
"""
from __future__ import annotations

from typing import Literal

from telco.errors import InvalidInput, NotFound, PolicyDenied
from telco.models import BroadbandPlan, MobilePlan
from telco.policy import load_policy, overdue_bills
from telco.sandbox import observe
from telco.sandbox.observations import AreaStatus, LineTest, OpticalPower, RouterStatus
from telco.tools import guards
from telco.tools.access import area_services, broadband_for_read, customer_for_read, line_for_read, today
from telco.tools.context import ToolContext
from telco.tools.fields import Args, Id
from telco.tools.results import (
    BillsResult,
    BillView,
    BroadbandSummary,
    CustomerDetails,
    DataUsage,
    LineStatus,
    LineSummary,
    OutagesResult,
    PaymentMethodView,
    PlansResult,
    PlanView,
    RouterLogsResult,
    Serviceability,
    Slot,
    SlotsResult,
)
from telco.tools.slots import free_slots
from telco.tools.spec import ToolSpec


# ---- account views (finding and verifying a customer: telco/tools/identity.py) ------------------------------
class CustomerArgs(Args):
    customer_id: Id


def get_customer_details(ctx: ToolContext, a: CustomerArgs) -> CustomerDetails:
    c = customer_for_read(ctx, a.customer_id)
    sb = ctx.sandbox
    return CustomerDetails(
        customer_id=c.id, name=c.name, email=c.email, phone=c.phone, address=c.address, status=c.status,
        segment=c.segment, goodwill_credit_used_this_year=c.goodwill_credit_used_this_year,
        verified=ctx.verified_customer_id == c.id,
        payment_methods=[PaymentMethodView(**m.model_dump(include=set(PaymentMethodView.model_fields)))
                         for m in c.payment_methods],
        lines=[LineSummary(line_id=l.id, number=l.number, plan_id=l.plan_id, status=l.status) for l in sb.lines_of(c.id)],
        broadband=[
            BroadbandSummary(service_id=b.id, plan_id=b.plan_id, technology=b.technology, status=b.status,
                             area_id=b.area_id)
            for b in sb.broadband_of(c.id)
        ],
    )


def get_bills(ctx: ToolContext, a: CustomerArgs) -> BillsResult:
    c = customer_for_read(ctx, a.customer_id)
    sb = ctx.sandbox
    bills = sb.bills_of(c.id)
    return BillsResult(
        customer_id=c.id,
        bills=[
            BillView(bill_id=b.id, period=b.period, issued_on=b.issued_on, due_date=b.due_date, status=b.status,
                     total=b.total, items=b.items)
            for b in bills
        ],
        overdue_bill_ids=[b.id for b in overdue_bills(bills, today(ctx))],
        open_payment_request_ids=[
            r.id for r in sb.world.payment_requests.values() if r.customer_id == c.id and r.status == "sent"
        ],
        active_promotions=[
            p.model_dump(mode="json", exclude={"customer_id"})
            for p in sb.world.promotions.values() if p.customer_id == c.id
        ],
    )


class LineArgs(Args):
    line_id: Id


def get_line_status(ctx: ToolContext, a: LineArgs) -> LineStatus:
    line = line_for_read(ctx, a.line_id)
    sb = ctx.sandbox
    phone = sb.phone(line.device_id)
    plan = sb.world.plans.get(line.plan_id)
    return LineStatus(
        line_id=line.id, number=line.number, customer_id=line.customer_id, status=line.status, plan_id=line.plan_id,
        plan_name=plan.name if plan else "unknown plan", suspension_reason=line.suspension_reason,
        suspended_since=line.suspended_since, contract_end=line.contract_end,
        contract_ended=line.contract_end < today(ctx), roaming_enabled=line.roaming_enabled, device_id=phone.id,
        device_model=phone.model, device_supports_5g=phone.supports_5g, visiting_country=phone.abroad_country,
        home_area_id=phone.area_id,
    )


def get_data_usage(ctx: ToolContext, a: LineArgs) -> DataUsage:
    line = line_for_read(ctx, a.line_id)
    plan = ctx.sandbox.world.plans.get(line.plan_id)
    if not isinstance(plan, MobilePlan):
        raise NotFound(f"line {line.id} refers to unknown mobile plan {line.plan_id!r}", kind="plan", id=line.plan_id)
    rules = load_policy().refuel
    return DataUsage(
        line_id=line.id, plan_limit_gb=plan.data_limit_gb, used_gb=line.data_used_gb,
        refuelled_gb=line.data_refuelled_gb,
        remaining_gb=round(max(plan.data_limit_gb + line.data_refuelled_gb - line.data_used_gb, 0.0), 3),
        refuel_price_per_gb=plan.refuel_price_per_gb,
        refuel_left_this_cycle_gb=max(rules.max_gb_per_cycle - line.data_refuelled_gb, 0.0),
        refuel_max_per_request_gb=rules.max_gb_per_request,
    )


# ---- network and devices ----------------------------------------------------------------------------
class AreaArgs(Args):
    area_id: Id
    service: Literal["mobile", "broadband"] | None = None


def _area(ctx: ToolContext, area_id: str) -> str:
    if area_id not in ctx.sandbox.world.areas:
        raise NotFound(f"no area with id {area_id!r}", kind="area", id=area_id)
    return area_id


def get_network_status(ctx: ToolContext, a: AreaArgs) -> AreaStatus:
    return observe.area_status(ctx.sandbox, _area(ctx, a.area_id), a.service)


class OutageArgs(Args):
    area_id: Id


def get_outages(ctx: ToolContext, a: OutageArgs) -> OutagesResult:
    status = observe.area_status(ctx.sandbox, _area(ctx, a.area_id), None)
    return OutagesResult(
        area_id=a.area_id, outages=status.active_outages, planned_maintenance=status.planned_maintenance
    )


class ServiceArgs(Args):
    service_id: Id


def run_line_test(ctx: ToolContext, a: ServiceArgs) -> LineTest:
    return observe.line_test(ctx.sandbox, broadband_for_read(ctx, a.service_id).id)


def get_optical_power(ctx: ToolContext, a: ServiceArgs) -> OpticalPower:
    service = broadband_for_read(ctx, a.service_id)
    if service.technology != "fiber":
        raise InvalidInput(
            f"optical power is measured on fiber only; {service.id} is {service.technology}", field="service_id"
        )
    return observe.optical_power(ctx.sandbox, service.id)


def get_router_status(ctx: ToolContext, a: ServiceArgs) -> RouterStatus:
    return observe.router_status(ctx.sandbox, broadband_for_read(ctx, a.service_id).id)


def get_router_logs(ctx: ToolContext, a: ServiceArgs) -> RouterLogsResult:
    service = broadband_for_read(ctx, a.service_id)
    return RouterLogsResult(service_id=service.id, events=list(observe.router_logs(ctx.sandbox, service.id)))


# ---- catalogue and scheduling -----------------------------------------------------------------------
class PostcodeArgs(Args):
    postcode: Id


def check_serviceability(ctx: ToolContext, a: PostcodeArgs) -> Serviceability:
    world = ctx.sandbox.world
    area = guards.area_for_postcode(world.areas.values(), a.postcode)
    if area is None:
        return Serviceability(postcode=a.postcode, serviceable=False)
    techs = [t for t in ("fiber", "dsl", "cable") if guards.technology_available(area, t)]
    plan_ids = [
        p.id for p in world.plans.values()
        if isinstance(p, BroadbandPlan) and any(t in techs for t in p.technologies)
        and not (p.technologies == ["dsl"] and p.download_mbps > area.dsl_max_mbps)
    ]
    return Serviceability(
        postcode=a.postcode, serviceable=bool(techs), area_id=area.id, area_name=area.name, technologies=techs,
        dsl_max_mbps=area.dsl_max_mbps, five_g=area.five_g, plan_ids=plan_ids,
    )


def get_appointment_slots(ctx: ToolContext, a: ServiceArgs) -> SlotsResult:
    service = broadband_for_read(ctx, a.service_id)
    world = ctx.sandbox.world
    slots = free_slots(world.appointments.values(), area_services(ctx, service.area_id), world.clock)
    return SlotsResult(
        service_id=service.id, slots=[Slot(date=d, window=w, start=s, end=e) for d, w, s, e in slots]
    )


class PlansArgs(Args):
    kind: Literal["mobile", "broadband"] | None = None
    service_id: Id | None = None  # when given: only plans for that service, each marked eligible or not


def get_available_plans(ctx: ToolContext, a: PlansArgs) -> PlansResult:
    sb = ctx.sandbox
    views = []
    line = sb.world.lines.get(a.service_id) if a.service_id else None
    service = None if line or not a.service_id else broadband_for_read(ctx, a.service_id)
    if line:
        line_for_read(ctx, line.id)
    kind = "mobile" if line else "broadband" if service else a.kind
    for plan in sb.world.plans.values():
        if kind and plan.kind != kind:
            continue
        view = PlanView(plan_id=plan.id, **plan.model_dump(exclude={"id"}))
        if line and plan.five_g and not sb.phone(line.device_id).supports_5g:
            view.eligible, view.note = False, "5G plan: the line's device does not support 5G"
        if service:
            try:
                guards.check_broadband_plan_fits(plan, service, sb.world.areas.get(service.area_id))
            except PolicyDenied as exc:
                view.eligible, view.note = False, exc.message
        views.append(view)
    return PlansResult(plans=views)


class PlanArgs(Args):
    plan_id: Id


def get_plan(ctx: ToolContext, a: PlanArgs) -> PlanView:
    plan = ctx.sandbox.world.plans.get(a.plan_id)
    if plan is None:
        known = ", ".join(sorted(ctx.sandbox.world.plans))
        raise NotFound(f"no plan with id {a.plan_id!r}; plans are: {known}", kind="plan", id=a.plan_id)
    return PlanView(plan_id=plan.id, **plan.model_dump(exclude={"id"}))


READS = [
    ToolSpec("get_customer_details", "read", "Customer account: contact details, address, payment methods, lines "
             "and broadband services.", CustomerArgs, CustomerDetails, get_customer_details),
    ToolSpec("get_bills", "read", "The customer's bills with items and totals, overdue bills, open payment "
             "requests and promotions.", CustomerArgs, BillsResult, get_bills),
    ToolSpec("get_line_status", "read", "A mobile line's status, plan, suspension, contract end, roaming service "
             "and device.", LineArgs, LineStatus, get_line_status),
    ToolSpec("get_data_usage", "read", "A mobile line's data allowance, use, refuels and what can still be "
             "refuelled this cycle.", LineArgs, DataUsage, get_data_usage),
    ToolSpec("get_network_status", "read", "Network health of an area: outages, maintenance, degraded cells and "
             "access nodes.", AreaArgs, AreaStatus, get_network_status),
    ToolSpec("get_outages", "read", "Active outages and planned maintenance in an area.", OutageArgs,
             OutagesResult, get_outages),
    ToolSpec("run_line_test", "read", "Test a broadband line from the exchange: sync, SNR, port state, node "
             "status and a verdict.", ServiceArgs, LineTest, run_line_test),
    ToolSpec("get_optical_power", "read", "Optical receive power of a fiber ONT in dBm (healthy above -27 dBm).",
             ServiceArgs, OpticalPower, get_optical_power),
    ToolSpec("get_router_status", "read", "Remote view of the router: power, uptime, temperature, stability, "
             "Wi-Fi channel, firmware, DNS.", ServiceArgs, RouterStatus, get_router_status),
    ToolSpec("get_router_logs", "read", "Recent router events: reboots, overheat restarts, sync losses.",
             ServiceArgs, RouterLogsResult, get_router_logs),
    ToolSpec("check_serviceability", "read", "Which broadband technologies and plans are available at a postcode.",
             PostcodeArgs, Serviceability, check_serviceability),
    ToolSpec("get_appointment_slots", "read", "Free technician visit slots for a broadband service.", ServiceArgs,
             SlotsResult, get_appointment_slots),
    ToolSpec("get_available_plans", "read", "The plan catalogue, optionally for one service with each plan marked "
             "eligible or not.", PlansArgs, PlansResult, get_available_plans),
    ToolSpec("get_plan", "read", "One plan of the catalogue by id: kind, price, data or speed, 5G, technologies.",
             PlanArgs, PlanView, get_plan),
]
