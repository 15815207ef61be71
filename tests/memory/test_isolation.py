"""Isolation: no public read path returns one customer's memory to another customer."""
from __future__ import annotations

from datetime import timedelta

import pytest

from memory.episodic import EpisodicMemory
from memory.procedural import ProceduralMemory
from memory.working import WorkingMemory
from memory.workspace import WorkspaceBuilder
from memory_testkit import T0
from telco.contract.episode import Episode
from telco.errors import InvalidInput

SECRET_SUMMARY = "victim router overheating zebra-unique-marker moved router"


@pytest.fixture
def world(store, writer, embedder, clock, kb):
    episodic = EpisodicMemory(store, writer, embedder)
    for i in range(3):
        episodic.record(Episode(
            episode_id=f"victim-{i}", customer_id="VICTIM-1", summary=f"{SECRET_SUMMARY} {i}",
            intents=["broadband_drops"], outcome="resolved", issue_key="drops:BB-9",
            started_at=T0 + timedelta(days=i), ended_at=T0 + timedelta(days=i, minutes=10)))
    episodic.record(Episode(episode_id="mine-1", customer_id="ATTACKER-1", summary="bill question",
                            intents=["billing"], outcome="resolved", started_at=T0, ended_at=T0))
    working = WorkingMemory(store, writer, clock=clock)
    working.record_turn("victim-conv", "customer", "zebra-unique-marker my router", customer_id="VICTIM-1",
                        patch={"customer_id": "VICTIM-1"})
    builder = WorkspaceBuilder(working, episodic, kb, ProceduralMemory(store, writer))
    return episodic, working, builder


def test_every_episodic_path_is_scoped(world):
    episodic, _, _ = world
    assert all(h.episode.customer_id == "ATTACKER-1"
               for h in episodic.similar("ATTACKER-1", SECRET_SUMMARY, k=10))
    assert all(h.episode.customer_id == "ATTACKER-1"
               for h in episodic.similar("ATTACKER-1", "zebra-unique-marker", k=10, hybrid=True))
    assert [e.episode_id for e in episodic.history("ATTACKER-1")] == ["mine-1"]
    with pytest.raises(Exception, match="has no episode"):
        episodic.get("ATTACKER-1", "victim-0")
    with pytest.raises(Exception, match="has no episode"):
        episodic.follow_ups("ATTACKER-1", "victim-0")
    # The victim's own view shows the data is really there.
    assert len(episodic.similar("VICTIM-1", SECRET_SUMMARY, k=10)) == 3


def test_working_memory_and_workspace_are_scoped(world):
    _, working, builder = world
    assert working.get("victim-conv", customer_id="ATTACKER-1") is None
    ws = builder.assemble("ATTACKER-1", "victim-conv", SECRET_SUMMARY, budget_chars=20_000)
    assert "zebra-unique-marker" not in ws.render()
    assert not ws.by_source("working")
    assert all(i.ref == "mine-1" for i in ws.by_source("episodic"))


@pytest.mark.parametrize("bad", [None, "", "   ", "x' OR '1'='1", "VICTIM-1' OR customer_id != '"])
def test_missing_or_malformed_customer_ids_are_refused_not_widened(world, bad):
    episodic, _, builder = world
    for call in (lambda: episodic.similar(bad, "router"), lambda: episodic.history(bad),
                 lambda: episodic.get(bad, "victim-0"), lambda: episodic.follow_ups(bad, "victim-0"),
                 lambda: builder.assemble(bad, "victim-conv", "router")):
        with pytest.raises(InvalidInput, match="customer_id"):
            call()
