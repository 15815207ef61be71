"""Write tools for home broadband, field work, tickets and handoffs to people. Check first, then change."""
from __future__ import annotations

from typing import Any, Literal

from telco.errors import BackendUnavailable, InvalidInput, NotFound, PolicyDenied
from telco.models import OPERATOR_DNS, Appointment, BroadbandService, Handoff, Order, Router, Ticket
from telco.policy import check_open_appointments, check_own_records, check_technician_day
from telco.tools import guards
from telco.tools.access import area_services, broadband_for_write, today
from telco.tools.context import ToolContext
from telco.tools.fields import Args, Id, IsoDate, Text
from telco.tools.results import (
    AppointmentResult,
    BroadbandChange,
    HandoffResult,
    OrderResult,
    RouterChange,
    TicketResult,
)
from telco.tools.slots import free_slots
from telco.tools.spec import ToolSpec

# Non-overlapping channels per band; a reboot's channel scan settles on one of these.
CHANNELS = {"2.4GHz": (1, 6, 11), "5GHz": (36, 40, 44, 48)}
# Interference left after a channel scan picks the quietest channel.
CLEAN_INTERFERENCE = 0.1


class ServiceArgs(Args):
    service_id: Id


def _reachable_router(ctx: ToolContext, service: BroadbandService) -> Router:
    router = ctx.sandbox.router(service.router_id)
    guards.check_router_reachable(router, ctx.sandbox.world.access_nodes.get(service.access_node_id))
    return router


def _broadband_change(ctx: ToolContext, service: BroadbandService) -> BroadbandChange:
    router = ctx.sandbox.router(service.router_id)
    return BroadbandChange(
        service_id=service.id, profile=service.profile, port_state=service.port_state,
        dns_override=service.dns_override, dns_servers=list(router.dns_servers),
    )


def _router_change(service: BroadbandService, router: Router, note: str, order_id: str | None = None) -> RouterChange:
    return RouterChange(
        service_id=service.id, router_id=router.id, last_boot=router.last_boot, wifi_band=router.wifi_band,
        wifi_channel=router.wifi_channel, channel_interference=router.channel_interference,
        firmware=router.firmware, order_id=order_id, note=note,
    )


# ---- broadband --------------------------------------------------------------------------------------
def reset_port(ctx: ToolContext, a: ServiceArgs) -> BroadbandChange:
    service = broadband_for_write(ctx, a.service_id)
    node = ctx.sandbox.world.access_nodes.get(service.access_node_id)
    if node is not None and node.status == "down":
        raise BackendUnavailable(f"access node {node.id} is down; its ports cannot be reset now")
    service.port_state = "ok"
    return _broadband_change(ctx, service)


class ReprovisionArgs(Args):
    service_id: Id
    profile: Literal["fast", "stable"]


def reprovision_service(ctx: ToolContext, a: ReprovisionArgs) -> BroadbandChange:
    service = broadband_for_write(ctx, a.service_id)
    router = _reachable_router(ctx, service)
    service.profile = a.profile
    service.port_state = "ok"
    service.dns_override = False
    router.dns_servers = list(OPERATOR_DNS)
    return _broadband_change(ctx, service)


def reboot_router(ctx: ToolContext, a: ServiceArgs) -> RouterChange:
    service = broadband_for_write(ctx, a.service_id)
    router = _reachable_router(ctx, service)
    clock = ctx.sandbox.world.clock
    router.last_boot = clock
    router.reboot_log = [*router.reboot_log, clock]
    channels = CHANNELS[router.wifi_band]
    # The scan moves off the current (congested) channel to the next clean one, deterministically.
    current = channels.index(router.wifi_channel) if router.wifi_channel in channels else -1
    router.wifi_channel = channels[(current + 1) % len(channels)]
    router.channel_interference = min(router.channel_interference, CLEAN_INTERFERENCE)
    note = "router rebooted; Wi-Fi moved to the least congested channel"
    if router.overheating:
        note += f"; it is still at {router.temperature_c:g} °C, a reboot does not cure overheating"
    return _router_change(service, router, note)


