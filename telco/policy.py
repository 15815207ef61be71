"""Machine-checked policy: telco/data/policy.yaml loaded into one typed model, and the rule checks.

Every check is a small pure function over domain records that returns nothing when the action is allowed
and raises PolicyDenied(rule="<section>.<rule>") when it is not. The tools call these; the LLM never
decides what policy allows.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from telco.data import POLICY_FILE
from telco.errors import IdentityNotVerified, InvalidInput, PolicyDenied
from telco.models import Appointment, Bill, Credit, Customer, LineItem, MobileLine, MobilePlan, Phone, Promotion
from telco.models.services import SuspensionReason

POLICY_PATH = POLICY_FILE


class _Section(BaseModel):
    # A typo in policy.yaml must fail loudly rather than silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


# The details a customer can prove who they are with; the identify flow asks for them by these names (its slots).
IdentityDetail = Literal["full_name", "date_of_birth", "phone", "customer_id"]


class IdentityMethod(_Section):
    id: str = Field(min_length=1)
    # Two details at least: one on its own (a name, a number) is too easy for someone else to know.
    details: list[IdentityDetail] = Field(min_length=2)


class IdentityPolicy(_Section):
    max_failed_attempts: int = Field(gt=0)
    methods: list[IdentityMethod] = Field(min_length=1)

    @field_validator("methods")
    @classmethod
    def _distinct(cls, methods: list[IdentityMethod]) -> list[IdentityMethod]:
        ids = [m.id for m in methods]
        if len(ids) != len(set(ids)):
            raise ValueError(f"identity methods are listed twice: {sorted({i for i in ids if ids.count(i) > 1})}")
        return methods

    def method(self, method_id: str) -> IdentityMethod | None:
        return next((m for m in self.methods if m.id == method_id), None)


class RefuelPolicy(_Section):
    max_gb_per_request: float = Field(gt=0)
    max_gb_per_cycle: float = Field(gt=0)


class GoodwillPolicy(_Section):
    max_per_credit: Decimal = Field(gt=0)
    yearly_limit_per_customer: Decimal = Field(gt=0)


class ResumeLinePolicy(_Section):
    allowed_suspension_reasons: list[SuspensionReason]


class RoamingPolicy(_Section):
    requires_no_overdue_bill: bool


class PlanChangePolicy(_Section):
    five_g_requires_capable_device: bool
    min_months_before_downgrade: int = Field(ge=0)


class TechnicianPolicy(_Section):
    max_open_appointments_per_service: int = Field(gt=0)
    lead_days: int = Field(ge=0)
    horizon_days: int = Field(gt=0)


class DisputePolicy(_Section):
    window_days: int = Field(gt=0)


class PaymentRequestPolicy(_Section):
    expires_hours: int = Field(gt=0)


class OutagePolicy(_Section):
    credit_after_hours: int = Field(gt=0)


class Policy(_Section):
    currency: str
    identity: IdentityPolicy
    refuel: RefuelPolicy
    goodwill_credit: GoodwillPolicy
    resume_line: ResumeLinePolicy
    roaming: RoamingPolicy
    plan_change: PlanChangePolicy
    technician: TechnicianPolicy
    billing_dispute: DisputePolicy
    payment_request: PaymentRequestPolicy
    outage: OutagePolicy


def load_policy_file(path: str | Path) -> Policy:
    raw = yaml.safe_load(Path(path).read_text())
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"policy file {path} is invalid: {exc}") from exc


@lru_cache(maxsize=1)
def load_policy() -> Policy:
    """The operator's policy; read once per process (the file is the single source of truth)."""
    return load_policy_file(POLICY_PATH)


# Every rule name a check below can raise; the KB and the agents refer to rules by these names.
RULES = (
    "identity.verified_before_account_change",
    "identity.own_records_only",
    "identity.max_failed_attempts",
    "identity.method_allowed",
    "refuel.max_gb_per_request",
    "refuel.max_gb_per_cycle",
    "goodwill_credit.max_per_credit",
    "goodwill_credit.yearly_limit",
    "correction_credit.evidence_required",
    "correction_credit.max_evidenced_amount",
    "resume_line.allowed_suspension_reasons",
    "resume_line.no_overdue_bill",
    "resume_line.contract_not_ended",
    "roaming.requires_no_overdue_bill",
    "plan_change.five_g_requires_capable_device",
    "plan_change.no_overdue_bill",
    "plan_change.min_months_before_downgrade",
    "technician.max_open_appointments_per_service",
    "technician.slot_window",
    "billing_dispute.window_days",
)


