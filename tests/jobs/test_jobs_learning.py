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


def episode(n: int, *, version: int, steps: list[dict], outcome: str, at: datetime) -> Episode:
    return Episode(episode_id=f"ep-{n}", customer_id=f"C{1000 + n % 7}", conversation_id=f"conv-{n}",
                   summary=f"mobile data {outcome} after 4 turns", intents=["mobile_data"], playbook="mobile_data",
                   playbook_version=version, service_type="mobile", steps=steps, outcome=outcome,
                   started_at=at, ended_at=at + timedelta(minutes=3))


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
    good = load_playbooks()["mobile_data"]
    bad = repoint(good, "speed_test", "next", "ticket", good.version + 1)
    ProceduralMemory(store, writer).add_version(bad.model_dump(mode="json", exclude_none=True), status="active")
    episodic.record(*[episode(n, version=1, steps=FIXED, outcome="resolved", at=T0) for n in range(3)])
    episodic.record(*[episode(10 + n, version=bad.version, steps=HANDED_OVER, outcome="escalated", at=T0)
                      for n in range(5)])

    summary = failures(uri, str(tmp_path / "failures.md"))
    assert summary["failed"] == 5 and summary["untraced"] == 0
    top = store.table("failure_patterns").search().limit(10).to_list()
    assert len(top) == 1
    p = top[0]
    assert (p["playbook"], p["version"], p["failure_step"], p["count"]) == ("mobile_data", bad.version,
                                                                          "mobile_data.speed_test", 5)
    fix = json.loads(p["proposed_fix"])
    assert (fix["via"], fix["from"], fix["to"]) == ("next", "ticket", "data_saver")  # where v1 went
    assert json.loads(p["trigger"])["observation"] == {"label": "good"}
    report = (tmp_path / "failures.md").read_text()
    assert "mobile_data.speed_test" in report and "ticket → data_saver" in report

    failures(uri)  # rerunning replaces the pattern rows, it does not add to them
    assert store.table("failure_patterns").count_rows() == 1
