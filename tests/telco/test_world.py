"""The demo world, the synthetic world generator and the integrity checker that both must satisfy."""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from telco.errors import InvalidInput
from telco.models import BroadbandPlan, MobilePlan, World
from telco.sandbox import generator as gen
from telco.sandbox.generator import dump_world, generate_world
from telco.sandbox.generator_profile import load_profile
from telco.sandbox.integrity import check_world
from telco.sandbox.state import Sandbox


@pytest.fixture(scope="module")
def small_world() -> World:
    return generate_world(11, 400)


def _demo() -> World:
    return Sandbox.demo().world


def _customer_named(world: World, name: str):
    (customer,) = [c for c in world.customers.values() if c.name == name]
    return customer


# ---- demo world -------------------------------------------------------------------------------------------

def test_demo_world_is_consistent():
    assert check_world(_demo()) == []


def test_demo_world_has_the_promised_shape():
    world = _demo()
    assert world.clock.isoformat() == "2026-11-20T10:00:00+00:00"
    kinds = Counter(p.kind for p in world.plans.values())
    assert kinds == {"mobile": 4, "broadband": 4}
    mobile = [p for p in world.plans.values() if isinstance(p, MobilePlan)]
    assert {p.five_g for p in mobile} == {True, False}
    assert [p.id for p in mobile if p.roaming_included] == ["M-GLOBAL-5G"]
    assert len({p.data_limit_gb for p in mobile}) == 4 and len({p.refuel_price_per_gb for p in mobile}) == 4

    areas = world.areas
    assert len(areas) == 4
    assert any(a.fiber and a.five_g for a in areas.values())
    assert any(not a.fiber and not a.cable and a.five_g for a in areas.values())  # DSL only
    assert any(a.cable for a in areas.values())
    rural = [a for a in areas.values() if not a.fiber and not a.cable and not a.five_g]
    assert len(rural) == 1
    for area in areas.values():
        assert any(c.area_id == area.id for c in world.cells.values())
        assert any(n.area_id == area.id for n in world.access_nodes.values())
    assert 12 <= len(world.customers) <= 16


def test_demo_customers_are_healthy():
    world = _demo()
    today = world.clock.date()
    assert all(c.status == "active" for c in world.customers.values())
    assert not world.outages and not world.maintenance
    for line in world.lines.values():
        plan = world.plans[line.plan_id]
        assert line.status == "active" and line.data_used_gb < plan.data_limit_gb
        assert line.contract_end > today
    for phone in world.phones.values():
        assert phone.sim_present and phone.sim_seated and phone.sim_lock == "none"
        assert not phone.airplane_mode and phone.mobile_data and phone.abroad_country is None
        assert phone.preferred_network_mode == "auto"
    for router in world.routers.values():
        assert router.powered and router.sync == "up" and not router.overheating
        assert router.firmware == router.latest_firmware
        if router.kind == "ont":
            assert -22 <= router.optical_power_dbm <= -18
        if router.kind == "dsl_modem":
            assert 12 <= router.snr_db <= 20
    for bb in world.broadband.values():
        assert bb.status == "active" and bb.port_state == "ok" and not bb.dns_override
    ending_soon = [l for l in world.lines.values() if l.contract_end <= today + timedelta(days=30)]
    assert len(ending_soon) == 1


def test_demo_bills_cover_two_or_three_months_with_one_open_bill():
    sb = Sandbox.demo()
    today = sb.world.clock.date()
    for customer_id in sb.world.customers:
        bills = sb.bills_of(customer_id)
        assert 2 <= len(bills) <= 3
        open_bills = [b for b in bills if b.status != "paid"]
        assert [(b.period, b.status) for b in open_bills] == [("2026-11", "issued")]
        assert open_bills[0].due_date > today
        for bill in bills:
            # Every service the customer has is charged its plan price on every bill.
            charged = {i.service_id: i.amount for i in bill.items if i.kind == "plan"}
            services = [*sb.lines_of(customer_id), *sb.broadband_of(customer_id)]
            assert charged == {s.id: sb.world.plans[s.plan_id].monthly_price for s in services}