def _p(policy: Policy | None) -> Policy:
    return policy or load_policy()


def _money(x: Decimal) -> str:
    return f"{Decimal(x):.2f}"


# ---- identity ---------------------------------------------------------------------------------------
def check_own_records(verified_customer_id: str | None, customer_id: str | None) -> None:
    """Once a customer is verified, the conversation may touch only that customer's records."""
    if verified_customer_id is not None and customer_id is not None and customer_id != verified_customer_id:
        # The message reaches the customer and the trace: it must not confirm whose records the request named.
        raise PolicyDenied(
            "identity.own_records_only",
            f"this conversation is verified as customer {verified_customer_id}; "
            "the records of another customer are not accessible",
        )


def check_identity_verified(verified_customer_id: str | None, customer_id: str) -> None:
    """Account changes need the identity of that very customer verified in this conversation."""
    if verified_customer_id is None:
        raise IdentityNotVerified(
            "verify the customer's identity (one of the methods in policy identity.methods) "
            "before changing the account"
        )
    check_own_records(verified_customer_id, customer_id)


def check_identity_attempts(failed_attempts: int, policy: Policy | None = None) -> None:
    limit = _p(policy).identity.max_failed_attempts
    if failed_attempts >= limit:
        raise PolicyDenied(
            "identity.max_failed_attempts",
            f"identity verification failed {failed_attempts} times (limit {limit}); "
            "no further attempts in this conversation, hand over to a person",
            hint="transfer_to_person",
        )


def check_identity_method(method_id: str, policy: Policy | None = None) -> IdentityMethod:
    """The identity tools prove identity only in the ways policy.yaml lists; a method taken off the list stops its
    tool at once, without a code change."""
    method = _p(policy).identity.method(method_id)
    if method is None:
        allowed = ", ".join(m.id for m in _p(policy).identity.methods)
        raise PolicyDenied("identity.method_allowed",
                           f"identity cannot be verified by {method_id}; policy allows: {allowed}")
    return method


# ---- bills ------------------------------------------------------------------------------------------
def overdue_bills(bills: Iterable[Bill], today: date) -> list[Bill]:
    """Overdue means marked overdue, or still unpaid after its due date (a stale status is no excuse)."""
    return [
        b for b in bills
        if b.status == "overdue" or (b.status in ("issued", "awaiting_payment") and b.due_date < today)
    ]


def _overdue_text(bills: list[Bill]) -> str:
    return ", ".join(f"{b.id} ({b.period}, {_money(b.total)})" for b in bills)


# ---- mobile lines -----------------------------------------------------------------------------------
def check_resume(line: MobileLine, bills: Iterable[Bill], today: date, policy: Policy | None = None) -> None:
    rules = _p(policy).resume_line
    reason = line.suspension_reason
    if reason is not None and reason not in rules.allowed_suspension_reasons:
        raise PolicyDenied(
            "resume_line.allowed_suspension_reasons",
            f"line {line.id} is suspended for {reason!r}; only lines suspended for "
            f"{', '.join(rules.allowed_suspension_reasons)} can be resumed by the agent",
        )
    overdue = overdue_bills(bills, today)
    if overdue:
        raise PolicyDenied(
            "resume_line.no_overdue_bill",
            f"line {line.id} cannot be resumed while a bill is overdue: {_overdue_text(overdue)}; "
            "the bill must be paid first (send_payment_request)",
        )
    if line.contract_end < today:
        raise PolicyDenied(
            "resume_line.contract_not_ended",
            f"the contract of line {line.id} ended on {line.contract_end.isoformat()}; a new contract is needed",
        )


