"""telco/policy.py: the YAML loads into one typed model, and each rule check allows and denies by its numbers."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml

from telco import policy as pol
from telco.errors import IdentityNotVerified, InvalidInput, PolicyDenied
from telco.models import Appointment, Credit, LineItem, Promotion
from worldkit import CLOCK, small_world

TODAY = CLOCK.date()
P = pol.load_policy()


@pytest.fixture
def world():
    return small_world()


def denied(rule: str, fn, *args, **kwargs) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as exc:
        fn(*args, **kwargs)
    assert exc.value.rule == rule, exc.value.message
    assert rule in pol.RULES
    return exc.value


# ---- loading ----------------------------------------------------------------------------------------
def test_policy_model_carries_every_number_of_the_yaml():
    raw = yaml.safe_load(pol.POLICY_PATH.read_text())
    assert P.refuel.max_gb_per_request == raw["refuel"]["max_gb_per_request"]
    assert P.refuel.max_gb_per_cycle == raw["refuel"]["max_gb_per_cycle"]
    assert P.goodwill_credit.max_per_credit == Decimal(str(raw["goodwill_credit"]["max_per_credit"]))
    assert P.goodwill_credit.yearly_limit_per_customer == Decimal(
        str(raw["goodwill_credit"]["yearly_limit_per_customer"]))
    assert P.resume_line.allowed_suspension_reasons == raw["resume_line"]["allowed_suspension_reasons"]
    assert P.technician.horizon_days == raw["technician"]["horizon_days"]
    assert P.billing_dispute.window_days == raw["billing_dispute"]["window_days"]
    assert pol.load_policy() is P  # loaded once per process


def test_a_typo_in_the_policy_file_is_refused_with_the_key_named(tmp_path):
    raw = yaml.safe_load(pol.POLICY_PATH.read_text())
    raw["refuel"]["max_gb_per_requets"] = raw["refuel"].pop("max_gb_per_request")
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput) as exc:
        pol.load_policy_file(bad)
    assert "max_gb_per_requets" in exc.value.message


# ---- identity ---------------------------------------------------------------------------------------
def test_identity_rules():
    pol.check_identity_verified("C0001", "C0001")
    with pytest.raises(IdentityNotVerified) as exc:
        pol.check_identity_verified(None, "C0001")
    assert exc.value.rule == "identity.verified_before_account_change" and "C0001" not in exc.value.message
    denied("identity.own_records_only", pol.check_identity_verified, "C0002", "C0001")
    pol.check_own_records(None, "C0001")  # before verification, lookups are not scoped
    denied("identity.own_records_only", pol.check_own_records, "C0002", "C0001")
    pol.check_identity_attempts(P.identity.max_failed_attempts - 1)
    denied("identity.max_failed_attempts", pol.check_identity_attempts, P.identity.max_failed_attempts)


# ---- bills ------------------------------------------------------------------------------------------
def test_an_unpaid_bill_past_its_due_date_counts_as_overdue_even_if_not_marked(world):
    bill = world.bills["BILL-C0001-2025-06"]  # issued, due 2025-06-21
    assert pol.overdue_bills(world.bills.values(), TODAY) == []
    assert pol.overdue_bills(world.bills.values(), date(2025, 6, 22)) == [bill]
    bill.status = "overdue"
    assert pol.overdue_bills(world.bills.values(), TODAY) == [bill]


# ---- lines ------------------------------------------------------------------------------------------
def test_resume_rules(world):
    line, bills = world.lines["L-0001"], world.bills.values()
    line.status, line.suspension_reason = "suspended", "overdue_bill"
    pol.check_resume(line, bills, TODAY)
    world.bills["BILL-C0001-2025-06"].status = "overdue"
    e = denied("resume_line.no_overdue_bill", pol.check_resume, line, bills, TODAY)
    assert "BILL-C0001-2025-06" in e.message
    world.bills["BILL-C0001-2025-06"].status = "paid"
    line.suspension_reason = "fraud"
    denied("resume_line.allowed_suspension_reasons", pol.check_resume, line, bills, TODAY)
    line.suspension_reason = "customer_request"
    line.contract_end = TODAY - timedelta(days=1)
    e = denied("resume_line.contract_not_ended", pol.check_resume, line, bills, TODAY)
    assert line.contract_end.isoformat() in e.message


def test_refuel_caps(world):
    line = world.lines["L-0001"]
    pol.check_refuel(line, P.refuel.max_gb_per_request)
    denied("refuel.max_gb_per_request", pol.check_refuel, line, P.refuel.max_gb_per_request + 1)
    line.data_refuelled_gb = P.refuel.max_gb_per_cycle - 2
    pol.check_refuel(line, 2)
    e = denied("refuel.max_gb_per_cycle", pol.check_refuel, line, 3)
    assert "at most 2 GB more" in e.message


def test_roaming_and_five_g_plan_need_no_overdue_bill_and_a_capable_device(world):
    bills, phone, five_g = world.bills.values(), world.phones["PH-0001"], world.plans["MOB-5G-20"]
    pol.check_roaming(bills, TODAY)
    pol.check_mobile_plan_change(five_g, phone, bills, TODAY)
    world.bills["BILL-C0001-2025-06"].status = "overdue"
    denied("roaming.requires_no_overdue_bill", pol.check_roaming, bills, TODAY)
    denied("plan_change.no_overdue_bill", pol.check_mobile_plan_change, five_g, phone, bills, TODAY)
    pol.check_mobile_plan_change(world.plans["MOB-4G-10"], phone, bills, TODAY)  # 4G plans are not gated
    phone.supports_5g = False
    denied("plan_change.five_g_requires_capable_device", pol.check_mobile_plan_change, five_g, phone, bills, TODAY)


def test_downgrade_waits_the_minimum_term_after_a_plan_change():
    months = P.plan_change.min_months_before_downgrade
    last = date(2025, 3, 20)
    pol.check_downgrade(Decimal(30), Decimal(15), None, TODAY)  # no change on record
    pol.check_downgrade(Decimal(15), Decimal(30), TODAY, TODAY)  # upgrades any time
    denied("plan_change.min_months_before_downgrade", pol.check_downgrade, Decimal(30), Decimal(15), last,
           last.replace(month=last.month + months) - timedelta(days=1))
    pol.check_downgrade(Decimal(30), Decimal(15), last, last.replace(month=last.month + months))


# ---- credits ----------------------------------------------------------------------------------------
def test_goodwill_per_credit_and_yearly_limit(world):
    customer = world.customers["C0001"]
    pol.check_goodwill(customer, P.goodwill_credit.max_per_credit)
    denied("goodwill_credit.max_per_credit", pol.check_goodwill, customer,
           P.goodwill_credit.max_per_credit + Decimal("0.01"))
    customer.goodwill_credit_used_this_year = P.goodwill_credit.yearly_limit_per_customer - Decimal("5")
    pol.check_goodwill(customer, Decimal("5"))
    e = denied("goodwill_credit.yearly_limit", pol.check_goodwill, customer, Decimal("5.01"))
    assert "person" in e.details["hint"] and "transfer_to_person" in e.message


def _dup(bill):
    first = bill.items[0]
    bill.items = [*bill.items, first.model_copy(update={"id": "LI-DUP"})]
    return first


def test_correction_needs_a_duplicated_item_and_is_capped_by_it(world):
    bill = world.bills["BILL-C0001-2025-06"]
    e = denied("correction_credit.evidence_required", pol.correction_evidence, bill, bill.items[0].id, None)
    assert "not duplicated" in e.message
    denied("correction_credit.evidence_required", pol.correction_evidence, bill, None, None)
    first = _dup(bill)
    ref_a, amount = pol.correction_evidence(bill, first.id, None)
    ref_b, _ = pol.correction_evidence(bill, "LI-DUP", None)
    assert amount == first.amount and ref_a == ref_b  # either copy proves the same over-charge
    pol.check_correction(amount, ref_a, amount, [])
    denied("correction_credit.max_evidenced_amount", pol.check_correction, amount + 1, ref_a, amount, [])
    earlier = Credit(id="CR-1", customer_id="C0001", amount=amount, kind="correction", reason="dup",
                     approved_by="policy", created_at=CLOCK, evidence=ref_a)
    e = denied("correction_credit.max_evidenced_amount", pol.check_correction, Decimal("1"), ref_a, amount, [earlier])
    assert "already credited" in e.message


def test_correction_for_a_promotion_missing_from_the_bill(world):
    bill = world.bills["BILL-C0001-2025-06"]
    promo = Promotion(id="PROMO-1", customer_id="C0001", description="Loyalty", monthly_discount=Decimal("10.00"),
                      starts="2025-06")
    ref, amount = pol.correction_evidence(bill, None, promo)
    assert amount == Decimal("10.00") and "PROMO-1" in ref
    later = promo.model_copy(update={"starts": "2025-07"})
    denied("correction_credit.evidence_required", pol.correction_evidence, bill, None, later)
    bill.items = [*bill.items, LineItem(id="LI-P", description="Loyalty", kind="promotion", amount=Decimal("-10.00"))]
    e = denied("correction_credit.evidence_required", pol.correction_evidence, bill, None, promo)
    assert "already applied" in e.message


# ---- disputes and appointments ----------------------------------------------------------------------
def test_dispute_window_counts_days_from_issue(world):
    bill = world.bills["BILL-C0001-2025-05"]  # issued 2025-05-01
    last_day = bill.issued_on + timedelta(days=P.billing_dispute.window_days)
    pol.check_dispute_window(bill, last_day)
    e = denied("billing_dispute.window_days", pol.check_dispute_window, bill, last_day + timedelta(days=1))
    assert "2025-05-01" in e.message


def test_open_appointments_and_technician_window():
    booked = Appointment(id="APT-1", customer_id="C0001", service_id="BB-0001", slot_start=CLOCK, slot_end=CLOCK,
                         reason="x")
    pol.check_open_appointments([booked.model_copy(update={"status": "done"})], "BB-0001")
    pol.check_open_appointments([booked], "BB-0002")
    denied("technician.max_open_appointments_per_service", pol.check_open_appointments, [booked], "BB-0001")
    first, last = pol.technician_window(TODAY)
    assert (first - TODAY).days == P.technician.lead_days and (last - TODAY).days == P.technician.horizon_days
    pol.check_technician_day(first, TODAY)
    pol.check_technician_day(last, TODAY)
    denied("technician.slot_window", pol.check_technician_day, first - timedelta(days=1), TODAY)
    denied("technician.slot_window", pol.check_technician_day, last + timedelta(days=1), TODAY)