def test_demo_named_customers_match_their_stories():
    world = _demo()
    sb = Sandbox(world)
    maya = _customer_named(world, "Maya Lindqvist")
    assert [b.technology for b in sb.broadband_of(maya.id)] == ["fiber"] and len(sb.lines_of(maya.id)) == 1

    tomas = _customer_named(world, "Tomás Herrera")
    (tomas_bb,) = sb.broadband_of(tomas.id)
    assert tomas_bb.technology == "dsl" and not world.areas[tomas_bb.area_id].five_g

    priya = _customer_named(world, "Priya Raman")
    (priya_line,) = sb.lines_of(priya.id)
    assert not sb.broadband_of(priya.id)
    assert not world.phones[priya_line.device_id].supports_5g and not world.plans[priya_line.plan_id].five_g

    jonas = _customer_named(world, "Jonas Weber")
    (jonas_line,) = sb.lines_of(jonas.id)
    assert world.plans[jonas_line.plan_id].roaming_included and jonas_line.roaming_enabled

    amara = _customer_named(world, "Amara Okafor")
    assert [b.technology for b in sb.broadband_of(amara.id)] == ["cable"]

    assert sb.line_by_number(maya.phone).customer_id == maya.id


def test_demo_promotion_is_applied_on_its_customers_bills():
    world = _demo()
    (promo,) = world.promotions.values()
    bills = [b for b in world.bills.values() if b.customer_id == promo.customer_id and b.period >= promo.starts]
    assert bills
    for bill in bills:
        assert [i.amount for i in bill.items if i.kind == "promotion"] == [-promo.monthly_discount]
    others = [b for b in world.bills.values() if b.customer_id != promo.customer_id]
    assert not any(i.kind == "promotion" for b in others for i in b.items)


def test_demo_round_trip_is_equal():
    world = _demo()
    dumped = world.model_dump_json()
    again = World.model_validate_json(dumped)
    assert again == world
    assert again.model_dump_json() == dumped


def test_new_ids_continue_after_demo_ids():
    sb = Sandbox.demo()
    assert sb.new_id("L") not in sb.world.lines
    assert sb.new_id("B") not in sb.world.bills


# ---- integrity checker catches what it claims to ----------------------------------------------------------

def _corrupt(mutate) -> list[str]:
    world = _demo()
    mutate(world)
    return check_world(world)


