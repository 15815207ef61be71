"""Every write tool: the allowed path changes the world as described, the refused path names its rule and
leaves the world exactly as it was."""
from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest

from telco.errors import BackendUnavailable, IdentityNotVerified, InvalidInput, NotFound, PolicyDenied
from telco.models import Bill, LineItem, Order
from telco.policy import RULES
from telco.sandbox.faults import inject_fault
from telco.sandbox.state import Sandbox
from telco.tools import ToolContext, call_tool
from telco.tools.guards import GUARD_RULES
from worldkit import CLOCK, small_world

BILL, OLD_BILL = "BILL-C0001-2025-06", "BILL-C0001-2025-05"
_keys = itertools.count()


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(small_world())


@pytest.fixture
def ctx(sb) -> ToolContext:
    return ToolContext(sb, "conv-test", verified_customer_id="C0001")


def w(ctx: ToolContext, name: str, **args) -> dict:
    return call_tool(ctx, name, args, f"key-{next(_keys)}")


def deny(ctx: ToolContext, rule: str, name: str, **args) -> PolicyDenied:
    before = ctx.sandbox.dump_json()
    with pytest.raises(PolicyDenied) as exc:
        w(ctx, name, **args)
    assert exc.value.rule == rule, exc.value.message
    assert rule in RULES + GUARD_RULES
    assert ctx.sandbox.dump_json() == before, "a refused write must change nothing"
    return exc.value


def unverified(ctx: ToolContext, name: str, **args) -> None:
    ctx.verified_customer_id = None
    deny(ctx, "identity.verified_before_account_change", name, **args)
    with pytest.raises(IdentityNotVerified):
        w(ctx, name, **args)


# ---- lines ------------------------------------------------------------------------------------------
def test_suspend_line(ctx):
    r = w(ctx, "suspend_line", line_id="L-0001", reason="lost_device")
    line = ctx.sandbox.world.lines["L-0001"]
    assert r["status"] == line.status == "suspended" and line.suspension_reason == "lost_device"
    assert line.suspended_since == CLOCK
    deny(ctx, "suspend_line.line_active", "suspend_line", line_id="L-0001", reason="customer_request")
    with pytest.raises(InvalidInput) as exc:
        w(ctx, "suspend_line", line_id="L-0001", reason="fraud")  # not the agent's call
    assert exc.value.details["field"] == "reason"
    unverified(ctx, "suspend_line", line_id="L-0001", reason="customer_request")


def test_resume_after_the_overdue_bill_is_paid(ctx):
    sb = ctx.sandbox
    inject_fault(sb, "line_suspended_overdue", "C0001", "L-0001")
    e = deny(ctx, "resume_line.no_overdue_bill", "resume_line", line_id="L-0001")
    assert BILL in e.message
    sb.world.bills[BILL].status = "paid"
    r = w(ctx, "resume_line", line_id="L-0001")
    line = sb.world.lines["L-0001"]
    assert r["status"] == line.status == "active" and line.suspension_reason is None and line.suspended_since is None
    deny(ctx, "resume_line.line_suspended", "resume_line", line_id="L-0001")


def test_resume_refused_when_the_contract_ended(ctx):
    inject_fault(ctx.sandbox, "line_suspended_contract_ended", "C0001", "L-0001")
    deny(ctx, "resume_line.allowed_suspension_reasons", "resume_line", line_id="L-0001")
    ctx.sandbox.world.lines["L-0001"].suspension_reason = "customer_request"
    deny(ctx, "resume_line.contract_not_ended", "resume_line", line_id="L-0001")
    unverified(ctx, "resume_line", line_id="L-0001")


def test_set_line_roaming(ctx):
    assert w(ctx, "set_line_roaming", line_id="L-0001", enabled=True)["roaming_enabled"] is True
    ctx.sandbox.world.bills[BILL].status = "overdue"
    assert w(ctx, "set_line_roaming", line_id="L-0001", enabled=False)["roaming_enabled"] is False  # off: always
    deny(ctx, "roaming.requires_no_overdue_bill", "set_line_roaming", line_id="L-0001", enabled=True)
    unverified(ctx, "set_line_roaming", line_id="L-0001", enabled=False)


