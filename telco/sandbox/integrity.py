"""Consistency checks over a whole World: references resolve and related records agree with each other.

Pydantic validates each record on its own; these rules span records (a line's plan exists and is a mobile plan,
a fiber service sits in a fiber area, a line suspended for an overdue bill belongs to a customer with one...).
check_world returns every problem found as a readable sentence; an empty list means the world is consistent.
It is a pure read of the state and runs in one pass per table, so it is cheap enough for generated worlds.
"""
from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from telco.models import BroadbandPlan, MobilePlan, World

# A router's kind follows the access technology it terminates.
ROUTER_KIND_FOR = {"fiber": "ont", "dsl": "dsl_modem", "cable": "cable_modem"}

# Charges are positive, reductions negative; a sign the other way round is a data error, not a discount.
_NON_NEGATIVE_KINDS = {"plan", "usage", "roaming", "refuel", "device", "fee"}
_NON_POSITIVE_KINDS = {"promotion", "credit"}

# Ids in Sandbox.new_id's format; the world's counter for that prefix must have passed them or new ids collide.
_COUNTED_ID = re.compile(r"^([A-Z]+)-(\d+)$", re.MULTILINE)

_ZERO = Decimal("0")

# Tables keyed by something other than the record's id.
_KEY_ATTRIBUTE = {"applied_writes": "key", "roaming_partners": "country"}


def check_world(world: World) -> list[str]:
    problems: list[str] = []
    _check_keys(world, problems)
    _check_id_counters(world, problems)
    _check_network(world, problems)
    _check_customers(world, problems)
    _check_lines_and_phones(world, problems)
    _check_broadband_and_routers(world, problems)
    _check_billing(world, problems)
    _check_work(world, problems)
    return problems


def _check_keys(world: World, problems: list[str]) -> None:
    for table_name in World.model_fields:
        table = getattr(world, table_name)
        if not isinstance(table, dict) or table_name == "id_counters":
            continue
        attribute = _KEY_ATTRIBUTE.get(table_name, "id")
        for key, record in table.items():
            record_key = getattr(record, attribute)
            if record_key != key:
                problems.append(f"{table_name}[{key!r}] holds a record whose id is {record_key!r}")


def _all_counted_ids(world: World):
    for table_name in World.model_fields:
        table = getattr(world, table_name)
        if isinstance(table, dict) and table_name not in ("id_counters", "applied_writes"):
            yield from table.keys()
    for customer in world.customers.values():
        for method in customer.payment_methods:
            yield method.id
    for bill in world.bills.values():
        for item in bill.items:
            yield item.id


def _check_id_counters(world: World, problems: list[str]) -> None:
    highest: dict[str, int] = {}
    # One regex pass over all ids joined is several times faster than matching each id on its own.
    for prefix, digits in _COUNTED_ID.findall("\n".join(_all_counted_ids(world))):
        number = int(digits)
        if number > highest.get(prefix, 0):
            highest[prefix] = number
    for prefix, number in sorted(highest.items()):
        counter = world.id_counters.get(prefix, 0)
        if counter < number:
            problems.append(
                f"id counter for {prefix!r} is {counter} but {prefix}-{number:05d} exists: new ids would collide"
            )


