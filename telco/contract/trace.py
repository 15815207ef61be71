"""What a turn leaves behind for an operator: which agents ran, which tools, memory hits and model calls."""
from __future__ import annotations

from typing import Any, Literal

from telco.contract.body import Body
from telco.contract.messages import Mode


class ToolTrace(Body):
    name: str
    kind: Literal["read", "write"]
    ok: bool
    args: dict[str, Any] = {}
    error: str | None = None


class Refusal(Body):
    """Something proposed this turn that code would not do: which tool, the rule that said no, and why in words.
    Arguments naming another customer's records are not kept (the trace is read by people and stored)."""

    source: Literal["model"] = "model"  # who proposed it: the planner's model (flows' refusals are in `tools`)
    kind: Literal["read", "write"]
    tool: str
    rule: str  # a policy rule ("goodwill_credit.max_per_credit", "identity.own_records_only") or a disposal rule
    reason: str


class AgentTrace(Body):
    agent: str
    ms: float
    mode: Mode = "offline"
    attempts: int = 1
    note: str | None = None


class MemoryHit(Body):
    source: Literal["working", "episodic", "semantic", "graph", "procedural"]
    ref: str
    score: float | None = None


class KnowledgeLookup(Body):
    """The question a turn put to the knowledge agent and how well the knowledge base answered it (the learning
    job's knowledge-gap reports are built from these)."""

    question: str
    best_score: float | None = None  # cosine of the closest retrieved section; None: nothing retrieved
    confident: bool
    shown: bool  # the answer was part of the reply


class LlmCall(Body):
    agent: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    ms: float = 0
    outcome: Literal["ok", "repaired", "failed", "skipped"] = "ok"
    cost_usd: float = 0  # an estimate from the price table (telco/data/llm_prices.yaml)
    error: str | None = None  # why a call failed or was skipped (budget, open circuit, timeout, schema)
    prompts: list[str] = []  # the registry prompt versions in its system prompt, e.g. ["dialogue@2"] (A/B splits)


# The hand-over rule of a turn whose own handling failed: a person takes over, and the failure analysis, the metrics
# and the monitor count it as an error, never as a hand-over the situation called for.
INTERNAL_ERROR = "internal_error"


class TurnError(Body):
    """What went wrong inside a turn, in words an operator can act on (the customer is only told a colleague takes
    over)."""

    agent: str  # the agent whose call raised, or "planner" for the planner's own steps
    type: str  # the exception's class, e.g. InvalidInput
    message: str


RouteSetting = Literal["offline", "hybrid", "llm"]


class RouteTrace(Body):
    """Which path answered the turn and why (actors/planner/route.py): the deterministic brains alone, or the model
    for reading the message and/or for wording the reply. `reason` names the rule, e.g. confident_single_intent,
    step_result, identity_answer, low_confidence, multi_intent, complaint, emotional, uncovered_question."""

    setting: RouteSetting  # the mode setting the turn ran under
    path: Literal["deterministic", "model"]  # model: the model was asked for part of this turn
    reason: str
    understood_by: Literal["code", "model"] = "code"
    written_by: Literal["code", "model"] = "code"


class TurnTrace(Body):
    agents: list[AgentTrace] = []
    tools: list[ToolTrace] = []
    refusals: list[Refusal] = []  # the model's proposals code refused (actors/planner/dispose.py)
    memory_hits: list[MemoryHit] = []
    llm_calls: list[LlmCall] = []
    llm_sequential_calls: int = 0  # LLM requests on the turn's critical path (one after another)
    degraded_reason: str | None = None  # mode "degraded": why the offline brain answered instead of the model
    playbook: str | None = None
    playbook_step: str | None = None
    escalation_rule: str | None = None
    error: TurnError | None = None  # the turn's own handling failed; escalation_rule says whether a person took over
    knowledge: KnowledgeLookup | None = None
    route: RouteTrace | None = None
    mode: Mode = "offline"
    latency_ms: float = 0
