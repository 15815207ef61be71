"""The tool registry: argument validation, idempotent writes, identity and own-records scoping, reads that
compute diagnostics from the state. Write tools' allow/deny paths are in test_tools_writes.py."""
from __future__ import annotations

from datetime import date

import pytest

from telco.errors import IdempotencyConflict, IdentityNotVerified, InvalidInput, NotFound, PolicyDenied
from telco.sandbox.faults import inject_fault
from telco.sandbox.state import Sandbox
from telco.tools import TOOLS, ToolContext, call_tool, tool_schemas
from worldkit import small_world

CONTRACT_READS = {
    "find_customer_by_phone", "find_customer_by_id", "find_customer_by_name_dob", "verify_identity",
    "get_customer_details", "get_bills", "get_line_status", "get_data_usage", "get_network_status", "get_outages",
    "run_line_test", "get_optical_power", "get_router_status", "get_router_logs", "check_serviceability",
    "get_appointment_slots", "get_available_plans",
}
# Reads the playbooks needed beyond the contract: one plan by id, a bill review for provable errors, a verification
# tool for each identity method policy allows, and the identify flow's choice of what to ask next.
EXTRA_READS = {"get_plan", "review_bill", "verify_phone_and_name", "verify_customer_id_and_name",
               "plan_identity_check"}
CONTRACT_WRITES = {
    "suspend_line", "resume_line", "send_payment_request", "refuel_data", "set_line_roaming", "reset_port",
    "reprovision_service", "reboot_router", "update_router_firmware", "change_plan", "apply_credit",
    "schedule_technician", "open_ticket", "move_service", "dispute_bill_item", "transfer_to_person",
}


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(small_world())


@pytest.fixture
def ctx(sb) -> ToolContext:
    return ToolContext(sb, "conv-test", verified_customer_id="C0001")


@pytest.fixture
def anon(sb) -> ToolContext:
    return ToolContext(sb, "conv-anon")


def invalid(ctx, name, args, key=None) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        call_tool(ctx, name, args, key)
    return exc.value


# ---- the registry -----------------------------------------------------------------------------------
def test_registry_holds_exactly_the_contract_tools_each_described_in_one_line():
    assert {n for n, s in TOOLS.items() if s.kind == "read"} == CONTRACT_READS | EXTRA_READS
    assert {n for n, s in TOOLS.items() if s.kind == "write"} == CONTRACT_WRITES
    for schema in tool_schemas():
        assert schema["description"] and "\n" not in schema["description"] and len(schema["description"]) < 200
        assert schema["input_schema"]["type"] == "object"
    assert {s["name"] for s in tool_schemas("write")} == CONTRACT_WRITES


def test_unknown_tool_is_named(ctx):
    e = invalid(ctx, "refuel", {})
    assert "unknown tool 'refuel'" in e.message and "refuel_data" in e.message


# ---- argument validation ----------------------------------------------------------------------------
def test_malformed_phone_number_is_refused_with_the_expected_format(ctx):
    e = invalid(ctx, "find_customer_by_phone", {"phone": "555-1234"})
    assert e.details["field"] == "phone" and "malformed phone number '555-1234'" in e.message
    assert "+15551230001" in e.message  # says what a good one looks like
    assert invalid(ctx, "find_customer_by_phone", {"phone": 15551230001}).details["field"] == "phone"


@pytest.mark.parametrize("bad, why", [
    ("14/03/1988", "ISO format YYYY-MM-DD"),
    ("1988-3-14", "ISO format YYYY-MM-DD"),
    ("1988-02-30", "not a real calendar date"),
    (574300800, "ISO format YYYY-MM-DD"),  # a unix timestamp is not a date argument
])
def test_dates_must_be_iso(anon, bad, why):
    e = invalid(anon, "verify_identity", {"customer_id": "C0001", "date_of_birth": bad})
    assert e.details["field"] == "date_of_birth" and why in e.message
    assert anon.verified_customer_id is None and anon.failed_identity_attempts == 0


@pytest.mark.parametrize("amount, why", [
    ("-5", "amount must be positive"),
    (0, "amount must be positive"),
    ("12.345", "at most 2 decimal places"),
    ("ten", "amount must be a number"),
    (True, "amount must be a number"),
])
def test_amounts_must_be_positive_money(ctx, amount, why):
    e = invalid(ctx, "apply_credit", {"customer_id": "C0001", "amount": amount, "kind": "goodwill", "reason": "x"}, "k")
    assert e.details["field"] == "amount" and why in e.message
    assert ctx.sandbox.world.credits == {} and ctx.sandbox.world.applied_writes == {}


