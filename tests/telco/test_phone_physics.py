"""The rules of phone and network physics, one test each (docs/telecom-physics.md lists them).

Each test sets up the smallest state that exercises one rule on the small world (tests/support/worldkit.py):
customer C0001, line L-0001 on a 5G plan, phone PH-0001 in A-NORTH, which runs 2G..5G; A-SOUTH has switched 3G
off (runs 2G and 4G, no 5G); roaming partners ES (2G/4G), IT (3G/4G) and FR (4G/5G).
"""
from __future__ import annotations

import pytest

from telco.models import World
from telco.sandbox import observe as ob
from telco.sandbox.customer_steps import apply_customer_step
from telco.sandbox.endtoend import mobile_end_to_end
from telco.sandbox.faults import apply_context, inject_fault
from telco.sandbox.integrity import check_world
from telco.sandbox.observe.mobile import mobile_label
from telco.sandbox.state import Sandbox
from worldkit import small_world

LINE, PHONE = "L-0001", "PH-0001"


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(small_world())


def phone(sb):
    return sb.phone(PHONE)


def bar(sb):
    return ob.status_bar(sb, LINE)


def speed(sb):
    return ob.mobile_speed_test(sb, LINE)


def mms(sb):
    return ob.can_send_mms(sb, LINE)


def step(sb, step_id):
    return apply_customer_step(sb, step_id, "C0001")


def has_service(sb) -> bool:
    return mobile_end_to_end(sb, LINE)["service"]


def data_works(sb) -> bool:
    return speed(sb).latency_ms is not None


def abroad(sb, country: str) -> None:
    apply_context(sb, "abroad", "C0001", country=country)


def test_the_healthy_line_passes_every_end_to_end_test(sb):
    assert mobile_end_to_end(sb, LINE) == {"service": True, "data": True, "data_speed": True, "mms": True}
    assert speed(sb).label == "excellent" and bar(sb).network == "5G"


# ---- service: calls and texts -------------------------------------------------------------------------------

def test_service_needs_a_sim_card_in_the_phone(sb):
    phone(sb).sim_present = False
    assert bar(sb).sim == "no_sim" and not has_service(sb)


def test_service_needs_the_sim_seated(sb):
    phone(sb).sim_seated = False
    assert bar(sb).sim == "no_sim" and not has_service(sb)
    assert step(sb, "reseat_sim")["sim"] == "ok" and has_service(sb)


def test_a_pin_locked_sim_gives_emergency_calls_only_until_the_pin_is_entered(sb):
    phone(sb).sim_lock = "pin"
    seen = bar(sb)
    assert seen.sim == "pin_required" and seen.network == "sos" and not has_service(sb)
    assert step(sb, "enter_sim_pin")["sim"] == "ok" and has_service(sb)


def test_a_puk_locked_sim_gives_no_service_and_a_pin_does_not_open_it(sb):
    phone(sb).sim_lock = "puk"
    assert bar(sb).sim == "puk_required" and not has_service(sb)
    assert step(sb, "enter_sim_pin")["sim"] == "puk_required"


def test_seating_and_locking_are_independent(sb):
    phone(sb).sim_seated, phone(sb).sim_lock = False, "pin"
    assert bar(sb).sim == "no_sim"  # an unseated card cannot be read, so nothing asks for its PIN
    assert step(sb, "enter_sim_pin")["sim"] == "no_sim"  # and typing a PIN does nothing
    assert step(sb, "reseat_sim")["sim"] == "pin_required"  # seated, it asks for the PIN
    assert step(sb, "enter_sim_pin")["sim"] == "ok"


def test_reseating_cannot_conjure_a_missing_card(sb):
    phone(sb).sim_present = False
    assert step(sb, "reseat_sim")["sim"] == "no_sim"


def test_airplane_mode_leaves_no_network(sb):
    phone(sb).airplane_mode = True
    seen = bar(sb)
    assert seen.network == "none" and seen.bars == 0 and seen.airplane_mode and not has_service(sb)


@pytest.mark.parametrize("fault", ["line_suspended_overdue", "line_suspended_contract_ended",
                                   "line_suspended_lost_stolen"])
def test_a_suspended_line_gives_emergency_calls_only(sb, fault):
    inject_fault(sb, fault, "C0001")
    seen = bar(sb)
    assert seen.sim == "ok" and seen.network == "sos" and seen.bars == 4 and not has_service(sb)