def update_router_firmware(ctx: ToolContext, a: ServiceArgs) -> RouterChange:
    service = broadband_for_write(ctx, a.service_id)
    router = _reachable_router(ctx, service)
    if router.firmware == router.latest_firmware:
        raise PolicyDenied(
            "update_router_firmware.firmware_outdated",
            f"router {router.id} already runs the latest firmware {router.firmware}",
        )
    sb = ctx.sandbox
    order = Order(
        id=sb.new_id("ORD"), customer_id=service.customer_id, kind="firmware_update", service_id=service.id,
        details={"router_id": router.id, "from": router.firmware, "to": router.latest_firmware},
        status="completed", created_at=sb.world.clock,
    )
    sb.world.orders[order.id] = order
    router.firmware = router.latest_firmware
    return _router_change(service, router, f"firmware updated to {router.firmware}", order.id)


# ---- field work -------------------------------------------------------------------------------------
class TechnicianArgs(Args):
    service_id: Id
    date: IsoDate
    window: Literal["morning", "afternoon"]
    reason: Text


def schedule_technician(ctx: ToolContext, a: TechnicianArgs) -> AppointmentResult:
    sb = ctx.sandbox
    service = broadband_for_write(ctx, a.service_id)
    check_open_appointments(sb.world.appointments.values(), service.id)
    check_technician_day(a.date, today(ctx))
    slots = free_slots(sb.world.appointments.values(), area_services(ctx, service.area_id), sb.world.clock)
    chosen = next(((s, e) for d, w, s, e in slots if d == a.date and w == a.window), None)
    if chosen is None:
        offer = ", ".join(f"{d.isoformat()} {w}" for d, w, _, _ in slots[:4]) or "none"
        raise PolicyDenied(
            "technician.slot_available",
            f"no technician is free on {a.date.isoformat()} ({a.window}); free slots include: {offer}",
        )
    appointment_id, ticket_id = sb.new_id("APT"), sb.new_id("TKT")
    sb.world.tickets[ticket_id] = Ticket(
        id=ticket_id, customer_id=service.customer_id, category="technical", subject=f"Technician visit: {a.reason}",
        created_at=sb.world.clock, details={"service_id": service.id, "appointment_id": appointment_id},
    )
    sb.world.appointments[appointment_id] = Appointment(
        id=appointment_id, customer_id=service.customer_id, service_id=service.id, slot_start=chosen[0],
        slot_end=chosen[1], reason=a.reason,
    )
    return AppointmentResult(
        appointment_id=appointment_id, ticket_id=ticket_id, service_id=service.id, slot_start=chosen[0],
        slot_end=chosen[1],
    )


class MoveArgs(Args):
    service_id: Id
    street: Text
    city: Text
    postcode: Id
    move_date: IsoDate
    plan_id: Id | None = None  # the plan at the new address; default: keep the current plan


def move_service(ctx: ToolContext, a: MoveArgs) -> OrderResult:
    sb = ctx.sandbox
    service = broadband_for_write(ctx, a.service_id)
    if a.move_date < today(ctx):
        raise InvalidInput(f"move_date {a.move_date.isoformat()} is in the past", field="move_date")
    plan = sb.world.plans.get(a.plan_id or service.plan_id)
    if plan is None:
        raise NotFound(f"no plan with id {a.plan_id!r}", kind="plan", id=a.plan_id)
    guards.check_plan_kind(plan.kind, "broadband", plan.id, service.id)
    area, technology = guards.move_target(sb.world.areas.values(), a.postcode, plan, service.technology)
    order = Order(
        id=sb.new_id("ORD"), customer_id=service.customer_id, kind="move_service", service_id=service.id,
        details={
            "street": a.street, "city": a.city, "postcode": a.postcode, "area_id": area.id,
            "move_date": a.move_date.isoformat(), "plan_id": plan.id, "from_plan_id": service.plan_id,
            "technology": technology, "from_technology": service.technology,
            # Another technology means new equipment and an installation visit, not just a transfer.
            "new_installation": technology != service.technology,
        },
        created_at=sb.world.clock,
    )
    sb.world.orders[order.id] = order
    return OrderResult(
        order_id=order.id, kind=order.kind, service_id=service.id, status=order.status, details=order.details
    )


