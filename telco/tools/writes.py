"""Write tools for mobile lines, plans and billing. Each checks everything first, then changes the world,
so a refused call leaves nothing half-written."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import model_validator

from telco.errors import InvalidInput, NotFound, PolicyDenied
from telco.models import Bill, Credit, Customer, Dispute, MobileLine, MobilePlan, Order, PaymentRequest
from telco.policy import (
    check_correction,
    check_dispute_window,
    check_downgrade,
    check_goodwill,
    check_mobile_plan_change,
    check_refuel,
    check_resume,
    check_roaming,
    correction_evidence,
    duplicate_group,
    load_policy,
)
from telco.tools import guards
from telco.tools.access import (
    add_line_item,
    bill_for,
    broadband_for_write,
    customer_for_write,
    line_for_write,
    open_bill,
    today,
)
from telco.tools.context import ToolContext
from telco.tools.fields import Amount, Args, Gigabytes, Id, Text
from telco.tools.results import CreditResult, DisputeResult, LineChange, OrderResult, PaymentRequestResult, RefuelResult
from telco.tools.spec import ToolSpec


def _line_change(line: MobileLine) -> LineChange:
    return LineChange(
        line_id=line.id,
        status=line.status,
        suspension_reason=line.suspension_reason,
        roaming_enabled=line.roaming_enabled,
        plan_id=line.plan_id,
    )


def _mobile_plan(ctx: ToolContext, line: MobileLine) -> MobilePlan:
    plan = ctx.sandbox.world.plans.get(line.plan_id)
    if not isinstance(plan, MobilePlan):
        raise NotFound(f"line {line.id} refers to unknown mobile plan {line.plan_id!r}", kind="plan", id=line.plan_id)
    return plan


# ---- lines ------------------------------------------------------------------------------------------
class SuspendArgs(Args):
    line_id: Id
    reason: Literal["customer_request", "lost_device"]


def suspend_line(ctx: ToolContext, a: SuspendArgs) -> LineChange:
    line = line_for_write(ctx, a.line_id)
    guards.check_can_suspend(line)
    line.status = "suspended"
    line.suspension_reason = a.reason
    line.suspended_since = ctx.sandbox.world.clock
    return _line_change(line)


class LineArgs(Args):
    line_id: Id


def resume_line(ctx: ToolContext, a: LineArgs) -> LineChange:
    line = line_for_write(ctx, a.line_id)
    guards.check_is_suspended(line)
    check_resume(line, ctx.sandbox.bills_of(line.customer_id), today(ctx))
    line.status = "active"
    line.suspension_reason = None
    line.suspended_since = None
    return _line_change(line)


class RoamingArgs(Args):
    line_id: Id
    enabled: bool


def set_line_roaming(ctx: ToolContext, a: RoamingArgs) -> LineChange:
    line = line_for_write(ctx, a.line_id)
    if a.enabled:
        check_roaming(ctx.sandbox.bills_of(line.customer_id), today(ctx))
    line.roaming_enabled = a.enabled
    return _line_change(line)


class RefuelArgs(Args):
    line_id: Id
    gb: Gigabytes


def refuel_data(ctx: ToolContext, a: RefuelArgs) -> RefuelResult:
    line = line_for_write(ctx, a.line_id)
    plan = _mobile_plan(ctx, line)
    check_refuel(line, a.gb)
    charge = (plan.refuel_price_per_gb * Decimal(str(a.gb))).quantize(Decimal("0.01"))
    line.data_refuelled_gb = line.data_refuelled_gb + a.gb
    bill = open_bill(ctx, line.customer_id)
    item = add_line_item(
        ctx, bill, description=f"Data refuel {a.gb:g} GB for {line.number}", kind="refuel",
        amount=charge, service_id=line.id,
    )
    remaining = plan.data_limit_gb + line.data_refuelled_gb - line.data_used_gb
    return RefuelResult(
        line_id=line.id, gb_added=a.gb, refuelled_this_cycle_gb=line.data_refuelled_gb,
        remaining_gb=round(max(remaining, 0.0), 3), charge=charge, bill_id=bill.id, line_item_id=item.id,
    )


# ---- plans ------------------------------------------------------------------------------------------
class ChangePlanArgs(Args):
    service_id: Id  # a mobile line id or a broadband service id
    plan_id: Id


def change_plan(ctx: ToolContext, a: ChangePlanArgs) -> OrderResult:
    sb, day = ctx.sandbox, today(ctx)
    plan = sb.world.plans.get(a.plan_id)
    if plan is None:
        raise NotFound(f"no plan with id {a.plan_id!r}", kind="plan", id=a.plan_id)
    if a.service_id in sb.world.lines:
        service = line_for_write(ctx, a.service_id)
        guards.check_plan_kind(plan.kind, "mobile", plan.id, service.id)
        check_mobile_plan_change(plan, sb.phone(service.device_id), sb.bills_of(service.customer_id), day)
    else:
        service = broadband_for_write(ctx, a.service_id)
        guards.check_plan_kind(plan.kind, "broadband", plan.id, service.id)
        guards.check_broadband_plan_fits(plan, service, sb.world.areas.get(service.area_id))
    if plan.id == service.plan_id:
        raise InvalidInput(f"{service.id} is already on plan {plan.id}", field="plan_id")
    old = sb.world.plans.get(service.plan_id)
    earlier = [o for o in sb.world.orders.values() if o.kind == "plan_change" and o.service_id == service.id]
    last = max((o.created_at for o in earlier), default=None)
    if old is not None:
        check_downgrade(old.monthly_price, plan.monthly_price, last.date() if last else None, day)
    order = Order(
        id=sb.new_id("ORD"), customer_id=service.customer_id, kind="plan_change", service_id=service.id,
        details={"from_plan": service.plan_id, "to_plan": plan.id}, status="completed", created_at=sb.world.clock,
    )
    sb.world.orders[order.id] = order
    service.plan_id = plan.id
    return OrderResult(
        order_id=order.id, kind=order.kind, service_id=service.id, status=order.status, details=order.details
    )


# ---- payments and credits ---------------------------------------------------------------------------
class PaymentRequestArgs(Args):
    customer_id: Id
    bill_id: Id | None = None  # default: the oldest overdue or awaiting-payment bill


def send_payment_request(ctx: ToolContext, a: PaymentRequestArgs) -> PaymentRequestResult:
    sb, day = ctx.sandbox, today(ctx)
    customer = customer_for_write(ctx, a.customer_id)
    if a.bill_id is not None:
        bill_for(ctx, a.bill_id, write=True)
    bill = guards.payable_bill(sb.bills_of(customer.id), a.bill_id, day)
    method = guards.default_payment_method(customer, day)
    guards.check_no_open_request(sb.world.payment_requests.values(), bill, sb.world.clock)
    if bill.total <= 0:
        raise PolicyDenied("payment_request.payable_bill", f"bill {bill.id} has nothing to pay")
    req = PaymentRequest(
        id=sb.new_id("PR"), customer_id=customer.id, bill_id=bill.id, amount=bill.total,
        payment_method_id=method.id, created_at=sb.world.clock,
    )
    sb.world.payment_requests[req.id] = req
    return PaymentRequestResult(
        payment_request_id=req.id, bill_id=bill.id, amount=req.amount, payment_method=f"{method.label} …{method.last4}",
        expires_at=req.created_at + timedelta(hours=load_policy().payment_request.expires_hours), status=req.status,
    )


def grant_credit(
    ctx: ToolContext, customer: Customer, amount: Decimal, kind: str, reason: str, corrects: Bill | None,
    evidence: str | None,
) -> tuple[Credit, Bill, str]:
    """Book a credit: the record, a negative item, and the goodwill tally. Call after every check passed.

    A correction is booked on the bill it corrects while that bill is unpaid; once paid (and for goodwill)
    the open bill carries it. Credit.bill_id always names the corrected bill, so audits find it.
    """
    sb = ctx.sandbox
    carrier = corrects if corrects is not None and corrects.status != "paid" else open_bill(ctx, customer.id)
    credit = Credit(
        id=sb.new_id("CR"), customer_id=customer.id, amount=amount, kind=kind, reason=reason,
        bill_id=(corrects or carrier).id, approved_by="policy", created_at=sb.world.clock, evidence=evidence,
    )
    item = add_line_item(
        ctx, carrier, description=f"{kind.capitalize()} credit: {reason}", kind="credit", amount=-amount,
        service_id=None,
    )
    sb.world.credits[credit.id] = credit
    if kind == "goodwill":
        customer.goodwill_credit_used_this_year = customer.goodwill_credit_used_this_year + amount
    return credit, carrier, item.id


class CreditArgs(Args):
    customer_id: Id
    amount: Amount
    kind: Literal["goodwill", "correction"]
    reason: Text
    bill_id: Id | None = None  # the bill the credit is for (required for corrections); default: the open bill
    item_id: Id | None = None  # correction evidence: a charge duplicated on that bill
    promotion_id: Id | None = None  # correction evidence: an active promotion the bill does not apply

    @model_validator(mode="after")
    def _evidence_fits_kind(self) -> "CreditArgs":
        if self.kind == "goodwill" and (self.item_id or self.promotion_id):
            raise ValueError("item_id and promotion_id are evidence for correction credits, not goodwill")
        if self.kind == "correction" and self.bill_id is None:
            raise ValueError("a correction credit needs bill_id: the bill that shows the error")
        if self.item_id and self.promotion_id:
            raise ValueError("give one piece of evidence: item_id or promotion_id, not both")
        return self


def apply_credit(ctx: ToolContext, a: CreditArgs) -> CreditResult:
    sb = ctx.sandbox
    customer = customer_for_write(ctx, a.customer_id)
    evidence, bill = None, None
    if a.bill_id is not None:
        bill = bill_for(ctx, a.bill_id, write=True)
        if bill.customer_id != customer.id:
            raise InvalidInput(f"bill {bill.id} is not a bill of customer {customer.id}", field="bill_id")
    if a.kind == "goodwill":
        check_goodwill(customer, a.amount)
    else:
        promo = None
        if a.promotion_id is not None:
            promo = sb.world.promotions.get(a.promotion_id)
            if promo is None:
                raise NotFound(f"no promotion with id {a.promotion_id!r}", kind="promotion", id=a.promotion_id)
        if a.item_id is not None:
            guards.item_on(bill, a.item_id)
        evidence, evidenced = correction_evidence(bill, a.item_id, promo, sb.world.promotions.values())
        check_correction(a.amount, evidence, evidenced, sb.world.credits.values())
    credit, carrier, item_id = grant_credit(ctx, customer, a.amount, a.kind, a.reason, bill, evidence)
    return CreditResult(
        credit_id=credit.id, customer_id=customer.id, kind=credit.kind, amount=credit.amount, bill_id=credit.bill_id,
        credited_on_bill_id=carrier.id, line_item_id=item_id,
        goodwill_credit_used_this_year=customer.goodwill_credit_used_this_year,
    )


class DisputeArgs(Args):
    bill_id: Id
    item_id: Id
    reason: Text


def dispute_bill_item(ctx: ToolContext, a: DisputeArgs) -> DisputeResult:
    sb = ctx.sandbox
    bill = bill_for(ctx, a.bill_id, write=True)
    customer = sb.customer(bill.customer_id)
    item = guards.item_on(bill, a.item_id)
    guards.check_disputable(bill, item)
    check_dispute_window(bill, today(ctx))
    dispute = Dispute(
        id=sb.new_id("DSP"), customer_id=customer.id, bill_id=bill.id, item_id=item.id, reason=a.reason,
        created_at=sb.world.clock,
    )
    credit_id = None
    if len(duplicate_group(bill, item.id)) > 1:
        # A charge billed twice is provable from the bill alone, so the dispute is settled on the spot.
        evidence, evidenced = correction_evidence(bill, item.id, None)
        booked = sum((c.amount for c in sb.world.credits.values() if c.evidence == evidence), Decimal("0"))
        amount = min(item.amount, evidenced - booked)
        dispute.status = "upheld"
        if amount > 0:
            credit, _, _ = grant_credit(ctx, customer, amount, "correction", f"duplicate charge {item.id}", bill, evidence)
            credit_id = credit.id
        message = f"duplicate charge confirmed; {'credited ' + str(amount) if credit_id else 'already corrected'}"
    else:
        if bill.status not in ("paid", "draft"):
            bill.status = "disputed"
        message = "dispute recorded for review; the bill is on hold for this item"
    item.disputed = True
    sb.world.disputes[dispute.id] = dispute
    return DisputeResult(
        dispute_id=dispute.id, bill_id=bill.id, item_id=item.id, status=dispute.status, bill_status=bill.status,
        credit_id=credit_id, message=message,
    )


WRITES_ACCOUNT = [
    ToolSpec("suspend_line", "write", "Suspend an active mobile line at the customer's request or for a lost "
             "device.", SuspendArgs, LineChange, suspend_line),
    ToolSpec("resume_line", "write", "Resume a suspended mobile line (needs no overdue bill, contract not "
             "ended, and an allowed suspension reason).", LineArgs, LineChange, resume_line),
    ToolSpec("set_line_roaming", "write", "Turn the line's roaming service on or off in the network (on needs "
             "no overdue bill).", RoamingArgs, LineChange, set_line_roaming),
    ToolSpec("refuel_data", "write", "Add extra data (GB) to a mobile line for this cycle, charged on the open "
             "bill; capped per request and per cycle.", RefuelArgs, RefuelResult, refuel_data),
    ToolSpec("change_plan", "write", "Switch a mobile line or broadband service to another plan (5G plans need a "
             "5G device and no overdue bill).", ChangePlanArgs, OrderResult, change_plan),
    ToolSpec("send_payment_request", "write", "Send the customer a payment request for an overdue or "
             "awaiting-payment bill, charged to the default payment method.", PaymentRequestArgs,
             PaymentRequestResult, send_payment_request),
    ToolSpec("apply_credit", "write", "Credit the customer: goodwill (capped per credit and per year) or "
             "correction (needs a duplicated item or a missing promotion as evidence).", CreditArgs, CreditResult,
             apply_credit),
    ToolSpec("dispute_bill_item", "write", "Dispute a charge on a bill within the dispute window; a duplicated "
             "charge is corrected at once, others go to review.", DisputeArgs, DisputeResult, dispute_bill_item),
]
