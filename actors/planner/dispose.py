"""The model proposes, code disposes: what becomes of the one action the planner's model proposed this turn.

- follow_flow, customer_step: the flows keep their own order (diagnostics first, one customer step at a time), so
  these are advice and not run.
- read: advice too (its result is shown to no one), but a read of account records is checked as if it ran: before
  the customer is verified it is refused, after it runs through the tool layer's access checks, so a proposal
  aimed at another customer's records is refused in the trace; an identity check is the identify flow's alone.
- write: only while no flow is running (a running flow owns its issue's writes); run through the OSS/BSS port
  like any flow's write, so the same policy checks apply in the tool layer
  (identity verified, own records, limits from telco/data/policy.yaml). Refused, it becomes a sentence to the
  customer saying what cannot be done and why, and the turn's flow goes on as offline; nothing is written.
  Done, it settles the issues opened this turn (their flows would otherwise do the same write again).
- handoff: a person taking over is always allowed; it goes through the planner's usual handover.
What the customer wrote can widen none of this: the tools, their checks and the idempotency key are code's.
Every refusal is in trace.refusals (tool, rule, reason); arguments that named another customer's records are
blanked in the trace, so what the attempt pointed at is not copied into it.

A proposal the turn never comes to dispose of (it asks what the customer meant, waits for the answer to its own
question, hands over to a person, or fails) is not run either, and it is in trace.refusals too, with why
(not_executed): a hijacked model's write is visible whichever way the turn went.
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
from telco.contract.trace import Refusal
from telco.errors import IdentityNotVerified, TelcoError
from telco.tools import TOOLS
from telco.tools.identity import IDENTITY_READS

REFUSED_NOTICE = "policy_refused"
OTHER_CUSTOMER = "[REDACTED:other_customer]"
_IDENTITY_TOOLS = frozenset(spec.name for spec in IDENTITY_READS)
# A read naming one of these arguments looks at a customer's account (its records, bills, lines or services).
_ACCOUNT_ARGS = ("customer_id", "line_id", "service_id", "bill_id")


@dataclass
class Disposal:
    settled: bool = False  # the proposal did what this turn's new issues asked: no flow needs to run for them
    handoff: EscalationDecision | None = None


async def dispose(action: ProposedAction | None, state: ConversationState, turn: TurnBuilder, oss_bss: Any,
                  first_new_issue: int, now: datetime) -> Disposal:
    """`first_new_issue`: index in state.issues of the first issue opened this turn."""
    out = Disposal()
    if action is None or action.kind in ("follow_flow", "customer_step"):
        return out
    if action.kind == "read":
        await _check_read(action, state, turn, oss_bss)
        return out
    if action.kind == "handoff":
        out.handoff = EscalationDecision(escalate=True, rule="model_proposed_handoff", queue=action.queue or "support",
                                         reason=action.reason or "the assistant judged a person should take over")
        return out
    if any(issue.status == "active" for issue in state.issues):
        # A running flow owns the writes of its issue; a second path to the same write could apply it twice.
        _refuse(turn, action, "dispose.flow_owns_writes",
                "a troubleshooting flow is running; its own steps make the account changes it needs")
        return out
    port = RemoteToolPort(oss_bss, state.conversation_id, state.identity, turn.principal)
    key = f"{state.conversation_id}/proposed/{state.turns + 1}/{action.name}"
    try:
        result = await port.call(action.name or "", dict(action.args), idempotency_key=key)
    except IdentityNotVerified as err:
        _refused(turn, action, port.calls, err)
        turn.parts.messages.append("Before I can change anything on the account I need to confirm who you are.")
        return out
    except TelcoError as err:
        _refused(turn, action, port.calls, err)
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


async def _check_read(action: ProposedAction, state: ConversationState, turn: TurnBuilder, oss_bss: Any) -> None:
    name = action.name or ""
    if name in _IDENTITY_TOOLS:
        _refuse(turn, action, "identity.identify_flow_only",
                "identity is checked by the identify flow with the customer's own answers, never on a proposal")
        return
    if not any(action.args.get(a) for a in _ACCOUNT_ARGS):
        return  # network, plans, serviceability: nothing of anyone's account
    if state.identity.verified_customer_id is None:
        _refuse(turn, action, "identity.verified_before_account_read",
                "an account is read only after the customer's identity is verified")
        return
    port = RemoteToolPort(oss_bss, state.conversation_id, state.identity)
    try:
        await port.call(name, dict(action.args))
    except TelcoError as err:
        _refused(turn, action, port.calls, err)
        return
    turn.tool_calls(port.calls)


# Why a proposal was never disposed of: (rule, reason).
CLARIFYING = ("dispose.not_executed_clarifying",
              "the turn asks what the customer needs first; nothing is done on a reading that is not settled")
AWAITING = ("dispose.awaiting_answer",
            "the turn waits for the customer's answer to what was asked; nothing else moves until it comes")
HANDED_OVER = ("dispose.handed_over", "a person takes over the conversation; they decide what is done")
TURN_FAILED = ("dispose.turn_failed", "the turn could not be completed; nothing it proposed is done")


def not_executed(action: ProposedAction | None, state: ConversationState, turn: TurnBuilder) -> None:
    """The turn ended without disposing of the model's proposal: a tool or hand-over it proposed goes into
    trace.refusals with the reason the turn went another way (follow_flow and customer_step are advice anyway)."""
    if action is None or action.kind in ("follow_flow", "customer_step"):
        return
    handed_over = turn.parts.handoff is not None or state.status == "handed_off"
    if action.kind == "handoff" and handed_over:
        return  # what it proposed happened
    if turn.trace.error is not None:
        rule, reason = TURN_FAILED
    elif handed_over:
        rule, reason = HANDED_OVER
    elif turn.parts.reask is not None:
        rule, reason = AWAITING
    else:
        rule, reason = CLARIFYING
    tool = "transfer_to_person" if action.kind == "handoff" else action.name or ""
    kind = TOOLS[tool].kind if tool in TOOLS else "read"
    turn.trace.refusals.append(Refusal(kind=kind, tool=tool, rule=rule, reason=reason))


def _refuse(turn: TurnBuilder, action: ProposedAction, rule: str, reason: str) -> None:
    kind = TOOLS[action.name].kind if action.name in TOOLS else "read"
    turn.trace.refusals.append(Refusal(kind=kind, tool=action.name or "", rule=rule, reason=reason))


def _refused(turn: TurnBuilder, action: ProposedAction, calls: list[dict[str, Any]], err: TelcoError) -> None:
    """A proposal the tool layer refused: its call in the trace (blanked if it named another customer's records)
    and the refusal."""
    rule = getattr(err, "rule", None) or err.code
    if rule in ("identity.own_records_only", "identity.verified_before_account_change"):  # someone's records
        calls = [{**c, "args": {k: OTHER_CUSTOMER if isinstance(v, str) else v for k, v in c["args"].items()}}
                 for c in calls]
    turn.tool_calls(calls)
    _refuse(turn, action, rule, err.message)
