"""The human handoff desk: a person works the queue of handed-off conversations over HTTP.

The queue's records are the operator's (OSS/BSS World.handoffs, via the OssBss service); the conversation is
the planner's (working memory). A person's reply is committed to the conversation as a turn, so it is in the
customer's transcript like any other reply; what the customer writes meanwhile is recorded by the planner as
usual (status handed_off) and shows in the transcript the person reads. Resolving ends the handoff, lets the
conversation go on with the agents, and writes the outcome to episodic memory.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.planner.conversation import ConversationState, ConversationStore, EpisodeSink, TurnRecord
from actors.runtime.oss_bss import _invoke
from telco.contract.episode import Episode, EpisodeStep, Handoff
from telco.contract.http import ConversationOut, TurnOut
from telco.contract.limits import MAX_MESSAGE_CHARS
from telco.contract.trace import AgentTrace, TurnTrace
from telco.errors import Conflict, NotFound

PERSON = "person"  # the trace's agent name for a reply written by a person
MAX_PERSON_CHARS = 80  # a person's name on a claim, a reply or a resolution


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str | None = Field(default=None, min_length=1, max_length=MAX_PERSON_CHARS,
                               description="who takes it; defaults to the API key's name")


class PersonReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)  # a person's reply is a turn like the customer's


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["resolved", "unresolved"] = "resolved"
    note: str | None = Field(default=None, max_length=2000)


class HandoffItem(BaseModel):
    """A queue entry as the person sees it."""

    handoff_id: str
    conversation_id: str | None
    customer_id: str | None
    queue: str
    reason: str
    summary: str
    status: str
    claimed_by: str | None = None
    created_at: datetime
    outcome: str | None = None
    context: dict[str, Any] = {}


class HandoffDetail(HandoffItem):
    conversation: ConversationOut | None = None


def _item(record: dict[str, Any]) -> HandoffItem:
    return HandoffItem(handoff_id=record["id"], conversation_id=record.get("context", {}).get("conversation_id"),
                       customer_id=record.get("customer_id"), queue=record["queue"], reason=record["reason"],
                       summary=record["summary"], status=record["status"], claimed_by=record.get("claimed_by"),
                       created_at=record["created_at"], outcome=record.get("outcome"),
                       context=record.get("context", {}))


class HandoffDesk:
    def __init__(self, oss_bss: Any, store: ConversationStore, episodes: EpisodeSink | None) -> None:
        self.oss_bss, self.store, self.episodes = oss_bss, store, episodes

    async def _queue(self, op: str, *args: Any) -> Any:
        return await _invoke(self.oss_bss.handoffs, op, *args)

    async def list(self, status: str | None = None, queue: str | None = None) -> list[HandoffItem]:
        return [_item(r) for r in await self._queue("list", status, queue)]

    async def get(self, handoff_id: str) -> HandoffDetail:
        item = _item(await self._queue("get", handoff_id))
        conversation = None
        if item.conversation_id:
            state = await self.store.load(item.conversation_id)
            if state is not None:
                conversation = ConversationOut(conversation_id=state.conversation_id, customer_id=state.customer_id,
                                               channel=state.channel, status=state.status,
                                               turns=await self.store.transcript(item.conversation_id))
        return HandoffDetail(**item.model_dump(), conversation=conversation)

    async def claim(self, handoff_id: str, person: str) -> HandoffItem:
        return _item(await self._queue("claim", handoff_id, person))

    async def reply(self, handoff_id: str, person: str, text: str) -> TurnOut:
        """The person's words, committed to the conversation as a turn of its transcript."""
        item = _item(await self._queue("check_holder", handoff_id, person))
        state = await self._conversation(item)
        seq = state.turns + 1
        out = TurnOut(turn_id=f"{state.conversation_id}:{seq:05d}", conversation_id=state.conversation_id,
                      reply=text, mode="person", informed=["person_reply"], handoff=state.handoff,
                      status=state.status, trace=TurnTrace(agents=[AgentTrace(agent=PERSON, ms=0, note=person)]))
        state.turns, state.updated_at = seq, datetime.now(timezone.utc)
        await self.store.commit(state, TurnRecord(turn_id=out.turn_id, seq=seq, customer_text="", out=out))
        return out

    async def resolve(self, handoff_id: str, person: str, body: ResolveIn) -> HandoffItem:
        item = _item(await self._queue("check_holder", handoff_id, person))
        state = await self._conversation(item)
        record = _item(await self._queue("resolve", handoff_id, person, body.outcome, body.note))
        # Back to the agents: the customer's next message is a new request, answered as usual.
        state.status, state.handoff = "resolved" if body.outcome == "resolved" else "open", None
        state.updated_at = datetime.now(timezone.utc)
        await self.store.save_state(state)
        if self.episodes is not None and state.customer_id:
            await self.episodes.record(handoff_episode(state, record, person, body))
        return record

    async def _conversation(self, item: HandoffItem) -> ConversationState:
        if not item.conversation_id:
            raise Conflict(f"handoff {item.handoff_id} has no conversation to speak in")
        state = await self.store.load(item.conversation_id)
        if state is None:
            raise NotFound(f"no conversation with id {item.conversation_id!r}", kind="conversation",
                           id=item.conversation_id)
        return state


def handoff_episode(state: ConversationState, item: HandoffItem, person: str, body: ResolveIn) -> Episode:
    """What the person's handling teaches: the issue, why it came to a person, and how it ended (no playbook ran
    it, so the episode names none)."""
    intents = [i.intent for i in state.issues] or ["human_agent"]
    note = f": {body.note}" if body.note else ""
    return Episode(
        episode_id=f"{state.conversation_id}:handoff:{item.handoff_id}", customer_id=state.customer_id,
        conversation_id=state.conversation_id, channel=state.channel, issue_key=f"{intents[0]}:{state.customer_id}",
        summary=f"{', '.join(i.replace('_', ' ') for i in intents)} handed to the {item.queue} team "
                f"({item.reason}); {person} {body.outcome} it{note}",
        intents=intents, outcome=body.outcome,
        steps=[EpisodeStep(name="transfer_to_person", kind="handoff", ok=True,
                           result=Handoff(queue=item.queue, reason=item.reason)),
               EpisodeStep(name=person, kind="note", result=body.note or body.outcome,
                           ok=body.outcome == "resolved")],
        started_at=item.created_at, ended_at=datetime.now(timezone.utc),
    )
