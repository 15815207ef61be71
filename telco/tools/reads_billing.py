"""Bill review: what a billing system can prove about a bill before anyone disputes or credits it.

Kept apart from reads.py because it is analysis, not a view: it names charges that appear twice, active
promotions the bill does not apply, and roaming charges the customer may want explained.
"""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from telco.errors import NotFound
from telco.policy import duplicate_group, missing_promotions
from telco.tools.access import bill_for, customer_for_read
from telco.tools.context import ToolContext
from telco.tools.fields import Args, Id
from telco.tools.spec import ToolSpec


class ChargeView(BaseModel):
    item_id: str
    description: str
    amount: Decimal
    copies: int = 1


class PromotionGap(BaseModel):
    promotion_id: str
    description: str
    monthly_discount: Decimal


class BillReview(BaseModel):
    bill_id: str
    period: str
    status: str
    total: Decimal
    duplicate_charges: list[ChargeView]  # the second and later copies of a charge, each disputable
    missing_promotions: list[PromotionGap]
    roaming_charges: list[ChargeView]


class ReviewArgs(Args):
    customer_id: Id
    bill_id: Id | None = None  # default: the newest bill that is not a draft


def review_bill(ctx: ToolContext, a: ReviewArgs) -> BillReview:
    customer = customer_for_read(ctx, a.customer_id)
    sb = ctx.sandbox
    if a.bill_id is not None:
        bill = bill_for(ctx, a.bill_id, write=False)
    else:
        issued = [b for b in sb.bills_of(customer.id) if b.status != "draft"]
        if not issued:
            raise NotFound(f"customer {customer.id} has no issued bill to review", kind="bill")
        bill = issued[-1]
    duplicates: list[ChargeView] = []
    seen: set[str] = set()
    for item in bill.items:
        group = duplicate_group(bill, item.id)
        if len(group) > 1 and group[0].id not in seen and not any(i.disputed for i in group):
            seen.add(group[0].id)
            extra = group[1]
            duplicates.append(ChargeView(item_id=extra.id, description=extra.description, amount=extra.amount,
                                         copies=len(group)))
    promos = [p for p in sb.world.promotions.values() if p.customer_id == customer.id]
    return BillReview(
        bill_id=bill.id, period=bill.period, status=bill.status, total=bill.total,
        duplicate_charges=duplicates,
        missing_promotions=[PromotionGap(promotion_id=p.id, description=p.description,
                                         monthly_discount=p.monthly_discount)
                            for p in missing_promotions(bill, promos)],
        roaming_charges=[ChargeView(item_id=i.id, description=i.description, amount=i.amount)
                         for i in bill.items if i.kind == "roaming" and not i.disputed],
    )


READS_BILLING = [
    ToolSpec("review_bill", "read",
             "Review a bill (default: the newest) for duplicated charges, promotions not applied and roaming charges.",
             ReviewArgs, BillReview, review_bill),
]
