"""Conversation state and turns written by a newer release still load (a rolling deploy serves a conversation from
old and new replicas in turn): fields this code does not know are dropped, nothing fails."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from actors.planner.conversation import ConversationState, Issue
from actors.runtime.conversation_store import memory_backed
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

