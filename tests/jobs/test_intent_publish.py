"""Intent example sets end to end in one process, on LanceDB on disk and the real embedding model: bootstrap serves
the catalogue as v1; learned phrasings pass the publish gate into a new set that a running intent agent picks up
with no restart and no failed call; rollback restores the previous readings; a set that reads held-out messages
worse is refused. (The live Serve app: tests/integration/live/test_intent_sets_live.py.)"""
from __future__ import annotations

import asyncio
import hashlib

import pytest
import yaml

from actors.agents.intent_source import FollowingIntentAgent
from jobs.intent.openings import Opening
from jobs.intent.phrasings import new_phrasings
from jobs.intent.publish import apublish, publish, rollback, status
from memory.bootstrap import load_intent_examples
from memory.intent_sets import IntentSets
from memory.store import connect
from memory.writer import LocalWriter
from telco.contract.messages import IntentRequest
from telco.data import INTENT_CALIBRATION_FILE
from telco.intents import load_intents

# Informal mobile-data complaints that name an app, not "data": the catalogue reads them as something else.
MISREAD = "can't get whatsapp to go on me phone when I'm out"
LEARNED = [MISREAD, "no joy getting the maps up on me phone on the road",
           "me phone's not pulling anything down when I'm out and about"]


def learned_rows(pairs: list[tuple[str, str]], embedder) -> list[dict]:
    """intent_examples rows as jobs.learn writes them (jobs/intent/phrasings.py)."""
    vectors = embedder.embed([t for _, t in pairs])
    return [{"example_id": "learned:" + hashlib.sha1(f"{i}|{t}".encode()).hexdigest()[:16], "intent": i, "text": t,
             "source": "learned", "vector": v.tolist()} for (i, t), v in zip(pairs, vectors)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def memory(tmp_path_factory, embedder):
    uri = str(tmp_path_factory.mktemp("intent-sets"))
    store = connect(uri)
    writer = LocalWriter(store)
    load_intent_examples(store, writer, embedder)
    return uri, store, writer


async def top(agent, text: str) -> tuple[str, float]:
    result = await agent.classify(IntentRequest(text=text))
    return result.intents[0].intent, result.intents[0].confidence


def test_bootstrap_serves_the_catalogue_as_version_one_once(memory, embedder):
    uri, store, writer = memory
    sets = IntentSets(store)
    v1 = sets.active()
    assert v1.version == 1 and v1.status == "active"
    assert v1.examples == [(s.id, t) for s in load_intents().values() for t in s.examples]
    assert v1.calibration == yaml.safe_load(INTENT_CALIBRATION_FILE.read_text())
    assert load_intent_examples(store, writer, embedder) == (len(v1.examples), False)  # a rerun adds no version
    assert [s.version for s in sets.history()] == [1]


def test_a_published_set_is_served_without_restart_and_rollback_restores_the_readings(memory, embedder):
    uri, store, writer = memory
    clock = Clock()
    agent = FollowingIntentAgent(uri, refresh_s=5.0, embedder=embedder, clock=clock)

    async def scenario():
        before = await top(agent, MISREAD)
        assert before[0] != "mobile_data" and agent.version == 1

        writer.upsert("intent_examples", learned_rows([("mobile_data", t) for t in LEARNED], embedder))
        decision = await apublish(store, writer)
        assert decision["decision"] == "promoted" and decision["active_version"] == 2, decision
        assert decision["held_out"] > 40 and decision["accuracy_after"] >= decision["accuracy_before"]
        v1, v2 = IntentSets(store).get(1), IntentSets(store).get(2)
        assert ("mobile_data", MISREAD) in v2.examples and ("mobile_data", MISREAD) not in v1.examples
        assert v2.calibration["examples_digest"] != v1.calibration["examples_digest"]  # refitted on the new rows
        assert v2.calibration["fitted_on"]["examples"] == len(v2.examples) == len(v1.examples) + decision["added"]

        # Within refresh_s the replica does not even look at memory.
        assert await top(agent, MISREAD) == before and agent.version == 1
        clock.now += 5.0
        # The call that notices is served by the set it started with; the new one is built beside it.
        assert await top(agent, MISREAD) == before
        await agent._task
        assert agent.version == 2 and agent.calibration.examples_digest == v2.calibration["examples_digest"]
        learned = await top(agent, MISREAD)
        assert learned[0] == "mobile_data" and learned[1] >= 0.8

        assert rollback(store, writer)["active_version"] == 1
        clock.now += 5.0
        await top(agent, MISREAD)
        await agent._task
        assert agent.version == 1 and await top(agent, MISREAD) == before
        assert agent.status()["swaps"] == 3 and agent.status()["failed_checks"] == 0

    asyncio.run(scenario())


def test_a_set_that_reads_held_out_messages_worse_is_refused(memory, embedder):
    uri, store, writer = memory
    active = IntentSets(store).active_version()
    # Mobile-data complaints labelled as picture messages: plausible rows a bad batch of episodes could teach.
    wrong = [("mms", "Hi, " + t.lower()) for t in load_intents()["mobile_data"].examples]
    writer.upsert("intent_examples", learned_rows(wrong, embedder))
    decision = publish(store, writer, screened=False)  # every learned row goes to the gate
    assert decision["decision"] == "refused", decision
    assert decision["accuracy_after"] < decision["accuracy_before"]
    assert decision["active_version"] == active == IntentSets(store).active_version()
    refused = IntentSets(store).get(decision["version"])
    assert refused.status == "retired" and refused.activated_at is None
    assert refused.metrics["decision"] == "refused"
    listed = {v["version"]: v for v in status(store)["versions"]}
    assert listed[decision["version"]]["decision"] == "refused"

    # The development messages miss most of this damage (few of them are about data), so the screen lets most of
    # the rows through; the gate still refuses them.
    screened = publish(store, writer)
    assert screened["decision"] == "refused" and screened["accuracy_after"] < screened["accuracy_before"], screened
    assert IntentSets(store).active_version() == active


def test_only_labels_the_customer_gave_are_learned(memory, embedder):
    uri, store, writer = memory
    texts = {"c1": "me phone's data is banjaxed out the house", "c2": "the net on me mobile died on the train",
             "c3": "me mobile's net packs in on the motorway"}
    found = {"c1": Opening(conversation_id="c1", text=texts["c1"], top_intent="mobile_no_service", confidence=0.85),
             "c2": Opening(conversation_id="c2", text=texts["c2"], top_intent="mobile_no_service", confidence=0.6,
                           asked_to_choose=True),
             "c3": Opening(conversation_id="c3", text=texts["c3"], top_intent="mobile_data", confidence=0.9),
             "c4": Opening(conversation_id="c4", text="me data's dead on the bus. Also, is there an outage near me?",
                           top_intent="mobile_data", confidence=0.7, asked_to_choose=True, intents_read=2)}
    # c1: read as no service, resolved as mobile data (the customer said so later); c2: asked, chose mobile data;
    # c3: read as mobile data and resolved so with nothing asked: the classifier's own label, not learned;
    # c4: two requests in one message, no example of either.
    resolved = {"c1": "mobile_data", "c2": "mobile_data", "c3": "mobile_data", "c4": "mobile_data"}
    rows = new_phrasings(store, resolved, found)
    assert sorted(r["text"] for r in rows) == sorted([texts["c1"], texts["c2"]])
    assert {r["intent"] for r in rows} == {"mobile_data"} and {r["source"] for r in rows} == {"learned"}


def test_a_failed_check_keeps_the_current_set_serving(memory, embedder):
    uri, store, writer = memory
    clock = Clock()
    agent = FollowingIntentAgent(uri, refresh_s=1.0, embedder=embedder, clock=clock)

    class Unreachable:
        def active_version(self):
            raise OSError("memory unreachable")

    async def scenario():
        served = await top(agent, "my phone has no signal")
        agent.sets = Unreachable()
        clock.now += 1.0
        assert await top(agent, "my phone has no signal") == served
        await agent._task
        assert agent.status()["failed_checks"] == 1
        assert await top(agent, "my phone has no signal") == served

    asyncio.run(scenario())