def test_negative_gigabytes_missing_and_unknown_arguments_are_named(ctx):
    e = invalid(ctx, "refuel_data", {"line_id": "L-0001", "gb": -2}, "k")
    assert "gb: gigabytes must be positive, got -2" in e.message
    e = invalid(ctx, "refuel_data", {"gb": 2}, "k")
    assert "line_id: is required" in e.message
    e = invalid(ctx, "refuel_data", {"line_id": "L-0001", "gb": 2, "gigabytes": 2}, "k")
    assert "gigabytes: is not an argument of refuel_data" in e.message
    e = invalid(ctx, "reprovision_service", {"service_id": "BB-0001", "profile": "turbo"}, "k")
    assert e.details["field"] == "profile" and "'fast' or 'stable'" in e.message


def test_a_write_needs_an_idempotency_key(ctx):
    for key in (None, "", "   "):
        e = invalid(ctx, "refuel_data", {"line_id": "L-0001", "gb": 1}, key)
        assert "idempotency_key" in e.message
    assert ctx.sandbox.world.lines["L-0001"].data_refuelled_gb == 0


@pytest.mark.parametrize("name, args", [
    ("get_line_status", {"line_id": "L-9999"}),
    ("find_customer_by_id", {"customer_id": "C9999"}),
    ("get_router_status", {"service_id": "BB-9999"}),
    ("get_outages", {"area_id": "A-NOWHERE"}),
    ("find_customer_by_phone", {"phone": "+15559999999"}),
])
def test_unknown_ids_are_not_found_with_the_id_in_the_message(ctx, name, args):
    with pytest.raises(NotFound) as exc:
        call_tool(ctx, name, args)
    assert next(iter(args.values())) in exc.value.message


def test_unknown_ids_in_writes_are_not_found_and_change_nothing(ctx):
    before = ctx.sandbox.dump_json()
    for name, args in [("refuel_data", {"line_id": "L-9999", "gb": 1}),
                       ("change_plan", {"service_id": "L-0001", "plan_id": "NOPE"}),
                       ("dispute_bill_item", {"bill_id": "BILL-C0001-2025-06", "item_id": "LI-NOPE", "reason": "x"})]:
        with pytest.raises(NotFound) as exc:
            call_tool(ctx, name, args, f"k-{name}")
        assert "9999" in exc.value.message or "NOPE" in exc.value.message
    assert ctx.sandbox.dump_json() == before


# ---- idempotency ------------------------------------------------------------------------------------
def test_same_key_same_args_applies_once(ctx):
    world = ctx.sandbox.world
    args = {"line_id": "L-0001", "gb": 2}
    first = call_tool(ctx, "refuel_data", args, "refuel-1")
    again = call_tool(ctx, "refuel_data", {"line_id": " L-0001 ", "gb": "2"}, "refuel-1")  # same args, other spelling
    assert again == first
    assert world.lines["L-0001"].data_refuelled_gb == 2
    refuels = [i for i in world.bills["BILL-C0001-2025-06"].items if i.kind == "refuel"]
    assert [i.id for i in refuels] == [first["line_item_id"]]
    assert world.applied_writes["refuel-1"].tool == "refuel_data"


def test_same_key_different_args_or_tool_is_a_conflict_and_changes_nothing(ctx):
    call_tool(ctx, "refuel_data", {"line_id": "L-0001", "gb": 2}, "k1")
    before = ctx.sandbox.dump_json()
    with pytest.raises(IdempotencyConflict) as exc:
        call_tool(ctx, "refuel_data", {"line_id": "L-0001", "gb": 3}, "k1")
    assert "'k1'" in exc.value.message and "different arguments" in exc.value.message
    with pytest.raises(IdempotencyConflict):
        call_tool(ctx, "set_line_roaming", {"line_id": "L-0001", "enabled": True}, "k1")
    assert ctx.sandbox.dump_json() == before


def test_the_ledger_survives_a_dump_and_load(ctx):
    result = call_tool(ctx, "refuel_data", {"line_id": "L-0001", "gb": 2}, "k1")
    reloaded = ToolContext(Sandbox.from_json(ctx.sandbox.dump_json()), "conv-test", verified_customer_id="C0001")
    assert call_tool(reloaded, "refuel_data", {"line_id": "L-0001", "gb": 2}, "k1") == result
    assert reloaded.sandbox.world.lines["L-0001"].data_refuelled_gb == 2


