"""The scripted customer: answers questions from the scenario and performs the device steps it is asked to."""
from __future__ import annotations

from typing import Any

from telco.playbooks.runner import CustomerRequest
from telco.sandbox.customer_steps import apply_customer_step, list_customer_steps
from telco.sandbox.state import Sandbox

from telco.scenarios.spec import Scenario


class ScriptedCustomer:
    def __init__(self, scenario: Scenario, sandbox: Sandbox) -> None:
        self.scenario = scenario
        self.sandbox = sandbox
        self._targets = {s.id: s.target for s in list_customer_steps()}

    def answer(self, slot: str) -> Any:
        identity = self.scenario.identity.model_dump(mode="json")
        if slot in identity:
            return identity[slot]
        if slot in self.scenario.answers:
            return self.scenario.answers[slot]
        return None  # a real customer may not know; the playbook decides what that means

    def target_of(self, step_id: str) -> str | None:
        """What the step acts on: phone, router or account."""
        return self._targets.get(step_id)

    def perform(self, step_id: str, scope: dict[str, Any]) -> dict[str, Any]:
        target = self.target_of(step_id)
        service_id = scope.get("service_id") if target == "router" else scope.get("line_id")
        return apply_customer_step(self.sandbox, step_id, scope["customer_id"], service_id)

    def respond(self, request: CustomerRequest, scope: dict[str, Any]) -> Any:
        if request.kind == "customer_step":
            return self.perform(request.id, scope)
        return self.answer(request.id)