# ---- tickets and people -----------------------------------------------------------------------------
def _known_customer(ctx: ToolContext, customer_id: str | None) -> None:
    if customer_id is not None:
        ctx.sandbox.customer(customer_id)
        check_own_records(ctx.verified_customer_id, customer_id)


class TicketArgs(Args):
    category: Literal["technical", "billing", "account", "complaint", "outage", "other"]
    subject: Text
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    customer_id: Id | None = None
    details: dict[str, Any] = {}


def open_ticket(ctx: ToolContext, a: TicketArgs) -> TicketResult:
    _known_customer(ctx, a.customer_id)
    sb = ctx.sandbox
    ticket = Ticket(
        id=sb.new_id("TKT"), customer_id=a.customer_id, category=a.category, subject=a.subject,
        priority=a.priority, created_at=sb.world.clock, details=a.details,
    )
    sb.world.tickets[ticket.id] = ticket
    return TicketResult(ticket_id=ticket.id, category=ticket.category, priority=ticket.priority, status=ticket.status)


class HandoffArgs(Args):
    reason: Text
    summary: Text
    queue: Literal["support", "billing", "retention", "technical", "complaints"] = "support"
    customer_id: Id | None = None
    context: dict[str, Any] = {}


def transfer_to_person(ctx: ToolContext, a: HandoffArgs) -> HandoffResult:
    _known_customer(ctx, a.customer_id)
    sb = ctx.sandbox
    context = {
        **a.context,
        "conversation_id": ctx.conversation_id,
        "identity_verified": a.customer_id is not None and ctx.verified_customer_id == a.customer_id,
    }
    handoff = Handoff(
        id=sb.new_id("HND"), customer_id=a.customer_id, reason=a.reason, summary=a.summary, queue=a.queue,
        created_at=sb.world.clock, context=context,
    )
    sb.world.handoffs[handoff.id] = handoff
    return HandoffResult(
        handoff_id=handoff.id, queue=handoff.queue, message=f"handed over to the {handoff.queue} team"
    )


WRITES_SERVICE = [
    ToolSpec("reset_port", "write", "Reset the customer's port on the access node (clears a stale port "
             "configuration).", ServiceArgs, BroadbandChange, reset_port),
    ToolSpec("reprovision_service", "write", "Re-provision a broadband service with profile fast or stable (stable "
             "suits noisy DSL); also restores the operator DNS on the router.", ReprovisionArgs, BroadbandChange,
             reprovision_service),
    ToolSpec("reboot_router", "write", "Reboot the router remotely; it re-selects the least congested Wi-Fi channel "
             "but does not cure overheating.", ServiceArgs, RouterChange, reboot_router),
    ToolSpec("update_router_firmware", "write", "Update the router to the latest firmware remotely.", ServiceArgs,
             RouterChange, update_router_firmware),
    ToolSpec("schedule_technician", "write", "Book a technician visit for a broadband service in a free slot from "
             "get_appointment_slots (also opens a ticket).", TechnicianArgs, AppointmentResult, schedule_technician),
    ToolSpec("move_service", "write", "Order a move of a broadband service to a new address on a date, optionally "
             "on another plan; the new address must support the plan.", MoveArgs, OrderResult, move_service),
    ToolSpec("open_ticket", "write", "Open a support ticket (no identity check needed).", TicketArgs, TicketResult,
             open_ticket),
    ToolSpec("transfer_to_person", "write", "Hand the conversation to a person in a queue, with the reason, a "
             "summary and the context gathered so far.", HandoffArgs, HandoffResult, transfer_to_person),
]
