"""What every LLM call cost, added up per turn, agent and conversation, and the per-conversation budget.

Agents are stateless replicas, so the budget cannot live in any one of them: it travels with the conversation.
The planner keeps the conversation's records (a Ledger), hands each agent a Budget snapshot, and adds back the
records the agent returns. A call is checked against the budget before it is sent, so the last call allowed may
overshoot the token or cost limit by its own size; the next one is refused.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from telco.config import LlmBudget
from telco.errors import InvalidInput

Outcome = Literal["ok", "repaired", "failed", "skipped"]
GroupKey = Literal["turn_id", "agent", "conversation_id", "model"]

# The fields of telco.contract.http.LlmCall, the per-call entry of a turn's trace (telco does not import the HTTP layer).
TRACE_FIELDS = ("agent", "model", "input_tokens", "output_tokens", "cache_read_input_tokens",
                "cache_creation_input_tokens", "ms", "outcome", "cost_usd", "error")


class CallRecord(BaseModel):
    """One request to the Messages API (with the SDK's retries inside it), or one that was not sent (skipped).

    outcome: ok (a usable answer), repaired (the repair request and it gave a usable answer), failed (an API
    error, a timeout, or an answer that did not fit the schema), skipped (not sent: budget or open circuit).
    """

    model_config = ConfigDict(extra="forbid")

    agent: str
    model: str
    conversation_id: str | None = None
    turn_id: str | None = None
    input_tokens: int = Field(default=0, ge=0)  # uncached input, as the API reports it
    output_tokens: int = Field(default=0, ge=0)
    cache_read_input_tokens: int = Field(default=0, ge=0)
    cache_creation_input_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    ms: float = Field(default=0.0, ge=0)
    first_token_ms: float | None = None  # streams only: until the first text delta
    retries: int = Field(default=0, ge=0)  # HTTP attempts the SDK repeated
    attempts: list[int | str] = []  # per HTTP attempt: status code, or "timeout"/"connection_error"
    outcome: Outcome = "ok"
    error: str | None = None
    stream: bool = False

    @property
    def sent(self) -> bool:
        return self.outcome != "skipped"

    @property
    def tokens(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_read_input_tokens
                + self.cache_creation_input_tokens)

    def trace_fields(self) -> dict:
        """The fields of telco.contract.http.LlmCall: `LlmCall(**record.trace_fields())`."""
        return {k: getattr(self, k) for k in TRACE_FIELDS}


class Totals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0  # requests sent (skipped ones are not calls)
    skipped: int = 0
    repaired: int = 0
    failed: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    ms: float = 0.0

    @property
    def tokens(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_read_input_tokens
                + self.cache_creation_input_tokens)

    @property
    def cache_read_share(self) -> float:
        """Of all input tokens, the share read from the prompt cache (0 when there was no input)."""
        seen = self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens
        return self.cache_read_input_tokens / seen if seen else 0.0

    def add(self, r: CallRecord) -> "Totals":
        return Totals(
            calls=self.calls + int(r.sent), skipped=self.skipped + int(not r.sent),
            repaired=self.repaired + int(r.outcome == "repaired"), failed=self.failed + int(r.outcome == "failed"),
            retries=self.retries + r.retries, input_tokens=self.input_tokens + r.input_tokens,
            output_tokens=self.output_tokens + r.output_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + r.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + r.cache_creation_input_tokens,
            cost_usd=self.cost_usd + r.cost_usd, ms=self.ms + r.ms)


def totals(records: Iterable[CallRecord]) -> Totals:
    out = Totals()
    for r in records:
        out = out.add(r)
    return out


def group_by(records: Iterable[CallRecord], key: GroupKey) -> dict[str | None, Totals]:
    """Totals per turn, agent, conversation or model, in first-seen order."""
    if key not in GroupKey.__args__:  # type: ignore[attr-defined]
        raise InvalidInput(f"group_by key must be one of {GroupKey.__args__}, got {key!r}")  # type: ignore
    out: dict[str | None, Totals] = {}
    for r in records:
        k = getattr(r, key)
        out[k] = out.get(k, Totals()).add(r)
    return out


class Budget(BaseModel):
    """A conversation's limits and what it has spent so far; `stop_reason()` says why no further call may go out."""

    model_config = ConfigDict(extra="forbid")

    limits: LlmBudget = LlmBudget()
    spent: Totals = Totals()

    @classmethod
    def for_conversation(cls, limits: LlmBudget, records: Iterable[CallRecord] = ()) -> "Budget":
        return cls(limits=limits, spent=totals(records))

    def stop_reason(self) -> str | None:
        lim, s = self.limits, self.spent
        if s.calls >= lim.max_calls:
            return f"call budget spent: {s.calls} of {lim.max_calls} calls"
        if s.tokens >= lim.max_tokens:
            return f"token budget spent: {s.tokens} of {lim.max_tokens} tokens"
        if s.cost_usd >= lim.max_cost_usd:
            return f"cost budget spent: ${s.cost_usd:.4f} of ${lim.max_cost_usd:.4f}"
        return None

    def charge(self, record: CallRecord) -> None:
        self.spent = self.spent.add(record)


class Ledger:
    """Every call of one conversation, for the planner: the budget to hand out and the totals to report."""

    def __init__(self, conversation_id: str, limits: LlmBudget, records: Iterable[CallRecord] = ()) -> None:
        self.conversation_id = conversation_id
        self.limits = limits
        self.records: list[CallRecord] = list(records)

    def add(self, records: Iterable[CallRecord]) -> None:
        for r in records:
            if r.conversation_id not in (None, self.conversation_id):
                raise InvalidInput(f"call record of conversation {r.conversation_id!r} added to the ledger of "
                                 f"{self.conversation_id!r}")
            self.records.append(r)

    def budget(self) -> Budget:
        return Budget.for_conversation(self.limits, self.records)

    def totals(self) -> Totals:
        return totals(self.records)

    def by(self, key: GroupKey) -> dict[str | None, Totals]:
        return group_by(self.records, key)
