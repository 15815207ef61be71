"""Everything one turn gathers on its way to a reply: what to say (ReplyParts) and why (the trace)."""
from __future__ import annotations

from typing import Any

from actors.planner.conversation import ConversationState
from telco.contract.http import ActionOut, CustomerStepOut, Question, TurnOut
from telco.contract.messages import (
    EscalationDecision,
    IntentResult,
    KnowledgeAnswer,
    Reply,
    ReplyParts,
    TechnicalResult,
)
from telco.contract.principal import Principal
from telco.contract.trace import AgentTrace, KnowledgeLookup, MemoryHit, ToolTrace, TurnError, TurnTrace
from telco.playbooks.runner import RunState
from telco.redact import redact, redact_text


class TurnBuilder:
    def __init__(self, conversation_id: str, seq: int, principal: Principal | None = None) -> None:
        self.conversation_id, self.seq = conversation_id, seq
        self.principal = principal  # who sent the message: every tool call of the turn is made on their behalf
        self.parts = ReplyParts()
        self.trace = TurnTrace()
        self.intents: IntentResult | None = None
        self.informed: list[str] = []
        self.actions: list[ActionOut] = []
        self.citations = []
        self.conflicting: tuple[str, str] | None = None
        self.knowledge_question: str | None = None
        self.knowledge_vector: list[float] | None = None
        self.early_knowledge: tuple[str, Any] | None = None  # (question, task) started before the reply needs it
        self.unsure = False  # the message could not be read as any issue with enough confidence
        self.llm: Any = None  # actors.planner.llm_brain.LlmTurn on the Claude path
        self.degraded: str | None = None  # why the turn could not be served as usual (a back-end system down)
        self.failures: list[tuple[str, BaseException]] = []  # (agent, what it raised): names what ended the turn

    # ---- what happened --------------------------------------------------------------------------------
    def agent(self, name: str, ms: float, attempts: int, mode: str) -> None:
        self.trace.agents.append(AgentTrace(agent=name, ms=round(ms, 2), attempts=attempts, mode=mode))

    def agent_failed(self, name: str, ms: float, exc: BaseException) -> None:
        from actors.runtime.retry import attempts_made

        self.trace.agents.append(AgentTrace(agent=name, ms=round(ms, 2), attempts=attempts_made(exc),
                                            note=_describe(exc)))
        self.failures.append((name, exc))

    def failed(self, exc: BaseException) -> TurnError:
        """Record what ended the turn: the agent whose call raised it (or the planner's own step) and the error."""
        from actors.runtime.errors import unwrap

        named = {id(raised): name for name, raised in self.failures}
        agent, seen, depth = "planner", exc, 0
        while seen is not None and depth < 8:  # an agent's failure may escape as it is or wrapped (raise ... from)
            if id(seen) in named:
                agent = named[id(seen)]
                break
            seen, depth = seen.__cause__, depth + 1
        cause = unwrap(exc)
        self.trace.error = TurnError(agent=agent, type=type(cause).__name__, message=_message(cause))
        return self.trace.error

    def understood(self, result: IntentResult) -> None:
        self.intents = result
        self.parts.signals = result.signals

    def tool_calls(self, calls: list[dict[str, Any]]) -> None:
        self.trace.tools.extend(ToolTrace(**c) for c in calls)

    def ran(self, before: RunState | None, result: TechnicalResult) -> None:
        run = result.run
        seen = len(before.history) if before is not None else 0
        new = run.history[seen:]
        self.parts.messages.extend(r.text or "" for r in new if r.kind == "say")
        told = [r.name for r in new if r.kind == "inform"]
        self.informed.extend(told)
        self.parts.informed.extend(told)
        self.actions.extend(
            ActionOut(tool=a["tool"], summary=_summary(a), result=a.get("result") or {})
            for a in run.actions[len(before.actions) if before is not None else 0:])
        self.tool_calls(result.tool_calls)
        self.parts.request = run.pending
        self.trace.playbook = f"{run.playbook_id}@v{run.version}"
        self.trace.playbook_step = run.current or (new[-1].step_id if new else None)
        self.trace.memory_hits.append(MemoryHit(source="procedural", ref=f"{run.playbook_id}@v{run.version}"))
        if run.finished and run.playbook_id != "identify":
            # "Glad that's sorted" only when it is: not after an outage notice, an offer turned down, or a service
            # the account does not have (those runs end resolved without a fix).
            unfixed = (run.vars.get("diagnosis") or {}).get("outcome", "passed") != "passed"
            self.parts.closing = (run.status == "resolved" and not unfixed
                                  and "service_not_on_account" not in run.informed)

    def knowledge(self, answer: KnowledgeAnswer, in_reply: bool, even_unsure: bool = False,
                  question: str | None = None) -> None:
        """even_unsure: the reply says so when the help pages have no clear answer (nothing else is said).
        question: what was asked, when it is not the turn's knowledge_question."""
        self.citations = answer.citations if answer.confident else []
        self.trace.memory_hits.extend(MemoryHit(source="semantic", ref=c.section_id, score=c.score)
                                      for c in answer.citations)
        if (answer.confident or even_unsure) and in_reply:
            self.parts.knowledge = answer
        asked = question or self.knowledge_question
        if asked:
            self.trace.knowledge = KnowledgeLookup(question=asked, best_score=answer.best_score,
                                                   confident=answer.confident, shown=answer.confident and in_reply)

    def episodes(self, examples: list[dict[str, Any]], ms: float) -> None:
        """The customer's past episodes looked up for the model (the Episodes service's time and hits)."""
        self.agent("episodes", ms, 1, "offline")
        self.trace.memory_hits.extend(MemoryHit(source="episodic", ref=e["episode_id"], score=e["score"])
                                      for e in examples)

    def escalated(self, decision: EscalationDecision) -> None:
        self.trace.escalation_rule = decision.rule

    # ---- for a person taking over ----------------------------------------------------------------------
    def summary(self, state: ConversationState) -> str:
        intents = ", ".join(i.intent for i in state.issues) or "not yet known"
        return (f"Customer {state.customer_id or 'not identified'} on {state.channel}; issues: {intents}; "
                f"{state.turns} earlier turns.")

    def handoff_context(self, state: ConversationState) -> dict[str, Any]:
        # Kept in the operator's hand-off record and shown at the desk: scrubbed like the turn (an unverified
        # caller's words, read into intent spans, are not scrubbed by the planner before then).
        return redact({
            "conversation_id": state.conversation_id,
            "issues": [{"intent": i.intent, "status": i.status,
                        "steps": [r.model_dump(mode="json", exclude_none=True) for r in (i.run.history if i.run else [])]}
                       for i in state.issues],
            "intents_this_turn": [s.model_dump() for s in (self.intents.intents if self.intents else [])],
            "signals": self.parts.signals.model_dump(),
            **({"error": self.trace.error.model_dump()} if self.trace.error is not None else {}),
        })

    # ---- the answer ------------------------------------------------------------------------------------
    def _question(self, reply: Reply) -> Question | None:
        request = self.parts.request
        if self.parts.clarify:
            return Question(slot="intent", kind="choice", text=reply.text,
                            options=[c.intent for c in self.parts.clarify])
        if request is not None and request.kind == "ask":
            return Question(slot=request.id, kind=request.expect, text=request.text)
        return None

    def finish(self, state: ConversationState, reply: Reply, latency_ms: float) -> TurnOut:
        request = self.parts.request
        mode = "degraded" if self.degraded else reply.mode
        self.trace.mode = mode
        self.trace.latency_ms = round(latency_ms, 2)
        # The turn goes to whoever reads turns (operators, the desk) as it is stored: card numbers, secrets,
        # national ids and dates of birth in tool arguments (the identify flow's checks, a refused write's
        # arguments), errors, the knowledge question or the words an intent was read from are scrubbed, value by
        # value as memory stores it.
        self.trace = TurnTrace.model_validate(redact(self.trace.model_dump(mode="json")))
        intents = [i.model_copy(update={"span": redact_text(i.span)}) for i in self.intents.intents] \
            if self.intents else []
        return TurnOut(
            turn_id=f"{self.conversation_id}:{self.seq:05d}", conversation_id=self.conversation_id,
            reply=reply.text, mode=mode,
            intents=intents,
            customer_steps=[CustomerStepOut(step_id=request.id, instruction=request.text)]
            if request is not None and request.kind == "customer_step" else [],
            question=self._question(reply),
            actions_taken=self.actions, citations=reply.citations or self.citations, informed=self.informed,
            handoff=state.handoff if self.parts.handoff is not None else None,
            status=state.status, trace=self.trace,
        )


MAX_ERROR_CHARS = 500  # enough to read the cause in a trace; a huge message (a dumped payload) is cut


def _message(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


def _describe(exc: BaseException) -> str:
    from actors.runtime.errors import unwrap

    cause = unwrap(exc)
    return f"{type(cause).__name__}: {_message(cause)}"


def _summary(action: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v}" for k, v in action.get("args", {}).items() if not isinstance(v, (dict, list)))
    return f"{action['tool']}({args})"
