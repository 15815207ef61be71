"""The learning jobs over LanceDB on disk: learn is incremental (nothing counted twice), failure analysis finds
a planted wrong branch and names it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from jobs.playbooks.evolve import repoint
from jobs.playbooks.failures import failures
from jobs.intent.learning import learn
from memory.episodic import EpisodicMemory
from memory.graph import KnowledgeGraph
from memory.procedural import ProceduralMemory
from telco.contract.episode import Episode
from telco.playbooks import load_playbooks

T0 = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)
LOOKS = [
    {"name": "get_line_status", "kind": "tool", "result": {"status": "active", "visiting_country": None}, "ok": True},
    {"name": "get_data_usage", "kind": "tool", "result": {"remaining_gb": 4.0}, "ok": True},
    {"name": "get_outages", "kind": "tool", "result": {"outages": []}, "ok": True},
    {"name": "check_status_bar", "kind": "customer_step", "ok": True,
     "result": {"airplane_mode": False, "sim": "ok", "network": "4G", "data_active": True}},
    {"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "good"}, "ok": True},
]
FIXED = LOOKS + [
    {"name": "turn_off_data_saver", "kind": "customer_step", "result": {"ok": True}, "ok": True},
    {"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "excellent"}, "ok": True},
    {"name": "data_working", "kind": "inform", "result": None, "ok": True},
]
HANDED_OVER = LOOKS + [{"name": "open_ticket", "kind": "tool", "result": {"ticket_id": "T-1"}, "ok": True}]
# slow_broadband (a graph flow, so a branch can be planted): the area is clear and the first speed test is good
# but not excellent; v1 goes on to the router.
SLOW_LOOKS = [
    {"name": "get_outages", "kind": "tool", "result": {"outages": [], "planned_maintenance": []}, "ok": True},
    {"name": "run_home_speed_test", "kind": "customer_step", "result": {"label": "good", "browsing_ok": True},
     "ok": True},
]
SLOW_FIXED = SLOW_LOOKS + [
    {"name": "get_router_status", "kind": "tool", "ok": True,
     "result": {"dns_ok": True, "overheating": False, "channel_interference": 0.7, "firmware_outdated": False}},
    {"name": "switch_wifi_to_5ghz", "kind": "customer_step", "result": {"ok": True}, "ok": True},
    {"name": "run_home_speed_test", "kind": "customer_step", "result": {"label": "excellent", "browsing_ok": True},
     "ok": True},
    {"name": "broadband_fast", "kind": "inform", "result": None, "ok": True},
]


def episode(n: int, *, version: int, steps: list[dict], outcome: str, at: datetime, intent: str = "mobile_data",
            playbook: str = "mobile_data", service: str = "mobile") -> Episode:
    return Episode(episode_id=f"ep-{n}", customer_id=f"C{1000 + n % 7}", conversation_id=f"conv-{n}",
                   summary=f"{intent.replace('_', ' ')} {outcome} after 4 turns", intents=[intent], playbook=playbook,
                   playbook_version=version, service_type=service, steps=steps, outcome=outcome,
                   started_at=at, ended_at=at + timedelta(minutes=3))


def slow(n: int, *, version: int, steps: list[dict], outcome: str) -> Episode:
    return episode(n, version=version, steps=steps, outcome=outcome, at=T0, intent="broadband_slow",
                   playbook="slow_broadband", service="broadband")


@pytest.fixture
def memory(tmp_path, store, writer, embedder):
    ProceduralMemory(store, writer).load_playbooks()
    return str(tmp_path / "memory"), store, writer, EpisodicMemory(store, writer, embedder)


def runs_of(store) -> int:
    return store.table("procedure_runs").count_rows()


def evidence(store, writer, src: str, dst: str) -> int:
    facts = KnowledgeGraph(store, writer).facts(src, relation="resolved_by", direction="out")
    return sum(f.evidence_count for f in facts if f.dst.endswith(dst))


def test_learning_twice_counts_nothing_twice(memory):
    uri, store, writer, episodic = memory
    episodic.record(*[episode(n, version=1, steps=FIXED, outcome="resolved", at=T0 + timedelta(minutes=n))
                      for n in range(6)])
    episodic.record(episode(6, version=1, steps=HANDED_OVER, outcome="escalated", at=T0))

    first = learn(uri, with_examples=False)
    assert first["episodes"] == 7 and first["runs_recorded"] == 7
    assert runs_of(store) == 7
    assert evidence(store, writer, "mobile_data", "turn_off_data_saver") == 6
    stats = ProceduralMemory(store, writer).stats("mobile_data", 1)
    assert (stats.runs, stats.resolved, stats.escalated) == (7, 6, 1)

    again = learn(uri, with_examples=False)
    assert again["episodes"] == 0
    assert runs_of(store) == 7
    assert evidence(store, writer, "mobile_data", "turn_off_data_saver") == 6

    # One more episode, ending before the watermark (written late by a replica): learned once, exactly.
    episodic.record(episode(7, version=1, steps=FIXED, outcome="resolved", at=T0 + timedelta(minutes=1)))
    third = learn(uri, with_examples=False)
    assert third["episodes"] == 1
    assert learn(uri, with_examples=False)["episodes"] == 0
    assert runs_of(store) == 8
    assert evidence(store, writer, "mobile_data", "turn_off_data_saver") == 7


def test_the_jobs_take_the_playbook_version_from_the_episode_never_from_its_summary(memory):
    uri, store, writer, episodic = memory
    # A summary that names a playbook is prose: an episode without the field ran no known playbook version.
    prose = episode(0, version=1, steps=FIXED, outcome="resolved", at=T0).model_copy(update={
        "summary": "mobile data resolved after 4 turns with playbook mobile_data v1", "playbook": None,
        "playbook_version": None})
    typed = episode(1, version=1, steps=FIXED, outcome="resolved", at=T0)
    assert "playbook" not in typed.summary
    episodic.record(prose, typed)

    assert learn(uri, with_examples=False)["runs_recorded"] == 1
    runs = store.table("procedure_runs").search().limit(10).to_list()
    assert [(r["run_id"], r["procedure_id"]) for r in runs] == [("ep-1", "mobile_data@1")]
    assert evidence(store, writer, "mobile_data", "turn_off_data_saver") == 2  # both still teach the graph


def test_failure_analysis_names_a_planted_wrong_branch(memory, tmp_path):
    uri, store, writer, episodic = memory
    good = load_playbooks()["slow_broadband"]
    bad = repoint(good, "first_test", "next", "hand_over", good.version + 1)
    ProceduralMemory(store, writer).add_version(bad.model_dump(mode="json", exclude_none=True), status="active")
    episodic.record(*[slow(n, version=good.version, steps=SLOW_FIXED, outcome="resolved") for n in range(3)])
    episodic.record(*[slow(10 + n, version=bad.version, steps=SLOW_LOOKS, outcome="escalated") for n in range(5)])

    summary = failures(uri, str(tmp_path / "failures.md"))
    assert summary["failed"] == 5 and summary["untraced"] == 0
    top = store.table("failure_patterns").search().limit(10).to_list()
    assert len(top) == 1
    p = top[0]
    assert (p["playbook"], p["version"], p["failure_step"], p["count"]) == ("slow_broadband", bad.version,
                                                                          "slow_broadband.first_test", 5)
    fix = json.loads(p["proposed_fix"])
    assert (fix["via"], fix["from"], fix["to"]) == ("next", "hand_over", "router_status")  # where v1 went
    assert json.loads(p["trigger"])["observation"] == {"label": "good", "browsing_ok": True}
    report = (tmp_path / "failures.md").read_text()
    assert "slow_broadband.first_test" in report and "hand_over → router_status" in report

    failures(uri)  # rerunning replaces the pattern rows, it does not add to them
    assert store.table("failure_patterns").count_rows() == 1