def test_refuel_adds_data_and_a_charge_on_the_open_bill(ctx):
    world = ctx.sandbox.world
    r = w(ctx, "refuel_data", line_id="L-0001", gb=3)
    assert world.lines["L-0001"].data_refuelled_gb == 3 and r["remaining_gb"] == 20 - 4.5 + 3
    item = next(i for i in world.bills[BILL].items if i.id == r["line_item_id"])
    assert item.kind == "refuel" and item.amount == Decimal("6.00") == Decimal(r["charge"])  # 3 GB x 2.00
    deny(ctx, "refuel.max_gb_per_request", "refuel_data", line_id="L-0001", gb=5.5)
    w(ctx, "refuel_data", line_id="L-0001", gb=5)
    w(ctx, "refuel_data", line_id="L-0001", gb=5)
    e = deny(ctx, "refuel.max_gb_per_cycle", "refuel_data", line_id="L-0001", gb=3)
    assert "13 GB" in e.message
    unverified(ctx, "refuel_data", line_id="L-0001", gb=1)


def test_refuel_opens_a_draft_bill_when_the_latest_is_closed(ctx):
    world = ctx.sandbox.world
    world.bills[BILL].status = "paid"
    r = w(ctx, "refuel_data", line_id="L-0001", gb=1)
    draft = world.bills[r["bill_id"]]
    assert draft.status == "draft" and draft.period == "2025-07" and draft.issued_on.day == 1
    assert [i.kind for i in draft.items] == ["refuel"]


# ---- plans ------------------------------------------------------------------------------------------
def test_change_mobile_plan(ctx):
    world = ctx.sandbox.world
    r = w(ctx, "change_plan", service_id="L-0001", plan_id="MOB-4G-10")
    assert world.lines["L-0001"].plan_id == "MOB-4G-10"
    order = world.orders[r["order_id"]]
    assert order.kind == "plan_change" and order.details == {"from_plan": "MOB-5G-20", "to_plan": "MOB-4G-10"}
    world.phones["PH-0001"].supports_5g = False
    deny(ctx, "plan_change.five_g_requires_capable_device", "change_plan", service_id="L-0001", plan_id="MOB-5G-20")
    world.phones["PH-0001"].supports_5g = True
    world.bills[BILL].status = "overdue"
    deny(ctx, "plan_change.no_overdue_bill", "change_plan", service_id="L-0001", plan_id="MOB-5G-20")
    with pytest.raises(InvalidInput) as exc:
        w(ctx, "change_plan", service_id="L-0001", plan_id="BB-DSL-20")
    assert "broadband plan" in exc.value.message
    unverified(ctx, "change_plan", service_id="L-0001", plan_id="MOB-5G-20")


def test_downgrade_only_after_the_minimum_term(ctx):
    world = ctx.sandbox.world
    world.orders["ORD-OLD"] = Order(id="ORD-OLD", customer_id="C0001", kind="plan_change", service_id="L-0001",
                                    details={}, status="completed", created_at=CLOCK - timedelta(days=40))
    deny(ctx, "plan_change.min_months_before_downgrade", "change_plan", service_id="L-0001", plan_id="MOB-4G-10")
    world.orders["ORD-OLD"].created_at = CLOCK - timedelta(days=100)
    assert w(ctx, "change_plan", service_id="L-0001", plan_id="MOB-4G-10")["status"] == "completed"


def test_change_broadband_plan_must_fit_the_technology(ctx):
    deny(ctx, "plan_change.technology_available", "change_plan", service_id="BB-0001", plan_id="BB-DSL-20")
    ctx.sandbox.world.plans["BB-FIBER-1000"] = ctx.sandbox.world.plans["BB-FIBER-500"].model_copy(
        update={"id": "BB-FIBER-1000", "download_mbps": 1000, "monthly_price": Decimal("60.00")})
    assert w(ctx, "change_plan", service_id="BB-0001", plan_id="BB-FIBER-1000")["details"]["to_plan"] == "BB-FIBER-1000"


