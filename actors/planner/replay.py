"""A message sent again is answered, not applied again.

A client that got no answer for a turn (its connection dropped, the replica or the node under it died) cannot
know whether the turn was committed, so it sends the same message again with the same `client_message_id`. The
conversation's state keeps the latest ids it applied; a known id is answered with the turn already in the log. Two
attempts that raced (the first still running when the second arrived) both load the same state, and the turns
log's conditional append lets only one commit: the other finds the id in the state that won and answers with it.
Writes inside the turn are idempotent by their own keys, so the losing attempt changed nothing either.
"""
from __future__ import annotations

import hashlib

from actors.planner.conversation import AppliedMessage, ConversationState, ConversationStore, TurnRecord
from telco.contract.http import MessageIn, TurnOut
from telco.errors import Conflict

KEEP = 50  # a retry comes within seconds: the ids of the last 50 messages are plenty


def message_digest(body: MessageIn) -> str:
    return hashlib.sha256(body.model_dump_json(exclude={"client_message_id"}).encode()).hexdigest()[:24]


def applied(state: ConversationState, body: MessageIn) -> AppliedMessage | None:
    """The earlier turn this message already made, or None; the same id with another message is refused."""
    if body.client_message_id is None:
        return None
    found = next((m for m in state.applied_messages if m.client_message_id == body.client_message_id), None)
    if found is not None and found.digest != message_digest(body):
        # A well-formed request that clashes with what this conversation already recorded: a conflict (409).
        raise Conflict("client_message_id: this id was already used for a different message in this conversation",
                       field="client_message_id", problem="already used for a different message")
    return found


async def replayed(store: ConversationStore, state: ConversationState, body: MessageIn) -> TurnOut | None:
    """The committed turn for a message sent again, else None (the message is new)."""
    found = applied(state, body)
    if found is None:
        return None
    out = await store.logged_turn(state.conversation_id, found.turn_id)
    if out is None:  # the state names a turn the log does not hold: never answer with something else
        raise Conflict(f"turn {found.turn_id} is not in the log yet; retry", conversation_id=state.conversation_id)
    return out


def remember(state: ConversationState, body: MessageIn, out: TurnOut) -> None:
    """Note the message's id in the state the turn commits, so the id and the turn land together."""
    if body.client_message_id is not None:
        entry = AppliedMessage(client_message_id=body.client_message_id, turn_id=out.turn_id,
                               digest=message_digest(body))
        state.applied_messages = [*state.applied_messages, entry][-KEEP:]


async def commit_once(store: ConversationStore, state: ConversationState, record: TurnRecord,
                      body: MessageIn) -> TurnOut | None:
    """Commit the turn. None: committed. A TurnOut: another attempt of this same message committed first, and
    this is its turn (this attempt's is dropped). Any other conflict is raised."""
    remember(state, body, record.out)
    try:
        await store.commit(state, record)
        return None
    except Conflict:
        if body.client_message_id is None:
            raise
        latest = await store.load(state.conversation_id)
        again = await replayed(store, latest, body) if latest is not None else None
        if again is None:
            raise
        return again