@pytest.mark.parametrize("mode", ["3G only", "3G/2G"])
def test_a_network_mode_the_area_does_not_run_leaves_no_network(sb, mode):
    phone(sb).area_id = "A-SOUTH"  # 3G switched off there; the 3G-only phone finds nothing
    phone(sb).preferred_network_mode = mode
    if mode == "3G only":
        assert bar(sb).network == "none" and not has_service(sb)
    else:
        assert bar(sb).network == "2G" and has_service(sb)  # the mode also allows 2G, which still runs


def test_a_network_mode_the_area_runs_keeps_service(sb):
    phone(sb).preferred_network_mode = "2G only"
    assert bar(sb).network == "2G" and has_service(sb)


def test_an_area_outage_leaves_no_network(sb):
    inject_fault(sb, "area_mobile_outage", "C0001")
    assert bar(sb).network == "none" and not has_service(sb)


# ---- mobile data --------------------------------------------------------------------------------------------

def test_data_needs_the_data_switch(sb):
    phone(sb).mobile_data = False
    assert not bar(sb).data_active and not data_works(sb) and has_service(sb)


def test_data_needs_the_operators_apn(sb):
    phone(sb).apn.apn = "internet.other"
    assert not bar(sb).data_active and not data_works(sb)
    assert "no internet" in speed(sb).note


def test_data_needs_allowance_left_and_a_refuel_restores_it(sb):
    line = sb.line(LINE)
    line.data_used_gb = 20.0  # the plan's whole 20 GB
    # The operator holds the traffic but keeps the session: the data icon stays, nothing loads.
    assert bar(sb).data_active and not data_works(sb)
    line.data_refuelled_gb = 1.0
    assert data_works(sb)


def test_abroad_with_line_roaming_off_has_no_data(sb):
    abroad(sb, "ES")
    sb.line(LINE).roaming_enabled = False
    assert not data_works(sb) and not bar(sb).data_active
    assert has_service(sb)  # calls and texts still work on the partner network


def test_abroad_with_phone_data_roaming_off_has_no_data(sb):
    abroad(sb, "ES")
    phone(sb).data_roaming = False
    assert not data_works(sb) and "data roaming" in speed(sb).note


def test_abroad_with_both_roaming_switches_on_data_works_and_the_bar_shows_r(sb):
    abroad(sb, "ES")
    seen = bar(sb)
    assert seen.roaming and seen.data_active and seen.network == "4G" and data_works(sb)


def test_a_country_without_a_roaming_partner_has_no_network(sb):
    abroad(sb, "ZZ")
    assert bar(sb).network == "none" and not has_service(sb)


def test_a_5g_partner_network_abroad_gives_excellent_speed(sb):
    abroad(sb, "FR")
    test = speed(sb)
    assert bar(sb).network == "5G" and test.label == "excellent" and test.at_best


def test_abroad_the_partners_technology_decides(sb):
    abroad(sb, "ES")  # a 4G partner: the same 5G phone and plan get 4G speeds
    assert bar(sb).network == "4G" and speed(sb).label == "good" and speed(sb).best_label == "good"
    sb.line(LINE).plan_id = "MOB-4G-10"
    phone(sb).abroad_country = "FR"  # a 5G partner, but the plan has no 5G
    assert bar(sb).network == "4G"


def test_roaming_costs_some_speed_and_adds_delay(sb):
    sb.line(LINE).plan_id = "MOB-4G-10"
    home = speed(sb)
    abroad(sb, "IT")
    sb.world.roaming_partners["IT"].load, sb.world.roaming_partners["IT"].bars = 0.3, 4  # same as home
    away = speed(sb)
    assert away.download_mbps < home.download_mbps and away.latency_ms > home.latency_ms


@pytest.mark.parametrize("mode, label, network", [("2G only", "poor", "2G"), ("3G only", "fair", "3G"),
                                                   ("3G/2G", "fair", "3G")])
def test_2g_and_3g_modes_make_data_slow(sb, mode, label, network):
    phone(sb).preferred_network_mode = mode
    test = speed(sb)
    assert data_works(sb) and test.label == label and bar(sb).network == network
    assert test.best_label == "excellent" and not test.at_best


