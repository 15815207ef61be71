"""Episodic memory: recording (redacted, embedded), similar episodes, history windows, follow-up chains."""
from __future__ import annotations

from datetime import timedelta

import pytest

from memory.episodic import EpisodicMemory
from memory.redact import CARD
from memory_testkit import T0
from telco.contract.episode import Episode, EpisodeStep
from telco.errors import InvalidInput, NotFound


def ep(eid, customer="CUST-1", *, summary, intents=("broadband_drops",), outcome="resolved", days=0, minutes=20,
       issue_key=None, service="broadband", steps=()):
    start = T0 + timedelta(days=days)
    return Episode(episode_id=eid, customer_id=customer, conversation_id=f"conv-{eid}", summary=summary,
                   intents=list(intents), outcome=outcome, started_at=start,
                   ended_at=start + timedelta(minutes=minutes), issue_key=issue_key, service_type=service,
                   steps=list(steps))


@pytest.fixture
def memory(store, writer, embedder):
    return EpisodicMemory(store, writer, embedder)


@pytest.fixture
def history(memory):
    memory.record(
        ep("e1", summary="router overheating in a cupboard, moved to open shelf, drops stopped", days=0,
           issue_key="drops:BB-1"),
        ep("e2", summary="broadband dropping again every 30 minutes, router hot, technician booked", days=3,
           outcome="escalated", issue_key="drops:BB-1"),
        ep("e3", summary="roaming data not working in Spain, enabled line roaming", intents=("roaming",),
           service="mobile", days=10),
        ep("e4", summary="router overheating, customer moved it, stable now", days=60, issue_key="drops:BB-1"),
        ep("e5", summary="disputed a duplicated charge on the March bill", intents=("billing_dispute",),
           service="billing", days=20),
    )
    return memory


def test_recorded_episode_round_trips_with_steps(history, memory):
    got = memory.get("CUST-1", "e1")
    assert got.summary.startswith("router overheating") and got.intents == ["broadband_drops"]
    assert got.resolution_minutes == 20
    memory.record(ep("e9", summary="x", steps=[EpisodeStep(name="get_router_status", kind="tool",
                                                           result={"overheating": True}, ok=True)]))
    assert memory.get("CUST-1", "e9").steps[0].result == {"overheating": True}
    with pytest.raises(NotFound):
        memory.get("CUST-1", "missing")


def test_similar_ranks_by_meaning_and_applies_filters(history, memory):
    hits = memory.similar("CUST-1", "my router is hot and the internet cuts out", k=3,
                          now=T0 + timedelta(days=61))
    assert {h.episode.episode_id for h in hits[:3]} == {"e1", "e2", "e4"}
    only = memory.similar("CUST-1", "router hot", intent="broadband_drops", outcome="escalated", k=5)
    assert [h.episode.episode_id for h in only] == ["e2"]
    recent = memory.similar("CUST-1", "router hot", since=T0 + timedelta(days=30), k=5)
    assert {h.episode.episode_id for h in recent} == {"e4"}


def test_recency_weighting_prefers_the_recent_of_two_similar_episodes(history, memory):
    now = T0 + timedelta(days=61)
    hits = memory.similar("CUST-1", "router overheating moved it", k=2, now=now, half_life_days=7)
    assert hits[0].episode.episode_id == "e4"
    flat = memory.similar("CUST-1", "router overheating moved it", k=5, now=now, half_life_days=0)
    assert hits[0].score < flat[0].score  # the weight is a real multiplier


def test_history_window_is_newest_first_and_half_open(history, memory):
    got = memory.history("CUST-1", start=T0, end=T0 + timedelta(days=20))
    assert [e.episode_id for e in got] == ["e3", "e2", "e1"]
    assert [e.episode_id for e in memory.history("CUST-1")][:2] == ["e4", "e5"]


def test_follow_up_chain_follows_the_same_issue(history, memory):
    assert [e.episode_id for e in memory.follow_ups("CUST-1", "e1")] == ["e2"]
    chain = memory.follow_ups("CUST-1", "e1", within=timedelta(days=90))
    assert [e.episode_id for e in chain] == ["e2", "e4"]
    assert memory.follow_ups("CUST-1", "e3") == []


def test_summaries_and_steps_are_redacted_before_storage(memory, store):
    memory.record(ep("e7", summary="paid with card 4111 1111 1111 1111, cvv 123",
                     steps=[EpisodeStep(name="note", kind="note", result="password: hunter2")]))
    row = store.table("episodes").search().where("episode_id = 'e7'").to_list()[0]
    assert CARD in row["summary"] and "4111" not in row["summary"] and "123" not in row["summary"]
    assert "hunter2" not in row["steps"]


def test_bad_episodes_are_typed_errors(memory):
    with pytest.raises(ValueError, match="ended_at is before started_at"):
        ep("x", summary="s", minutes=-5)
    with pytest.raises(ValueError, match="customer_id"):
        ep("x", customer="", summary="s")
    with pytest.raises(InvalidInput, match="k must be"):
        memory.similar("CUST-1", "x", k=0)