def check_refuel(line: MobileLine, gb: float, policy: Policy | None = None) -> None:
    rules = _p(policy).refuel
    if gb > rules.max_gb_per_request:
        raise PolicyDenied(
            "refuel.max_gb_per_request",
            f"{gb:g} GB requested; at most {rules.max_gb_per_request:g} GB can be added per request",
        )
    if line.data_refuelled_gb + gb > rules.max_gb_per_cycle:
        left = max(rules.max_gb_per_cycle - line.data_refuelled_gb, 0)
        raise PolicyDenied(
            "refuel.max_gb_per_cycle",
            f"line {line.id} already has {line.data_refuelled_gb:g} GB refuelled this cycle; "
            f"the cycle limit is {rules.max_gb_per_cycle:g} GB, so at most {left:g} GB more",
        )


def check_roaming(bills: Iterable[Bill], today: date, policy: Policy | None = None) -> None:
    if not _p(policy).roaming.requires_no_overdue_bill:
        return
    overdue = overdue_bills(bills, today)
    if overdue:
        raise PolicyDenied(
            "roaming.requires_no_overdue_bill",
            f"roaming cannot be enabled while a bill is overdue: {_overdue_text(overdue)}",
        )


def check_mobile_plan_change(
    new_plan: MobilePlan,
    phone: Phone,
    bills: Iterable[Bill],
    today: date,
    policy: Policy | None = None,
) -> None:
    rules = _p(policy).plan_change
    if not new_plan.five_g:
        return
    if rules.five_g_requires_capable_device and not phone.supports_5g:
        raise PolicyDenied(
            "plan_change.five_g_requires_capable_device",
            f"plan {new_plan.id} is a 5G plan and the line's device {phone.model} does not support 5G",
        )
    overdue = overdue_bills(bills, today)
    if overdue:
        raise PolicyDenied(
            "plan_change.no_overdue_bill",
            f"a 5G plan cannot be taken while a bill is overdue: {_overdue_text(overdue)}",
        )


def _months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def check_downgrade(
    old_price: Decimal, new_price: Decimal, last_change: date | None, today: date, policy: Policy | None = None
) -> None:
    """A cheaper plan only after the minimum term since the last plan change (when we know of one)."""
    months = _p(policy).plan_change.min_months_before_downgrade
    if new_price >= old_price or last_change is None:
        return
    if _months_between(last_change, today) < months:
        raise PolicyDenied(
            "plan_change.min_months_before_downgrade",
            f"the plan was last changed on {last_change.isoformat()}; a cheaper plan is possible "
            f"{months} months after a change",
        )


# ---- credits ----------------------------------------------------------------------------------------
def check_goodwill(customer: Customer, amount: Decimal, policy: Policy | None = None) -> None:
    rules = _p(policy).goodwill_credit
    if amount > rules.max_per_credit:
        raise PolicyDenied(
            "goodwill_credit.max_per_credit",
            f"a goodwill credit is at most {_money(rules.max_per_credit)} per credit; {_money(amount)} was asked",
        )
    used = customer.goodwill_credit_used_this_year
    if used + amount > rules.yearly_limit_per_customer:
        raise PolicyDenied(
            "goodwill_credit.yearly_limit",
            f"customer {customer.id} has used {_money(used)} of the {_money(rules.yearly_limit_per_customer)} "
            f"yearly goodwill limit; {_money(amount)} more needs a person's approval (transfer_to_person)",
            hint="a person must approve credits above the yearly limit: transfer_to_person with queue billing",
        )


def _same_charge(a: LineItem, b: LineItem) -> bool:
    return (a.description, a.kind, a.amount, a.service_id) == (b.description, b.kind, b.amount, b.service_id)


def duplicate_group(bill: Bill, item_id: str) -> list[LineItem]:
    """The item and every identical charge on the same bill (one element when it is not duplicated)."""
    item = next((i for i in bill.items if i.id == item_id), None)
    if item is None:
        return []
    return [i for i in bill.items if _same_charge(i, item)]


def missing_promotions(bill: Bill, promotions: Iterable[Promotion]) -> list[Promotion]:
    """Active promotions of the bill's customer that no promotion item on the bill accounts for.

    Each promotion item accounts for one promotion of the same discount, so two equal promotions need two items.
    """
    discounts = [-i.amount for i in bill.items if i.kind == "promotion"]
    missing = []
    for promo in sorted(promotions, key=lambda p: p.id):
        if promo.customer_id != bill.customer_id or promo.starts > bill.period:
            continue
        if promo.monthly_discount in discounts:
            discounts.remove(promo.monthly_discount)
        else:
            missing.append(promo)
    return missing


