"""What the account shows: a bill audited against the account, and the state of the newest payment link."""
from __future__ import annotations

from decimal import Decimal

from telco.errors import NotFound
from telco.policy import missing_promotions
from telco.sandbox.observations import BillCheck, BillIssue, PaymentStatus
from telco.sandbox.observe.common import payment_request_expired
from telco.sandbox.state import Sandbox


def bill_check(sb: Sandbox, bill_id: str) -> BillCheck:
    """Audit a bill against the account: repeated charges, roaming on a line without roaming, missing promotions."""
    bill = sb.world.bills.get(bill_id)
    if bill is None:
        raise NotFound(f"no bill with id {bill_id!r}", kind="bill", id=bill_id)
    issues: list[BillIssue] = []
    # A disputed item is already being handled, so it no longer counts as an open problem.
    charges = [i for i in bill.items if i.amount > 0 and not i.disputed]
    first_seen: dict[tuple, str] = {}
    for item in charges:
        key = (item.kind, item.description, item.amount, item.service_id)
        if key in first_seen:
            issues.append(BillIssue(kind="duplicate_charge", item_id=item.id, amount=item.amount,
                                    detail=f"charged again: same as item {first_seen[key]}"))
        else:
            first_seen[key] = item.id
    for item in charges:
        if item.kind != "roaming":
            continue
        line = sb.world.lines.get(item.service_id or "")
        if line is None or not line.roaming_enabled:
            issues.append(BillIssue(kind="unexpected_roaming", item_id=item.id, amount=item.amount,
                                    detail="roaming charged on a line without roaming enabled"))
    for promo in missing_promotions(bill, sb.world.promotions.values()):
        issues.append(BillIssue(kind="missing_promotion", item_id=None, amount=promo.monthly_discount,
                                detail=f"promotion {promo.id} ({promo.description}) not applied"))
    overcharge = sum((i.amount for i in issues), Decimal("0"))
    corrected = sum(
        (c.amount for c in sb.world.credits.values() if c.bill_id == bill.id and c.kind == "correction"),
        Decimal("0"),
    )
    return BillCheck(bill_id=bill.id, total=bill.total, issues=issues, overcharge=overcharge, corrected=corrected,
                     ok=overcharge <= corrected)


def payment_status(sb: Sandbox, customer_id: str) -> PaymentStatus:
    """The state of the customer's newest payment link, with expiry computed from the clock."""
    sb.customer(customer_id)
    requests = [r for r in sb.world.payment_requests.values() if r.customer_id == customer_id]
    if not requests:
        return PaymentStatus(request_id=None, request_status=None, bill_id=None, bill_status=None, amount=None)
    latest = max(requests, key=lambda r: (r.created_at, r.id))
    status = "expired" if latest.status == "sent" and payment_request_expired(sb, latest) else latest.status
    bill = sb.world.bills.get(latest.bill_id)
    return PaymentStatus(request_id=latest.id, request_status=status, bill_id=latest.bill_id,
                         bill_status=bill.status if bill else None, amount=latest.amount)
