"""The Episodes service (actors/agents/episodes.py): what a planner records and reads through it, on real LanceDB."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from actors.agents.episodes import EpisodeService, RemoteEpisodes
from memory.episodic import EpisodicMemory
from memory_testkit import T0
from telco.contract.episode import Episode, EpisodeStep, Handoff
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


class _Handle:
    """The Episodes deployment's handle, in this process: what crosses it is recorded, and must be plain JSON."""

    def __init__(self, service: EpisodeService) -> None:
        self.service, self.sent = service, []
        self.record = self  # handle.record.remote(...)

    async def remote(self, payload):
        self.sent.append(json.loads(json.dumps(payload)))
        return (await self.service.record_many([payload]))[0]


def test_an_episode_round_trips_with_its_playbook_version_prompts_and_hand_over_as_fields(service):
    episode = Episode(
        episode_id="a1", customer_id="C1", conversation_id="conv-a1", summary="mobile data escalated after 3 turns",
        intents=["mobile_data"], playbook="mobile_data", playbook_version=3, prompts=["dialogue@2", "planner@1"],
        steps=[EpisodeStep(name="get_line_status", kind="tool", result={"status": "active"}, ok=True),
               EpisodeStep(name="transfer_to_person", kind="handoff", ok=True,
                           result=Handoff(rule="complaint", queue="complaints", reason="a formal complaint",
                                          called_for=True))],
        outcome="escalated", started_at=T0, ended_at=T0 + timedelta(minutes=4))
    handle = _Handle(service)
    asyncio.run(RemoteEpisodes(handle).record(episode))  # as a planner replica records it
    assert handle.sent[0]["playbook_version"] == 3 and handle.sent[0]["prompts"] == ["dialogue@2", "planner@1"]

    stored = service.episodic.get("C1", "a1")
    assert stored == episode
    assert stored.handoff == Handoff(rule="complaint", queue="complaints", reason="a formal complaint", called_for=True)
    row = service.episodic.table.search().where("episode_id = 'a1'").to_list()[0]
    assert (row["playbook"], row["playbook_version"], row["prompts"]) == ("mobile_data", 3,
                                                                          ["dialogue@2", "planner@1"])
    assert [s["name"] for s in json.loads(row["steps"])] == ["get_line_status", "transfer_to_person"]  # no note step

    asyncio.run(service.record(episode.model_copy(update={"outcome": "resolved", "steps": episode.steps[:1]})))
    assert service.episodic.get("C1", "a1").handoff is None  # typed in this process too; the later version wins