CORRUPTIONS = {
    "5G plan on a 4G phone": (lambda w: setattr(w.lines["L-00003"], "plan_id", "M-PLUS-5G"), "not 5G capable"),
    "fiber outside fiber area": (lambda w: setattr(w.broadband["BB-00001"], "area_id", "A-OLDTOWN"), "A-OLDTOWN has no fiber"),
    "unknown plan": (lambda w: setattr(w.lines["L-00001"], "plan_id", "M-GONE"), "unknown plan 'M-GONE'"),
    "line on broadband plan": (lambda w: setattr(w.lines["L-00001"], "plan_id", "B-HOME-50"), "not a mobile plan"),
    "broadband on mobile plan": (lambda w: setattr(w.broadband["BB-00001"], "plan_id", "M-PLUS-5G"), "not a broadband plan"),
    "unknown device": (lambda w: setattr(w.lines["L-00001"], "device_id", "PH-99999"), "unknown phone 'PH-99999'"),
    "shared phone": (lambda w: setattr(w.lines["L-00002"], "device_id", "PH-00001"), "PH-00001 is used by 2 lines"),
    "router kind": (lambda w: setattr(w.routers["RT-00001"], "kind", "dsl_modem"), "RT-00001 is a dsl_modem"),
    "DSL plan too fast": (lambda w: setattr(w.broadband["BB-00002"], "plan_id", "B-HOME-50"), "at most 18 Mbps"),
    "unknown node": (lambda w: setattr(w.broadband["BB-00001"], "access_node_id", "OLT-XX"), "unknown access node"),
    "bill of unknown customer": (lambda w: setattr(w.bills["B-00001"], "customer_id", "C9999"), "unknown customer 'C9999'"),
    "overdue not yet due": (lambda w: setattr(w.bills["B-00003"], "status", "overdue"), "overdue but not yet due"),
    "awaiting without request": (lambda w: setattr(w.bills["B-00003"], "status", "awaiting_payment"), "no open payment request"),
    "5G cell in 4G area": (lambda w: setattr(w.cells["CELL-HV-1"], "technologies", ["2G", "3G", "4G", "5G"]),
                           "radiates ['5G'] in area A-HILLCREST, which does not run them"),
    "area runs what no cell radiates": (lambda w: setattr(w.cells["CELL-HV-1"], "technologies", ["3G", "4G"]),
                                        "runs ['2G'] but none of its cells radiates them"),
    "5G flag disagrees with radio": (lambda w: setattr(w.areas["A-HILLCREST"], "five_g", True), "says five_g=True"),
    "lock on a missing SIM": (lambda w: (setattr(w.phones["PH-00001"], "sim_present", False),
                                         setattr(w.phones["PH-00001"], "sim_lock", "pin")), "has no SIM card"),
    "partner without radio": (lambda w: setattr(w.roaming_partners["FR"], "technologies", []), "runs no radio"),
    "partner under another country": (lambda w: w.roaming_partners.__setitem__("XX", w.roaming_partners["FR"]),
                                      "roaming_partners['XX'] holds a record whose id is 'FR'"),
    "postcode elsewhere": (lambda w: setattr(w.customers["C1001"].address, "postcode", "OT2 1AA"), "is not in area"),
    "id counter behind": (lambda w: w.id_counters.__setitem__("L", 3), "new ids would collide"),
    "key differs from id": (lambda w: w.customers.__setitem__("C2000", w.customers["C1014"]), "whose id is 'C1014'"),
    "promotion without record": (lambda w: w.promotions.clear(), "promotion customer C1007 does not have"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_check_world_reports_each_kind_of_inconsistency(name):
    mutate, expected = CORRUPTIONS[name]
    problems = _corrupt(mutate)
    assert any(expected in p for p in problems), problems


def test_suspension_for_overdue_needs_an_overdue_bill():
    world = _demo()
    line = world.lines["L-00006"]
    line.status, line.suspension_reason, line.suspended_since = "suspended", "overdue_bill", world.clock
    assert any("suspended for an overdue bill" in p for p in check_world(world))
    # Making the customer's October bill overdue makes the same suspension consistent again.
    (october,) = [b for b in world.bills.values() if b.customer_id == line.customer_id and b.period == "2026-10"]
    october.status = "overdue"
    assert check_world(world) == []


# ---- generator -----------------------------------------------------------------------------------------------

def test_generated_world_is_consistent(small_world):
    assert check_world(small_world) == []


def test_generated_world_round_trips_through_validation(small_world):
    # warnings="error" fails on any value whose type differs from the field's (the generator skips validation).
    dumped = small_world.model_dump_json(warnings="error")
    again = World.model_validate_json(dumped)
    assert again == small_world
    assert again.model_dump_json() == dumped
    assert dump_world(small_world) == dumped.encode()


def test_generator_is_deterministic(small_world):
    assert dump_world(generate_world(11, 400)) == dump_world(small_world)
    assert dump_world(generate_world(12, 400)) != dump_world(small_world)


def test_generated_records_are_independent_objects(small_world):
    # Mutable parts must not be shared between records, or a fault on one phone would hit every phone.
    world = generate_world(11, 50)
    first, second = list(world.phones.values())[:2]
    first.apn.apn = "broken.apn"
    first.messaging_permissions.remove("storage")
    assert second.apn.apn != "broken.apn" and "storage" in second.messaging_permissions
    assert check_world(world) == []


def test_generated_distributions_are_realistic():
    world = generate_world(5, 4000)
    n = len(world.customers)
    sb = Sandbox(world)
    with_lines = {l.customer_id for l in world.lines.values()}
    with_bb = {b.customer_id for b in world.broadband.values()}
    assert 0.80 <= len(with_lines) / n <= 0.90
    assert 0.50 <= len(with_bb) / n <= 0.60
    assert len(with_lines | with_bb) == n  # nobody without a service
    assert len(world.lines) > len(with_lines)  # some customers have two lines
    assert len(world.areas) == 4
    assert {b.technology for b in world.broadband.values()} == {"fiber", "dsl", "cable"}

    statuses = Counter(b.status for b in world.bills.values())
    assert statuses["overdue"] > 0 and statuses["awaiting_payment"] > 0 and statuses["paid"] > statuses["overdue"]
    assert len(world.bills) == 3 * n
    assert len(world.payment_requests) == statuses["awaiting_payment"]
    suspended = [l for l in world.lines.values() if l.status == "suspended"]
    assert suspended and all(l.suspension_reason == "overdue_bill" for l in suspended)
    assert all(any(b.status == "overdue" for b in sb.bills_of(l.customer_id)) for l in suspended)

    five_g_lines = [l for l in world.lines.values() if world.plans[l.plan_id].five_g]
    assert five_g_lines and all(world.phones[l.device_id].supports_5g for l in five_g_lines)
    assert any(not p.supports_5g for p in world.phones.values())
    for bb in world.broadband.values():
        plan = world.plans[bb.plan_id]
        assert isinstance(plan, BroadbandPlan) and bb.technology in plan.technologies
    active = [l for l in world.lines.values() if l.status == "active"]
    assert all(l.data_used_gb < world.plans[l.plan_id].data_limit_gb for l in active)


def test_area_count_scales_with_customers():
    assert len(generate_world(1, 10).areas) == 4
    # A denser profile stands in for a large world: 1,300 customers at 100 per area means 13 areas.
    dense = load_profile().model_copy(update={"customers_per_area": 100})
    world = generate_world(1, 1300, profile=dense)
    assert len(world.areas) == 13
    assert len({a.postcode_prefix for a in world.areas.values()}) == 13
    assert check_world(world) == []


def test_new_ids_continue_after_generated_ids(small_world):
    sb = Sandbox(generate_world(11, 30))
    assert sb.new_id("L") not in sb.world.lines and sb.new_id("LI") not in {
        i.id for b in sb.world.bills.values() for i in b.items
    }


@pytest.mark.parametrize("seed, customers, fragment", [
    (1, 0, "customers must be a positive integer"),
    (1, -5, "customers must be a positive integer"),
    (1, "10", "customers must be a positive integer"),
    ("x", 10, "seed must be an integer"),
])
def test_generator_rejects_bad_arguments(seed, customers, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        generate_world(seed, customers)


def test_generator_rejects_profile_naming_unknown_plan():
    profile = load_profile()
    bad = profile.model_copy(update={"mobile_plan_weights": {"M-NOPE": 1.0}})
    with pytest.raises(InvalidInput, match="M-NOPE"):
        generate_world(1, 10, profile=bad)


def test_cli_writes_a_loadable_world(tmp_path, capsys):
    out = tmp_path / "world.json"
    assert gen.main(["--seed", "7", "--customers", "60", "--out", str(out)]) == 0
    assert "60 customers" in capsys.readouterr().out
    loaded = Sandbox.from_file(out).world
    assert len(loaded.customers) == 60 and loaded.seed == 7
    assert check_world(loaded) == []
    assert json.loads(out.read_text())["clock"].startswith("2026-11-20T10:00:00")


def test_cli_reports_bad_input_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "world.json"
    assert gen.main(["--seed", "7", "--customers", "0", "--out", str(out)]) == 2
    assert "customers must be a positive integer" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_money_in_generated_bills_is_exact(small_world):
    for bill in list(small_world.bills.values())[:200]:
        for item in bill.items:
            assert isinstance(item.amount, Decimal) and item.amount == item.amount.quantize(Decimal("0.01"))


def test_cli_rejects_missing_output_directory(tmp_path, capsys):
    assert gen.main(["--seed", "1", "--customers", "5", "--out", str(tmp_path / "nope" / "w.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fast_construction_fills_immutable_defaults_like_validation():
    # Models may gain fields with defaults; the generator then keeps working and matches validated records.
    from telco.models import ApnSettings, Phone

    built = gen._Fast(Phone)(
        id="PH-1", model="Wren Go", supports_5g=False, preferred_network_mode="4G/3G/2G",
        apn=ApnSettings(), messaging_permissions=["sms"],
    )
    validated = Phone(id="PH-1", model="Wren Go", supports_5g=False, preferred_network_mode="4G/3G/2G",
                      messaging_permissions=["sms"])
    assert built == validated
    assert built.model_dump_json(warnings="error") == validated.model_dump_json()
    with pytest.raises(TypeError, match="messaging_permissions must be given"):
        gen._Fast(Phone)(id="PH-2", model="Wren Go", apn=ApnSettings())
    with pytest.raises(TypeError, match="no fields"):
        gen._Fast(Phone)(id="PH-3", model="Wren Go", apn=ApnSettings(), messaging_permissions=[], colour="red")
