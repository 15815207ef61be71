"""The operator's queue of conversations handed to people: list, claim, resolve (the records are World.handoffs)."""
from __future__ import annotations

from typing import Literal

from telco.errors import Conflict, NotFound
from telco.models import Handoff
from telco.sandbox.state import Sandbox


def list_handoffs(sb: Sandbox, status: str | None = None, queue: str | None = None) -> list[Handoff]:
    return sorted((h for h in sb.world.handoffs.values()
                   if (status is None or h.status == status) and (queue is None or h.queue == queue)),
                  key=lambda h: (h.created_at, h.id))


def get_handoff(sb: Sandbox, handoff_id: str) -> Handoff:
    handoff = sb.world.handoffs.get(handoff_id)
    if handoff is None:
        raise NotFound(f"no handoff with id {handoff_id!r}", kind="handoff", id=handoff_id)
    return handoff


def claim_handoff(sb: Sandbox, handoff_id: str, person: str) -> Handoff:
    """A person takes the conversation; claiming again by the same person is a no-op, by another a conflict."""
    h = get_handoff(sb, handoff_id)
    if h.status == "resolved":
        raise Conflict(f"handoff {handoff_id} is already resolved", id=handoff_id)
    if h.status == "claimed" and h.claimed_by != person:
        raise Conflict(f"handoff {handoff_id} is already claimed by {h.claimed_by}", id=handoff_id,
                       claimed_by=h.claimed_by)
    if h.status == "queued":
        h.status, h.claimed_by, h.claimed_at = "claimed", person, sb.world.clock
    return h


def check_holder(sb: Sandbox, handoff_id: str, person: str) -> Handoff:
    """Only the person who claimed a handoff speaks in or resolves its conversation."""
    h = get_handoff(sb, handoff_id)
    if h.status != "claimed" or h.claimed_by != person:
        state = "resolved" if h.status == "resolved" else f"not claimed by {person}"
        raise Conflict(f"handoff {handoff_id} is {state}; claim it first", id=handoff_id, status=h.status)
    return h


def resolve_handoff(sb: Sandbox, handoff_id: str, person: str, outcome: Literal["resolved", "unresolved"],
                    note: str | None) -> Handoff:
    h = check_holder(sb, handoff_id, person)
    h.status, h.resolved_at, h.outcome, h.note = "resolved", sb.world.clock, outcome, note
    return h