def test_a_refused_write_is_not_recorded_so_the_key_works_once_allowed(ctx):
    ctx.sandbox.world.lines["L-0001"].data_refuelled_gb = 14
    with pytest.raises(PolicyDenied):
        call_tool(ctx, "refuel_data", {"line_id": "L-0001", "gb": 2}, "k1")
    assert "k1" not in ctx.sandbox.world.applied_writes
    ctx.sandbox.world.lines["L-0001"].data_refuelled_gb = 0  # a new cycle
    assert call_tool(ctx, "refuel_data", {"line_id": "L-0001", "gb": 2}, "k1")["refuelled_this_cycle_gb"] == 2


# ---- identity -----------------------------------------------------------------------------------------
def test_name_and_date_of_birth_verify_identity(anon):
    with pytest.raises(IdentityNotVerified):
        call_tool(anon, "refuel_data", {"line_id": "L-0001", "gb": 1}, "k1")
    r = call_tool(anon, "find_customer_by_name_dob", {"name": "  ana   LIMA ", "date_of_birth": "1988-03-14"})
    assert r["verified"] and r["customer_id"] == "C0001" and anon.verified_customer_id == "C0001"
    assert call_tool(anon, "refuel_data", {"line_id": "L-0001", "gb": 1}, "k1")["gb_added"] == 1


def test_phone_lookup_then_date_of_birth(anon):
    found = call_tool(anon, "find_customer_by_phone", {"phone": "+1 (555) 123-0001"})
    assert found == {"customer_id": "C0001", "name": "Ana Lima", "matched_on": "account_phone", "line_id": None,
                     "verified": False}
    wrong = call_tool(anon, "verify_identity", {"customer_id": "C0001", "date_of_birth": "1988-03-15"})
    assert not wrong["verified"] and wrong["attempts_left"] == 2 and anon.verified_customer_id is None
    right = call_tool(anon, "verify_identity", {"customer_id": "C0001", "date_of_birth": "1988-03-14"})
    assert right["verified"] and anon.verified_customer_id == "C0001"


def test_phone_lookup_finds_the_owner_of_a_mobile_line(anon):
    anon.sandbox.world.customers["C0001"].phone = "+15557770000"  # contact number differs from the line
    found = call_tool(anon, "find_customer_by_phone", {"phone": "+15551230001"})
    assert found["matched_on"] == "line_number" and found["line_id"] == "L-0001"


def test_too_many_failed_attempts_lock_verification(anon):
    for _ in range(3):
        with pytest.raises(NotFound) as exc:
            call_tool(anon, "find_customer_by_name_dob", {"name": "Ana Lima", "date_of_birth": "1990-01-01"})
    assert "0 attempts left" in exc.value.message
    with pytest.raises(PolicyDenied) as exc:
        call_tool(anon, "find_customer_by_name_dob", {"name": "Ana Lima", "date_of_birth": "1988-03-14"})
    assert exc.value.rule == "identity.max_failed_attempts" and anon.verified_customer_id is None
    with pytest.raises(PolicyDenied):
        call_tool(anon, "verify_identity", {"customer_id": "C0001", "date_of_birth": "1988-03-14"})


def test_a_verified_conversation_sees_only_its_own_records(ctx):
    for name, args in [("get_customer_details", {"customer_id": "C0002"}), ("get_bills", {"customer_id": "C0002"}),
                       ("get_router_status", {"service_id": "BB-0002"}), ("find_customer_by_id", {"customer_id": "C0002"}),
                       ("verify_identity", {"customer_id": "C0002", "date_of_birth": "1975-11-02"})]:
        with pytest.raises(PolicyDenied) as exc:
            call_tool(ctx, name, args)
        assert exc.value.rule == "identity.own_records_only" and "C0002" not in exc.value.message
    assert ctx.verified_customer_id == "C0001"


def test_customer_details_never_show_the_date_of_birth(ctx):
    details = call_tool(ctx, "get_customer_details", {"customer_id": "C0001"})
    assert "date_of_birth" not in details and "1988" not in str(details)
    assert details["lines"][0]["line_id"] == "L-0001" and details["payment_methods"][0]["last4"] == "4242"


# ---- reads compute from the state -------------------------------------------------------------------
def test_diagnostics_follow_the_state_and_the_fix(ctx):
    sb = ctx.sandbox
    assert call_tool(ctx, "run_line_test", {"service_id": "BB-0001"})["verdict"] == "ok"
    inject_fault(sb, "port_stale", "C0001", "BB-0001")
    assert call_tool(ctx, "run_line_test", {"service_id": "BB-0001"})["verdict"] == "port_stale"
    call_tool(ctx, "reset_port", {"service_id": "BB-0001"}, "fix-1")
    assert call_tool(ctx, "run_line_test", {"service_id": "BB-0001"})["verdict"] == "ok"