def _check_network(world: World, problems: list[str]) -> None:
    areas = world.areas
    radiated: dict[str, set[str]] = {}
    for cell in world.cells.values():
        area = areas.get(cell.area_id)
        if area is None:
            problems.append(f"cell {cell.id} is in unknown area {cell.area_id!r}")
            continue
        radiated.setdefault(area.id, set()).update(cell.technologies)
        switched_off = sorted(set(cell.technologies) - set(area.radio))
        if switched_off:
            problems.append(f"cell {cell.id} radiates {switched_off} in area {area.id}, which does not run them")
    for area in areas.values():
        if area.id not in radiated:
            problems.append(f"area {area.id} has no mobile cell")
            continue
        silent = [t for t in area.radio if t not in radiated[area.id]]
        if silent:
            problems.append(f"area {area.id} runs {silent} but none of its cells radiates them")
        if area.five_g != ("5G" in area.radio):
            problems.append(f"area {area.id} says five_g={area.five_g} but runs {area.radio}")
    for country, partner in world.roaming_partners.items():
        if not partner.technologies:
            problems.append(f"roaming partner {partner.name} in {country} runs no radio technology")
    for node in world.access_nodes.values():
        area = areas.get(node.area_id)
        if area is None:
            problems.append(f"access node {node.id} is in unknown area {node.area_id!r}")
        elif not _area_offers(area, node.technology):
            problems.append(f"access node {node.id} is {node.technology} but area {area.id} has no {node.technology}")
    for kind, table in (("outage", world.outages), ("maintenance", world.maintenance)):
        for record in table.values():
            if record.area_id not in areas:
                problems.append(f"{kind} {record.id} is in unknown area {record.area_id!r}")
    for window in world.maintenance.values():
        if window.ends_at <= window.starts_at:
            problems.append(f"maintenance {window.id} ends before it starts")
    for outage in world.outages.values():
        if outage.resolved_at is not None and outage.resolved_at < outage.started_at:
            problems.append(f"outage {outage.id} is resolved before it started")


def _area_offers(area, technology: str) -> bool:
    if technology == "fiber":
        return area.fiber
    if technology == "cable":
        return area.cable
    return area.dsl_max_mbps > 0


def _check_customers(world: World, problems: list[str]) -> None:
    method_ids: Counter[str] = Counter()
    for customer in world.customers.values():
        address = customer.address
        area = world.areas.get(address.area_id)
        if area is None:
            problems.append(f"customer {customer.id} lives in unknown area {address.area_id!r}")
        elif address.postcode.split(" ")[0] != area.postcode_prefix:
            problems.append(
                f"customer {customer.id} postcode {address.postcode!r} is not in area {area.id} "
                f"(prefix {area.postcode_prefix!r})"
            )
        methods = customer.payment_methods
        if methods and sum(1 for m in methods if m.default) != 1:
            problems.append(f"customer {customer.id} must have exactly one default payment method")
        method_ids.update(m.id for m in methods)
    for method_id, count in method_ids.items():
        if count > 1:
            problems.append(f"payment method id {method_id} is used {count} times")


def _check_lines_and_phones(world: World, problems: list[str]) -> None:
    customers, plans, phones = world.customers, world.plans, world.phones
    overdue_customers = {b.customer_id for b in world.bills.values() if b.status == "overdue"}
    phone_users: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    for line in world.lines.values():
        numbers[line.number] += 1
        if line.customer_id not in customers:
            problems.append(f"line {line.id} belongs to unknown customer {line.customer_id!r}")
        plan = plans.get(line.plan_id)
        if plan is None:
            problems.append(f"line {line.id} is on unknown plan {line.plan_id!r}")
        elif not isinstance(plan, MobilePlan):
            problems.append(f"line {line.id} is on {plan.id}, which is not a mobile plan")
        phone = phones.get(line.device_id)
        if phone is None:
            problems.append(f"line {line.id} uses unknown phone {line.device_id!r}")
        else:
            phone_users[phone.id] += 1
            if isinstance(plan, MobilePlan) and plan.five_g and not phone.supports_5g:
                problems.append(f"line {line.id} is on 5G plan {plan.id} but phone {phone.id} is not 5G capable")
        if line.status == "suspended":
            if line.suspension_reason is None or line.suspended_since is None:
                problems.append(f"line {line.id} is suspended without a reason and start time")
            elif line.suspension_reason == "overdue_bill" and line.customer_id not in overdue_customers:
                problems.append(f"line {line.id} is suspended for an overdue bill but its customer has none")
        elif line.suspension_reason is not None or line.suspended_since is not None:
            problems.append(f"line {line.id} is {line.status} but still carries a suspension reason")
    for number, count in numbers.items():
        if count > 1:
            problems.append(f"number {number} is assigned to {count} lines")
    for phone in phones.values():
        users = phone_users.get(phone.id, 0)
        if users != 1:
            problems.append(f"phone {phone.id} is used by {users} lines (expected exactly one)")
        if phone.area_id is not None and phone.area_id not in world.areas:
            problems.append(f"phone {phone.id} is in unknown area {phone.area_id!r}")
        if phone.abroad_country is not None and phone.area_id is not None:
            problems.append(f"phone {phone.id} is abroad in {phone.abroad_country} and at home in {phone.area_id}")
        if not phone.sim_present and (not phone.sim_seated or phone.sim_lock != "none"):
            # Seating and locks are properties of a card; a phone without one has neither.
            problems.append(f"phone {phone.id} has no SIM card yet records its card as unseated or locked")


