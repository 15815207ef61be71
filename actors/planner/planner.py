"""Planner: runs one customer turn end to end by composing the other agents.

Per turn: load the conversation → read the message (intent agent: intents, entities, signals; or the answer to
what we asked) → escalation rules → identity first, then the active issue's playbook (technical agent), with a
knowledge lookup in parallel when an issue starts → reply (dialogue agent) → one atomic append to the turns log.
An issue that ends writes its episode. Agent calls that are safe to repeat are retried when a replica dies; writes
inside a playbook carry idempotency keys, so a retried technical step never applies a write twice.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable

from actors.agents.escalation import called_for_rules
from actors.planner import route
from actors.planner.conversation import ConversationState, ConversationStore, EpisodeSink, Issue, TurnRecord
from actors.planner.privacy import Privacy
from actors.planner.replay import commit_once, replayed
from actors.planner.turn import TurnBuilder
from actors.runtime.oss_bss import RemoteToolPort
from actors.runtime.retry import call_agent
from telco.contract.episode import Episode, EpisodeStep, Handoff
from telco.contract.http import (
    ConversationCreated,
    ConversationOut,
    FeedbackIn,
    HandoffOut,
    MessageIn,
    NewConversation,
    TurnOut,
)
from telco.contract.messages import (
    Entities,
    EscalationDecision,
    EscalationFacts,
    IntentResult,
    KnowledgeRequest,
    Reply,
    SlotRequest,
    TechnicalRequest,
    TechnicalResult,
)
from telco.contract.principal import Principal
from telco.contract.trace import INTERNAL_ERROR
from telco.errors import Forbidden, NotFound
from telco.intents import conflicting_pair, intent_thresholds, load_intents
from telco.playbooks.runner import RunState
from telco.policy import load_policy

log = logging.getLogger(__name__)

# Replies for when the dialogue agent itself could not write one (its templates are out of reach then): after the
# hand-over of a failed turn, and when even the hand-over failed and nothing was changed for the customer.
ERROR_REPLY = ("Sorry, something went wrong on our side. A colleague from our customer support team will take over "
               "this conversation and reply here; they can see everything we've covered.")
RETRY_REPLY = "Sorry, something went wrong on our side and I couldn't finish that. Please try again in a few minutes."


def owner_of_new_conversation(principal: Principal, requested: str | None) -> str | None:
    """A customer key opens conversations only for its own customer; other roles may name any customer or none."""
    if principal.role != "customer":
        return requested
    if requested and requested != principal.customer_id:
        raise Forbidden("a customer key can only open conversations for its own customer")
    return principal.customer_id


def new_conversation_id() -> str:
    # Base32 (a-z, 2-7), not hex: a long run of digits in an id can look like a card number to redaction.
    return "conv-" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Planner:
    def __init__(self, *, intent: Any, technical: Any, knowledge: Any, dialogue: Any, escalation: Any,
                 oss_bss: Any, store: ConversationStore, episodes: EpisodeSink | None = None,
                 clock: Callable[[], datetime] = utcnow, llm: Any = None, ops: Any = None) -> None:
        self.intent, self.technical, self.knowledge = intent, technical, knowledge
        self.dialogue, self.escalation, self.oss_bss = dialogue, escalation, oss_bss
        self.store, self.episodes, self.clock = store, episodes, clock
        self.llm = llm  # actors.planner.llm_brain.ClaudeBrain when an API key is configured; None: offline
        self.ops = ops  # actors.operations.turn_hooks.Operations: area incidents, metrics, the monitor
        self.privacy = Privacy(oss_bss)  # other customers' identifiers out of model requests and the turns log
        self._background: set[asyncio.Task] = set()

    # ---- conversations ---------------------------------------------------------------------------------
    async def start_conversation(self, principal: Principal, body: NewConversation) -> ConversationCreated:
        customer_id = owner_of_new_conversation(principal, body.customer_id)
        now = self.clock()
        state = ConversationState(conversation_id=new_conversation_id(), customer_id=customer_id,
                                  channel=body.channel, created_at=now, updated_at=now)
        if principal.role == "customer":
            # The channel authenticated the customer (logged-in app): identity is already proved.
            state.identity.verified_customer_id = customer_id
        await self.store.create(state)
        return ConversationCreated(conversation_id=state.conversation_id, customer_id=customer_id,
                                   channel=state.channel)

    async def get_conversation(self, principal: Principal, conversation_id: str) -> ConversationOut:
        state = await self._load(principal, conversation_id)
        turns = await self.store.transcript(conversation_id)
        return ConversationOut(conversation_id=conversation_id, customer_id=state.customer_id,
                               channel=state.channel, status=state.status, turns=turns)

    async def feedback(self, principal: Principal, conversation_id: str, body: FeedbackIn) -> dict[str, Any]:
        state = await self._load(principal, conversation_id)
        await self.drain()  # this replica may still be writing the episodes the feedback is about
        state.feedback = body.model_dump()
        if self.episodes is not None:
            for issue in state.issues:
                if issue.episode_id:
                    await self.episodes.feedback(issue.episode_id, state.customer_id, body.csat, body.resolved)
        await self.store.save_state(state)
        if self.ops is not None:
            self.ops.feedback(body.csat, body.resolved)
        return {"conversation_id": conversation_id, "recorded": True}

    async def _load(self, principal: Principal, conversation_id: str) -> ConversationState:
        state = await self.store.load(conversation_id)
        if state is None:
            raise NotFound(f"no conversation with id {conversation_id!r}", kind="conversation", id=conversation_id)
        if principal.role == "customer" and state.customer_id != principal.customer_id:
            raise Forbidden("this conversation belongs to another customer")
        return state

    # ---- one turn --------------------------------------------------------------------------------------
    async def handle_turn(self, principal: Principal, conversation_id: str, body: MessageIn) -> TurnOut:
        started = time.perf_counter()
        state = await self._load(principal, conversation_id)
        if (again := await replayed(self.store, state, body)) is not None:
            return again  # sent again after a lost answer: the turn it already made
        # Once verified, other customers' identifiers in the message serve no purpose: no agent, model, trace or log
        # of this turn sees them.
        body = await self.privacy.message(state, body)
        seq = state.turns + 1
        turn = TurnBuilder(conversation_id, seq, principal)
        turn.llm = route.begin(self.llm, state, seq, turn)  # the Claude path's turn; None offline
        if state.status == "handed_off":
            turn.parts.handoff = EscalationDecision(escalate=True, rule="already_with_person",
                                                    reason=state.handoff.reason if state.handoff else "",
                                                    queue=state.handoff.queue if state.handoff else "support")
        else:
            try:
                await self._progress(state, body, turn)
            except Exception as exc:  # noqa: BLE001 - whatever escapes the flows ends the turn with a person
                await self._hand_over_on_error(state, turn, exc)
            finally:
                await _settle(turn)
        reply = await self._reply(state, body, turn)
        self._not_disposed(state, turn)
        out = turn.finish(state, reply, latency_ms=(time.perf_counter() - started) * 1000)
        state.turns, state.updated_at = seq, self.clock()
        ended = self._name_ended_episodes(state)
        record = TurnRecord(turn_id=out.turn_id, seq=seq, customer_text=body.text, out=out)
        if (again := await commit_once(self.store, state, record, body)) is not None:
            return again  # a concurrent attempt of the same message committed first
        if self.ops is not None:
            self.ops.after_commit(out, ended)
        if self.episodes is not None and ended:
            # After the commit and off the reply's path: an episode is derived from turns that are already
            # durable, so a lost episode write can be rebuilt from the log.
            task = asyncio.create_task(self._record_episodes(episodes_of(state, ended)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return out

    async def _reply(self, state: ConversationState, body: MessageIn, turn: TurnBuilder) -> Reply:
        if turn.trace.error is not None and state.status != "handed_off":
            return Reply(text=RETRY_REPLY)  # the turn failed and no person could take over: say so, promise nothing
        try:
            reply = await self._agent(turn, "dialogue", self.dialogue.compose, turn.parts)
            if turn.llm is not None:
                reply = await route.write(self, state, body, turn, reply)
            return reply
        except Exception as exc:  # noqa: BLE001 - a reply that cannot be written still ends the turn with a person
            if turn.trace.error is not None:
                log.exception("turn %s:%d: no reply after an earlier failure", state.conversation_id, turn.seq)
            else:
                await self._hand_over_on_error(state, turn, exc)
        return Reply(text=ERROR_REPLY if state.status == "handed_off" else RETRY_REPLY)

    async def _hand_over_on_error(self, state: ConversationState, turn: TurnBuilder, exc: BaseException) -> None:
        """Something inside the turn failed (not a replica that died: those calls were retried already). The
        customer's message was valid, so they get an apology and a person, who sees the whole context and the error;
        the trace names the agent and the error, and the hand-over counts as an error, never as one called for."""
        error = turn.failed(exc)
        log.error("turn %s:%d failed in %s: %s: %s", state.conversation_id, turn.seq, error.agent, error.type,
                  error.message, exc_info=(type(exc), exc, exc.__traceback__))
        # What the turn had asked of the customer no longer stands: a person picks it up from here.
        turn.parts.request, turn.parts.clarify, turn.parts.closing, turn.parts.reask = None, [], False, None
        state.clarifying = []
        if state.status == "handed_off":
            return  # a person already has the conversation (from this turn or before): one hand-over is enough
        # The reason travels with the reply to the client: the error's own message (which may quote account data)
        # goes only to the person, in the hand-over's context, and to the trace.
        decision = EscalationDecision(escalate=True, rule=INTERNAL_ERROR, queue="support",
                                      reason=f"internal error in {error.agent} ({error.type})")
        try:
            await self._hand_over(state, decision, turn, key=f"{state.conversation_id}/handoff/{INTERNAL_ERROR}/"
                                                              f"{turn.seq}")
        except Exception:  # noqa: BLE001 - no person could be reached either: the reply asks to try again
            log.exception("turn %s:%d: the hand-over after the failure failed too", state.conversation_id, turn.seq)

    async def drain(self) -> None:
        """Wait for the episodes this planner is still writing (before shutting down)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _record_episodes(self, episodes: list[Episode]) -> None:
        for episode in episodes:
            try:
                await self.episodes.record(episode)
            except Exception:
                log.exception("episode %s not written", episode.episode_id)

    async def _progress(self, state: ConversationState, body: MessageIn, turn: TurnBuilder) -> None:
        pending = self._pending(state)
        # Read by the classifier or the model: the mode setting and the hybrid rules decide (route.py)
        understood: IntentResult = await route.understand(self, state, body, turn, pending)
        turn.understood(understood)
        if state.identity.verified_customer_id is None:
            # Details of who they are the customer gives along the way (a number in the first message) are kept
            # for the identify flow, which then does not ask for them.
            state.identity_given.update(identity_details(understood.entities))
        answer, has_answer = None, False
        if pending is not None:
            answer, has_answer = await self._read_answer(state, pending, body, turn)
        elif not await self._open_issues(state, body, understood, turn):
            if turn.unsure:
                # High uncertainty: the help pages may still answer it; if not, the reply asks what they need.
                answer = await self._knowledge_task(turn, KnowledgeRequest(
                    question=body.text, question_vector=understood.text_vector))
                turn.knowledge(answer, in_reply=True, even_unsure=True, question=body.text)
            return
        if turn.knowledge_question and turn.early_knowledge is None:
            # A read: started before the escalation check so that the two overlap; a hand-over drops it (_settle).
            turn.early_knowledge = (turn.knowledge_question, self._knowledge_task(turn, KnowledgeRequest(
                question=turn.knowledge_question, intent=turn.parts.intent, question_vector=turn.knowledge_vector)))
        decision = await self._agent(turn, "escalation", self.escalation.decide,
                                     self._facts(state, understood, turn, new_issue=pending is None))
        if decision.escalate:
            await self._hand_over(state, decision, turn)
            return
        if pending is not None and not has_answer:
            return  # re-asked; nothing else moves this turn
        if turn.llm is not None and await self._dispose_proposal(state, turn):
            return
        await self._advance(state, turn, answer, has_answer)

    # ---- reading the customer --------------------------------------------------------------------------
    def _pending(self, state: ConversationState):
        if state.identify_run is not None and state.identify_run.pending is not None:
            return state.identify_run.pending
        active = state.active
        return active.run.pending if active and active.run and active.run.pending else None

    async def _read_answer(self, state: ConversationState, pending, body: MessageIn, turn: TurnBuilder):
        # Unreadable answers are counted on the issue the escalation rules look at (_facts): while the customer is
        # being identified no issue is active yet, and an uncounted re-ask could go on forever.
        issue = state.active or state.next_pending
        # _pending puts the identify run's question first: when it has one, this is it.
        identifying = state.identify_run is not None and state.identify_run.pending is not None
        if pending.kind == "customer_step":
            result = next((r for r in body.step_results if r.step_id == pending.id), None)
            if result is not None:
                return {**result.observation, "step_id": result.step_id, "done": result.done}, True
            problem = "I still need the result of this step before we go on."
        else:
            slot = await self._agent(turn, "intent", self.intent.read_slot,
                                     SlotRequest(text=body.text, slot=pending.id, kind=pending.expect))
            if slot.ok:
                if issue:
                    issue.reasks = 0
                return slot.value, True
            problem = slot.problem or "I couldn't read that answer."
        if identifying:
            run = state.identify_run
            if run.asked.get(pending.id, 0) >= load_policy().identity.max_failed_attempts:
                # Asked as often as policy allows any identity question: an answer that still cannot be read
                # counts as a detail the customer does not have, and the identify flow moves on (another
                # method, or a person) instead of asking again.
                return None, True
            run.reasked()
        if issue:
            issue.reasks += 1
        turn.parts.reask = problem
        turn.parts.request = pending
        return None, False

    async def _open_issues(self, state: ConversationState, body: MessageIn, understood: IntentResult,
                           turn: TurnBuilder) -> bool:
        """Turn what the customer asked into issues. False when we must first ask what they meant."""
        candidates = understood.intents
        answered_choice = False
        if state.clarifying:
            # The customer was asked to choose: the offered intent their answer reads closest to is their choice,
            # however confident the reading of the answer alone is.
            offered = {x.intent for x in state.clarifying}
            chosen = sorted((c for c in [*candidates, *understood.alternatives] if c.intent in offered),
                            key=lambda c: -c.confidence)
            state.clarifying = []
            if chosen:
                candidates, answered_choice = chosen[:1], True
        bar = intent_thresholds()
        top = candidates[0] if candidates else None
        choices = [*candidates[:1], *understood.alternatives]
        if (top is not None and top.confidence < bar.unsure_below and len(choices) == 1 and not answered_choice
                and not understood.signals.wants_person):
            turn.unsure = True  # one weak reading and nothing else to offer
            return False
        unclear = top is None or (top.confidence < bar.clarify_below and len(choices) > 1)
        if unclear and not answered_choice and not understood.signals.wants_person:
            state.clarifying = choices[:bar.clarify_options]
            state.pending_text = body.text
            turn.parts.clarify = choices[:bar.clarify_options]
            return False
        catalogue = load_intents()
        kept = [top] + [c for c in candidates[1:] if c.confidence >= bar.secondary_min and c.intent != top.intent]
        now = self.clock()
        said = understood.entities.phones[0] if understood.entities.phones else None
        for score in kept:
            if score.intent in catalogue:
                state.issues.append(Issue(intent=score.intent, confidence=score.confidence, opened_at=now,
                                          line_number=said))
        turn.parts.acknowledge = True
        turn.parts.intent = top.intent
        turn.conflicting = conflicting_pair([k.intent for k in kept])
        turn.knowledge_question = state.pending_text if answered_choice and state.pending_text else body.text
        if turn.knowledge_question == body.text:
            turn.knowledge_vector = understood.text_vector
        state.pending_text = ""
        return True

    def _facts(self, state: ConversationState, understood: IntentResult, turn: TurnBuilder,
               new_issue: bool) -> EscalationFacts:
        issue = state.active or state.next_pending
        return EscalationFacts(intents=understood.intents if new_issue else [], conflicting=turn.conflicting,
                               signals=understood.signals, unreadable_answers=issue.reasks if issue else 0,
                               turns_in_issue=issue.turns if issue else 0)

    # ---- acting ----------------------------------------------------------------------------------------
    async def _advance(self, state: ConversationState, turn: TurnBuilder, answer: Any, has_answer: bool) -> None:
        knowledge_task = None
        if turn.knowledge_question:
            knowledge_task = self._knowledge_task(turn, KnowledgeRequest(
                question=turn.knowledge_question, intent=turn.parts.intent, question_vector=turn.knowledge_vector))
        try:
            await self._run_flows(state, turn, answer, has_answer)
        except Exception as exc:
            if self.ops is None or not await self.ops.backend_down(state, turn, exc):
                raise
        finally:
            if knowledge_task is not None:
                spec = load_intents().get(turn.parts.intent or "")
                turn.knowledge(await knowledge_task, in_reply=bool(spec and spec.kb_in_reply))

    def _knowledge_task(self, turn: TurnBuilder, request: KnowledgeRequest) -> asyncio.Task:
        """The lookup started early for the same question (Claude path), else a new one."""
        early = turn.early_knowledge
        if early is not None and early[0] == request.question:
            turn.early_knowledge = None
            return early[1]
        return asyncio.create_task(self._agent(turn, "knowledge", self.knowledge.answer, request))

    async def _run_flows(self, state: ConversationState, turn: TurnBuilder, answer: Any, has_answer: bool) -> None:
        catalogue = load_intents()
        for _ in range(8):  # identity, then each issue in order, until one waits for the customer or hands over
            if state.identity.verified_customer_id is None and self._identity_now(state):
                run = await self._technical(state, turn, state.identify_run, "identify", answer, has_answer,
                                            given=state.identity_given)
                answer, has_answer = None, False
                state.identify_run = None if run.finished else run
                if run.status == "resolved":
                    state.customer_id = state.identity.verified_customer_id
                    continue
                if run.status == "escalated":
                    self._mark_handed_off(state, run, turn)
                return
            issue = state.active
            if issue is None:
                issue = state.next_pending
                if issue is None:
                    state.status = "resolved" if state.issues else "open"
                    return
                spec = catalogue[issue.intent]
                if spec.playbook is None:
                    await self._hand_over(state, EscalationDecision(
                        escalate=True, rule=f"intent_{issue.intent}", queue=spec.handoff_queue or "support",
                        reason=f"the customer asked for {spec.description.lower()}"), turn)
                    return
                issue.status = "active"
                if self.ops is not None and await self.ops.screen(state, issue, turn):
                    continue  # an area incident, told before any troubleshooting, ends the issue
            spec = catalogue[issue.intent]
            issue.turns += 1
            run = await self._technical(state, turn, issue.run, None if issue.run else spec.playbook,
                                        answer, has_answer, line_number=issue.line_number)
            answer, has_answer = None, False
            issue.run = run
            if run.needs == "identity":
                continue  # the flow needs the account now: verify the customer, then it goes on
            if run.status == "waiting":
                state.status = "waiting_customer"
                return
            issue.status = "resolved" if run.status == "resolved" else "escalated"
            issue.closed_at = self.clock()
            if run.status != "resolved":
                self._mark_handed_off(state, run, turn)
                return

    async def _technical(self, state: ConversationState, turn: TurnBuilder, run: RunState | None,
                         start: str | None, answer: Any, has_answer: bool,
                         line_number: str | None = None, given: dict[str, str] | None = None) -> RunState:
        before = run
        result: TechnicalResult = await self._agent(turn, "technical", self.technical.step, TechnicalRequest(
            conversation_id=state.conversation_id, identity=state.identity, run=run, principal=turn.principal,
            start_playbook=start if run is None else None, answer=answer, has_answer=has_answer and run is not None,
            line_number=line_number if run is None else None, given=given or {}))
        state.identity = result.identity
        turn.ran(before, result)
        return result.run

    def _identity_now(self, state: ConversationState) -> bool:
        """Whether to verify the customer before going on. A flow that can start on the customer's own phone runs
        until it first needs the account, and its run says so (needs == "identity"); other flows ask at once."""
        if state.identify_run is not None:
            return True
        issue = state.active or state.next_pending
        if issue is None:
            # Nothing left to do: verifying now would only ask questions about a problem already dealt with. With no
            # issue at all yet, verify as before (what the customer wants will need the account).
            return not state.issues
        if issue.run is None:
            spec = load_intents().get(issue.intent)
            return spec is None or spec.playbook is None  # a hand-over to a person goes with a verified customer
        return issue.run.needs == "identity"

    def _mark_handed_off(self, state: ConversationState, run: RunState, turn: TurnBuilder) -> None:
        handoff = next((a for a in reversed(run.actions) if a["tool"] == "transfer_to_person"), None)
        args = handoff["args"] if handoff else {}
        state.status = "handed_off"
        state.handoff = HandoffOut(handoff_id=run.handoff_id, queue=args.get("queue", "support"),
                                   reason=args.get("reason", "the playbook could not resolve the issue"),
                                   called_for=bool(args.get("context", {}).get("called_for")))
        turn.parts.handoff = EscalationDecision(escalate=True, rule="playbook_handoff", reason=state.handoff.reason,
                                                queue=state.handoff.queue)

    async def _hand_over(self, state: ConversationState, decision: EscalationDecision, turn: TurnBuilder,
                         key: str | None = None) -> None:
        port = RemoteToolPort(self.oss_bss, state.conversation_id, state.identity, turn.principal)
        summary = turn.summary(state)
        try:
            result = await port.call("transfer_to_person", {
                "customer_id": state.identity.verified_customer_id, "reason": decision.reason or decision.rule or "",
                "queue": decision.queue, "summary": summary, "context": turn.handoff_context(state)},
                idempotency_key=key or f"{state.conversation_id}/handoff/{decision.rule}")
        finally:
            turn.tool_calls(port.calls)  # a failed transfer is in the trace too
        for issue in state.issues:
            if issue.status in ("pending", "active"):
                issue.status, issue.closed_at = "escalated", self.clock()
                issue.handoff_rule = decision.rule
        state.status = "handed_off"
        state.handoff = HandoffOut(handoff_id=result.get("handoff_id"), queue=decision.queue,
                                   reason=decision.reason or "", called_for=decision.rule in called_for_rules())
        turn.parts.handoff = decision
        # A person takes over: the reply asks nothing any more (not even the question an unreadable answer left).
        turn.parts.request, turn.parts.reask = None, None
        turn.escalated(decision)
        if decision.rule:
            turn.informed.append(decision.rule)  # the customer is told why a person takes over

    # ---- the Claude path (actors/planner/llm_brain.py, route.py): the model proposes, code disposes ---------------
    async def _dispose_proposal(self, state: ConversationState, turn: TurnBuilder) -> bool:
        """True when the proposal handed the conversation to a person (nothing else moves this turn)."""
        from actors.planner.dispose import dispose

        plan = turn.llm.plan
        turn.llm.disposed = True
        done = await dispose(plan.next_action if plan else None, state, turn, self.oss_bss,
                             turn.llm.issues_before, self.clock())
        if done.handoff is not None:
            await self._hand_over(state, done.handoff, turn)
            return True
        return False

    @staticmethod
    def _not_disposed(state: ConversationState, turn: TurnBuilder) -> None:
        """The turn went another way before the proposal's disposal (it asked what the customer meant, waited for
        an answer, handed over, failed): the proposal was not run, and trace.refusals says so and why."""
        from actors.planner.dispose import not_executed

        lt = turn.llm
        if lt is not None and lt.plan is not None and not lt.disposed:
            not_executed(lt.plan.next_action, state, turn)

    # ---- plumbing --------------------------------------------------------------------------------------
    async def _agent(self, turn: TurnBuilder, name: str, method: Any, request: Any) -> Any:
        started = time.perf_counter()
        try:
            result, attempts = await call_agent(method, request)
        except Exception as exc:
            turn.agent_failed(name, (time.perf_counter() - started) * 1000, exc)
            raise
        turn.agent(name, (time.perf_counter() - started) * 1000, attempts, getattr(result, "mode", "offline"))
        return result

    def _name_ended_episodes(self, state: ConversationState) -> list[Issue]:
        ended = []
        for n, issue in enumerate(state.issues):
            if issue.status in ("resolved", "escalated") and issue.episode_id is None and state.customer_id:
                issue.episode_id = f"{state.conversation_id}:{n}"
                ended.append(issue)
        return ended