def test_router_status_logs_and_optical_power(ctx):
    inject_fault(ctx.sandbox, "router_overheating", "C0001", "BB-0001")
    status = call_tool(ctx, "get_router_status", {"service_id": "BB-0001"})
    assert status["overheating"] and not status["stable"]
    events = call_tool(ctx, "get_router_logs", {"service_id": "BB-0001"})["events"]
    assert [e["event"] for e in events].count("reboot") >= 4 and events[-1]["event"] == "temperature_high"
    ctx.sandbox.advance(31)  # the heat restarts it again half an hour after the last boot
    events = call_tool(ctx, "get_router_logs", {"service_id": "BB-0001"})["events"]
    assert any(e["event"] == "overheat_restart" for e in events)
    inject_fault(ctx.sandbox, "low_optical_power", "C0001", "BB-0001")
    assert call_tool(ctx, "get_optical_power", {"service_id": "BB-0001"}) == {"dbm": -30.5, "healthy": False}
    ctx.verified_customer_id = None
    e = invalid(ctx, "get_optical_power", {"service_id": "BB-0002"})
    assert "fiber only" in e.message and "dsl" in e.message


def test_outages_and_network_status(ctx):
    assert call_tool(ctx, "get_outages", {"area_id": "A-NORTH"})["outages"] == []
    inject_fault(ctx.sandbox, "area_mobile_outage", "C0001", "L-0001")
    outages = call_tool(ctx, "get_outages", {"area_id": "A-NORTH"})["outages"]
    assert len(outages) == 1 and outages[0]["services"] == ["mobile"]
    assert call_tool(ctx, "get_network_status", {"area_id": "A-NORTH", "service": "broadband"})["active_outages"] == []
    assert call_tool(ctx, "get_outages", {"area_id": "A-SOUTH"})["outages"] == []


def test_line_status_and_data_usage(ctx):
    status = call_tool(ctx, "get_line_status", {"line_id": "L-0001"})
    assert status["status"] == "active" and status["device_supports_5g"] and not status["contract_ended"]
    usage = call_tool(ctx, "get_data_usage", {"line_id": "L-0001"})
    assert usage["remaining_gb"] == 15.5 and usage["refuel_left_this_cycle_gb"] == 15


def test_serviceability_slots_and_plans(ctx):
    south = call_tool(ctx, "check_serviceability", {"postcode": "s1 9xy"})
    assert south["area_id"] == "A-SOUTH" and south["technologies"] == ["dsl"] and south["plan_ids"] == ["BB-DSL-20"]
    assert call_tool(ctx, "check_serviceability", {"postcode": "ZZ9 1AA"})["serviceable"] is False
    slots = call_tool(ctx, "get_appointment_slots", {"service_id": "BB-0001"})["slots"]
    days = {date.fromisoformat(s["date"]) for s in slots}
    assert min(days) == date(2025, 6, 16) and all(d.weekday() < 5 for d in days)  # clock is a Sunday
    ctx.sandbox.world.phones["PH-0001"].supports_5g = False
    plans = {p["plan_id"]: p for p in call_tool(ctx, "get_available_plans", {"service_id": "L-0001"})["plans"]}
    assert set(plans) == {"MOB-5G-20", "MOB-4G-10"}
    assert not plans["MOB-5G-20"]["eligible"] and plans["MOB-4G-10"]["eligible"]


def test_get_plan_and_review_bill(ctx):
    assert call_tool(ctx, "get_plan", {"plan_id": "MOB-4G-10"})["kind"] == "mobile"
    with pytest.raises(NotFound) as exc:
        call_tool(ctx, "get_plan", {"plan_id": "MOB-6G"})
    assert "'MOB-6G'" in exc.value.message and "MOB-4G-10" in exc.value.message
    assert call_tool(ctx, "review_bill", {"customer_id": "C0001"})["duplicate_charges"] == []
    inject_fault(ctx.sandbox, "duplicated_charge", "C0001")
    review = call_tool(ctx, "review_bill", {"customer_id": "C0001"})
    copy = ctx.sandbox.world.bills["BILL-C0001-2025-06"].items[-1]
    assert [d["item_id"] for d in review["duplicate_charges"]] == [copy.id]
