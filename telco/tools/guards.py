"""Preconditions a write needs besides the numeric policy: the record must be in a state the action fits.

They raise PolicyDenied with a "<tool or section>.<rule>" name, like the policy checks, so the agents
handle every refusal the same way; an unreachable device is BackendUnavailable (try again later).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Iterable

from telco.errors import BackendUnavailable, InvalidInput, NotFound, PolicyDenied
from telco.models import (
    AccessNode,
    Area,
    Bill,
    BroadbandPlan,
    BroadbandService,
    Customer,
    LineItem,
    MobileLine,
    PaymentMethod,
    PaymentRequest,
    Router,
)
from telco.policy import Policy, load_policy, overdue_bills

GUARD_RULES = (
    "suspend_line.line_active",
    "resume_line.line_suspended",
    "payment_request.payable_bill",
    "payment_request.default_payment_method",
    "payment_request.one_open_request",
    "move_service.serviceable",
    "move_service.technology_available",
    "billing_dispute.charge_only",
    "billing_dispute.not_already_disputed",
    "technician.slot_available",
    "plan_change.technology_available",
    "update_router_firmware.firmware_outdated",
)


def check_can_suspend(line: MobileLine) -> None:
    if line.status != "active":
        raise PolicyDenied(
            "suspend_line.line_active", f"line {line.id} is {line.status}; only an active line can be suspended"
        )


def check_is_suspended(line: MobileLine) -> None:
    if line.status != "suspended":
        raise PolicyDenied(
            "resume_line.line_suspended", f"line {line.id} is {line.status}, not suspended; there is nothing to resume"
        )


def payable_bill(bills: list[Bill], bill_id: str | None, today: date) -> Bill:
    """The bill a payment request is for: the one named, else the oldest unpaid one that is due."""
    payable = {b.id: b for b in overdue_bills(bills, today)}
    payable.update({b.id: b for b in bills if b.status == "awaiting_payment"})
    if bill_id is not None:
        if bill_id not in payable:
            status = next((b.status for b in bills if b.id == bill_id), None)
            raise PolicyDenied(
                "payment_request.payable_bill",
                f"bill {bill_id} is {status}; a payment request is only for an overdue or awaiting-payment bill",
            )
        return payable[bill_id]
    if not payable:
        raise PolicyDenied("payment_request.payable_bill", "the customer has no overdue or awaiting-payment bill")
    return min(payable.values(), key=lambda b: (b.due_date, b.id))


def default_payment_method(customer: Customer, today: date) -> PaymentMethod:
    method = next((m for m in customer.payment_methods if m.default), None)
    if method is None:
        raise PolicyDenied(
            "payment_request.default_payment_method",
            f"customer {customer.id} has no default payment method; the customer must add one first",
        )
    if method.expires is not None and method.expires < f"{today.year:04d}-{today.month:02d}":
        raise PolicyDenied(
            "payment_request.default_payment_method",
            f"the default payment method {method.label} (…{method.last4}) expired in {method.expires}",
        )
    return method


def check_no_open_request(
    requests: Iterable[PaymentRequest], bill: Bill, now: datetime, policy: Policy | None = None
) -> None:
    hours = (policy or load_policy()).payment_request.expires_hours
    for req in requests:
        if req.bill_id == bill.id and req.status == "sent" and now < req.created_at + timedelta(hours=hours):
            raise PolicyDenied(
                "payment_request.one_open_request",
                f"payment request {req.id} for bill {bill.id} was sent at {req.created_at.isoformat()} "
                f"and is still open (valid {hours} hours)",
            )


def _postcode_key(postcode: str) -> str:
    return re.sub(r"\s+", "", postcode).upper()


def area_for_postcode(areas: Iterable[Area], postcode: str) -> Area | None:
    """The area whose postcode prefix matches; the longest prefix wins when several do."""
    key = _postcode_key(postcode)
    matches = [a for a in areas if key.startswith(_postcode_key(a.postcode_prefix))]
    return max(matches, key=lambda a: len(a.postcode_prefix), default=None)


def technology_available(area: Area, technology: str) -> bool:
    return {"fiber": area.fiber, "dsl": area.dsl_max_mbps > 0, "cable": area.cable}[technology]


def move_target(areas: Iterable[Area], postcode: str, plan: BroadbandPlan, current: str) -> tuple[Area, str]:
    """Where a moved service lands and on which technology: the current one if the plan allows it there,
    else the first of the plan's technologies the new area offers at the plan's speed."""
    area = area_for_postcode(areas, postcode)
    if area is None:
        raise PolicyDenied("move_service.serviceable", f"postcode {postcode!r} is outside the operator's network")

    def fits(tech: str) -> bool:
        return technology_available(area, tech) and (tech != "dsl" or plan.download_mbps <= area.dsl_max_mbps)

    options = ([current] if current in plan.technologies else []) + list(plan.technologies)
    technology = next((t for t in options if fits(t)), None)
    if technology is None:
        raise PolicyDenied(
            "move_service.technology_available",
            f"plan {plan.id} ({', '.join(plan.technologies)}, {plan.download_mbps} Mbps) is not available at "
            f"postcode {postcode!r} (area {area.name}); choose a plan from check_serviceability",
        )
    return area, technology


def check_disputable(bill: Bill, item: LineItem) -> None:
    if item.amount <= 0:
        raise PolicyDenied(
            "billing_dispute.charge_only", f"item {item.id} on bill {bill.id} is a credit, not a charge"
        )
    if item.disputed:
        raise PolicyDenied(
            "billing_dispute.not_already_disputed", f"item {item.id} on bill {bill.id} is already disputed"
        )


def item_on(bill: Bill, item_id: str) -> LineItem:
    item = next((i for i in bill.items if i.id == item_id), None)
    if item is None:
        raise NotFound(f"bill {bill.id} has no item {item_id!r}", kind="line item", id=item_id)
    return item


def check_router_reachable(router: Router, node: AccessNode | None) -> None:
    """Remote actions need the device online: powered and behind a working access node."""
    if not router.powered:
        raise BackendUnavailable(
            f"router {router.id} is powered off and cannot be reached remotely; ask the customer to power it on"
        )
    if node is not None and node.status == "down":
        raise BackendUnavailable(f"router {router.id} is unreachable: access node {node.id} is down")


def check_plan_kind(plan_kind: str, service_kind: str, plan_id: str, service_id: str) -> None:
    if plan_kind != service_kind:
        raise InvalidInput(
            f"plan {plan_id} is a {plan_kind} plan and {service_id} is a {service_kind} service",
            field="plan_id",
        )


def check_broadband_plan_fits(plan: BroadbandPlan, service: BroadbandService, area: Area | None) -> None:
    if service.technology not in plan.technologies:
        raise PolicyDenied(
            "plan_change.technology_available",
            f"plan {plan.id} is sold on {', '.join(plan.technologies)}; service {service.id} is {service.technology}",
        )
    if service.technology == "dsl" and area is not None and plan.download_mbps > area.dsl_max_mbps:
        raise PolicyDenied(
            "plan_change.technology_available",
            f"plan {plan.id} needs {plan.download_mbps} Mbps; DSL in area {area.name} reaches {area.dsl_max_mbps} Mbps",
        )
