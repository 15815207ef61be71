"""What operators watch, as Ray metrics: one call per committed turn (record_turn) and one per feedback.

Ray exports `ray.util.metrics` through each node's metrics agent in Prometheus format (names get the `ray_`
prefix), which the Ray dashboard's Metrics tab and Grafana read (serve/grafana/telco.json). Everything here is
derived from the turn's trace, so a metric can never say something the trace does not. Recording never raises:
a metrics problem must not fail a turn that is already committed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from telco.contract.http import TurnOut
from telco.contract.trace import INTERNAL_ERROR

log = logging.getLogger(__name__)

LATENCY_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 1500, 2000, 3000, 5000, 10000]
SHARE_BOUNDARIES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
COUNT_BOUNDARIES = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20]
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
ERROR_HANDOFF = "error_handoff"  # the outcome label of an issue handed over because its turn failed inside


@dataclass(frozen=True)
class EndedIssue:
    """An issue that ended this turn: what it was, how it ended, after how many turns."""

    intent: str
    outcome: str
    turns: int
    handoff_rule: str | None = None  # the rule that handed it to a person, when it was escalated

    @property
    def label(self) -> str:
        """The outcome as counted: a hand-over because the turn failed inside is an error, not an escalation the
        situation asked for (and never a resolution)."""
        return ERROR_HANDOFF if self.handoff_rule == INTERNAL_ERROR else self.outcome


class TelcoMetrics:
    """The metric objects of one process (created once: Ray registers a metric per name and process)."""

    def __init__(self) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        self.turns = Counter("telco_turns", "turns committed", tag_keys=("mode", "status"))
        self.turn_latency = Histogram("telco_turn_latency_ms", "turn latency end to end (ms)",
                                      boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("mode",))
        self.agent_latency = Histogram("telco_agent_latency_ms", "one agent call inside a turn (ms)",
                                       boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("agent", "mode"))
        self.agent_calls = Counter("telco_agent_calls", "agent calls", tag_keys=("agent", "mode"))
        self.agent_retries = Counter("telco_agent_retries", "agent calls repeated after a replica failed",
                                     tag_keys=("agent",))
        self.tool_errors = Counter("telco_tool_errors", "tool calls that failed", tag_keys=("tool",))
        self.turn_errors = Counter("telco_turn_errors", "turns with a system error (degraded, retried, backend down)",
                                   tag_keys=("mode",))
        self.llm_tokens = Counter("telco_llm_tokens", "LLM tokens", tag_keys=("agent", "model", "kind"))
        self.llm_cost = Counter("telco_llm_cost_usd", "LLM cost in USD (price table)", tag_keys=("agent", "model"))
        self.llm_calls = Counter("telco_llm_calls", "LLM calls by outcome", tag_keys=("agent", "model", "outcome"))
        self.turn_tokens = Histogram("telco_turn_llm_tokens", "LLM tokens per turn",
                                     boundaries=[100, 250, 500, 1000, 1500, 2000, 4000, 8000], tag_keys=("mode",))
        self.intent_confidence = Histogram("telco_intent_confidence", "confidence of the top intent",
                                           boundaries=SHARE_BOUNDARIES, tag_keys=("intent",))
        self.issues_ended = Counter("telco_issues_ended", "issues ended, by outcome", tag_keys=("intent", "outcome"))
        self.turns_per_issue = Histogram("telco_turns_per_issue", "turns an issue took",
                                         boundaries=COUNT_BOUNDARIES, tag_keys=("intent", "outcome"))
        self.escalations = Counter("telco_escalations", "handoffs to a person", tag_keys=("rule",))
        self.csat = Histogram("telco_csat", "customer satisfaction (1-5)", boundaries=[1, 2, 3, 4, 5],
                              tag_keys=("resolved",))
        self.context_use = Histogram("telco_context_use", "share of retrieved knowledge items used in the reply",
                                     boundaries=SHARE_BOUNDARIES)
        self.replies_with_citations = Counter("telco_replies_with_citations",
                                              "replies that applied knowledge (cited a source)", tag_keys=("intent",))
        self.reasoning_quality = Gauge("telco_reasoning_quality", "the judge's latest score (0-1) where one runs",
                                       tag_keys=("agent",))


@lru_cache(maxsize=1)
def metrics() -> TelcoMetrics:
    return TelcoMetrics()


def _ray_ready() -> bool:
    try:
        import ray

        return ray.is_initialized()
    except ImportError:
        return False


def turn_had_error(out: TurnOut) -> bool:
    """A system error, not a refusal: a degraded reply, an agent retried, a backend that was unavailable, or a turn
    that failed inside (and went to a person)."""
    t = out.trace
    return (t.mode == "degraded" or any(a.attempts > 1 for a in t.agents)
            or backend_down(out) or t.error is not None)


def backend_down(out: TurnOut) -> bool:
    """A back-end system answered unavailable this turn (even when a cached answer covered for it)."""
    return any(x.error and "unavailable" in x.error.lower() for x in out.trace.tools)


def handed_over(out: TurnOut) -> bool:
    # The transfer itself, not the status: later messages of a handed-off conversation are not new escalations.
    return any(x.name == "transfer_to_person" and x.ok for x in out.trace.tools)


def llm_tokens(out: TurnOut) -> int:
    return sum(c.input_tokens + c.output_tokens + c.cache_read_input_tokens + c.cache_creation_input_tokens
               for c in out.trace.llm_calls)


def llm_cost(call: Any) -> float:
    """The call's cost: the trace's own figure when it has one, else the price table; 0 for an unknown model."""
    cost = getattr(call, "cost_usd", None)
    if cost:
        return float(cost)
    from telco.config import DEFAULT_PRICES_FILE
    from telco.errors import InvalidInput
    from telco.llm.prices import cached_prices

    try:
        return cached_prices(str(DEFAULT_PRICES_FILE)).cost(
            call.model, input_tokens=call.input_tokens, output_tokens=call.output_tokens,
            cache_creation_input_tokens=call.cache_creation_input_tokens,
            cache_read_input_tokens=call.cache_read_input_tokens)
    except InvalidInput:
        return 0.0


def context_use(out: TurnOut) -> float | None:
    """Share of the knowledge items retrieved this turn that the reply cites; None when nothing was retrieved."""
    retrieved = {h.ref for h in out.trace.memory_hits if h.source == "semantic"}
    if not retrieved:
        return None
    used = {c.section_id for c in out.citations} & retrieved
    return len(used) / len(retrieved)


def record_turn(out: TurnOut, ended: Iterable[EndedIssue] = ()) -> None:
    """Record one committed turn; never raises."""
    if not _ray_ready():
        return
    try:
        _record(metrics(), out, list(ended))
    except Exception:
        log.exception("metrics of turn %s not recorded", out.turn_id)


def _record(m: TelcoMetrics, out: TurnOut, ended: list[EndedIssue]) -> None:
    t = out.trace
    m.turns.inc(1, {"mode": out.mode, "status": out.status})
    m.turn_latency.observe(t.latency_ms, {"mode": out.mode})
    for a in t.agents:
        m.agent_latency.observe(a.ms, {"agent": a.agent, "mode": a.mode})
        m.agent_calls.inc(1, {"agent": a.agent, "mode": a.mode})
        if a.attempts > 1:
            m.agent_retries.inc(a.attempts - 1, {"agent": a.agent})
    for tool in t.tools:
        if not tool.ok:
            m.tool_errors.inc(1, {"tool": tool.name})
    if turn_had_error(out):
        m.turn_errors.inc(1, {"mode": out.mode})
    for c in t.llm_calls:
        tags = {"agent": c.agent, "model": c.model}
        for kind, n in zip(TOKEN_KINDS, (c.input_tokens, c.output_tokens, c.cache_read_input_tokens,
                                         c.cache_creation_input_tokens)):
            if n:
                m.llm_tokens.inc(n, {**tags, "kind": kind})
        m.llm_cost.inc(llm_cost(c), tags)
        m.llm_calls.inc(1, {**tags, "outcome": c.outcome})
    m.turn_tokens.observe(llm_tokens(out), {"mode": out.mode})
    if out.intents:
        top = out.intents[0]
        m.intent_confidence.observe(top.confidence, {"intent": top.intent})
    for issue in ended:
        m.issues_ended.inc(1, {"intent": issue.intent, "outcome": issue.label})
        m.turns_per_issue.observe(issue.turns, {"intent": issue.intent, "outcome": issue.label})
    if handed_over(out):
        m.escalations.inc(1, {"rule": t.escalation_rule or "playbook_handoff"})
    share = context_use(out)
    if share is not None:
        m.context_use.observe(share)
    if out.citations:
        m.replies_with_citations.inc(1, {"intent": out.intents[0].intent if out.intents else "none"})


def record_feedback(csat: int, resolved: bool) -> None:
    if not _ray_ready():
        return
    try:
        metrics().csat.observe(csat, {"resolved": str(resolved).lower()})
    except Exception:
        log.exception("feedback metric not recorded")


def record_judge_score(agent: str, score: float) -> None:
    """For an evaluation job whose judge scored an agent's reasoning (0-1)."""
    if _ray_ready():
        metrics().reasoning_quality.set(score, {"agent": agent})
