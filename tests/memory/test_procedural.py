"""Procedural memory: playbooks with versions, one active per name, rollback, statistics from runs."""
from __future__ import annotations

import pytest

from memory.procedural import ProceduralMemory
from telco.errors import InvalidInput, NotFound
from telco.playbooks import load_playbooks


@pytest.fixture
def pm(store, writer, clock):
    p = ProceduralMemory(store, writer, clock=clock)
    p.load_playbooks()
    return p


def body(version: int, extra_step: str = "done") -> dict:
    book = load_playbooks()["broadband_drops"].model_dump(mode="json", exclude_none=True)
    return {**book, "version": version, "title": f"{book['title']} v{version} {extra_step}"}


def test_repo_playbooks_load_active_and_are_found_by_intent(pm):
    books = load_playbooks()
    for book in books.values():
        assert pm.get(book.id).version == book.version and pm.get(book.id).status == "active"
    found = pm.lookup("broadband_drops", "broadband")
    assert found is not None and found.name == "broadband_drops" and found.body["steps"][0]["id"]
    assert pm.lookup("broadband_drops", "mobile") is None
    assert pm.lookup("no_such_intent") is None
    assert pm.load_playbooks() == []  # idempotent


def test_new_versions_are_candidates_until_activated_and_rollback_restores(pm, clock):
    v1 = pm.get("broadband_drops").version
    pm.add_version(body(v1 + 1))
    assert pm.get("broadband_drops").version == v1
    clock.advance(minutes=1)
    pm.activate("broadband_drops", v1 + 1)
    statuses = {v.version: v.status for v in pm.versions("broadband_drops")}
    assert statuses == {v1: "retired", v1 + 1: "active"}
    assert pm.lookup("broadband_drops").version == v1 + 1
    clock.advance(minutes=1)
    assert pm.rollback("broadband_drops").version == v1
    assert [v.status for v in pm.versions("broadband_drops")].count("active") == 1


def test_version_numbers_cannot_be_reused_with_different_steps(pm):
    v1 = pm.get("broadband_drops").version
    with pytest.raises(InvalidInput, match="already exists with different steps"):
        pm.add_version(body(v1, "changed"))
    with pytest.raises(InvalidInput, match="needs 'intents'"):
        pm.add_version({"id": "x", "version": 1, "service": "mobile"})
    with pytest.raises(NotFound):
        pm.activate("broadband_drops", 99)
    with pytest.raises(InvalidInput, match="no previously active version"):
        pm.rollback("mms")


def test_statistics_are_aggregated_from_runs(pm):
    v = pm.get("broadband_drops").version
    pm.record_run("r1", "broadband_drops", v, outcome="resolved", turns=4,
                  step_outcomes={"router_status": "ok", "move_router": "ok"})
    pm.record_run("r2", "broadband_drops", v, outcome="escalated", turns=8,
                  step_outcomes={"router_status": "ok", "move_router": "failed"})
    pm.record_run("r2", "broadband_drops", v, outcome="escalated", turns=8)  # a retried report
    pm.record_run("r3", "broadband_drops", v, outcome="resolved", turns=3)
    st = pm.stats("broadband_drops")
    assert (st.runs, st.resolved, st.escalated) == (3, 2, 1)
    assert st.mean_turns == pytest.approx(5.0) and st.resolution_rate == pytest.approx(2 / 3)
    assert st.steps["move_router"].outcomes == {"ok": 1, "failed": 1}
    with pytest.raises(InvalidInput, match="outcome"):
        pm.record_run("r4", "broadband_drops", v, outcome="great", turns=1)
    with pytest.raises(NotFound):
        pm.record_run("r5", "broadband_drops", 42, outcome="resolved", turns=1)