def identity_details(entities: Entities) -> dict[str, str]:
    """What a message says about who the customer is, by the identify flow's slot names. Only what is unambiguous:
    two numbers, or a first name alone, leave the question to the flow."""
    given: dict[str, str] = {}
    if len(entities.phones) == 1:
        given["phone"] = entities.phones[0]
    if len(entities.customer_ids) == 1:
        given["customer_id"] = entities.customer_ids[0]
    full = [n for n in entities.names if len(n.split()) >= 2]
    if len(full) == 1:
        given["full_name"] = full[0]
    return given


async def _settle(turn: TurnBuilder) -> None:
    """An early knowledge lookup the turn did not use (it asked what the customer meant, or handed over): stopped,
    so that no task outlives its turn; its answer and any error are dropped."""
    if turn.early_knowledge is not None:
        (_, task), turn.early_knowledge = turn.early_knowledge, None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def episodes_of(state: ConversationState, issues: list[Issue]) -> list[Episode]:
    """The episodes of the issues that ended this turn. The turn is already committed: an issue whose episode does
    not validate is logged and left out, never fails the turn."""
    out = []
    for issue in issues:
        try:
            out.append(episode_of(state, issue))
        except ValueError:  # pydantic's ValidationError
            log.exception("episode %s not written", issue.episode_id)
    return out


