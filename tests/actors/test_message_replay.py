"""A message sent again with the same client_message_id is answered from the log, never applied twice
(actors/planner/replay.py), through the whole offline system in this process."""
from __future__ import annotations

import asyncio

import pytest

from actors.runtime.local import OPERATIONS
from memory.store import connect, sql_str
from telco.contract.http import MessageIn
from telco.errors import Conflict


def logged(client, conversation_id: str) -> list[dict]:
    uri = client.planner.store.memory.store.uri
    rows = (connect(uri).table("turns").search().where(f"conversation_id = {sql_str(conversation_id)}")
            .limit(10_000).to_list())
    return sorted((r for r in rows if r["role"] in ("customer", "agent")), key=lambda r: r["seq"])


def test_a_message_sent_again_is_answered_with_the_turn_it_made(offline_client):
    cid = offline_client.start()
    first = offline_client.send(cid, {"text": "my mobile data is not working", "client_message_id": "m-1"})
    again = offline_client.send(cid, {"text": "my mobile data is not working", "client_message_id": "m-1"})
    assert again["turn_id"] == first["turn_id"] and again["reply"] == first["reply"]
    assert [r["role"] for r in logged(offline_client, cid)] == ["customer", "agent"]
    # A new id is a new turn, and the conversation goes on from the first one.
    second = offline_client.send(cid, {"text": "my mobile data is not working", "client_message_id": "m-2"})
    assert second["turn_id"] != first["turn_id"]
    assert len(logged(offline_client, cid)) == 4
    # Without an id every message is a turn of its own, as before.
    offline_client.send(cid, {"text": "still not working"})
    offline_client.send(cid, {"text": "still not working"})
    assert len(logged(offline_client, cid)) == 8


def test_an_id_used_for_another_message_is_refused(offline_client):
    cid = offline_client.start()
    offline_client.send(cid, {"text": "my internet keeps dropping", "client_message_id": "x-1"})
    with pytest.raises(Conflict, match="client_message_id"):
        offline_client.send(cid, {"text": "cancel my contract", "client_message_id": "x-1"})
    assert len(logged(offline_client, cid)) == 2


def test_two_attempts_in_flight_at_once_make_one_turn(offline_client):
    """The second attempt arrives while the first still runs: both load the same state, one commits, the other
    finds the id in the winner's state and answers with the winner's turn."""
    cid = offline_client.start()
    body = MessageIn(text="my phone has no signal at all", client_message_id="race-1")

    async def both():
        return await asyncio.gather(*(offline_client.planner.handle_turn(OPERATIONS, cid, body) for _ in range(3)))

    outs = offline_client._run(both())
    assert len({o.turn_id for o in outs}) == 1
    assert [r["role"] for r in logged(offline_client, cid)] == ["customer", "agent"]


def test_the_id_is_checked_at_the_boundary():
    with pytest.raises(ValueError):
        MessageIn(text="hi", client_message_id="has spaces")
    with pytest.raises(ValueError):
        MessageIn(text="hi", client_message_id="x" * 65)
