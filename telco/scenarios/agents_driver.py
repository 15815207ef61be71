"""Drives a scenario through the agents, the way a real client and customer would: over the public HTTP API
(HttpClient), or through the same agents composed in this process (LocalClient, fast, for development).

The scripted customer reads each reply: when asked to do something on their device it performs the step through
the sandbox (admin endpoint over HTTP) and sends back what it saw; when asked a question it answers in words from
the scenario. The end state is then read from a world dump and judged by the same checks as the playbook runner.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import httpx

from telco.models import World
from telco.sandbox.state import Sandbox
from telco.scenarios.customer import ScriptedCustomer
from telco.scenarios.outcome import Exchange, Outcome
from telco.scenarios.report import ScenarioResult, judge
from telco.scenarios.spec import Scenario

MAX_TURNS = 30


def say(kind: str, value: Any) -> str:
    """How a customer would phrase a typed answer."""
    if value is None or value is False:
        return {"plan": "No thanks, I'll keep my current plan.", "yes_no": "No.",
                "amount": "Never mind, no credit needed."}.get(kind, "I don't know, sorry.")
    if value is True:
        return "Yes."
    if kind in ("name", "full_name"):
        return f"My name is {value}."
    if kind in ("date", "birth_date"):
        return f"It's {value}."
    if kind == "phone":
        return f"My number is {value}."
    if kind == "customer_id":
        return f"My customer number is {value}."
    if kind == "number":
        return f"{value} GB please."
    if kind == "amount":
        return f"${value} would be fair."
    if kind == "plan":
        return f"I'd like {value}."
    return str(value)


class ScenarioClient(Protocol):
    def reset_world(self, scenario: Scenario) -> None: ...
    def world(self) -> World: ...
    def perform_step(self, step_id: str, customer_id: str | None, service_id: str | None) -> dict[str, Any]: ...
    def start(self) -> str: ...
    def send(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]: ...


class HttpClient:
    def __init__(self, base_url: str, operations_key: str, admin_key: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.ops = {"Authorization": f"Bearer {operations_key}"}
        self.admin = {"Authorization": f"Bearer {admin_key}"}

    def _json(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        resp = self.http.request(method, path, headers=headers, json=body)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def reset_world(self, scenario: Scenario) -> None:
        spec = {"fixture": "demo"} if scenario.world == "demo" else scenario.world.model_dump()
        self._json("POST", "/v1/admin/sandbox/world", self.admin, spec)
        for fault in scenario.faults:
            self._json("POST", "/v1/admin/sandbox/faults", self.admin, {
                "name": fault.name, "customer_id": fault.customer_id or scenario.customer_id,
                "service_id": fault.service_id, "params": fault.params})

    def close(self) -> None:
        self.http.close()

    def world(self) -> World:
        resp = self.http.get("/v1/admin/sandbox/world", headers=self.admin)
        resp.raise_for_status()
        return World.model_validate_json(resp.text)

    def perform_step(self, step_id: str, customer_id: str | None, service_id: str | None) -> dict[str, Any]:
        return self._json("POST", "/v1/admin/sandbox/customer-steps", self.admin,
                          {"step_id": step_id, "customer_id": customer_id, "service_id": service_id})

    def start(self) -> str:
        return self._json("POST", "/v1/conversations", self.ops, {"channel": "chat"})["conversation_id"]

    def send(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", f"/v1/conversations/{conversation_id}/messages", self.ops, body)


def run_scenario_with_agents(scenario: Scenario, client: ScenarioClient) -> ScenarioResult:
    client.reset_world(scenario)
    before = client.world()
    outcome = Outcome(scenario_id=scenario.id)
    customer = ScriptedCustomer(scenario, Sandbox(before.model_copy(deep=True)))
    try:
        _converse(scenario, client, customer, outcome)
    except Exception as err:  # a failed request fails this scenario, with the reason, not the whole suite
        outcome.error = f"{type(err).__name__}: {err}"
    return judge(scenario, before, Sandbox(client.world()), outcome)


def _converse(scenario: Scenario, client: ScenarioClient, customer: ScriptedCustomer, outcome: Outcome) -> None:
    conversation_id = client.start()
    body: dict[str, Any] | None = {"text": scenario.message}
    for _ in range(MAX_TURNS):
        turn = send_logged(client, conversation_id, body, outcome)
        body = next_message(turn, scenario, customer, client, outcome,
                            lambda q: say(q["kind"], customer.answer(q["slot"])))
        if body is None:
            return


def send_logged(client: ScenarioClient, conversation_id: str, body: dict[str, Any], outcome: Outcome) -> dict:
    """One customer message and the system's turn, both written into the outcome's transcript."""
    outcome.transcript.append(Exchange(who="customer", text=body["text"], data=body.get("step_results")))
    turn = client.send(conversation_id, body)
    outcome.turns += 1
    outcome.transcript.append(Exchange(who="system", text=turn["reply"], data={"status": turn["status"]}))
    outcome.informed.extend(turn["informed"])
    outcome.writes.extend(a["tool"] for a in turn["actions_taken"])
    if turn.get("question"):
        slot = turn["question"]["slot"]
        outcome.asked[slot] = outcome.asked.get(slot, 0) + 1
    return turn


def next_message(turn: dict, scenario: Scenario, customer: ScriptedCustomer, client: ScenarioClient,
                 outcome: Outcome, answer: Callable[[dict], str]) -> dict[str, Any] | None:
    """What the customer sends next: a step's result (done on the device first), the choice they meant, or the
    answer to a question (`answer`). None when the conversation is over from the customer's side."""
    if turn["status"] in ("resolved", "handed_off"):
        return None
    if turn["customer_steps"]:
        step = turn["customer_steps"][0]
        if scenario.customer_id is None:
            # Their device is not in our simulated world: they say they cannot check, as a person might.
            outcome.transcript.append(Exchange(who="customer_step", text=step["step_id"], data={"done": False}))
            return {"text": "Sorry, I can't check that.",
                    "step_results": [{"step_id": step["step_id"], "observation": {}, "done": False}]}
        service = service_for(scenario, customer, step["step_id"])
        observation = client.perform_step(step["step_id"], scenario.customer_id, service)
        outcome.transcript.append(Exchange(who="customer_step", text=step["step_id"], data=observation))
        return {"text": "Done.", "step_results": [{"step_id": step["step_id"], "observation": observation}]}
    question = turn["question"]
    if question and question["kind"] == "choice":
        return {"text": what_i_meant(scenario, question["options"])}
    if question:
        return {"text": answer(question)}
    return None


def what_i_meant(scenario: Scenario, options: list[str]) -> str:
    """Asked to choose, the customer describes what they really want (their first concern)."""
    from telco.intents import load_intents

    wanted = next((i for i in scenario.intents if i in options), scenario.intents[0])
    return f"I mean: {load_intents()[wanted].description.rstrip('.').lower()}."


def service_for(scenario: Scenario, customer: ScriptedCustomer, step_id: str) -> str | None:
    """Which device the customer acts on: the scenario's named service, else the step target's first service."""
    target = customer.target_of(step_id)
    sid = scenario.service_id
    world = customer.sandbox.world
    if target == "router":
        return sid if sid in world.broadband else None
    if target == "phone":
        return sid if sid in world.lines else None
    return None
