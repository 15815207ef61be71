"""Runs a playbook against the operator's tools, one step at a time, pausing whenever the customer must act.

The run is a plain, serialisable state (RunState) so an agent can keep it in working memory between turns and
resume it after a restart. Pure Python and deterministic: the same world, answers and playbook give the same run.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from telco.errors import TelcoError
from telco.tools.port import ToolPort

from telco.playbooks.expressions import holds, render
from telco.playbooks.spec import Playbook, Step

MAX_STEPS_PER_ADVANCE = 60
# "No answer yet" differs from an answer of None ("I don't know" / "no thanks"), which branches like any other.
NO_ANSWER: Any = object()


class StepRecord(BaseModel):
    step_id: str
    kind: Literal["say", "tool", "customer_step", "ask", "inform", "end", "continue_with"]
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

    @property
    def finished(self) -> bool:
        return self.status in {"resolved", "escalated", "failed"}


def customer_step_text(step_id: str) -> str:
    from telco.sandbox.customer_steps import list_customer_steps

    for spec in list_customer_steps():
        if spec.id == step_id:
            return spec.instruction
    raise KeyError(f"unknown customer step {step_id!r}")


class PlaybookRunner:
    def __init__(self, playbooks: dict[str, Playbook]) -> None:
        self.playbooks = playbooks

    async def start(self, playbook_id: str, port: ToolPort, scope: dict[str, Any]) -> RunState:
        book = self.playbooks[playbook_id]
        state = RunState(playbook_id=book.id, version=book.version, scope=scope, current=book.start)
        return await self.advance(state, port)

    async def advance(self, state: RunState, port: ToolPort, answer: Any = NO_ANSWER) -> RunState:
        """Go on until the customer is needed or the run ends. `answer` fulfils the pending request."""
        if state.finished:
            return state
        state = state.model_copy(deep=True)
        book = self.playbooks[state.playbook_id]
        if state.pending is not None:
            if answer is NO_ANSWER:
                return state  # still waiting; nothing to do
            self._accept_answer(state, book.step(state.pending.step_id), answer)
        for _ in range(MAX_STEPS_PER_ADVANCE):
            if state.current is None or state.pending is not None or state.finished:
                return state
            await self._run_step(state, book.step(state.current), port)
        state.status = "failed"
        state.messages.append(f"playbook {book.id} exceeded {MAX_STEPS_PER_ADVANCE} steps without pausing")
        return state

    # ---- one step ---------------------------------------------------------------------------------
    def _namespace(self, state: RunState, result: Any = None) -> dict[str, Any]:
        return {"scope": state.scope, "vars": state.vars, "slots": state.slots, "result": result}

    async def _run_step(self, state: RunState, step: Step, port: ToolPort) -> None:
        ns = self._namespace(state)
        if step.message:
            text = render(step.message, ns)
            state.messages.append(text)
            state.history.append(StepRecord(step_id=step.id, kind="say", name=step.id, text=text))
        if step.tool:
            await self._run_tool(state, step, port)
        elif step.customer_step:
            state.pending = CustomerRequest(kind="customer_step", id=step.customer_step,
                                            text=customer_step_text(step.customer_step), step_id=step.id)
            state.status = "waiting"
        elif step.ask:
            state.pending = CustomerRequest(kind="ask", id=step.ask, text=render(step.question, ns), step_id=step.id,
                                            expect=step.expect)
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
                "context": handoff_context(state),
            }
            result = await port.call("transfer_to_person", args,
                                     idempotency_key=f"{port.conversation_id}/{state.playbook_id}/handoff")
            state.handoff_id = result.get("handoff_id") or result.get("id")
            state.actions.append({"tool": "transfer_to_person", "args": args, "result": result})
        state.status = step.end or "failed"


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
