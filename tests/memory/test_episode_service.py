"""The Episodes service (actors/agents/episodes.py): what a planner records and reads through it, on real LanceDB."""
from __future__ import annotations

import asyncio

import pytest

from actors.agents.episodes import EpisodeService
from memory.episodic import EpisodicMemory
from telco.errors import NotFound
from test_episodic import ep


@pytest.fixture
def service(store, writer, embedder):
    return EpisodeService(EpisodicMemory(store, writer, embedder))


def test_examples_are_the_customers_resolved_episodes_with_ids_and_scores(service):
    for episode in (ep("a1", "C1", summary="router overheating in a cupboard, moved it, drops stopped"),
                    ep("a2", "C1", summary="router hot again, technician booked", outcome="escalated"),
                    ep("b1", "C2", summary="router overheating, moved to a shelf, stable now")):
        asyncio.run(service.record(episode.model_dump(mode="json")))
    found = asyncio.run(service.examples("C1", "my router gets hot and the internet drops"))
    assert [e["episode_id"] for e in found] == ["a1"]  # not the escalated one, never another customer's
    assert found[0]["score"] > 0 and "router overheating" in found[0]["text"]


def test_feedback_that_says_not_fixed_turns_a_resolved_episode_unresolved(service):
    asyncio.run(service.record(ep("a1", "C1", summary="mobile data fixed by a restart").model_dump(mode="json")))
    asyncio.run(service.feedback("a1", "C1", 2, False))
    stored = service.episodic.get("C1", "a1")
    assert (stored.csat, stored.outcome) == (2, "unresolved")
    with pytest.raises(NotFound):
        asyncio.run(service.feedback("a1", "C2", 5, True))  # another customer's episode is not found


def test_a_batch_stores_its_valid_episodes_and_says_which_it_refused(service):
    good = ep("a1", "C1", summary="mobile data fixed by a restart").model_dump(mode="json")
    again = {**good, "summary": "mobile data fixed by a restart and an APN reset"}
    bad = {**ep("a2", "C1", summary="x").model_dump(mode="json"), "outcome": "maybe"}
    problems = asyncio.run(service.record_many([good, bad, again]))
    assert problems[0] is None and problems[2] is None and "outcome" in problems[1]
    assert service.episodic.get("C1", "a1").summary.endswith("an APN reset")  # the later version of a1 won
    with pytest.raises(NotFound):
        service.episodic.get("C1", "a2")