# ---- payments and credits ---------------------------------------------------------------------------
def test_send_payment_request(ctx):
    world = ctx.sandbox.world
    deny(ctx, "payment_request.payable_bill", "send_payment_request", customer_id="C0001")  # nothing due yet
    world.bills[BILL].status = "overdue"
    r = w(ctx, "send_payment_request", customer_id="C0001")
    req = world.payment_requests[r["payment_request_id"]]
    assert req.bill_id == BILL and req.amount == Decimal("75.00") and req.payment_method_id == "PM-0001"
    assert r["expires_at"].startswith("2025-06-16T10:00")
    deny(ctx, "payment_request.one_open_request", "send_payment_request", customer_id="C0001")
    ctx.sandbox.advance(25 * 60)  # the first link expired
    assert w(ctx, "send_payment_request", customer_id="C0001", bill_id=BILL)["bill_id"] == BILL
    deny(ctx, "payment_request.payable_bill", "send_payment_request", customer_id="C0001", bill_id=OLD_BILL)
    unverified(ctx, "send_payment_request", customer_id="C0001")


def test_payment_request_needs_a_default_payment_method(ctx):
    world = ctx.sandbox.world
    world.bills["BILL-C0002"] = Bill(id="BILL-C0002", customer_id="C0002", period="2025-05", issued_on=CLOCK.date(),
                                     due_date=CLOCK.date(), status="awaiting_payment",
                                     items=[LineItem(id="LI-X", description="DSL", kind="plan", amount=Decimal(25))])
    ctx.verified_customer_id = "C0002"
    e = deny(ctx, "payment_request.default_payment_method", "send_payment_request", customer_id="C0002")
    assert "no default payment method" in e.message


def test_goodwill_credit(ctx):
    world = ctx.sandbox.world
    r = w(ctx, "apply_credit", customer_id="C0001", amount="20", kind="goodwill", reason="slow repair")
    credit = world.credits[r["credit_id"]]
    assert credit.kind == "goodwill" and credit.amount == Decimal("20.00") and credit.bill_id == BILL
    assert next(i for i in world.bills[BILL].items if i.id == r["line_item_id"]).amount == Decimal("-20.00")
    assert world.bills[BILL].total == Decimal("55.00")
    assert world.customers["C0001"].goodwill_credit_used_this_year == Decimal("20.00")
    deny(ctx, "goodwill_credit.max_per_credit", "apply_credit", customer_id="C0001", amount="25.01",
         kind="goodwill", reason="x")
    w(ctx, "apply_credit", customer_id="C0001", amount="25", kind="goodwill", reason="outage")
    e = deny(ctx, "goodwill_credit.yearly_limit", "apply_credit", customer_id="C0001", amount="15.01",
             kind="goodwill", reason="x")
    assert "person" in e.details["hint"]
    unverified(ctx, "apply_credit", customer_id="C0001", amount="5", kind="goodwill", reason="x")


def test_goodwill_for_a_paid_bill_is_carried_by_the_open_bill(ctx):
    r = w(ctx, "apply_credit", customer_id="C0001", amount="5", kind="goodwill", reason="late", bill_id=OLD_BILL)
    assert r["bill_id"] == OLD_BILL and r["credited_on_bill_id"] == BILL
    assert ctx.sandbox.world.bills[OLD_BILL].total == Decimal("75.00")  # a paid bill is never rewritten
    ctx.verified_customer_id = "C0002"
    deny(ctx, "identity.own_records_only", "apply_credit", customer_id="C0002", amount="5", kind="goodwill",
         reason="x", bill_id=BILL)


