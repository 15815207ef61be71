"""Which path answers a turn: the deterministic brains alone, or the model where it adds value.

The mode is a setting (TELCO_ANTHROPIC__MODE, telco/config.py): `offline` never calls the model, `llm` has it read
every new message and word every reply (actors/planner/llm_brain.py), and `hybrid` (the default with an API key)
lets the deterministic path answer when it is sure and calls the model only where it does better. The rules are
data (telco/data/routing.yaml, section `hybrid`):

- reading the message: the classifier reads every new message first; the model reads it instead when the
  classifier is not sure (no intent, several intents, one below `confident_min`). An answer to what we asked (a
  step's result, an identity detail, yes/no to an offer, another slot, a choice between readings) is read by the
  flow's own readers;
- writing the reply: the template reply stands unless the turn needs better wording (a complaint, an emotional
  message, a question the extractive knowledge answer does not cover) or the operator asked for model wording on
  that occasion (`model_wording`).

Every turn's trace says which path answered and why (trace.route), and the reply's mode says it: "offline" when
the deterministic path answered alone, "llm" (or "degraded") when the model was asked for part of it.
"""
from __future__ import annotations

import asyncio
import time
from functools import lru_cache
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from actors.planner.conversation import ConversationState
from actors.planner.turn import TurnBuilder
from telco.config import WordingOccasion
from telco.contract.http import MessageIn
from telco.contract.messages import IntentRequest, IntentResult, KnowledgeRequest, Reply, ReplyParts
from telco.contract.trace import RouteTrace
from telco.data import ROUTING_FILE
from telco.intents import load_intents


class HybridRules(BaseModel):
    """The `hybrid` section of telco/data/routing.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confident_min: float = Field(gt=0, le=1)
    complaint: bool = True
    frustration_min: float = Field(gt=0, le=1)
    uncovered_question: bool = True
    model_wording: tuple[WordingOccasion, ...] = ()


@lru_cache(maxsize=1)
def hybrid_rules() -> HybridRules:
    return HybridRules.model_validate(yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))["hybrid"])


# ---- the decisions (pure) ---------------------------------------------------------------------------------------
def reports_step(pending: Any, body: MessageIn) -> bool:
    """The message carries the result of the customer step we asked for. The flow reads the observation and picks
    what comes next, so there is nothing for a model to plan: such a turn makes at most one model call, the reply."""
    return (pending is not None and pending.kind == "customer_step"
            and any(r.step_id == pending.id for r in body.step_results))


def reading_route(state: ConversationState, pending: Any, classified: IntentResult,
                  rules: HybridRules) -> tuple[bool, str]:
    """(the model reads the message, why), in hybrid mode, once the classifier has read it."""
    if pending is not None:
        if state.identify_run is not None and state.identify_run.pending is not None:
            return False, "identity_answer"
        if pending.kind == "ask" and pending.expect == "yes_no":
            return False, "offer_answer"
        return False, "flow_step"  # a slot the flow asked for, or a step the customer answers in words
    if state.clarifying:
        return False, "clarification_answer"
    intents = classified.intents
    if not intents:
        return True, "no_intent"
    if len(intents) > 1:
        return True, "multi_intent"
    if intents[0].confidence < rules.confident_min:
        return True, "low_confidence"
    return False, "confident_single_intent"


def occasions(parts: ReplyParts) -> list[str]:
    """The wording occasions (routing.yaml `model_wording`) a reply is, most specific first."""
    found = [name for name, on in (("handoff", parts.handoff is not None), ("refusal", "policy_refused" in
             parts.informed), ("clarify", bool(parts.clarify)), ("knowledge", parts.knowledge is not None
             and parts.knowledge.confident), ("closing", parts.closing)) if on]
    return [*found, "every_reply"]


def uncovered_question(turn: TurnBuilder) -> bool:
    """The customer asked something the extractive knowledge answer does not cover: the message could not be read
    as an issue and the help pages had nothing confident, or a policy question's lookup found nothing to quote."""
    parts = turn.parts
    if parts.handoff is not None:
        return False  # the reply is about a person taking over, not an answer
    covered = parts.knowledge is not None and parts.knowledge.confident
    if turn.unsure:
        return not covered
    spec = load_intents().get(parts.intent or "")
    return bool(turn.knowledge_question and spec is not None and spec.kb_in_reply and not covered)