def episode_of(state: ConversationState, issue: Issue) -> Episode:
    """The issue as an episode for episodic memory: the playbook version and the prompt versions as fields, the
    steps as they ran, and why a person took over as the last step."""
    run = issue.run
    # "diagnosis": how a closed loop ended (its Finish), in its place among the loop's own steps.
    steps = [EpisodeStep(name=r.name, kind=r.kind, result=r.error or r.result, ok=r.error is None)
             for r in (run.history if run else []) if r.kind in ("tool", "customer_step", "ask", "inform", "diagnosis")]
    if issue.status == "escalated" and state.handoff is not None:
        # Why a person took over, so the learning jobs can tell a hand-over the situation called for from a failure.
        steps.append(EpisodeStep(name="transfer_to_person", kind="handoff", ok=True, result=Handoff(
            rule=issue.handoff_rule or "playbook_handoff", queue=state.handoff.queue, reason=state.handoff.reason,
            called_for=state.handoff.called_for)))
    service = (run.scope.get("service_id") or run.scope.get("line_id")) if run else None
    told = f"; told the customer: {', '.join(run.informed)}" if run and run.informed else ""
    # The summary is prose for people and the similarity search; the playbook version is a field of its own.
    return Episode(
        episode_id=issue.episode_id, customer_id=state.customer_id, conversation_id=state.conversation_id,
        channel=state.channel, issue_key=f"{issue.intent}:{service or state.customer_id}",
        summary=f"{issue.intent.replace('_', ' ')} {issue.status} after {issue.turns} turns"
                f" with playbook {f'{run.playbook_id} v{run.version}' if run else 'none'}{told}",
        intents=[issue.intent], service_type=run.scope.get("service_kind") if run else None,
        playbook=run.playbook_id if run else None, playbook_version=run.version if run else None,
        prompts=list(state.prompts_served), steps=steps, outcome=issue.status,
        started_at=issue.opened_at, ended_at=issue.closed_at or issue.opened_at,
    )
