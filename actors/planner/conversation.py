"""A conversation's own state between turns (kept in working memory) and the records one turn produces."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import Field, PrivateAttr

from telco.contract.episode import Episode
from telco.contract.http import HandoffOut, TranscriptTurn, TurnOut
from telco.contract.messages import Identity, IntentScore, Msg
from telco.llm.accounting import Totals
from telco.playbooks.runner import RunState

Status = Literal["open", "waiting_customer", "resolved", "handed_off"]


class Issue(Msg):
    """One thing the customer wants handled, with the playbook run that handles it."""

    intent: str
    confidence: float
    run: RunState | None = None
    status: Literal["pending", "active", "resolved", "escalated"] = "pending"
    opened_at: datetime
    closed_at: datetime | None = None
    turns: int = 0
    reasks: int = 0  # answers that could not be read in a row
    episode_id: str | None = None
    handoff_rule: str | None = None  # the escalation rule that handed it to a person (the episode records it)
    line_number: str | None = None  # a phone number the customer gave when raising it: which line it is about


class AppliedMessage(Msg):
    """A client message id this conversation has already turned into a turn (actors/planner/replay.py)."""

    client_message_id: str
    turn_id: str
    digest: str  # of the message itself: the same id with other words is a client error, not a retry


class ConversationState(Msg):
    conversation_id: str
    customer_id: str | None = None  # bound by a customer key at creation, or set once identity is verified
    channel: str = "chat"
    status: Status = "open"
    identity: Identity = Identity()
    identify_run: RunState | None = None
    # Identity details the customer gave unasked (a number in the first message), by the identify flow's slot
    # names, until they are verified: the flow uses them instead of asking.
    identity_given: dict[str, str] = {}
    issues: list[Issue] = []
    clarifying: list[IntentScore] = []  # candidates we asked the customer to choose between
    pending_text: str = ""  # the message that started a clarification, to re-read with the answer
    handoff: HandoffOut | None = None
    turns: int = 0
    created_at: datetime
    updated_at: datetime
    feedback: dict[str, Any] | None = None
    llm_spent: Totals = Totals()  # what this conversation spent on the model: its budget is checked against it
    prompts_served: list[str] = []  # registry prompt versions that served its model calls, e.g. "dialogue@2"
    applied_messages: list[AppliedMessage] = []  # the latest client message ids, oldest first (bounded)
    # Sequence number of the last logged turn when this state was loaded: commits are conditional on it.
    _log_seq: int | None = PrivateAttr(default=None)

    @property
    def active(self) -> Issue | None:
        return next((i for i in self.issues if i.status == "active"), None)

    @property
    def next_pending(self) -> Issue | None:
        return next((i for i in self.issues if i.status == "pending"), None)


class TurnRecord(Msg):
    """What one turn leaves in the log: the customer's words, the reply and the trace, committed together."""

    turn_id: str
    seq: int
    customer_text: str
    out: TurnOut
    at: datetime = Field(default_factory=lambda: datetime.now().astimezone())


class ConversationStore(Protocol):
    async def create(self, state: ConversationState) -> None: ...

    async def load(self, conversation_id: str) -> ConversationState | None: ...

    async def commit(self, state: ConversationState, turn: TurnRecord) -> None:
        """Append the turn and save the state in one write; Conflict if another turn got there first."""

    async def save_state(self, state: ConversationState) -> None:
        """Save the state without a turn (feedback)."""

    async def transcript(self, conversation_id: str) -> list[TranscriptTurn]: ...

    async def logged_turn(self, conversation_id: str, turn_id: str) -> TurnOut | None:
        """The reply of one committed turn as the log keeps it (redacted), for a client that asks again."""


class EpisodeSink(Protocol):
    async def record(self, episode: Episode) -> None: ...

    async def feedback(self, episode_id: str, customer_id: str | None, csat: int, resolved: bool) -> None: ...
