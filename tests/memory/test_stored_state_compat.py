"""Conversation state and turns written by a newer release still load (a rolling deploy serves a conversation from
old and new replicas in turn): fields this code does not know are dropped, nothing fails. Episodes stored by an
older release load as the typed episode."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timezone

import pyarrow as pa

from actors.planner.conversation import ConversationState, Issue
from actors.runtime.conversation_store import memory_backed
from memory.episodic import EpisodicMemory
from memory.store import TABLES, MemoryStore
from memory.writer import LocalWriter
from telco.contract.episode import Handoff
from telco.contract.http import TurnOut

NOW = datetime(2026, 11, 27, 9, tzinfo=timezone.utc)


def test_state_and_turns_with_unknown_fields_still_load(tmp_path):
    store = memory_backed(str(tmp_path / "memory"), shared=False)
    state = ConversationState(conversation_id="conv-compat", customer_id="C1", created_at=NOW, updated_at=NOW,
                              issues=[Issue(intent="mobile_data", confidence=0.9, opened_at=NOW)])
    asyncio.run(store.create(state))
    newer = state.model_dump(mode="json")
    newer["a_field_from_a_later_release"] = {"x": 1}
    newer["issues"][0]["another_new_field"] = "y"
    out = TurnOut(turn_id="conv-compat:00001", conversation_id="conv-compat", reply="Hello", mode="offline")
    trace = {**out.model_dump(mode="json"), "new_top_level": 1}
    trace["trace"]["new_in_trace"] = [1, 2]
    store.memory.record_exchange("conv-compat", [("customer", "hi", None), ("agent", "Hello", json.dumps(trace))],
                                 customer_id="C1", patch={"context": newer})

    loaded = asyncio.run(store.load("conv-compat"))
    assert loaded is not None and loaded.issues[0].intent == "mobile_data"
    assert "a_field_from_a_later_release" not in loaded.model_dump()
    turns = asyncio.run(store.transcript("conv-compat"))
    assert [t.reply for t in turns] == ["Hello"]



def test_episodes_stored_before_the_typed_episode_load_typed_and_nothing_is_read_from_their_prose(tmp_path,
                                                                                                  monkeypatch):
    """An episodes table of schema v1 (no playbook, playbook_version or prompts columns; the served prompt versions
    in a note step; the desk's hand-over step with the reason alone) is migrated on open and every row loads: the
    note becomes the prompts field, hand-overs are typed, and the playbook its summary names is not parsed out."""
    typed = TABLES["episodes"]
    v1 = pa.schema([f for f in typed.schema if f.name not in ("playbook", "playbook_version", "prompts")])
    monkeypatch.setitem(TABLES, "episodes", dataclasses.replace(typed, version=1, schema=v1))
    uri = tmp_path / "memory"
    looked = {"name": "get_line_status", "kind": "tool", "result": {"status": "active"}, "ok": True}
    LocalWriter(MemoryStore(uri)).upsert("episodes", [
        {"episode_id": "old-1", "customer_id": "C1", "conversation_id": "conv-1", "intents": ["mobile_data"],
         "intent": "mobile_data", "summary": "mobile data escalated after 3 turns with playbook mobile_data v2",
         "steps": json.dumps([looked,
                              {"name": "transfer_to_person", "kind": "handoff", "ok": True,
                               "result": {"rule": "complaint", "queue": "complaints", "reason": "regulator"}},
                              {"name": "served_prompts", "kind": "note", "result": ["dialogue@2"], "ok": True}]),
         "outcome": "escalated", "started_at": NOW, "ended_at": NOW},
        {"episode_id": "old-2", "customer_id": "C1", "conversation_id": "conv-1", "intents": ["billing_dispute"],
         "intent": "billing_dispute", "summary": "billing dispute handed to the billing team; dana resolved it",
         "steps": json.dumps([{"name": "transfer_to_person", "kind": "handoff", "result": "bill query", "ok": True},
                              {"name": "dana", "kind": "note", "result": "resolved", "ok": True}]),
         "outcome": "resolved", "started_at": NOW, "ended_at": NOW}])
    monkeypatch.setitem(TABLES, "episodes", typed)

    store = MemoryStore(uri)
    episodic = EpisodicMemory(store, LocalWriter(store), embedder=None)  # reads only: nothing to embed
    old = episodic.get("C1", "old-1")
    assert store.schema_version("episodes") == typed.version
    assert (old.playbook, old.playbook_version, old.prompts) == (None, None, ["dialogue@2"])
    assert [s.name for s in old.steps] == ["get_line_status", "transfer_to_person"]
    assert old.handoff == Handoff(rule="complaint", queue="complaints", reason="regulator")
    desk = episodic.get("C1", "old-2")
    assert desk.handoff == Handoff(reason="bill query") and desk.prompts == [] and desk.playbook is None