def test_data_saver_slows_data(sb):
    phone(sb).data_saver = True
    assert speed(sb).label == "fair" and not speed(sb).at_best


def test_a_vpn_slows_data_and_adds_delay(sb):
    before = speed(sb)
    phone(sb).vpn = True
    after = speed(sb)
    assert after.label == "good" and after.latency_ms > before.latency_ms and not after.at_best


def test_load_and_signal_set_the_speed(sb):
    quiet = speed(sb).download_mbps
    sb.world.cells["CELL-N1"].load = 0.9
    busy = speed(sb).download_mbps
    sb.world.cells["CELL-N1"].status = "degraded"
    weak = speed(sb)
    assert busy < quiet * 0.7 and weak.download_mbps == pytest.approx(busy / 2, rel=0.02)
    assert bar(sb).bars == 2
    assert weak.at_best  # nothing on the phone to fix: this is what the network gives now


@pytest.mark.parametrize("mbps, label", [(0.0, "poor"), (1.99, "poor"), (2.0, "fair"), (9.99, "fair"),
                                         (10.0, "good"), (39.9, "good"), (40.0, "excellent"), (500, "excellent")])
def test_speed_labels_have_fixed_thresholds(mbps, label):
    assert mobile_label(mbps) == label


def test_best_label_is_what_the_plan_handset_and_network_allow(sb):
    assert speed(sb).best_label == "excellent"
    sb.line(LINE).plan_id = "MOB-4G-10"  # a 4G plan: good is the best here
    assert speed(sb).best_label == "good" and speed(sb).at_best
    phone(sb).supports_5g = False
    sb.line(LINE).plan_id = "MOB-5G-20"  # a 4G handset on a 5G plan: good again
    assert speed(sb).best_label == "good"


def test_best_label_is_none_when_no_network_could_carry_data(sb):
    inject_fault(sb, "area_mobile_outage", "C0001")
    assert speed(sb).best_label is None and speed(sb).at_best is False


def test_best_label_ignores_airplane_mode_and_blockers(sb):
    phone(sb).airplane_mode = True
    phone(sb).mobile_data = False
    test = speed(sb)
    assert test.label == "poor" and test.best_label == "excellent" and not test.at_best


# ---- picture messages ---------------------------------------------------------------------------------------

def test_mms_with_mobile_data_off_fails_even_on_wifi(sb):
    phone(sb).mobile_data = False
    assert bar(sb).wifi
    assert not mms(sb).can_send and "mobile data" in mms(sb).reason


def test_2g_only_cannot_send_mms(sb):
    phone(sb).preferred_network_mode = "2G only"
    assert has_service(sb) and data_works(sb)
    assert not mms(sb).can_send and "3G or better" in mms(sb).reason


def test_3g_sends_mms(sb):
    phone(sb).preferred_network_mode = "3G only"
    assert mms(sb).can_send


@pytest.mark.parametrize("breaks_the_bearer", [
    lambda sb: setattr(phone(sb).apn, "apn", "internet.other"),
    lambda sb: setattr(sb.line(LINE), "data_used_gb", 20.0),
    lambda sb: (abroad(sb, "ES"), setattr(sb.line(LINE), "roaming_enabled", False)),
    lambda sb: (abroad(sb, "ES"), setattr(phone(sb), "data_roaming", False)),
], ids=["wrong_apn", "no_allowance", "line_roaming_off_abroad", "phone_data_roaming_off_abroad"])
def test_mms_fails_whenever_the_mobile_data_bearer_fails(sb, breaks_the_bearer):
    breaks_the_bearer(sb)
    assert not data_works(sb)
    assert not mms(sb).can_send and "mobile data" in mms(sb).reason


def test_mms_needs_the_operators_mms_server(sb):
    phone(sb).apn.mmsc_url = "http://mms.other.example"
    assert data_works(sb) and not mms(sb).can_send
    assert step(sb, "reset_apn") and mms(sb).can_send


@pytest.mark.parametrize("permission", ["sms", "storage"])
def test_mms_needs_the_messaging_apps_sms_and_storage_permissions(sb, permission):
    phone(sb).messaging_permissions = [p for p in ("sms", "storage", "contacts") if p != permission]
    assert not mms(sb).can_send and permission in mms(sb).reason
    phone(sb).messaging_permissions = ["sms", "storage"]  # contacts is not needed
    assert mms(sb).can_send


