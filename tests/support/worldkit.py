"""A small, healthy telecom world built in code, for unit tests that must not depend on the demo world file.

    small_world() -> World

Layout (ids are stable so tests can refer to them):
- areas A-NORTH (fiber, 5G; runs 2G..5G) and A-SOUTH (DSL only, no 5G; 3G switched off, runs 2G and 4G); one cell
  per area (CELL-N1, CELL-S1) and one access node per area (OLT-N1 fiber, DSLAM-S1 dsl).
- roaming partners ES (4G), IT (3G/4G) and FR (5G).
- plans MOB-5G-20 (mobile, 20 GB, 5G), MOB-4G-10 (mobile, 10 GB), BB-FIBER-500, BB-DSL-20.
- customer C0001 (A-NORTH): mobile line L-0001 on MOB-5G-20 in phone PH-0001, fiber broadband BB-0001 on
  OLT-N1 with ONT RT-0001; bills BILL-C0001-2025-05 (paid) and BILL-C0001-2025-06 (issued, the latest).
- customer C0002 (A-SOUTH): DSL broadband BB-0002 on DSLAM-S1 with modem RT-0002, no mobile line.
The clock is 2025-06-15 10:00; every device is in a good state, so any problem a test sees was put there by it.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from telco.models import (
    AccessNode,
    Address,
    Area,
    Bill,
    BroadbandPlan,
    BroadbandService,
    Cell,
    Customer,
    LineItem,
    MobileLine,
    MobilePlan,
    PaymentMethod,
    Phone,
    RoamingPartner,
    Router,
    World,
)

CLOCK = datetime(2025, 6, 15, 10, 0)
LAST_BOOT = datetime(2025, 6, 10, 3, 0)


def _index(*records):
    return {r.id: r for r in records}


def small_world() -> World:
    """A fresh World every call, so tests can mutate it freely."""
    plans = _index(
        MobilePlan(id="MOB-5G-20", name="5G 20 GB", monthly_price=Decimal("30.00"), data_limit_gb=20,
                   refuel_price_per_gb=Decimal("2.00"), five_g=True),
        MobilePlan(id="MOB-4G-10", name="4G 10 GB", monthly_price=Decimal("15.00"), data_limit_gb=10,
                   refuel_price_per_gb=Decimal("2.50")),
        BroadbandPlan(id="BB-FIBER-500", name="Fiber 500", monthly_price=Decimal("45.00"), download_mbps=500,
                      upload_mbps=100, technologies=["fiber"]),
        BroadbandPlan(id="BB-DSL-20", name="DSL 20", monthly_price=Decimal("25.00"), download_mbps=20,
                      upload_mbps=2, technologies=["dsl"]),
    )
    areas = _index(
        Area(id="A-NORTH", name="Northside", postcode_prefix="N1", fiber=True, dsl_max_mbps=40, cable=False,
             five_g=True, radio=["2G", "3G", "4G", "5G"]),
        Area(id="A-SOUTH", name="Southside", postcode_prefix="S1", fiber=False, dsl_max_mbps=24, cable=False,
             five_g=False, radio=["2G", "4G"]),
    )
    cells = _index(
        Cell(id="CELL-N1", area_id="A-NORTH", technologies=["2G", "3G", "4G", "5G"], load=0.3),
        Cell(id="CELL-S1", area_id="A-SOUTH", technologies=["2G", "4G"], load=0.3),
    )
    partners = {
        "ES": RoamingPartner(country="ES", name="Meseta Movil", technologies=["2G", "4G"], load=0.4, bars=3),
        "IT": RoamingPartner(country="IT", name="Laguna Mobile", technologies=["3G", "4G"], load=0.4, bars=3),
        "FR": RoamingPartner(country="FR", name="Hexagone Mobile", technologies=["4G", "5G"], load=0.3, bars=4),
    }
    nodes = _index(
        AccessNode(id="OLT-N1", area_id="A-NORTH", technology="fiber", load=0.3),
        AccessNode(id="DSLAM-S1", area_id="A-SOUTH", technology="dsl", load=0.3),
    )
    customers = _index(
        Customer(id="C0001", name="Ana Lima", date_of_birth=date(1988, 3, 14), phone="+15551230001",
                 email="ana@example.com",
                 address=Address(street="1 North Road", city="Riverton", postcode="N1 2AB", area_id="A-NORTH"),
                 payment_methods=[PaymentMethod(id="PM-0001", kind="card", last4="4242", label="Visa", default=True)]),
        Customer(id="C0002", name="Ben Okafor", date_of_birth=date(1975, 11, 2), phone="+15551230002",
                 email="ben@example.com",
                 address=Address(street="9 South Lane", city="Riverton", postcode="S1 4CD", area_id="A-SOUTH")),
    )
    phones = _index(Phone(id="PH-0001", model="Pixel 8", area_id="A-NORTH"))
    lines = _index(
        MobileLine(id="L-0001", number="+15551230001", customer_id="C0001", plan_id="MOB-5G-20",
                   device_id="PH-0001", data_used_gb=4.5, contract_end=date(2026, 3, 1)),
    )
    routers = _index(
        Router(id="RT-0001", model="FiberBox 2", kind="ont", optical_power_dbm=-19.5, last_boot=LAST_BOOT,
               reboot_log=[LAST_BOOT]),
        Router(id="RT-0002", model="CopperLink 5", kind="dsl_modem", snr_db=12.0, last_boot=LAST_BOOT,
               reboot_log=[LAST_BOOT]),
    )
    broadband = _index(
        BroadbandService(id="BB-0001", customer_id="C0001", plan_id="BB-FIBER-500", technology="fiber",
                         access_node_id="OLT-N1", port="1/1/7", router_id="RT-0001", area_id="A-NORTH"),
        BroadbandService(id="BB-0002", customer_id="C0002", plan_id="BB-DSL-20", technology="dsl",
                         access_node_id="DSLAM-S1", port="2/14", router_id="RT-0002", area_id="A-SOUTH"),
    )

    def monthly_items(period: str) -> list[LineItem]:
        return [
            LineItem(id=f"LI-{period}-1", description="5G 20 GB monthly plan", kind="plan",
                     amount=Decimal("30.00"), service_id="L-0001"),
            LineItem(id=f"LI-{period}-2", description="Fiber 500 monthly plan", kind="plan",
                     amount=Decimal("45.00"), service_id="BB-0001"),
        ]

    bills = _index(
        Bill(id="BILL-C0001-2025-05", customer_id="C0001", period="2025-05", issued_on=date(2025, 5, 1),
             due_date=date(2025, 5, 21), status="paid", items=monthly_items("2025-05")),
        Bill(id="BILL-C0001-2025-06", customer_id="C0001", period="2025-06", issued_on=date(2025, 6, 1),
             due_date=date(2025, 6, 21), status="issued", items=monthly_items("2025-06")),
    )
    return World(clock=CLOCK, seed=7, plans=plans, areas=areas, cells=cells, access_nodes=nodes,
                 customers=customers, lines=lines, phones=phones, routers=routers, broadband=broadband, bills=bills,
                 roaming_partners=partners,
                 # Counters past the ids above, so records the tools create never collide (integrity checks it).
                 id_counters={"BB": 2, "L": 1, "PH": 1, "PM": 1, "RT": 2})


# ---- faults and their fixes, for tests that compose them --------------------------------------------------

def one_customer_world(world: World, customer_id: str) -> World:
    """The world with only one customer's records (network, plans and partners kept): cheap to copy and check."""
    lines = {k: v for k, v in world.lines.items() if v.customer_id == customer_id}
    broadband = {k: v for k, v in world.broadband.items() if v.customer_id == customer_id}
    return world.model_copy(deep=True, update={
        "customers": {customer_id: world.customers[customer_id]},
        "lines": lines,
        "phones": {k: v for k, v in world.phones.items() if any(l.device_id == k for l in lines.values())},
        "broadband": broadband,
        "routers": {k: v for k, v in world.routers.items() if any(b.router_id == k for b in broadband.values())},
        "bills": {k: v for k, v in world.bills.items() if v.customer_id == customer_id},
        "promotions": {k: v for k, v in world.promotions.items() if v.customer_id == customer_id},
        "payment_requests": {k: v for k, v in world.payment_requests.items() if v.customer_id == customer_id},
    })


def apply_fix(sb, action, customer_id: str, line_id: str | None = None, broadband_id: str | None = None,
              key: str = "fix") -> dict | None:
    """Carry out one FixAction as a flow would: a customer step, or a policy-checked tool whose customer, line and
    service ids come from the scope. Person and wait actions do nothing here and return None."""
    from telco.sandbox.customer_steps import apply_customer_step, get_customer_step
    from telco.tools import ToolContext, call_tool, get_tool

    if action.customer_step is not None:
        target = get_customer_step(action.customer_step).target
        service = {"phone": line_id, "router": broadband_id}.get(target)
        return apply_customer_step(sb, action.customer_step, customer_id, service)
    if action.tool is not None:
        scope = {"customer_id": customer_id, "line_id": line_id, "service_id": line_id or broadband_id}
        fields = get_tool(action.tool).args_model.model_fields
        args = {name: scope[name] for name in fields if name in scope and name not in action.args}
        ctx = ToolContext(sb, "conv-fix", verified_customer_id=customer_id)
        return call_tool(ctx, action.tool, {**args, **action.args}, f"{key}-{action.tool}")
    return None

