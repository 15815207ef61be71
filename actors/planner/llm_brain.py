"""The Claude path of a turn: at most two model calls on the critical path, everything else stays code.

1. understand and plan (role "planner", one structured decision, actors/planner/turn_plan.py): the customer's intents,
   entities, signals and the one next action the model proposes, chosen among what exists;
2. diagnostics, policy-checked actions and retrieval run as offline, without the model (the flows, the tools,
   the knowledge agent), and the template reply is composed as offline;
3. write the reply (role "dialogue", streamed): the template reply's facts in the model's words. Deltas go to the
   caller's sink (the API's server-sent events) as they arrive.

Any failure (open circuit, exhausted retries, timeout, a schema violation after one repair, the conversation's
budget spent) falls back to the offline brain for that part and the turn says mode "degraded" with the reason;
nothing raises into the planner. The conversation's spend lives in its state (ConversationState.llm_spent), so
the budget holds across replicas and restarts.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Literal

from actors.planner.conversation import ConversationState
from actors.planner.llm_context import (
    RolePrompts,
    customer_context,
    customer_message,
    dialogue_system,
    planner_system,
    reply_request,
)
from actors.planner.prompt_split import ServedPrompts, pinned_versions
from actors.planner.turn_plan import TurnPlan
from telco.config import LlmBudget
from telco.contract.http import MessageIn
from telco.contract.messages import IntentResult, Reply, ReplyParts
from telco.contract.trace import LlmCall, TurnTrace
from telco.llm import Budget, CallRecord, LlmClient

log = logging.getLogger(__name__)

# Set by a streaming caller (turn_stream): gets ("meta", turn facts) before the reply's first delta, then
# ("delta", text) for each delta as it arrives.
Sink = Callable[[tuple[str, Any]], None]
reply_sink: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("reply_sink", default=None)

# (customer_id, text) -> that customer's resolved episodes like the text: {episode_id, score, text} each
# (actors/agents/episodes.py)
EpisodeExamples = Callable[[str, str], Awaitable[list[dict[str, Any]]]]


class LlmTurn:
    """What the model did on one turn: the records for the trace, the budget it drew on, why it degraded."""

    def __init__(self, budget: Budget, conversation_id: str, turn_id: str, issues_before: int) -> None:
        self.budget, self.conversation_id, self.turn_id = budget, conversation_id, turn_id
        self.issues_before = issues_before  # state.issues[issues_before:] are the issues opened this turn
        self.records: list[CallRecord] = []
        self.prompts: list[list[str]] = []  # per record: the registry prompt versions its system prompt carried
        self.pinned: dict[str, int] = {}  # role -> the prompt version earlier turns of the conversation were served
        self.degraded: list[str] = []
        self.plan: TurnPlan | None = None
        self.disposed = False  # the plan's next action went to actors/planner/dispose.py (else: not_executed)
        self.examples: list[dict[str, Any]] = []  # the episodes shown to the planner (the trace's memory hits)
        self.examples_ms: float | None = None  # how long finding them took (None: not looked up)

    def add(self, records: list[CallRecord], served: ServedPrompts) -> None:
        self.records.extend(records)
        self.prompts.extend([list(served.labels)] * len(records))

    @property
    def mode(self) -> str:
        return "degraded" if self.degraded else "llm"


class ClaudeBrain:
    """`mode`: "llm" (the model reads every new message and words every reply) or "hybrid" (actors/planner/route.py:
    the deterministic path answers when it is sure). A deployment's brain gets the mode setting (brain_from_settings:
    hybrid unless set); one built directly, as prompt evaluation does, calls the model on every turn.
    `wording`: in hybrid mode, the occasions whose reply the model words (None: telco/data/routing.yaml's list)."""

    def __init__(self, client: LlmClient, prompts: Callable[[str], str] | None = None,
                 episodes: EpisodeExamples | None = None, limits: LlmBudget | None = None,
                 mode: Literal["hybrid", "llm"] = "llm", wording: Iterable[str] | None = None) -> None:
        self.client = client
        self.prompts = prompts or RolePrompts()
        self.episodes = episodes
        self.limits = limits or client.settings.budget
        self.mode = mode
        self.wording = tuple(wording) if wording is not None else None

    async def aclose(self) -> None:
        """Close the model client's connections (its owner calls this when it shuts down)."""
        await self.client.aclose()

    def begin(self, state: ConversationState, seq: int) -> LlmTurn:
        lt = LlmTurn(Budget(limits=self.limits, spent=state.llm_spent), state.conversation_id,
                     f"{state.conversation_id}:{seq:05d}", len(state.issues))
        lt.pinned = pinned_versions(state.prompts_served)
        return lt

    # ---- call 1: understand and plan ------------------------------------------------------------------------
    async def understand(self, lt: LlmTurn, state: ConversationState, body: MessageIn) -> IntentResult | None:
        """The model's reading of the message, or None: the offline intent agent reads it instead."""
        examples = await self._examples(lt, state, body.text)
        served = ServedPrompts(self.prompts, lt.conversation_id, lt.pinned)
        decision = await self.client.decide(
            "planner", planner_system(served, customer_context(state, examples)), customer_message(body),
            TurnPlan, budget=lt.budget, conversation_id=lt.conversation_id, turn_id=lt.turn_id)
        lt.add(decision.records, served)
        if not decision.ok:
            lt.degraded.append(f"planner: {decision.reason}: {decision.detail}")
            return None
        lt.plan = decision.value
        return decision.value.as_intent_result()

    async def _examples(self, lt: LlmTurn, state: ConversationState, text: str) -> list[str]:
        customer = state.identity.verified_customer_id
        if self.episodes is None or customer is None:
            return []  # episodes are customer-scoped: nobody's are shown before we know whose conversation it is
        if awaits_answer(state):
            return []  # reading the answer to our own question: past cases do not help, and cost a search
        started = time.perf_counter()
        try:
            lt.examples = await self.episodes(customer, text)
        except Exception:  # examples improve a prompt; their absence must not fail a turn
            log.exception("similar episodes for %s not read", customer)
            lt.examples = []
        lt.examples_ms = (time.perf_counter() - started) * 1000
        return [e["text"] for e in lt.examples]

    # ---- call 2: the reply ------------------------------------------------------------------------------------
    async def write_reply(self, lt: LlmTurn, parts: ReplyParts, draft: Reply, body: MessageIn,
                          meta: dict[str, Any] | None = None) -> Reply:
        """The reply in the model's words, streamed to the sink (after `meta`, with the first delta); the template
        reply when the model fails."""
        served = ServedPrompts(self.prompts, lt.conversation_id, lt.pinned)
        stream = self.client.stream_text("dialogue", dialogue_system(served),
                                         reply_request(parts, draft.text, body), budget=lt.budget,
                                         conversation_id=lt.conversation_id, turn_id=lt.turn_id)
        sink = reply_sink.get()
        first = True
        async for delta in stream:
            if sink is not None:
                if first:
                    sink(("meta", {"turn_id": lt.turn_id, "conversation_id": lt.conversation_id, **(meta or {})}))
                    first = False
                sink(("delta", delta))
        lt.add(stream.records, served)
        if stream.mode != "llm" or not stream.text.strip():
            lt.degraded.append(f"dialogue: {stream.reason or 'empty'}: {stream.detail or 'the model wrote nothing'}")
            return draft.model_copy(update={"mode": "degraded"})
        return Reply(text=stream.text.strip(), mode=lt.mode, citations=draft.citations)

    # ---- accounting -------------------------------------------------------------------------------------------
    @staticmethod
    def finish(lt: LlmTurn, state: ConversationState, trace: TurnTrace) -> None:
        state.llm_spent = lt.budget.spent
        trace.llm_calls = [LlmCall(**r.trace_fields(), prompts=p) for r, p in zip(lt.records, lt.prompts)]
        # Kept on the conversation so that its episodes name the prompt versions that served it (planner.episode_of)
        state.prompts_served = sorted({*state.prompts_served, *(v for p in lt.prompts for v in p)})
        trace.llm_sequential_calls = sum(r.sent for r in lt.records)  # the calls of a turn never overlap
        trace.degraded_reason = "; ".join(lt.degraded) or None


async def turn_stream(handle_turn: Callable[..., Any], *args: Any) -> AsyncIterator[tuple[str, Any]]:
    """Run handle_turn(*args) and yield ("meta", ...) and ("delta", text) while the model writes the reply,
    then ("turn", TurnOut). An error of the turn is raised where the iteration stands."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    token = reply_sink.set(queue.put_nowait)
    try:
        task = asyncio.ensure_future(handle_turn(*args))  # the task copies the context, sink included
    finally:
        reply_sink.reset(token)
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
                continue
            getter.cancel()
            while not queue.empty():
                yield queue.get_nowait()
            yield "turn", task.result()
            return
    finally:
        if not task.done():  # the client went away: the turn still completes and commits
            await asyncio.shield(task)


def awaits_answer(state: ConversationState) -> bool:
    if state.identify_run is not None and state.identify_run.pending is not None:
        return True
    active = state.active
    return bool(active and active.run and active.run.pending)


def brain_from_settings(settings: Any, memory_uri: str | None = None, *, episodes: EpisodeExamples | None = None,
                        http_client: Any = None) -> ClaudeBrain | None:
    """The Claude path in the configured mode (hybrid or llm); None in offline mode (no API key, or the mode set to
    offline): exactly as without this module."""
    anthropic = settings.anthropic
    if anthropic.api_key is None or settings.mode == "offline":
        return None
    registry = None
    if memory_uri is not None:
        from memory.prompts import PromptRegistry
        from memory.store import connect
        from memory.writer import LocalWriter

        store = connect(memory_uri)
        registry = PromptRegistry(store, LocalWriter(store))
    return ClaudeBrain(LlmClient(anthropic, http_client=http_client), RolePrompts(registry), episodes,
                       mode=settings.mode, wording=anthropic.model_wording)
