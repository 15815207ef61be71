"""jobs.learn stopped between its writes (LanceDB on disk, a failure injected around the graph evidence), then run
again: every episode counts exactly once in the graph, the playbook statistics and the job's totals."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from jobs.intent.learning import learn
from memory.episodic import EpisodicMemory
from memory.graph import KnowledgeGraph
from memory.procedural import ProceduralMemory
from telco.contract.episode import Episode

T0 = datetime(2026, 11, 3, 9, tzinfo=timezone.utc)
FIX = [{"name": "get_line_status", "kind": "tool", "result": {"status": "active"}, "ok": True},
       {"name": "turn_off_data_saver", "kind": "customer_step", "result": {"ok": True}, "ok": True}]


class Crash(RuntimeError):
    pass


@pytest.fixture
def memory(tmp_path, store, writer, embedder):
    ProceduralMemory(store, writer).load_playbooks()
    EpisodicMemory(store, writer, embedder).record(*[
        Episode(episode_id=f"ep-{n}", customer_id=f"C{1000 + n}", conversation_id=f"conv-{n}",
                summary="mobile data resolved after 3 turns", intents=["mobile_data"], playbook="mobile_data",
                playbook_version=1, steps=FIX, outcome="resolved", started_at=T0,
                ended_at=T0 + timedelta(minutes=n + 1))
        for n in range(5)])
    return str(tmp_path / "memory"), store, writer


def counted(store, writer) -> tuple[int, int, int]:
    """(graph evidence for the fix, playbook runs recorded, episodes in the job's totals)"""
    facts = KnowledgeGraph(store, writer).facts("mobile_data", relation="resolved_by", direction="out")
    evidence = sum(f.evidence_count for f in facts if f.dst.endswith("turn_off_data_saver"))
    state = store.table("job_state").search().where("job = 'learn'").limit(1).to_list()
    return (evidence, store.table("procedure_runs").count_rows(),
            json.loads(state[0]["state"])["episodes"] if state else 0)


@pytest.mark.parametrize("stop", ["after_graph_write", "before_graph_write"])
def test_a_run_stopped_between_its_writes_is_finished_once_by_the_next(memory, monkeypatch, stop):
    uri, store, writer = memory
    apply = KnowledgeGraph.add_evidence

    def crashing(self, *args, **kwargs):
        if stop == "after_graph_write":
            apply(self, *args, **kwargs)
        raise Crash(stop)

    monkeypatch.setattr(KnowledgeGraph, "add_evidence", crashing)
    with pytest.raises(Crash):
        learn(uri, with_examples=False)
    monkeypatch.setattr(KnowledgeGraph, "add_evidence", apply)

    rerun = learn(uri, with_examples=False)
    assert counted(store, writer) == (5, 5, 5)
    assert (rerun["recovered"], rerun["episodes"]) == (5, 0)
    assert learn(uri, with_examples=False)["recovered"] == 0
    assert counted(store, writer) == (5, 5, 5)
