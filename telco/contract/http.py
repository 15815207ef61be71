"""The HTTP contract: request and response bodies of the public API (FastAPI renders them at /docs)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from telco.contract.body import Body
from telco.contract.limits import MAX_MESSAGE_CHARS
from telco.contract.messages import Citation, IntentScore, Mode
from telco.contract.trace import TurnTrace


class NewConversation(Body):
    customer_id: str | None = Field(default=None, pattern=r"^C\d{4,9}$")
    channel: Literal["chat", "app", "voice", "email"] = "chat"


class ConversationCreated(Body):
    conversation_id: str
    customer_id: str | None
    channel: str


class StepResult(Body):
    """The outcome of a customer step the system asked for: what the customer did and saw."""

    step_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    observation: dict[str, Any]
    done: bool = True  # False: the customer could not or would not do it


class MessageIn(Body):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    step_results: list[StepResult] = Field(default=[], max_length=10)
    # A client that did not get an answer (a dropped connection, a node lost mid-turn) sends the same message again
    # with the same id: a turn already applied is answered from the log, never applied twice.
    client_message_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the client's id for this message; resending it returns the turn already applied")


class CustomerStepOut(Body):
    step_id: str
    instruction: str


class Question(Body):
    """The answer the system is waiting for, typed so a client can render the right input."""

    slot: str
    kind: str
    text: str
    options: list[str] = []  # for kind "choice": the intents the customer is asked to choose between


class ActionOut(Body):
    tool: str
    summary: str
    result: dict[str, Any] = {}


class HandoffOut(Body):
    handoff_id: str | None
    queue: str
    reason: str
    # The situation called for a person (a PUK lock, a policy limit, the customer's wish), as opposed to the
    # system giving up or failing: only the second kind is a failure to learn from.
    called_for: bool = False


class TurnOut(Body):
    turn_id: str
    conversation_id: str
    reply: str
    mode: Mode
    intents: list[IntentScore] = []
    customer_steps: list[CustomerStepOut] = []
    question: Question | None = None
    actions_taken: list[ActionOut] = []
    citations: list[Citation] = []
    informed: list[str] = []  # notice ids of what the customer was told (stable, machine-readable)
    handoff: HandoffOut | None = None
    status: Literal["open", "waiting_customer", "resolved", "handed_off"] = "open"
    trace: TurnTrace = TurnTrace()


class TranscriptTurn(Body):
    turn_id: str
    at: datetime
    customer: str
    reply: str
    mode: Mode
    trace: TurnTrace


class ConversationOut(Body):
    conversation_id: str
    customer_id: str | None
    channel: str
    status: str
    turns: list[TranscriptTurn]


class FeedbackIn(Body):
    csat: int = Field(ge=1, le=5)
    resolved: bool
    comment: str | None = Field(default=None, max_length=2000)


class ErrorOut(Body):
    code: str
    message: str
    details: dict[str, Any] | None = None


# ---- probes and sandbox administration (added for the ingress; admin role only for the sandbox) -----------------
class HealthOut(Body):
    status: Literal["ok"] = "ok"


class ReadyOut(Body):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]  # component -> "ok" or what is wrong with it


class LoadWorldIn(Body):
    """Either a named fixture or a generated world; exactly one of the two."""

    fixture: Literal["demo"] | None = None
    seed: int | None = Field(default=None, ge=0)
    customers: int | None = Field(default=None, ge=1, le=200_000)

    @model_validator(mode="after")
    def _one_kind(self) -> "LoadWorldIn":
        generated = self.seed is not None or self.customers is not None
        if (self.fixture is not None) == generated:
            raise ValueError('give either fixture ("demo") or {seed, customers}, not both and not neither')
        if generated and self.seed is None:
            raise ValueError("a generated world needs a seed")
        return self

    def spec(self) -> str | dict[str, int]:
        """What OssBss.load_world takes."""
        if self.fixture is not None:
            return self.fixture
        return {"seed": int(self.seed or 0), "customers": self.customers or 1000}


class FaultIn(Body):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    customer_id: str = Field(pattern=r"^C\d{4,9}$")
    service_id: str | None = Field(default=None, min_length=1, max_length=64)
    params: dict[str, Any] = {}


class CustomerStepIn(Body):
    step_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    customer_id: str = Field(pattern=r"^C\d{4,9}$")
    service_id: str | None = Field(default=None, min_length=1, max_length=64)
