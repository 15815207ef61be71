"""High uncertainty: a message that reads as no known issue with any confidence starts no playbook.

The whole offline system in one process (actors/runtime/local.py) over memory bootstrapped on disk, the real model.
"""
from __future__ import annotations

import pytest
from memory_template import bootstrapped_memory

from actors.runtime.local import LocalClient


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("memory"))
    bootstrapped_memory(uri)
    c = LocalClient(uri)
    yield c
    c.close()


def test_an_off_topic_message_starts_nothing_and_the_reply_asks_what_is_needed(client):
    before = client.world()
    out = client.send(client.start(), {"text": "Can you recommend a good pasta recipe?"})
    assert out["status"] == "open" and out["customer_steps"] == [] and out["actions_taken"] == []
    assert out["trace"]["playbook"] is None
    assert [a["agent"] for a in out["trace"]["agents"]] == ["intent", "knowledge", "dialogue"]
    assert "tell me a bit more" in out["reply"]
    assert client.world() == before


def test_a_clear_message_still_starts_its_playbook(client):
    out = client.send(client.start(), {"text": "my internet keeps dropping"})
    assert out["intents"][0]["intent"] == "broadband_drops"
    # It goes straight to work: first who the customer is (the identify playbook asks), not what they meant.
    assert out["trace"]["playbook"].startswith("identify@v") and out["question"] is not None
