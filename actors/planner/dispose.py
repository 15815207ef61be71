"""The model proposes, code disposes: what becomes of the one action the planner's model proposed this turn.

- follow_flow, read, customer_step: the flows keep their own order (diagnostics first, one customer step at a
  time), so these are advice, recorded in the trace and not run.
- write: only while no flow is running (a running flow owns its issue's writes); run through the OSS/BSS port
  like any flow's write, so the same policy checks apply in the tool layer
  (identity verified, own records, limits from telco/data/policy.yaml). Refused, it becomes a sentence to the
  customer saying what cannot be done and why, and the turn's flow goes on as offline; nothing is written.
  Done, it settles the issues opened this turn (their flows would otherwise do the same write again).
- handoff: a person taking over is always allowed; it goes through the planner's usual handover.
What the customer wrote can widen none of this: the tools, their checks and the idempotency key are code's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from actors.planner.conversation import ConversationState
from actors.planner.turn import TurnBuilder
from actors.planner.turn_plan import ProposedAction
from actors.runtime.oss_bss import RemoteToolPort
from telco.contract.http import ActionOut
from telco.contract.messages import EscalationDecision
from telco.errors import IdentityNotVerified, TelcoError

REFUSED_NOTICE = "policy_refused"


@dataclass
class Disposal:
    settled: bool = False  # the proposal did what this turn's new issues asked: no flow needs to run for them
    handoff: EscalationDecision | None = None


async def dispose(action: ProposedAction | None, state: ConversationState, turn: TurnBuilder, oss_bss: Any,
                  first_new_issue: int, now: datetime) -> Disposal:
    """`first_new_issue`: index in state.issues of the first issue opened this turn."""
    out = Disposal()
    if action is None or action.kind in ("follow_flow", "read", "customer_step"):
        return out
    if action.kind == "handoff":
        out.handoff = EscalationDecision(escalate=True, rule="model_proposed_handoff", queue=action.queue or "support",
                                         reason=action.reason or "the assistant judged a person should take over")
        return out
    if any(issue.status == "active" for issue in state.issues):
        # A running flow owns the writes of its issue; a second path to the same write could apply it twice.
        return out
    port = RemoteToolPort(oss_bss, state.conversation_id, state.identity)
    key = f"{state.conversation_id}/proposed/{state.turns + 1}/{action.name}"
    try:
        result = await port.call(action.name or "", dict(action.args), idempotency_key=key)
    except IdentityNotVerified:
        turn.tool_calls(port.calls)
        turn.parts.messages.append("Before I can change anything on the account I need to confirm who you are.")
        return out
    except TelcoError as err:
        turn.tool_calls(port.calls)
        turn.parts.messages.append(f"I can't do that myself: {err.message}.")
        turn.informed.append(REFUSED_NOTICE)
        turn.parts.informed.append(REFUSED_NOTICE)
        return out
    turn.tool_calls(port.calls)
    args = ", ".join(f"{k}={v}" for k, v in action.args.items() if not isinstance(v, (dict, list)))
    turn.actions.append(ActionOut(tool=action.name or "", summary=f"{action.name}({args})", result=result))
    for issue in state.issues[first_new_issue:]:
        if issue.status == "pending":
            issue.status, issue.closed_at = "resolved", now
            out.settled = True
    turn.parts.closing = out.settled
    return out