def _check_broadband_and_routers(world: World, problems: list[str]) -> None:
    router_users: Counter[str] = Counter()
    ports: Counter[tuple[str, str]] = Counter()
    for service in world.broadband.values():
        sid, tech = service.id, service.technology
        if service.customer_id not in world.customers:
            problems.append(f"broadband {sid} belongs to unknown customer {service.customer_id!r}")
        plan = world.plans.get(service.plan_id)
        if plan is None:
            problems.append(f"broadband {sid} is on unknown plan {service.plan_id!r}")
        elif not isinstance(plan, BroadbandPlan):
            problems.append(f"broadband {sid} is on {plan.id}, which is not a broadband plan")
        elif tech not in plan.technologies:
            problems.append(f"broadband {sid} is {tech} but plan {plan.id} is sold only on {plan.technologies}")
        area = world.areas.get(service.area_id)
        if area is None:
            problems.append(f"broadband {sid} is in unknown area {service.area_id!r}")
        elif not _area_offers(area, tech):
            problems.append(f"broadband {sid} is {tech} but area {area.id} has no {tech}")
        elif tech == "dsl" and isinstance(plan, BroadbandPlan) and plan.download_mbps > area.dsl_max_mbps:
            problems.append(
                f"broadband {sid} sells {plan.download_mbps} Mbps DSL where area {area.id} carries "
                f"at most {area.dsl_max_mbps} Mbps"
            )
        node = world.access_nodes.get(service.access_node_id)
        if node is None:
            problems.append(f"broadband {sid} hangs off unknown access node {service.access_node_id!r}")
        else:
            ports[(node.id, service.port)] += 1
            if node.technology != tech:
                problems.append(f"broadband {sid} is {tech} but access node {node.id} is {node.technology}")
            if node.area_id != service.area_id:
                problems.append(f"broadband {sid} is in {service.area_id} but its node {node.id} is in {node.area_id}")
        router = world.routers.get(service.router_id)
        if router is None:
            problems.append(f"broadband {sid} uses unknown router {service.router_id!r}")
            continue
        router_users[router.id] += 1
        if router.kind != ROUTER_KIND_FOR[tech]:
            problems.append(f"broadband {sid} is {tech} but router {router.id} is a {router.kind}")
        if (router.optical_power_dbm is not None) != (tech == "fiber"):
            problems.append(f"router {router.id}: optical power is read on fiber ONTs only")
        if (router.snr_db is not None) != (tech == "dsl"):
            problems.append(f"router {router.id}: SNR is read on DSL modems only")
    for (node_id, port), count in ports.items():
        if count > 1:
            problems.append(f"port {port} on access node {node_id} serves {count} services")
    for router in world.routers.values():
        users = router_users.get(router.id, 0)
        if users != 1:
            problems.append(f"router {router.id} is used by {users} broadband services (expected exactly one)")