def correction_evidence(
    bill: Bill,
    item_id: str | None,
    promotion: Promotion | None,
    promotions: Iterable[Promotion] = (),
) -> tuple[str, Decimal]:
    """What the bill proves was over-charged: (evidence reference, amount). Raises when nothing is proved.

    Two kinds of proof: a charge that appears more than once on the bill (every copy after the first is
    the over-charge), or an active promotion of the customer that the bill does not apply.
    """
    if item_id is not None:
        group = duplicate_group(bill, item_id)
        if len(group) < 2 or group[0].amount <= 0:
            raise PolicyDenied(
                "correction_credit.evidence_required",
                f"item {item_id} is not duplicated on bill {bill.id}; a correction credit needs evidence",
            )
        # The reference is the first copy, so crediting via either copy counts against the same evidence.
        return f"duplicate:{bill.id}:{group[0].id}", group[0].amount * (len(group) - 1)
    if promotion is not None:
        if promotion.customer_id != bill.customer_id or promotion.starts > bill.period:
            raise PolicyDenied(
                "correction_credit.evidence_required",
                f"promotion {promotion.id} was not active for bill {bill.id} ({bill.period})",
            )
        known = {p.id: p for p in [*promotions, promotion]}
        if promotion.id not in {p.id for p in missing_promotions(bill, known.values())}:
            raise PolicyDenied(
                "correction_credit.evidence_required",
                f"promotion {promotion.id} is already applied on bill {bill.id}",
            )
        return f"promotion:{bill.id}:{promotion.id}", promotion.monthly_discount
    raise PolicyDenied(
        "correction_credit.evidence_required",
        "a correction credit needs evidence: a duplicated item on the bill (item_id) "
        "or an active promotion missing from it (promotion_id)",
    )


def check_correction(
    amount: Decimal, evidence: str, evidenced: Decimal, earlier_credits: Iterable[Credit]
) -> None:
    already = sum((c.amount for c in earlier_credits if c.evidence == evidence), Decimal("0"))
    left = evidenced - already
    if amount > left:
        raise PolicyDenied(
            "correction_credit.max_evidenced_amount",
            f"the evidence supports {_money(evidenced)} of correction, {_money(already)} already credited; "
            f"at most {_money(max(left, Decimal('0')))} more, {_money(amount)} was asked",
        )


# ---- disputes and appointments ----------------------------------------------------------------------
def check_dispute_window(bill: Bill, today: date, policy: Policy | None = None) -> None:
    window = _p(policy).billing_dispute.window_days
    age = (today - bill.issued_on).days
    if age > window:
        raise PolicyDenied(
            "billing_dispute.window_days",
            f"bill {bill.id} was issued on {bill.issued_on.isoformat()} ({age} days ago); "
            f"charges can be disputed within {window} days of issue",
        )


def check_open_appointments(
    appointments: Iterable[Appointment], service_id: str, policy: Policy | None = None
) -> None:
    limit = _p(policy).technician.max_open_appointments_per_service
    booked = [a for a in appointments if a.service_id == service_id and a.status == "booked"]
    if len(booked) >= limit:
        raise PolicyDenied(
            "technician.max_open_appointments_per_service",
            f"service {service_id} already has {len(booked)} booked appointment(s) "
            f"({', '.join(a.id for a in booked)}); the limit is {limit}",
        )


def technician_window(today: date, policy: Policy | None = None) -> tuple[date, date]:
    """First and last day on which a technician visit may be booked."""
    rules = _p(policy).technician
    return today + timedelta(days=rules.lead_days), today + timedelta(days=rules.horizon_days)


def check_technician_day(day: date, today: date, policy: Policy | None = None) -> None:
    first, last = technician_window(today, policy)
    if not first <= day <= last:
        raise PolicyDenied(
            "technician.slot_window",
            f"technician visits can be booked from {first.isoformat()} to {last.isoformat()}; "
            f"{day.isoformat()} is outside that window",
        )
