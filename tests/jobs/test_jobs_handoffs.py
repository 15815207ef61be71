"""Failure analysis over LanceDB on disk tells a hand-over the situation called for (a diagnosis only a person can
act on, the customer's explicit wish, a limit the agent may not pass) from a failure: only failures are clustered
and cost something."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jobs.playbooks.failures import failures
from memory.episodic import EpisodicMemory
from memory.procedural import ProceduralMemory
from telco.contract.episode import Episode
from telco.playbooks import load_playbooks

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
ACTIVE_LINE = {"name": "get_line_status", "kind": "tool", "ok": True,
               "result": {"status": "active", "visiting_country": None}}


def loop_end(goal: str, outcome: str, cause: str | None = None, queue: str | None = None,
             called_for: bool = False) -> dict:
    """How a closed loop ended, as the planner records it after the loop's own steps (kind "diagnosis")."""
    return {"name": goal, "kind": "diagnosis", "ok": True,
            "result": {"outcome": outcome, "goal": goal, "cause": cause, "queue": queue,
                       "reason": f"loop ended {outcome}" if queue else None, "called_for": called_for}}


# no_service v3: the status bar shows a PUK lock, which only a person can lift (the loop marks it called for).
SIM_LOCKED = [{"name": "check_status_bar", "kind": "customer_step", "ok": True,
               "result": {"airplane_mode": False, "sim": "puk_required", "network": "none"}},
              {"name": "sim_locked_needs_puk", "kind": "inform", "result": None, "ok": True},
              loop_end("service", "person", "sim_puk_locked", "support", called_for=True)]
# mobile_data v3: data used up, the refuel asked for is over policy's limit, and no other cause explains it.
REFUEL_REFUSED = [{"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "none"}, "ok": True},
                  {"name": "check_phone_settings", "kind": "customer_step", "ok": True,
                   "result": {"mobile_data": True, "apn": "internet.telco", "network_mode": "auto"}},
                  {"name": "get_data_usage", "kind": "tool", "result": {"remaining_gb": 0}, "ok": True},
                  {"name": "refuel_gb", "kind": "ask", "result": 8, "ok": True},
                  {"name": "refuel_data", "kind": "tool", "ok": False,
                   "result": {"code": "policy_denied", "message": "at most 5 GB per request"}},
                  {"name": "refuel_not_allowed", "kind": "inform", "result": None, "ok": True},
                  loop_end("data", "person", None, "technical", called_for=True)]
# slow_broadband v1 (a graph flow): every fix tried, the speed still poor, and no technician slot to book.
NOT_FIXED = [{"name": "get_outages", "kind": "tool", "result": {"outages": [], "planned_maintenance": []}, "ok": True},
             {"name": "run_home_speed_test", "kind": "customer_step", "ok": True,
              "result": {"label": "poor", "browsing_ok": False}},
             {"name": "get_router_status", "kind": "tool", "ok": True,
              "result": {"dns_ok": True, "overheating": False, "channel_interference": 0.7,
                         "firmware_outdated": False}},
             {"name": "switch_wifi_to_5ghz", "kind": "customer_step", "result": {"ok": True}, "ok": True},
             {"name": "run_home_speed_test", "kind": "customer_step", "ok": True,
              "result": {"label": "poor", "browsing_ok": False}},
             {"name": "run_line_test", "kind": "tool", "result": {"verdict": "ok", "sync": "stable"}, "ok": True},
             {"name": "run_home_speed_test", "kind": "customer_step", "ok": True,
              "result": {"label": "poor", "browsing_ok": False}},
             {"name": "get_appointment_slots", "kind": "tool", "result": {"slots": []}, "ok": True}]


def handed_over(rule: str, called_for: bool = False) -> dict:
    """The step the planner records when an issue ends with a person (actors/planner/planner.py episode_of)."""
    return {"name": "transfer_to_person", "kind": "handoff", "ok": True,
            "result": {"rule": rule, "queue": "support", "reason": f"because of {rule}", "called_for": called_for}}


def episode(n: int, intent: str, playbook: str, steps: list[dict]) -> Episode:
    book = load_playbooks()[playbook]
    return Episode(episode_id=f"ep-{n}", customer_id=f"C{1000 + n}", conversation_id=f"conv-{n}",
                   summary=f"{intent} escalated after 3 turns", intents=[intent], playbook=playbook,
                   playbook_version=book.version, service_type=book.service, steps=steps, outcome="escalated",
                   started_at=T0, ended_at=T0 + timedelta(minutes=4))


@pytest.fixture
def uri(tmp_path, store, writer, embedder):
    ProceduralMemory(store, writer).load_playbooks()
    EpisodicMemory(store, writer, embedder).record(
        # called for: the playbook's own diagnosis (with and without the recorded rule, as older episodes are)
        episode(1, "mobile_no_service", "no_service", SIM_LOCKED + [handed_over("playbook_handoff")]),
        episode(2, "mobile_no_service", "no_service", SIM_LOCKED),
        episode(3, "mobile_data", "mobile_data", REFUEL_REFUSED + [handed_over("playbook_handoff")]),
        # called for: escalation rules the situation needs, in the middle of a flow
        episode(4, "mobile_data", "mobile_data", [ACTIVE_LINE, handed_over("complaint")]),
        episode(5, "mobile_data", "mobile_data", [ACTIVE_LINE, handed_over("asked_for_person")]),
        # failures: a graph flow ran out of fixes; a rule handed over in the middle of a closed loop
        episode(6, "broadband_slow", "slow_broadband", NOT_FIXED + [handed_over("playbook_handoff")]),
        episode(7, "mobile_data", "mobile_data", [ACTIVE_LINE, handed_over("repeated_failed_fix")]),
    )
    return str(tmp_path / "memory")


def test_correct_handoffs_are_not_failures_and_cost_nothing(uri, store, tmp_path):
    summary = failures(uri, str(tmp_path / "failures.md"))
    assert (summary["failed"], summary["called_for"]) == (2, 5)
    patterns = store.table("failure_patterns").search().limit(10).to_list()
    assert sorted(p["failure_step"] for p in patterns) == ["(not traced)", "slow_broadband.book_technician"]
    assert {e for p in patterns for e in p["examples"]} == {"ep-6", "ep-7"}
    assert sum(p["cost"] for p in patterns) == pytest.approx(2 * 1.0 + 0.1 * (len(NOT_FIXED) + 1 + 2))
    assert "5 hand-overs the situation called for are not failures" in (tmp_path / "failures.md").read_text()


def test_a_hand_over_the_planner_marked_as_called_for_is_not_a_failure(tmp_path, store, writer, embedder):
    ProceduralMemory(store, writer).load_playbooks()
    # The same run as ep-6 above, but the flow said when it handed over that only a person can act on it.
    EpisodicMemory(store, writer, embedder).record(
        episode(8, "broadband_slow", "slow_broadband", NOT_FIXED + [handed_over("playbook_handoff", called_for=True)]))
    summary = failures(str(tmp_path / "memory"))
    assert (summary["failed"], summary["called_for"], summary["patterns"]) == (0, 1, 0)