def wording_route(turn: TurnBuilder, rules: HybridRules, wording: tuple[str, ...]) -> tuple[bool, str]:
    """(the model words the reply, why), in hybrid mode, once the turn knows what the reply must convey."""
    asked = next((o for o in occasions(turn.parts) if o in wording), None)
    if asked is not None:
        return True, f"wording_setting:{asked}"
    signals = turn.parts.signals
    if rules.complaint and signals.complaint:
        return True, "complaint"
    if signals.frustration >= rules.frustration_min:
        return True, "emotional"
    if rules.uncovered_question and uncovered_question(turn):
        return True, "uncovered_question"
    return False, "template_reply"


# ---- the turn's steps (called by the planner) -------------------------------------------------------------------
def begin(brain: Any, state: ConversationState, seq: int, turn: TurnBuilder) -> Any:
    """The turn's LlmTurn (None offline) and its first route: deterministic until a step asks the model."""
    setting = brain.mode if brain is not None else "offline"
    reason = "offline_mode" if brain is None else "with_person" if state.status == "handed_off" else "not_read"
    turn.trace.route = RouteTrace(setting=setting, path="deterministic", reason=reason)
    return brain.begin(state, seq) if brain is not None else None


async def understand(planner: Any, state: ConversationState, body: MessageIn, turn: TurnBuilder,
                     pending: Any) -> IntentResult:
    """The message read by the classifier or the model, as the mode and the rules say."""
    route, brain = turn.trace.route, planner.llm
    if turn.llm is None:
        return await classify(planner, state, body, turn, pending)
    if reports_step(pending, body):
        route.reason = "step_result"
        return await classify(planner, state, body, turn, pending)
    classified = None
    if brain.mode == "hybrid":
        classified = await classify(planner, state, body, turn, pending)
        by_model, route.reason = reading_route(state, pending, classified, hybrid_rules())
        if not by_model:
            return classified
    else:
        route.reason = "llm_mode"
    route.understood_by = "model"
    if pending is None and not state.clarifying:
        # The model's call takes hundreds of milliseconds: the help pages are read meanwhile (without the intent's
        # boost, which is not known yet), so knowledge never lengthens a turn the model reads.
        request = KnowledgeRequest(question=body.text, question_vector=classified.text_vector if classified else None)
        turn.early_knowledge = (body.text, asyncio.create_task(planner._agent(
            turn, "knowledge", planner.knowledge.answer, request)))
    started = time.perf_counter()
    understood = await brain.understand(turn.llm, state, body)
    if turn.llm.examples_ms is not None:
        turn.episodes(turn.llm.examples, turn.llm.examples_ms)
    turn.agent("planner", (time.perf_counter() - started) * 1000, 1, "llm" if understood else "degraded")
    if understood is not None and (understood.intents or pending is not None):
        return understood
    # The model failed, or found no intent where one is needed: the classifier's reading stands.
    return classified if classified is not None else await classify(planner, state, body, turn, pending)


async def classify(planner: Any, state: ConversationState, body: MessageIn, turn: TurnBuilder,
                   pending: Any) -> IntentResult:
    return await planner._agent(turn, "intent", planner.intent.classify, IntentRequest(
        text=body.text, conversation_id=state.conversation_id, read_intents=pending is None))


async def write(planner: Any, state: ConversationState, body: MessageIn, turn: TurnBuilder, draft: Reply) -> Reply:
    """The reply: the model's wording when the mode or the rules ask for it, else the template reply. The turn's
    model calls go into the trace either way, and the route gets its final path and reason."""
    route, brain, lt = turn.trace.route, planner.llm, turn.llm
    if brain.mode == "llm":
        by_model, why = True, "llm_mode"
    else:
        wording = tuple(brain.wording) if brain.wording is not None else hybrid_rules().model_wording
        by_model, why = wording_route(turn, hybrid_rules(), wording)
    if by_model:
        route.written_by = "model"
        started = time.perf_counter()
        meta = {"mode": lt.mode, "status": state.status,
                "intents": [i.model_dump(mode="json") for i in (turn.intents.intents if turn.intents else [])]}
        reply = await brain.write_reply(lt, turn.parts, draft, body, meta)
        turn.agent("dialogue", (time.perf_counter() - started) * 1000, 1, reply.mode)
    else:
        # The model may still have read the message this turn: the reply then says "llm" (or "degraded").
        reply = draft.model_copy(update={"mode": lt.mode}) if lt.records else draft
    brain.finish(lt, state, turn.trace)
    reasons = [*([route.reason] if route.understood_by == "model" else []), *([why] if by_model else [])]
    route.path = "model" if reasons else "deterministic"
    route.reason = "; ".join(dict.fromkeys(reasons)) or route.reason
    return reply