def _check_billing(world: World, problems: list[str]) -> None:
    today = world.clock.date()
    service_owner = {l.id: l.customer_id for l in world.lines.values()}
    service_owner.update((b.id, b.customer_id) for b in world.broadband.values())
    promoted = {p.customer_id for p in world.promotions.values()}
    open_requests = {r.bill_id for r in world.payment_requests.values() if r.status == "sent"}
    item_ids: Counter[str] = Counter()
    for bill in world.bills.values():
        bid, cid = bill.id, bill.customer_id
        if cid not in world.customers:
            problems.append(f"bill {bid} belongs to unknown customer {cid!r}")
        if bill.due_date < bill.issued_on:
            problems.append(f"bill {bid} is due before it was issued")
        if bill.status != "draft" and bill.issued_on > today:
            problems.append(f"bill {bid} is {bill.status} but dated after the clock ({bill.issued_on})")
        if bill.status == "overdue" and bill.due_date >= today:
            problems.append(f"bill {bid} is overdue but not yet due ({bill.due_date})")
        if bill.status == "awaiting_payment" and bid not in open_requests:
            problems.append(f"bill {bid} is awaiting payment but has no open payment request")
        for item in bill.items:
            item_ids[item.id] += 1
            if item.service_id is not None and service_owner.get(item.service_id) != cid:
                problems.append(f"bill {bid} item {item.id} charges service {item.service_id!r} of another customer")
            if item.kind in _NON_NEGATIVE_KINDS and item.amount < _ZERO:
                problems.append(f"bill {bid} item {item.id} is a {item.kind} charge with a negative amount")
            elif item.kind in _NON_POSITIVE_KINDS and item.amount > _ZERO:
                problems.append(f"bill {bid} item {item.id} is a {item.kind} with a positive amount")
            if item.kind == "promotion" and cid not in promoted:
                problems.append(f"bill {bid} item {item.id} applies a promotion customer {cid} does not have")
    for item_id, count in item_ids.items():
        if count > 1:
            problems.append(f"line item id {item_id} appears {count} times")
    for promotion in world.promotions.values():
        if promotion.customer_id not in world.customers:
            problems.append(f"promotion {promotion.id} belongs to unknown customer {promotion.customer_id!r}")
    for request in world.payment_requests.values():
        bill = world.bills.get(request.bill_id)
        if bill is None or bill.customer_id != request.customer_id:
            problems.append(f"payment request {request.id} is for bill {request.bill_id!r} of another customer")
        customer = world.customers.get(request.customer_id)
        if customer is None or all(m.id != request.payment_method_id for m in customer.payment_methods):
            problems.append(
                f"payment request {request.id} uses payment method {request.payment_method_id!r} "
                f"the customer does not have"
            )
    for credit in world.credits.values():
        if credit.customer_id not in world.customers:
            problems.append(f"credit {credit.id} belongs to unknown customer {credit.customer_id!r}")
        if credit.bill_id is not None and _bill_owner(world, credit.bill_id) != credit.customer_id:
            problems.append(f"credit {credit.id} is on bill {credit.bill_id!r} of another customer")
    for dispute in world.disputes.values():
        bill = world.bills.get(dispute.bill_id)
        if bill is None or bill.customer_id != dispute.customer_id:
            problems.append(f"dispute {dispute.id} is about bill {dispute.bill_id!r} of another customer")
        elif all(item.id != dispute.item_id for item in bill.items):
            problems.append(f"dispute {dispute.id} is about item {dispute.item_id!r}, which bill {bill.id} lacks")


def _bill_owner(world: World, bill_id: str) -> str | None:
    bill = world.bills.get(bill_id)
    return bill.customer_id if bill is not None else None


def _check_work(world: World, problems: list[str]) -> None:
    service_owner = {l.id: l.customer_id for l in world.lines.values()}
    service_owner.update((b.id, b.customer_id) for b in world.broadband.values())
    for kind, table in (("appointment", world.appointments), ("order", world.orders)):
        for record in table.values():
            if record.customer_id not in world.customers:
                problems.append(f"{kind} {record.id} belongs to unknown customer {record.customer_id!r}")
            elif kind == "order" and record.kind == "new_service":
                continue  # the service may not exist until the order completes
            elif service_owner.get(record.service_id) != record.customer_id:
                problems.append(f"{kind} {record.id} is for service {record.service_id!r} of another customer")
    for kind, table in (("ticket", world.tickets), ("handoff", world.handoffs)):
        for record in table.values():
            if record.customer_id is not None and record.customer_id not in world.customers:
                problems.append(f"{kind} {record.id} belongs to unknown customer {record.customer_id!r}")
    for appointment in world.appointments.values():
        if appointment.slot_end <= appointment.slot_start:
            problems.append(f"appointment {appointment.id} ends before it starts")
