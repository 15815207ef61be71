"""Drives a scenario through the playbook runner: identify, route each labelled intent to its flow, check the end state.

This runner takes the scenario's labelled intents as given; it proves the world, tools and playbooks are coherent.
Intent detection from the customer's words is the agents' job and is exercised by the API runner.
"""
from __future__ import annotations

import asyncio
from typing import Any

from telco.errors import TelcoError
from telco.intents import conflicting_pair, load_intents
from telco.playbooks import load_playbooks
from telco.playbooks.runner import PlaybookRunner, RunState
from telco.scenarios.customer import ScriptedCustomer
from telco.scenarios.outcome import Exchange, Outcome
from telco.scenarios.setup import build_sandbox
from telco.scenarios.spec import Scenario
from telco.tools.port import LocalToolPort, ToolPort

MAX_EXCHANGES = 40


async def _drive(runner: PlaybookRunner, state: RunState, port: ToolPort, customer: ScriptedCustomer,
                 outcome: Outcome) -> RunState:
    for _ in range(MAX_EXCHANGES):
        if state.pending is None:
            break
        reply = customer.respond(state.pending, state.scope)
        outcome.turns += 1
        state = await runner.advance(state, port, answer=reply)
    outcome.transcript.extend(transcript_of(state))
    outcome.informed.extend(state.informed)
    outcome.writes.extend(a["tool"] for a in state.actions)
    for slot, n in state.asked.items():
        outcome.asked[slot] = outcome.asked.get(slot, 0) + n
    return state


def transcript_of(state: RunState) -> list[Exchange]:
    """The run in the order it happened, as a person would read it."""
    lines: list[Exchange] = []
    for r in state.history:
        if r.kind == "say":
            lines.append(Exchange(who="system", text=r.text or ""))
        elif r.kind in ("ask", "customer_step"):
            lines.append(Exchange(who="system", text=r.text or r.name))
            who = "customer" if r.kind == "ask" else "customer_step"
            lines.append(Exchange(who=who, text=_brief(r.result), data=r.result))
        elif r.kind == "tool":
            text = f"{r.name}({_brief(r.args)})" + (f" -> refused: {r.error['message']}" if r.error else "")
            lines.append(Exchange(who="tool", text=text, data=r.error or r.result))
        elif r.kind == "end":
            lines.append(Exchange(who="system", text=f"[{state.playbook_id} {r.name}]"))
    return lines


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if k != "step_id" and not isinstance(v, (dict, list)))
    return str(value)


async def _handoff(port: ToolPort, outcome: Outcome, customer_id: str | None, reason: str, queue: str) -> None:
    await port.call("transfer_to_person",
              {"customer_id": customer_id, "reason": reason, "queue": queue,
               "summary": f"{reason}. Customer said: {outcome.transcript[0].text}",
               "context": {"informed": outcome.informed, "writes": outcome.writes}},
                    idempotency_key=f"{port.conversation_id}/handoff/{reason}")
    outcome.writes.append("transfer_to_person")
    outcome.transcript.append(Exchange(who="system", text=f"Handing over to a person ({queue}): {reason}"))


async def run_conversation(scenario: Scenario, sandbox: Any, books: dict[str, Any] | None = None) -> Outcome:
    """`books` replaces the playbook files (a candidate version under evaluation)."""
    books = books or load_playbooks()
    port = LocalToolPort(sandbox, conversation_id=f"scn-{scenario.id}")
    runner = PlaybookRunner(books)
    customer = ScriptedCustomer(scenario, sandbox)
    outcome = Outcome(scenario_id=scenario.id, transcript=[Exchange(who="customer", text=scenario.message)])

    identified = await _drive(runner, await runner.start("identify", port, scope={}), port, customer, outcome)
    if identified.status != "resolved":
        return outcome
    customer_id = identified.vars["customer"]["customer_id"]
    outcome.identified_customer_id = customer_id

    conflict = conflicting_pair(scenario.intents)
    if conflict:
        outcome.informed.append("conflicting_intents")
        await _handoff(port, outcome, customer_id, f"conflicting requests: {conflict[0]} and {conflict[1]}", "support")
        return outcome

    catalogue = load_intents()
    for intent in scenario.intents:
        spec = catalogue[intent]
        if spec.playbook is None:
            await _handoff(port, outcome, customer_id, f"customer asked for {intent.replace('_', ' ')}",
                     spec.handoff_queue or "support")
            return outcome
        book = books[spec.playbook]
        scope = {"requested_service_id": scenario.service_id} if scenario.service_id else {}
        state = await _drive(runner, await runner.start(book.id, port, scope), port, customer, outcome)
        if state.status != "resolved":
            return outcome
    return outcome


def run_scenario_with_playbooks(scenario: Scenario, books: dict[str, Any] | None = None):
    from telco.scenarios.report import judge

    sandbox = build_sandbox(scenario)
    before = sandbox.world.model_copy(deep=True)
    try:
        outcome = asyncio.run(run_conversation(scenario, sandbox, books))
    except TelcoError as err:
        outcome = Outcome(scenario_id=scenario.id, error=f"{err.code}: {err.message}")
    return judge(scenario, before, sandbox, outcome)
