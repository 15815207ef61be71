"""What the agents say to each other: the typed requests and results that cross every deployment boundary.

Each agent file (intent.py, technical.py, knowledge.py, dialogue.py, escalation.py, planner.py) takes and returns
these models, so an agent can be tested as a plain class and called through a Serve handle alike.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from telco.contract.principal import Principal
from telco.playbooks.runner import CustomerRequest, RunState

# Who produced a reply: the deterministic brains, the model, the brains standing in for a failed model, or a person
# at the hand-off desk.
Mode = Literal["offline", "llm", "degraded", "person"]


class Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- intent ---------------------------------------------------------------------------------------------
class IntentScore(Msg):
    intent: str
    confidence: float = Field(ge=0, le=1)
    span: str = ""  # the part of the message this intent was read from


class Entities(Msg):
    phones: list[str] = []
    customer_ids: list[str] = []
    amounts: list[str] = []  # money, as decimal strings "20.00"
    gigabytes: list[float] = []
    dates: list[str] = []  # ISO YYYY-MM-DD
    postcodes: list[str] = []
    plan_ids: list[str] = []
    names: list[str] = []


class Signals(Msg):
    """Cues about how the customer feels and what they want, read from the words."""

    urgency: bool = False  # "urgent", "work from home", "asap", ...
    frustration: float = Field(default=0.0, ge=0, le=1)
    wants_person: bool = False
    complaint: bool = False  # complaint / regulator / legal language


class IntentRequest(Msg):
    text: str
    conversation_id: str | None = None
    # False when the message answers something we asked (a step result, a slot): only entities and signals are
    # read, which skips the embedding model.
    read_intents: bool = True


class IntentResult(Msg):
    intents: list[IntentScore]  # best first; several when the customer asks several things
    entities: Entities = Entities()
    signals: Signals = Signals()
    mode: Mode = "offline"
    # Runner-up readings of the whole message, best first, for a "did you mean..." question when the top
    # intent is unsure. Not things the customer asked for: those are all in `intents`.
    alternatives: list[IntentScore] = []
    # The whole message's unit-length embedding, so the knowledge agent does not embed the same text again.
    text_vector: list[float] | None = None

    @property
    def top(self) -> IntentScore | None:
        return self.intents[0] if self.intents else None


class SlotRequest(Msg):
    """Read one answer out of a free-text reply, e.g. a date of birth, a postcode, yes/no, a plan."""

    text: str
    slot: str
    # full_name, birth_date, phone, customer_id: identity details, where "I don't know" is an answer (None), since
    # policy allows other ways to prove who one is.
    kind: Literal["text", "name", "date", "number", "amount", "postcode", "plan", "yes_no",
                  "full_name", "birth_date", "phone", "customer_id"] = "text"


class SlotResult(Msg):
    slot: str
    ok: bool
    value: Any = None  # None with ok=True means the customer declined / said no
    problem: str | None = None  # why it could not be read, phrased for a re-ask


# ---- technical --------------------------------------------------------------------------------------------
class Identity(Msg):
    """What this conversation has proved about who the customer is (kept in working memory between turns)."""

    verified_customer_id: str | None = None
    failed_attempts: int = 0


class TechnicalRequest(Msg):
    conversation_id: str
    identity: Identity
    principal: Principal | None = None  # who asked (the API key): the audit log of every write names it
    run: RunState | None = None  # continue this run...
    start_playbook: str | None = None  # ...or start this playbook
    service_id: str | None = None  # which service, when the customer named one
    line_number: str | None = None  # a phone number the customer gave: which of their lines the issue is about
    # Identity details the customer already gave (slot names of the identify flow: full_name, phone, customer_id,
    # date_of_birth): a run gets those it has not filled yet, so it does not ask for them.
    given: dict[str, str] = {}
    answer: Any = None  # fulfils run.pending when has_answer
    has_answer: bool = False


class TechnicalResult(Msg):
    run: RunState
    identity: Identity
    tool_calls: list[dict[str, Any]] = []  # name, kind, args, ok, error: for the turn's trace
    mode: Mode = "offline"


# ---- knowledge --------------------------------------------------------------------------------------------
class Citation(Msg):
    doc_id: str
    section_id: str  # doc_id#slug
    title: str
    heading: str
    score: float
    updated: date | None = None  # when the cited document was last revised
    stale: bool = False  # older than the knowledge agent's staleness limit: details may have changed


class Quote(Msg):
    """One sentence of an extractive answer, word for word from a cited section."""

    text: str
    citation: int = Field(ge=0)  # index into KnowledgeAnswer.citations; rendered as marker [citation + 1]


class KnowledgeRequest(Msg):
    question: str
    intent: str | None = None
    k: int = Field(default=3, ge=1, le=10)
    # The question's embedding when the caller already has it (the intent agent's vector of the same text).
    question_vector: list[float] | None = None


class KnowledgeAnswer(Msg):
    answer: str  # extractive: sentences from the cited sections, never invented
    citations: list[Citation]
    confident: bool  # False when retrieval found nothing close enough to quote
    mode: Mode = "offline"
    quotes: list[Quote] = []  # the answer sentence by sentence, each tied to its citation
    note: str | None = None  # a caveat appended to `answer`, e.g. that a cited document may be out of date
    # How close the best retrieved section came (cosine), also when nothing was close enough to quote: the learning
    # job reads it from the trace to find the questions the knowledge base does not answer.
    best_score: float | None = None


# ---- escalation -------------------------------------------------------------------------------------------
class EscalationFacts(Msg):
    """Everything the escalation rules look at for one turn."""

    intents: list[IntentScore] = []
    conflicting: tuple[str, str] | None = None
    signals: Signals = Signals()
    run_status: str | None = None  # status of the playbook run after this turn
    policy_refusals: list[str] = []  # PolicyDenied rules hit this turn
    failed_fix_repeats: int = 0  # the same customer step tried again without effect
    unreadable_answers: int = 0  # answers in a row that could not be read (each one re-asked)
    repeat_contact: bool = False  # the customer had an episode on the same issue recently
    turns_in_issue: int = 0


class EscalationDecision(Msg):
    escalate: bool
    rule: str | None = None  # which rule fired (data: telco/data/escalation.yaml)
    reason: str | None = None
    queue: Literal["support", "billing", "retention", "technical", "complaints"] = "support"


# ---- dialogue ---------------------------------------------------------------------------------------------
class ReplyParts(Msg):
    """What the reply must convey this turn; the dialogue agent decides how to say it."""

    intent: str | None = None
    acknowledge: bool = False  # first turn of an issue: acknowledge the customer's situation
    signals: Signals = Signals()
    clarify: list[IntentScore] = []  # ask which of these the customer meant
    messages: list[str] = []  # what the playbook said this turn, in order
    request: CustomerRequest | None = None  # the one thing the customer should do or answer next
    knowledge: KnowledgeAnswer | None = None
    handoff: EscalationDecision | None = None
    reask: str | None = None  # the last answer could not be read: say why and ask again
    closing: bool = False  # the issue is finished
    informed: list[str] = []  # notice ids the playbook recorded this turn (RunState.informed entries)


class Reply(Msg):
    text: str
    mode: Mode = "offline"
    citations: list[Citation] = []  # the citations the text refers to, in marker order: [1] is citations[0]
