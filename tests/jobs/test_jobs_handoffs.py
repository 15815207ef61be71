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

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
ACTIVE_LINE = {"name": "get_line_status", "kind": "tool", "ok": True,
               "result": {"status": "active", "visiting_country": None}}
NO_OUTAGE = {"name": "get_outages", "kind": "tool", "result": {"outages": []}, "ok": True}
SIM_LOCKED = [ACTIVE_LINE, NO_OUTAGE,
              {"name": "check_status_bar", "kind": "customer_step", "ok": True,
               "result": {"airplane_mode": False, "sim": "sim_locked", "network": "none"}},
              {"name": "sim_locked_needs_puk", "kind": "inform", "result": None, "ok": True}]
REFUEL_REFUSED = [ACTIVE_LINE,
                  {"name": "get_data_usage", "kind": "tool", "result": {"remaining_gb": 0}, "ok": True},
                  {"name": "refuel_gb", "kind": "ask", "result": 8, "ok": True},
                  {"name": "refuel_data", "kind": "tool", "ok": False,
                   "result": {"code": "policy_denied", "message": "at most 5 GB per request"}},
                  {"name": "refuel_not_allowed", "kind": "inform", "result": None, "ok": True}]
NOT_FIXED = [ACTIVE_LINE, {"name": "get_data_usage", "kind": "tool", "result": {"remaining_gb": 4.0}, "ok": True},
             NO_OUTAGE,
             {"name": "check_status_bar", "kind": "customer_step", "ok": True,
              "result": {"airplane_mode": False, "sim": "ok", "network": "4G", "data_active": True}},
             {"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "good"}, "ok": True},
             {"name": "turn_off_data_saver", "kind": "customer_step", "result": {"ok": True}, "ok": True},
             {"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "poor"}, "ok": True},
             {"name": "turn_off_vpn", "kind": "customer_step", "result": {"ok": True}, "ok": True},
             {"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "poor"}, "ok": True},
             {"name": "reset_apn", "kind": "customer_step", "result": {"ok": True}, "ok": True},
             {"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "poor"}, "ok": True},
             {"name": "open_ticket", "kind": "tool", "result": {"ticket_id": "T-1"}, "ok": True}]


def handed_over(rule: str, called_for: bool = False) -> dict:
    """The step the planner records when an issue ends with a person (actors/planner/planner.py episode_of)."""
    return {"name": "transfer_to_person", "kind": "handoff", "ok": True,
            "result": {"rule": rule, "queue": "support", "reason": f"because of {rule}", "called_for": called_for}}


def episode(n: int, intent: str, playbook: str, steps: list[dict]) -> Episode:
    return Episode(episode_id=f"ep-{n}", customer_id=f"C{1000 + n}", conversation_id=f"conv-{n}",
                   summary=f"{intent} escalated after 3 turns", intents=[intent], playbook=playbook,
                   playbook_version=1, service_type="mobile", steps=steps, outcome="escalated", started_at=T0,
                   ended_at=T0 + timedelta(minutes=4))


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
        # failures: the flow ran out of fixes; the same fix failed twice
        episode(6, "mobile_data", "mobile_data", NOT_FIXED + [handed_over("playbook_handoff")]),
        episode(7, "mobile_data", "mobile_data", [ACTIVE_LINE, handed_over("repeated_failed_fix")]),
    )
    return str(tmp_path / "memory")


def test_correct_handoffs_are_not_failures_and_cost_nothing(uri, store, tmp_path):
    summary = failures(uri, str(tmp_path / "failures.md"))
    assert (summary["failed"], summary["called_for"]) == (2, 5)
    patterns = store.table("failure_patterns").search().limit(10).to_list()
    assert sorted(p["failure_step"] for p in patterns) == ["(not traced)", "mobile_data.final_test"]
    assert {e for p in patterns for e in p["examples"]} == {"ep-6", "ep-7"}
    assert sum(p["cost"] for p in patterns) == pytest.approx(2 * 1.0 + 0.1 * (len(NOT_FIXED) + 1 + 2))
    assert "5 hand-overs the situation called for are not failures" in (tmp_path / "failures.md").read_text()


def test_a_hand_over_the_planner_marked_as_called_for_is_not_a_failure(tmp_path, store, writer, embedder):
    ProceduralMemory(store, writer).load_playbooks()
    # The same run as ep-6 above, but the flow said when it handed over that only a person can act on it.
    EpisodicMemory(store, writer, embedder).record(
        episode(8, "mobile_data", "mobile_data", NOT_FIXED + [handed_over("playbook_handoff", called_for=True)]))
    summary = failures(str(tmp_path / "memory"))
    assert (summary["failed"], summary["called_for"], summary["patterns"]) == (0, 1, 0)
