"""Workspace assembly: sources in order, every item tagged, the size budget respected."""
from __future__ import annotations

from datetime import timedelta

import pytest

from memory.episodic import EpisodicMemory
from memory.procedural import ProceduralMemory
from memory.working import WorkingMemory
from memory.workspace import SOURCE_ORDER, WorkspaceBuilder
from memory_testkit import T0
from telco.contract.episode import Episode
from telco.errors import InvalidInput


@pytest.fixture
def builder(store, writer, embedder, clock, kb):
    working = WorkingMemory(store, writer, clock=clock)
    working.record_turn("conv-1", "customer", "my broadband keeps dropping", customer_id="CUST-1",
                        patch={"customer_id": "CUST-1", "active_playbook": "broadband_drops"})
    episodic = EpisodicMemory(store, writer, embedder)
    episodic.record(Episode(episode_id="e1", customer_id="CUST-1", summary="router overheating, moved it",
                            intents=["broadband_drops"], outcome="resolved", started_at=T0 - timedelta(days=3),
                            ended_at=T0 - timedelta(days=3)))
    procedural = ProceduralMemory(store, writer)
    procedural.load_playbooks()
    return WorkspaceBuilder(working, episodic, kb, procedural)


def test_items_come_from_every_source_in_order_and_are_tagged(builder):
    ws = builder.assemble("CUST-1", "conv-1", "router overheating and the broadband drops",
                          intent="broadband_drops", budget_chars=20_000)
    sources = [i.source for i in ws.items]
    assert sources == sorted(sources, key=SOURCE_ORDER.index)
    assert {"working", "episodic", "semantic", "graph", "procedural"} <= set(sources)
    assert ws.by_source("working")[0].ref == "conv-1"
    assert ws.by_source("episodic")[0].ref == "e1"
    assert all("#" in i.ref for i in ws.by_source("semantic"))
    assert ws.by_source("procedural")[0].ref.startswith("broadband_drops@")
    assert ws.used_chars <= ws.budget_chars and ws.dropped == 0
    assert "[working:conv-1]" in ws.render()


def test_a_small_budget_keeps_higher_precedence_items_whole(builder):
    full = builder.assemble("CUST-1", "conv-1", "router overheating", intent="broadband_drops",
                            budget_chars=20_000)
    small = builder.assemble("CUST-1", "conv-1", "router overheating", intent="broadband_drops", budget_chars=700)
    assert small.used_chars <= 700 and small.dropped > 0
    assert small.items[0].source == "working"
    kept = {(i.source, i.ref): i.text for i in full.items}
    assert all(kept[(i.source, i.ref)] == i.text for i in small.items)  # nothing truncated
    with pytest.raises(InvalidInput, match="budget"):
        builder.assemble("CUST-1", "conv-1", "x", budget_chars=10)