def test_correction_credit_for_a_duplicated_charge(ctx):
    world = ctx.sandbox.world
    first = world.bills[BILL].items[0]
    deny(ctx, "correction_credit.evidence_required", "apply_credit", customer_id="C0001", amount="30",
         kind="correction", reason="dup", bill_id=BILL, item_id=first.id)
    inject_fault(ctx.sandbox, "duplicated_charge", "C0001")
    deny(ctx, "correction_credit.max_evidenced_amount", "apply_credit", customer_id="C0001", amount="30.01",
         kind="correction", reason="dup", bill_id=BILL, item_id=first.id)
    r = w(ctx, "apply_credit", customer_id="C0001", amount="30", kind="correction", reason="dup", bill_id=BILL,
          item_id=first.id)
    assert world.credits[r["credit_id"]].evidence is not None and world.bills[BILL].total == Decimal("75.00")
    assert world.customers["C0001"].goodwill_credit_used_this_year == 0  # corrections are not goodwill
    deny(ctx, "correction_credit.max_evidenced_amount", "apply_credit", customer_id="C0001", amount="1",
         kind="correction", reason="again", bill_id=BILL, item_id=first.id)
    with pytest.raises(InvalidInput) as exc:
        w(ctx, "apply_credit", customer_id="C0001", amount="5", kind="correction", reason="x")
    assert "needs bill_id" in exc.value.message


def test_correction_credit_for_a_missing_promotion(ctx):
    inject_fault(ctx.sandbox, "promotion_not_applied", "C0001", discount="10.00")
    promo_id = next(iter(ctx.sandbox.world.promotions))
    deny(ctx, "correction_credit.max_evidenced_amount", "apply_credit", customer_id="C0001", amount="12",
         kind="correction", reason="promo", bill_id=BILL, promotion_id=promo_id)
    r = w(ctx, "apply_credit", customer_id="C0001", amount="10", kind="correction", reason="promo", bill_id=BILL,
          promotion_id=promo_id)
    assert r["bill_id"] == r["credited_on_bill_id"] == BILL
    with pytest.raises(NotFound):
        w(ctx, "apply_credit", customer_id="C0001", amount="1", kind="correction", reason="p", bill_id=BILL,
          promotion_id="PROMO-NOPE")


def test_dispute_of_a_duplicated_charge_is_upheld_with_a_credit(ctx):
    world = ctx.sandbox.world
    inject_fault(ctx.sandbox, "duplicated_charge", "C0001")
    copy = world.bills[BILL].items[-1]
    r = w(ctx, "dispute_bill_item", bill_id=BILL, item_id=copy.id, reason="charged twice")
    assert r["status"] == "upheld" and r["credit_id"] and r["bill_status"] == "issued"
    assert world.credits[r["credit_id"]].amount == copy.amount and world.bills[BILL].total == Decimal("75.00")
    deny(ctx, "billing_dispute.not_already_disputed", "dispute_bill_item", bill_id=BILL, item_id=copy.id, reason="x")
    again = w(ctx, "dispute_bill_item", bill_id=BILL, item_id=world.bills[BILL].items[0].id, reason="the other copy")
    assert again["status"] == "upheld" and again["credit_id"] is None  # already corrected: no second credit


def test_other_disputes_stay_open_and_put_the_bill_on_hold(ctx):
    world = ctx.sandbox.world
    inject_fault(ctx.sandbox, "disputed_roaming_charge", "C0001", "L-0001")
    roaming = world.bills[BILL].items[-1]
    r = w(ctx, "dispute_bill_item", bill_id=BILL, item_id=roaming.id, reason="never roamed")
    assert r["status"] == "open" and r["credit_id"] is None
    assert world.bills[BILL].status == "disputed" and roaming.disputed
    ctx.sandbox.advance(61 * 24 * 60)  # the May bill was issued on 2025-05-01
    e = deny(ctx, "billing_dispute.window_days", "dispute_bill_item", bill_id=OLD_BILL,
             item_id=world.bills[OLD_BILL].items[0].id, reason="x")
    assert "60 days" in e.message
    unverified(ctx, "dispute_bill_item", bill_id=BILL, item_id=world.bills[BILL].items[0].id, reason="x")


# ---- broadband --------------------------------------------------------------------------------------
def test_reset_port(ctx):
    inject_fault(ctx.sandbox, "port_stale", "C0001", "BB-0001")
    assert w(ctx, "reset_port", service_id="BB-0001")["port_state"] == "ok"
    deny(ctx, "identity.own_records_only", "reset_port", service_id="BB-0002")
    ctx.sandbox.world.access_nodes["OLT-N1"].status = "down"
    with pytest.raises(BackendUnavailable) as exc:
        w(ctx, "reset_port", service_id="BB-0001")
    assert "OLT-N1" in exc.value.message
    unverified(ctx, "reset_port", service_id="BB-0001")


