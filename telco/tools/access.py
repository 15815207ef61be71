"""Record lookups that enforce who may see or change what, plus the shared bill-keeping helpers.

Reads: once a customer is verified, only that customer's records. Writes: only the verified customer's.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from telco.errors import NotFound
from telco.models import Bill, BroadbandService, Customer, LineItem, MobileLine
from telco.policy import check_identity_verified, check_own_records
from telco.tools.context import ToolContext

# Bills still taking charges; an overdue, disputed or paid bill is closed to new items.
_OPEN_STATUSES = ("draft", "issued", "awaiting_payment")
# Issue day and payment term for a customer's very first bill (later drafts copy the previous bill's).
_ISSUE_DAY, _DUE_AFTER_DAYS = 5, 23


def today(ctx: ToolContext) -> date:
    return ctx.sandbox.world.clock.date()


def customer_for_read(ctx: ToolContext, customer_id: str) -> Customer:
    customer = ctx.sandbox.customer(customer_id)
    check_own_records(ctx.verified_customer_id, customer.id)
    return customer


def customer_for_write(ctx: ToolContext, customer_id: str) -> Customer:
    customer = ctx.sandbox.customer(customer_id)
    check_identity_verified(ctx.verified_customer_id, customer.id)
    return customer


def line_for_read(ctx: ToolContext, line_id: str) -> MobileLine:
    line = ctx.sandbox.line(line_id)
    check_own_records(ctx.verified_customer_id, line.customer_id)
    return line


def line_for_write(ctx: ToolContext, line_id: str) -> MobileLine:
    line = ctx.sandbox.line(line_id)
    check_identity_verified(ctx.verified_customer_id, line.customer_id)
    return line


def broadband_for_read(ctx: ToolContext, service_id: str) -> BroadbandService:
    service = ctx.sandbox.broadband(service_id)
    check_own_records(ctx.verified_customer_id, service.customer_id)
    return service


def broadband_for_write(ctx: ToolContext, service_id: str) -> BroadbandService:
    service = ctx.sandbox.broadband(service_id)
    check_identity_verified(ctx.verified_customer_id, service.customer_id)
    return service


def area_services(ctx: ToolContext, area_id: str) -> set[str]:
    return {s.id for s in ctx.sandbox.world.broadband.values() if s.area_id == area_id}


def bill_for(ctx: ToolContext, bill_id: str, *, write: bool) -> Bill:
    bill = ctx.sandbox.world.bills.get(bill_id)
    if bill is None:
        raise NotFound(f"no bill with id {bill_id!r}", kind="bill", id=bill_id)
    (check_identity_verified if write else check_own_records)(ctx.verified_customer_id, bill.customer_id)
    return bill


def _next_period(period: str) -> tuple[int, int]:
    year, month = (int(p) for p in period.split("-"))
    return (year + month // 12, month % 12 + 1)


def open_bill(ctx: ToolContext, customer_id: str) -> Bill:
    """The bill new charges and credits go on: the latest bill while it is still open (draft, issued or
    awaiting payment), else a new draft for the next cycle with the same issue and due days.

    Call only once every check has passed: opening a draft is itself a change to the world.
    """
    sb = ctx.sandbox
    bills = sb.bills_of(customer_id)
    latest = max(bills, key=lambda b: (b.period, b.issued_on, b.id), default=None)
    if latest is not None and latest.status in _OPEN_STATUSES:
        return latest
    if latest is None:
        clock = sb.world.clock
        year, month, issue_day, due_after = clock.year, clock.month, _ISSUE_DAY, _DUE_AFTER_DAYS
    else:
        (year, month), issue_day = _next_period(latest.period), latest.issued_on.day
        due_after = (latest.due_date - latest.issued_on).days
    issued_on = date(year, month, min(issue_day, 28))
    bill = Bill(
        id=sb.new_id("B"), customer_id=customer_id, period=f"{year:04d}-{month:02d}", issued_on=issued_on,
        due_date=issued_on + timedelta(days=due_after), status="draft", items=[],
    )
    sb.world.bills[bill.id] = bill
    return bill


def add_line_item(
    ctx: ToolContext, bill: Bill, *, description: str, kind: str, amount: Decimal, service_id: str | None
) -> LineItem:
    item = LineItem(
        id=ctx.sandbox.new_id("LI"), description=description, kind=kind, amount=amount, service_id=service_id
    )
    # Reassign rather than append so the model's assignment validation sees the new list.
    bill.items = [*bill.items, item]
    return item