def test_wifi_calling_breaks_mms_only_on_handsets_that_route_mms_through_it(sb):
    phone(sb).wifi_calling = True
    assert mms(sb).can_send  # most handsets send MMS over cellular regardless
    phone(sb).wifi_calling_breaks_mms = True
    assert not mms(sb).can_send and "Wi-Fi calling" in mms(sb).reason
    phone(sb).wifi = False  # off Wi-Fi, Wi-Fi calling is idle and MMS goes over cellular
    assert mms(sb).can_send


def test_data_saver_and_vpn_do_not_stop_mms(sb):
    phone(sb).data_saver, phone(sb).vpn = True, True
    assert mms(sb).can_send


def test_mms_needs_service(sb):
    phone(sb).sim_seated = False
    assert not mms(sb).can_send and mms(sb).reason == "no SIM card detected"


# ---- what the customer can read ---------------------------------------------------------------------------

def test_the_status_bar_shows_the_icons_a_real_one_shows(sb):
    p = phone(sb)
    p.wifi_calling, p.vpn, p.data_saver = True, True, True
    seen = bar(sb)
    assert (seen.wifi, seen.wifi_calling, seen.vpn, seen.data_saver, seen.roaming) == (True, True, True, True, False)
    p.airplane_mode = True  # airplane mode drops Wi-Fi, and Wi-Fi calling with it
    seen = bar(sb)
    assert seen.airplane_mode and not seen.wifi and not seen.wifi_calling and seen.network == "none"


def test_the_settings_screen_reads_back_every_setting_a_flow_may_change(sb):
    inject_fault(sb, "broken_apn", "C0001")
    inject_fault(sb, "broken_mms_url", "C0001")
    inject_fault(sb, "network_mode_3g_only", "C0001")
    inject_fault(sb, "vpn_slowing", "C0001")
    inject_fault(sb, "mobile_data_off", "C0001")
    before = sb.dump_json()
    seen = step(sb, "check_phone_settings")
    assert seen == {
        "step_id": "check_phone_settings", "airplane_mode": False, "mobile_data": False, "data_roaming": False,
        "network_mode": "3G only", "data_saver": False, "vpn": True, "wifi": True, "wifi_calling": False,
        "apn": "internet.oldcarrier", "mmsc": "http://mms.oldcarrier.example/servlets/mms",
    }
    assert sb.dump_json() == before  # reading the screen changes nothing


def test_the_messaging_permissions_screen(sb):
    inject_fault(sb, "messaging_permission_missing", "C0001", permission="sms")
    seen = step(sb, "check_messaging_permissions")
    assert (seen["sms"], seen["storage"], seen["contacts"]) == (False, True, True)


def test_setting_the_network_mode_to_automatic_gives_a_4g_handset_its_best(sb):
    p = phone(sb)
    p.supports_5g, p.preferred_network_mode = False, "2G only"
    sb.line(LINE).plan_id = "MOB-4G-10"
    assert step(sb, "set_network_mode_auto")["network"] == "4G"
    assert phone(sb).preferred_network_mode == "auto" and check_world(sb.world) == []


# ---- old worlds -------------------------------------------------------------------------------------------

def test_worlds_saved_with_the_old_sim_and_network_mode_fields_still_load():
    raw = small_world().model_dump(mode="json")
    old_phone = {k: v for k, v in raw["phones"][PHONE].items() if not k.startswith("sim_")}
    raw["phones"][PHONE] = {**old_phone, "sim": "missing", "preferred_network_mode": "3G"}
    for area in raw["areas"].values():
        del area["radio"]
    world = World.model_validate(raw)
    loaded = world.phones[PHONE]
    assert (loaded.sim_present, loaded.sim_seated, loaded.sim_lock, loaded.preferred_network_mode) == \
        (True, False, "none", "3G/2G")
    assert world.areas["A-SOUTH"].radio == ["2G", "4G"]  # what its cells radiate
    raw["phones"][PHONE]["sim"] = "pin_locked"  # the old state meant "locked until the PUK"
    assert World.model_validate(raw).phones[PHONE].sim_lock == "puk"
    assert check_world(world) == []