def test_reprovision_restores_operator_dns_and_sets_the_profile(ctx):
    sb = ctx.sandbox
    inject_fault(sb, "wrong_dns", "C0001", "BB-0001")
    inject_fault(sb, "port_stale", "C0001", "BB-0001")
    r = w(ctx, "reprovision_service", service_id="BB-0001", profile="stable")
    service, router = sb.world.broadband["BB-0001"], sb.world.routers["RT-0001"]
    assert service.profile == "stable" and service.port_state == "ok" and not service.dns_override
    assert router.dns_servers == r["dns_servers"] == ["10.0.0.53", "10.0.1.53"]
    assert call_tool(ctx, "get_router_status", {"service_id": "BB-0001"})["dns_ok"]
    router.powered = False
    with pytest.raises(BackendUnavailable) as exc:
        w(ctx, "reprovision_service", service_id="BB-0001", profile="fast")
    assert "powered off" in exc.value.message
    unverified(ctx, "reprovision_service", service_id="BB-0001", profile="fast")


def test_reboot_router_moves_channel_but_does_not_cure_heat(ctx):
    sb = ctx.sandbox
    inject_fault(sb, "wifi_congestion", "C0001", "BB-0001")
    inject_fault(sb, "router_overheating", "C0001", "BB-0001")
    router = sb.world.routers["RT-0001"]
    boots = len(router.reboot_log)
    r = w(ctx, "reboot_router", service_id="BB-0001")
    assert router.last_boot == CLOCK and len(router.reboot_log) == boots + 1 and router.reboot_log[-1] == CLOCK
    assert router.wifi_channel != 6 and router.channel_interference == 0.1
    assert router.overheating and "does not cure overheating" in r["note"]
    sb.advance(31)
    assert not call_tool(ctx, "get_router_status", {"service_id": "BB-0001"})["stable"]
    deny(ctx, "identity.own_records_only", "reboot_router", service_id="BB-0002")
    unverified(ctx, "reboot_router", service_id="BB-0001")


def test_update_router_firmware(ctx):
    router = ctx.sandbox.world.routers["RT-0001"]
    deny(ctx, "update_router_firmware.firmware_outdated", "update_router_firmware", service_id="BB-0001")
    router.latest_firmware = "3.3.0"
    r = w(ctx, "update_router_firmware", service_id="BB-0001")
    assert router.firmware == "3.3.0" and ctx.sandbox.world.orders[r["order_id"]].kind == "firmware_update"
    router.latest_firmware = "3.4.0"
    unverified(ctx, "update_router_firmware", service_id="BB-0001")


# ---- field work, tickets, handoffs ------------------------------------------------------------------
def test_schedule_technician(ctx):
    world = ctx.sandbox.world
    deny(ctx, "technician.slot_window", "schedule_technician", service_id="BB-0001", date="2025-06-15",
         window="morning", reason="drops")
    deny(ctx, "technician.slot_available", "schedule_technician", service_id="BB-0001", date="2025-06-21",
         window="morning", reason="drops")  # a Saturday
    slot = call_tool(ctx, "get_appointment_slots", {"service_id": "BB-0001"})["slots"][0]
    r = w(ctx, "schedule_technician", service_id="BB-0001", date=slot["date"], window=slot["window"], reason="drops")
    appointment, ticket = world.appointments[r["appointment_id"]], world.tickets[r["ticket_id"]]
    assert appointment.slot_start.isoformat() == slot["start"] and appointment.status == "booked"
    assert ticket.details["appointment_id"] == appointment.id and ticket.category == "technical"
    deny(ctx, "technician.max_open_appointments_per_service", "schedule_technician", service_id="BB-0001",
         date="2025-06-17", window="morning", reason="again")
    with pytest.raises(InvalidInput) as exc:
        w(ctx, "schedule_technician", service_id="BB-0001", date="17.06.2025", window="morning", reason="x")
    assert "YYYY-MM-DD" in exc.value.message
    unverified(ctx, "schedule_technician", service_id="BB-0001", date="2025-06-17", window="morning", reason="x")


