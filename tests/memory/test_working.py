"""Working memory: state folded from the turns log, a 30-minute idle TTL, rebuilt after a restart."""
from __future__ import annotations

import pytest

from memory.redact import CARD
from memory.working import StatePatch, WorkingMemory
from telco.errors import InvalidInput


@pytest.fixture
def wm(store, writer, clock):
    return WorkingMemory(store, writer, clock=clock)


def converse(wm, clock):
    wm.record_turn("conv-1", "customer", "my internet keeps dropping", intents=["broadband_drops"],
                   patch={"intents": ["broadband_drops"], "dialogue_state": "diagnosing"})
    clock.advance(minutes=1)
    wm.record_turn("conv-1", "agent", "I can see your router restarting", customer_id="CUST-1",
                   patch={"customer_id": "CUST-1", "active_playbook": "broadband_drops", "active_step": "router_status",
                          "slots": {"service_id": "BB-1", "postcode": "AB1"}})
    clock.advance(minutes=1)
    return wm.record_turn("conv-1", "customer", "ok moved it", patch=StatePatch(
        active_step="recheck_router", pending_customer_steps=["move_router_to_ventilated_spot"],
        slots={"postcode": None}))


def test_turns_fold_into_the_state(wm, clock):
    state = converse(wm, clock)
    assert state.customer_id == "CUST-1"
    assert state.dialogue_state == "diagnosing"
    assert state.slots == {"service_id": "BB-1"}
    assert (state.active_playbook, state.active_step) == ("broadband_drops", "recheck_router")
    assert state.pending_customer_steps == ["move_router_to_ventilated_spot"]
    assert [t.role for t in state.last_turns] == ["customer", "agent", "customer"]
    assert state.last_seq == 3 and state.session_turns == 3


def test_state_is_rebuilt_from_the_log_after_a_restart(store, writer, clock, wm):
    before = converse(wm, clock)
    fresh = WorkingMemory(store, writer, clock=clock)  # a new process: empty cache
    after = fresh.get("conv-1", customer_id="CUST-1")
    assert after == before
    wm.forget_cache()
    assert wm.get("conv-1", customer_id="CUST-1") == before


def test_idle_ttl_expires_the_state_and_the_next_turn_starts_a_new_session(store, writer, clock, wm):
    converse(wm, clock)
    clock.advance(minutes=29)
    assert wm.get("conv-1", customer_id="CUST-1") is not None
    clock.advance(minutes=2)
    assert wm.get("conv-1", customer_id="CUST-1") is None
    assert wm.sweep() == 1
    state = wm.record_turn("conv-1", "customer", "hi again")
    assert state.session_turns == 1 and state.last_seq == 4
    assert state.customer_id == "CUST-1" and state.active_playbook is None and state.slots == {}
    rebuilt = WorkingMemory(store, writer, clock=clock).get("conv-1", customer_id="CUST-1")
    assert rebuilt == state
    assert len(wm.turns("conv-1")) == 4  # the log keeps everything


def test_turn_text_and_slots_are_redacted_in_the_log(wm, clock):
    wm.record_turn("conv-2", "customer", "pay with 4111 1111 1111 1111 please",
                   patch={"slots": {"card": "4111111111111111"}})
    row = wm.turns("conv-2")[0]
    assert row["text"] == f"pay with {CARD} please"
    assert "4111" not in row["state_patch"]


def test_another_customer_gets_nothing_and_cannot_take_over(wm, clock):
    converse(wm, clock)
    assert wm.get("conv-1", customer_id="CUST-2") is None
    assert wm.get("conv-1", customer_id=None) is None
    with pytest.raises(InvalidInput, match="belongs to another customer"):
        wm.record_turn("conv-1", "customer", "hi", customer_id="CUST-2")


def test_bad_turns_are_typed_errors(wm):
    with pytest.raises(InvalidInput, match="role"):
        wm.record_turn("c", "robot", "x")
    with pytest.raises(InvalidInput, match="conversation_id"):
        wm.record_turn("", "customer", "x")
    with pytest.raises(Exception, match="extra"):
        wm.record_turn("c", "customer", "x", patch={"colour": "red"})
    assert wm.get("never-seen", customer_id=None) is None


def test_the_async_form_commits_in_order_refuses_a_stale_exchange_and_rebuilds_the_same(store, writer, clock):
    import asyncio

    from telco.errors import Conflict

    wm = WorkingMemory(store, writer, clock=clock)

    async def run():
        first = await wm.record_exchange_async("conv-a", [("customer", "no signal", None), ("agent", "checking", "{}")],
                                               customer_id="CUST-2", patch={"dialogue_state": "diagnosing"},
                                               expected_seq=0)
        with pytest.raises(Conflict):
            await wm.record_exchange_async("conv-a", [("customer", "hello?", None)], expected_seq=0)
        # Two exchanges racing on one conversation: the lock serialises them, each lands once, in order.
        await asyncio.gather(*(wm.record_exchange_async("conv-a", [("customer", f"msg {n}", None)]) for n in range(5)))
        return first, await wm.load_async("conv-a")

    first, loaded = asyncio.run(run())
    assert first.last_seq == 2 and loaded.last_seq == 7
    assert [r["seq"] for r in wm.turns("conv-a")] == list(range(1, 8))
    rebuilt = WorkingMemory(store, writer, clock=clock).rebuild("conv-a")
    assert rebuilt.dialogue_state == "diagnosing" and rebuilt.last_seq == 7 and rebuilt.customer_id == "CUST-2"


def test_a_trace_stays_valid_json_whatever_digits_its_numbers_hold(wm):
    import json

    trace = json.dumps({"cost_usd": 0.0052912345678901, "note": "card 4111 1111 1111 1111"})
    from memory.redact import luhn_valid

    assert luhn_valid("0052912345678901")  # what made the whole-text redaction break the JSON
    wm.record_exchange("conv-j", [("customer", "hi", None), ("agent", "hello", trace)])
    stored = json.loads(wm.turns("conv-j")[-1]["trace"])
    assert stored["cost_usd"] == 0.0052912345678901 and "4111" not in stored["note"]
