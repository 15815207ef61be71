"""Runs a playbook against the operator's tools, one step at a time, pausing whenever the customer must act.

The run is a plain, serialisable state (RunState) so an agent can keep it in working memory between turns and
resume it after a restart. Pure Python and deterministic: the same world, answers and playbook give the same run.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from telco.errors import TelcoError
from telco.playbooks import diagnosis as dx
from telco.playbooks.expressions import holds, render
from telco.playbooks.scope import SCOPE_KEY, locate, scope_words
from telco.playbooks.spec import Playbook, Step
from telco.tools.port import ToolPort

MAX_STEPS_PER_ADVANCE = 60
LOOP_KEY = "diagnosis_loop"  # the closed loop's state in RunState.vars
# "No answer yet" differs from an answer of None ("I don't know" / "no thanks"), which branches like any other.
NO_ANSWER: Any = object()


class StepRecord(BaseModel):
    step_id: str
    # "diagnosis": how a `diagnose` step's closed loop ended (its result is the loop's Finish), recorded where the
    # loop ended so that a run of a closed-loop flow can be traced like any other step.
    kind: Literal["say", "tool", "customer_step", "ask", "inform", "end", "continue_with", "diagnosis"]
    name: str
    text: str | None = None  # what the customer was told or asked, word for word
    args: dict[str, Any] = {}
    result: Any = None
    error: dict[str, Any] | None = None


class CustomerRequest(BaseModel):
    """What the run needs from the customer before it can go on."""

    kind: Literal["customer_step", "ask"]
    id: str  # the customer step id, or the slot name for an ask
    text: str  # one clear instruction or question
    step_id: str  # the playbook step waiting for it
    expect: str = "text"  # for an ask: the kind of answer wanted (see Step.expect)
    # "scope": which of the customer's lines the flow is about (the answer settles the scope, the step waits on)
    purpose: Literal["step", "scope"] = "step"


class RunState(BaseModel):
    playbook_id: str
    version: int
    scope: dict[str, Any]
    vars: dict[str, Any] = {}
    slots: dict[str, Any] = {}
    current: str | None
    status: Literal["running", "waiting", "resolved", "escalated", "failed"] = "running"
    pending: CustomerRequest | None = None
    history: list[StepRecord] = []
    informed: list[str] = []
    messages: list[str] = []
    actions: list[dict[str, Any]] = []  # write tools that took effect
    handoff_id: str | None = None
    # "identity": the next step reads or changes the account and the customer is not verified yet; whoever runs
    # the flow verifies them, then advances it again.
    needs: Literal["identity"] | None = None
    # How many times each slot's question has been put to the customer, re-asks of an unreadable answer included
    # (see reasked): a flow can cap a question with it (the identify flow never asks one more often than policy's
    # attempt limit).
    asked: dict[str, int] = {}

    @property
    def finished(self) -> bool:
        return self.status in {"resolved", "escalated", "failed"}

    def reasked(self) -> None:
        """The pending question was put again because its answer could not be read."""
        if self.pending is not None and self.pending.kind == "ask":
            self.asked[self.pending.id] = self.asked.get(self.pending.id, 0) + 1


def customer_step_text(step_id: str) -> str:
    from telco.sandbox.customer_steps import list_customer_steps

    for spec in list_customer_steps():
        if spec.id == step_id:
            return spec.instruction
    raise KeyError(f"unknown customer step {step_id!r}")


class PlaybookRunner:
    def __init__(self, playbooks: dict[str, Playbook]) -> None:
        self.playbooks = playbooks

    async def start(self, playbook_id: str, port: ToolPort, scope: dict[str, Any],
                    slots: dict[str, Any] | None = None) -> RunState:
        """`slots`: what the customer already said that a step would otherwise ask (e.g. line_number)."""
        book = self.playbooks[playbook_id]
        state = RunState(playbook_id=book.id, version=book.version, scope=scope, slots=dict(slots or {}),
                         current=book.start)
        if book.requires_identity is True and not await self._ensure_scope(state, port):
            return state  # the service to work on is asked first
        return await self.advance(state, port)

    async def advance(self, state: RunState, port: ToolPort, answer: Any = NO_ANSWER) -> RunState:
        """Go on until the customer is needed or the run ends. `answer` fulfils the pending request."""
        if state.finished:
            return state
        state = state.model_copy(deep=True)
        book = self.playbooks[state.playbook_id]
        if state.needs == "identity":
            if port.verified_customer_id is None:
                return state  # still waiting for verification
            state.needs, state.status = None, "running"
            if book.requires_identity is True and not await self._ensure_scope(state, port):
                return state
        if state.pending is not None:
            if answer is NO_ANSWER:
                return state  # still waiting; nothing to do
            if state.pending.purpose == "scope":
                self._accept_scope_answer(state, answer)
            else:
                self._accept_answer(state, book.step(state.pending.step_id), answer)
        for _ in range(MAX_STEPS_PER_ADVANCE):
            if state.current is None or state.status == "waiting" or state.finished:
                return state  # done, or waiting for the customer (a step, an answer, verification)
            await self._run_step(state, book.step(state.current), port)
        state.status = "failed"
        state.messages.append(f"playbook {book.id} exceeded {MAX_STEPS_PER_ADVANCE} steps without pausing")
        return state

    # ---- one step ---------------------------------------------------------------------------------
    def _namespace(self, state: RunState, result: Any = None) -> dict[str, Any]:
        return {"scope": state.scope, "vars": state.vars, "slots": state.slots, "asked": state.asked, "result": result}

    async def _run_step(self, state: RunState, step: Step, port: ToolPort) -> None:
        ns = self._namespace(state)
        if step.message:
            text = render(step.message, ns)
            state.messages.append(text)
            state.history.append(StepRecord(step_id=step.id, kind="say", name=step.id, text=text))
        if step.tool:
            if await self._ensure_scope(state, port):
                await self._run_tool(state, step, port)
        elif step.diagnose:
            await self._diagnose(state, step, port)
        elif step.customer_step:
            state.pending = CustomerRequest(kind="customer_step", id=step.customer_step,
                                            text=customer_step_text(step.customer_step), step_id=step.id)
            state.status = "waiting"
        elif step.ask:
            state.pending = CustomerRequest(kind="ask", id=step.ask, text=render(step.question, ns), step_id=step.id,
                                            expect=step.expect)
            state.asked[step.ask] = state.asked.get(step.ask, 0) + 1
            state.status = "waiting"
        elif step.inform:
            state.informed.append(step.inform)
            state.history.append(StepRecord(step_id=step.id, kind="inform", name=step.inform))
            self._move_on(state, step, None)
        elif step.end:
            await self._end(state, step, port)
        elif step.continue_with:
            other = self.playbooks[step.continue_with]
            state.history.append(StepRecord(step_id=step.id, kind="continue_with", name=other.id))
            state.playbook_id, state.version, state.current = other.id, other.version, other.start

    async def _run_tool(self, state: RunState, step: Step, port: ToolPort) -> None:
        args = render(step.args, self._namespace(state))
        visits = sum(1 for r in state.history if r.step_id == step.id)
        # Stable per conversation, playbook step and visit: a retried turn never applies a write twice.
        key = f"{port.conversation_id}/{state.playbook_id}/{step.id}/{visits}"
        record = StepRecord(step_id=step.id, kind="tool", name=step.tool, args=args)
        try:
            result = await port.call(step.tool, args, idempotency_key=key)
        except TelcoError as err:
            record.error = err.to_dict()
            state.history.append(record)
            if step.on_error is None:
                raise
            state.vars["last_error"] = record.error
            state.current = step.on_error
            return
        record.result = result
        state.history.append(record)
        if _is_write(step.tool):
            state.actions.append({"tool": step.tool, "args": args, "result": result})
        if step.save_as:
            state.vars[step.save_as] = result
        self._move_on(state, step, result)

    def _accept_answer(self, state: RunState, step: Step, answer: Any) -> None:
        pending = state.pending
        assert pending is not None
        kind = "customer_step" if pending.kind == "customer_step" else "ask"
        state.history.append(StepRecord(step_id=step.id, kind=kind, name=pending.id, text=pending.text, result=answer))
        if step.diagnose:
            state.pending, state.status = None, "running"
            self._diagnosis_answer(state, pending, answer)
            return  # the loop goes on from the same step
        if pending.kind == "ask":
            state.slots[pending.id] = answer
        if step.save_as:
            state.vars[step.save_as] = answer
        state.pending = None
        state.status = "running"
        self._move_on(state, step, answer)

    def _move_on(self, state: RunState, step: Step, result: Any) -> None:
        ns = self._namespace(state, result)
        for branch in step.branches:
            if holds(branch.when, ns):
                state.current = branch.goto
                return
        state.current = step.next

    # ---- which service: settled when a step first needs the account ------------------------------------------
    async def _ensure_scope(self, state: RunState, port: ToolPort) -> bool:
        """True when the scope holds the service this flow is about; else the run waits (for verification or for
        the customer to say which line) or has ended (the account has no such service)."""
        book = self.playbooks[state.playbook_id]
        if book.requires_identity is False or state.scope.get(SCOPE_KEY[book.service]):
            return True  # a flow that establishes identity itself works on no service
        customer_id = port.verified_customer_id
        if customer_id is None:
            state.needs, state.status = "identity", "waiting"
            return False
        details = await port.call("get_customer_details", {"customer_id": customer_id})
        located = locate(details, book.service, state.scope.get("requested_service_id"),
                         state.slots.get("line_number"))
        words = scope_words()
        if located.missing:
            text = words.not_on_account.format(service=words.service_names.get(book.service, "that service"))
            self._tell(state, state.current or book.start, "service_not_on_account", text)  # RUNNER_NOTICES
            state.current, state.status = None, "resolved"
            return False
        if located.choices:
            asked = sum(1 for r in state.history if r.kind == "ask" and r.name == "line_number")
            if asked >= words.max_line_asks:
                located = locate(details, book.service, said_number=located.choices[0])
                self._tell(state, state.current or book.start, None,
                           words.starting_with.format(number=located.scope.get("number")))
                state.scope.update(located.scope)
                return True
            state.pending = CustomerRequest(
                kind="ask", id="line_number", step_id=state.current or book.start, expect="text", purpose="scope",
                text=words.which_line.format(numbers=" or ".join(located.choices)))
            state.status = "waiting"
            return False
        state.scope.update(located.scope)
        return True

    def _accept_scope_answer(self, state: RunState, answer: Any) -> None:
        pending = state.pending
        assert pending is not None
        state.history.append(StepRecord(step_id=pending.step_id, kind="ask", name=pending.id, text=pending.text,
                                        result=answer))
        state.slots[pending.id] = answer
        state.pending, state.status = None, "running"

    # ---- closed-loop diagnosis (telco/playbooks/diagnosis.py) -------------------------------------------------
    async def _diagnose(self, state: RunState, step: Step, port: ToolPort) -> None:
        cat = dx.load_catalogue()
        loop = dx.LoopState.model_validate(state.vars.get(LOOP_KEY, {}))
        try:
            for _ in range(MAX_STEPS_PER_ADVANCE):
                move = dx.next_move(cat, step.diagnose or "", loop)
                if isinstance(move, dx.Finish):
                    self._tell_finish(state, step, cat, loop, move)
                    result = move.model_dump()
                    state.history.append(StepRecord(step_id=step.id, kind="diagnosis", name=step.diagnose or "",
                                                    result=result))
                    state.vars[step.save_as or "diagnosis"] = result
                    self._move_on(state, step, result)
                    return
                if isinstance(move, dx.Look):
                    if not await self._look(state, step, port, cat, loop, cat.observation(move.observation)):
                        return
                    continue
                if not await self._act(state, step, port, cat, loop, move):
                    return
            state.status = "failed"
            state.messages.append(f"diagnosis towards {step.diagnose} made no progress")
        finally:
            state.vars[LOOP_KEY] = loop.model_dump(mode="json")

    async def _look(self, state: RunState, step: Step, port: ToolPort, cat: dx.Catalogue, loop: dx.LoopState,
                    obs: dx.Observation) -> bool:
        """Take the observation now (a read tool) and return True, or ask the customer and return False."""
        if obs.customer_step:
            self._ask_step(state, step, obs.customer_step)
            return False
        if not await self._ensure_scope(state, port):
            return False
        args = render(obs.args, self._loop_ns(state, loop))
        record = StepRecord(step_id=step.id, kind="tool", name=obs.tool or "", args=args)
        try:
            record.result = await port.call(obs.tool or "", args)
        except TelcoError as err:
            record.error = err.to_dict()  # what could not be read is judged as not showing the cause
        state.history.append(record)
        loop.record(cat, obs.id, record.result if record.error is None else {})
        return True

    async def _act(self, state: RunState, step: Step, port: ToolPort, cat: dx.Catalogue, loop: dx.LoopState,
                   move: dx.Act) -> bool:
        """One move of a fix. False when the run now waits for the customer (or for verification)."""
        cause = cat.cause(move.cause)
        if move.index < 0:
            text = cause.message and render(cause.message, self._loop_ns(state, loop))
            self._tell(state, step.id, cause.inform, text)
            loop.fixing = dx.Fixing(cause=cause.id)
            return True
        if move.index >= len(cause.fix):
            loop.causes[cause.id], loop.fixing = "fixed", None
            return True
        action = cause.fix[move.index]
        fixing = loop.fixing
        assert fixing is not None
        if action.inform:
            self._tell(state, step.id, action.inform,
                       action.message and render(action.message, self._loop_ns(state, loop)))
            fixing.index += 1
            return True
        if action.customer_step:
            self._ask_step(state, step, action.customer_step)
            return False
        if action.ask:
            state.pending = CustomerRequest(kind="ask", id=action.ask, step_id=step.id, expect=action.expect,
                                            text=render(action.question, self._loop_ns(state, loop)))
            state.status = "waiting"
            return False
        if not await self._ensure_scope(state, port):
            return False
        args = render(action.args, self._loop_ns(state, loop))
        key = f"{port.conversation_id}/{state.playbook_id}/{step.id}/{cause.id}/{move.index}"
        record = StepRecord(step_id=step.id, kind="tool", name=action.tool or "", args=args)
        try:
            record.result = await port.call(action.tool or "", args, idempotency_key=key)
        except TelcoError as err:
            record.error = err.to_dict()
            state.history.append(record)
            state.vars["last_error"] = record.error
            if action.refused is not None:
                self._tell(state, step.id, action.refused.inform,
                           render(action.refused.message, self._loop_ns(state, loop)))
            loop.causes[cause.id], loop.fixing = "failed", None  # refused by policy or the system: not ours to fix
            return True
        state.history.append(record)
        if _is_write(action.tool or ""):
            state.actions.append({"tool": action.tool, "args": args, "result": record.result})
            loop.changed("account")
        self._after_action(loop, action, record.result)
        return True

    def _tell_finish(self, state: RunState, step: Step, cat: dx.Catalogue, loop: dx.LoopState,
                     move: dx.Finish) -> None:
        """What the customer hears about the cause that ends the loop: the outage being repaired, the offer they
        turned down, or why a person takes over."""
        if move.cause is None:
            return
        cause = cat.cause(move.cause)
        told = {"stopped": cause.stop, "declined": cause.declined}.get(move.outcome)
        inform, message = (told.inform, told.message) if told else (cause.inform, cause.message)
        if move.outcome == "person" or told:
            self._tell(state, step.id, inform, message and render(message, self._loop_ns(state, loop)))

    def _diagnosis_answer(self, state: RunState, pending: CustomerRequest, answer: Any) -> None:
        cat = dx.load_catalogue()
        loop = dx.LoopState.model_validate(state.vars.get(LOOP_KEY, {}))
        fixing = loop.fixing
        action = (cat.cause(fixing.cause).fix[fixing.index]
                  if fixing is not None and 0 <= fixing.index < len(cat.cause(fixing.cause).fix) else None)
        if pending.kind == "ask":
            if action is not None and action.ask == pending.id:
                state.slots[pending.id] = answer
                accepted = holds(action.require, {"result": answer}) if action.require else bool(answer)
                if accepted:
                    fixing.index += 1
                else:
                    loop.causes[fixing.cause], loop.fixing = action.unmet, None
        else:
            result = answer if isinstance(answer, dict) else {}
            done = result.get("done", True) is not False
            is_fix = action is not None and action.customer_step == pending.id
            if is_fix and done:
                loop.changed(_step_target(pending.id))
            # A look the customer could not do still counts as taken: it shows nothing, so the loop moves on (to
            # what our systems can see, or to a person) instead of asking for it again.
            observer = _observer(pending.id)
            for obs in cat.observations:
                if obs.customer_step is None:
                    continue
                if obs.customer_step == pending.id or (done and _observer(obs.customer_step) == observer):
                    loop.record(cat, obs.id, result if done else {})
            if is_fix:
                if not done:
                    loop.causes[fixing.cause], loop.fixing = "failed", None  # the customer could not do it
                else:
                    self._after_action(loop, action, result)
        state.vars[LOOP_KEY] = loop.model_dump(mode="json")

    @staticmethod
    def _after_action(loop: dx.LoopState, action: dx.Action, result: Any) -> None:
        fixing = loop.fixing
        assert fixing is not None
        if action.require is not None and not holds(action.require, {"result": result}):
            loop.causes[fixing.cause], loop.fixing = action.unmet, None
        else:
            fixing.index += 1

    def _loop_ns(self, state: RunState, loop: dx.LoopState) -> dict[str, Any]:
        return {**self._namespace(state), "seen": {k: v.value for k, v in loop.seen.items()}}

    def _ask_step(self, state: RunState, step: Step, customer_step: str) -> None:
        state.pending = CustomerRequest(kind="customer_step", id=customer_step,
                                        text=customer_step_text(customer_step), step_id=step.id)
        state.status = "waiting"

    def _tell(self, state: RunState, step_id: str, notice: str | None, text: str | None) -> None:
        """Record a notice as told (it reaches the turn's `informed`) and say its sentence."""
        if notice:
            state.informed.append(notice)
            state.history.append(StepRecord(step_id=step_id, kind="inform", name=notice))
        if text:
            state.messages.append(text)
            state.history.append(StepRecord(step_id=step_id, kind="say", name=step_id, text=text))

    async def _end(self, state: RunState, step: Step, port: ToolPort) -> None:
        state.history.append(StepRecord(step_id=step.id, kind="end", name=step.end or ""))
        state.current = None
        if step.end == "escalated":
            handoff = render(step.handoff or {}, self._namespace(state))
            args = {
                "customer_id": state.scope.get("customer_id"),
                "reason": handoff.get("reason", f"{state.playbook_id} could not resolve the issue"),
                "queue": handoff.get("queue", "support"),
                "summary": summarise(state),
                # Whether the situation called for a person (a PUK lock, a policy limit, a technician), as opposed
                # to the flow giving up: failure analysis must not count the first kind as a failure.
                "context": {**handoff_context(state), "called_for": bool(handoff.get("called_for", False))},
            }
            result = await port.call("transfer_to_person", args,
                                     idempotency_key=f"{port.conversation_id}/{state.playbook_id}/handoff")
            state.handoff_id = result.get("handoff_id") or result.get("id")
            state.actions.append({"tool": "transfer_to_person", "args": args, "result": result})
        state.status = step.end or "failed"


def _step_spec(step_id: str) -> Any:
    from telco.sandbox.customer_steps import list_customer_steps

    return next(s for s in list_customer_steps() if s.id == step_id)


def _step_target(step_id: str) -> str:
    """What a customer step changes: their phone, their router, or (a payment) their account."""
    return _step_spec(step_id).target


def _observer(step_id: str) -> str:
    return _step_spec(step_id).observe


def _is_write(tool: str) -> bool:
    from telco.tools import TOOLS

    return TOOLS[tool].kind == "write"


def summarise(state: RunState) -> str:
    tried = [r.name for r in state.history if r.kind in ("tool", "customer_step")]
    return (f"Playbook {state.playbook_id} v{state.version} for customer {state.scope.get('customer_id')}: "
            f"tried {', '.join(tried) or 'nothing'}; told the customer: {', '.join(state.informed) or 'nothing'}.")


def handoff_context(state: RunState) -> dict[str, Any]:
    """Everything a person needs so they never ask the customer again."""
    return {
        "scope": state.scope,
        "playbook": {"id": state.playbook_id, "version": state.version},
        "steps": [r.model_dump(exclude_none=True) for r in state.history],
        "slots": state.slots,
        "informed": state.informed,
    }