def test_move_service(ctx):
    r = w(ctx, "move_service", service_id="BB-0001", street="5 Elm St", city="Riverton", postcode="N1 9ZZ",
          move_date="2025-07-01")
    assert r["kind"] == "move_service" and r["details"]["area_id"] == "A-NORTH"
    details = ctx.sandbox.world.orders[r["order_id"]].details
    assert details["postcode"] == "N1 9ZZ" and details["plan_id"] == "BB-FIBER-500"
    assert details["technology"] == "fiber" and not details["new_installation"]
    e = deny(ctx, "move_service.technology_available", "move_service", service_id="BB-0001", street="9 Oak",
             city="Riverton", postcode="S1 1AA", move_date="2025-07-01")
    assert "fiber" in e.message
    deny(ctx, "move_service.serviceable", "move_service", service_id="BB-0001", street="9 Oak", city="X",
         postcode="ZZ1 1AA", move_date="2025-07-01")
    with pytest.raises(InvalidInput) as exc:
        w(ctx, "move_service", service_id="BB-0001", street="9", city="X", postcode="N1 1AA", move_date="2025-06-01")
    assert "in the past" in exc.value.message
    unverified(ctx, "move_service", service_id="BB-0001", street="9", city="X", postcode="N1 1AA",
               move_date="2025-07-01")


def test_move_with_a_plan_change_to_another_technology(ctx):
    ctx.verified_customer_id = "C0002"  # DSL in the south, moving north where fiber is available
    keep = w(ctx, "move_service", service_id="BB-0002", street="1 A St", city="R", postcode="N1 1AA",
             move_date="2025-07-01")
    assert keep["details"]["technology"] == "dsl" and keep["details"]["plan_id"] == "BB-DSL-20"
    up = w(ctx, "move_service", service_id="BB-0002", street="1 A St", city="R", postcode="N1 1AA",
           move_date="2025-07-01", plan_id="BB-FIBER-500")
    assert up["details"]["technology"] == "fiber" and up["details"]["new_installation"]
    assert ctx.sandbox.world.broadband["BB-0002"].plan_id == "BB-DSL-20"  # the plan changes with the move
    deny(ctx, "move_service.technology_available", "move_service", service_id="BB-0002", street="1 A St",
         city="R", postcode="S1 1AA", move_date="2025-07-01", plan_id="BB-FIBER-500")


def test_open_ticket_needs_no_verification_but_stays_in_scope(ctx):
    ctx.verified_customer_id = None
    r = w(ctx, "open_ticket", category="outage", subject="no signal downtown", customer_id="C0002")
    assert ctx.sandbox.world.tickets[r["ticket_id"]].customer_id == "C0002"
    ctx.verified_customer_id = "C0001"
    deny(ctx, "identity.own_records_only", "open_ticket", category="billing", subject="x", customer_id="C0002")
    with pytest.raises(NotFound):
        w(ctx, "open_ticket", category="billing", subject="x", customer_id="C9999")
    with pytest.raises(InvalidInput) as exc:
        w(ctx, "open_ticket", category="gossip", subject="x")
    assert exc.value.details["field"] == "category"


def test_transfer_to_person_carries_the_context(ctx):
    r = w(ctx, "transfer_to_person", reason="goodwill above the yearly limit", summary="asks 40 credit",
          queue="billing", customer_id="C0001", context={"intent": "billing_credit", "asked": "40.00"})
    handoff = ctx.sandbox.world.handoffs[r["handoff_id"]]
    assert handoff.queue == "billing" and handoff.context["intent"] == "billing_credit"
    assert handoff.context["conversation_id"] == "conv-test" and handoff.context["identity_verified"] is True
    deny(ctx, "identity.own_records_only", "transfer_to_person", reason="x", summary="y", customer_id="C0002")
    with pytest.raises(InvalidInput):
        w(ctx, "transfer_to_person", reason="x", summary="y", queue="sales")
