"""The scripted customer: answers questions from the scenario and performs the device steps it is asked to."""
from __future__ import annotations

from typing import Any

from telco.playbooks.runner import CustomerRequest
from telco.sandbox.customer_steps import apply_customer_step, list_customer_steps
from telco.sandbox.state import Sandbox
from telco.scenarios.spec import Scenario

# What a customer who accepts an offer of an amount asks for when the scenario names none: the least there is.
OFFERED_AMOUNTS = {"refuel_gb": 1}


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
        if slot == "line_number":
            return self.own_number()
        if slot.startswith("accept_"):
            return self.scenario.accepts_offers  # an offer (a payment request, roaming at a price)
        if slot in OFFERED_AMOUNTS:
            return OFFERED_AMOUNTS[slot] if self.scenario.accepts_offers else None
        return None  # a real customer may not know; the playbook decides what that means

    def own_line_id(self) -> str | None:
        """The line the customer is calling about: the one the scenario names, else their first open line."""
        lines = self.sandbox.world.lines
        if self.scenario.service_id in lines:
            return self.scenario.service_id
        return next((x.id for x in lines.values()
                     if x.customer_id == self.scenario.customer_id and x.status != "closed"), None)

    def own_number(self) -> str | None:
        """The number of that line (customers know their own number)."""
        line_id = self.own_line_id()
        return self.sandbox.world.lines[line_id].number if line_id else None

    def target_of(self, step_id: str) -> str | None:
        """What the step acts on: phone, router or account."""
        return self._targets.get(step_id)

    def perform(self, step_id: str, scope: dict[str, Any]) -> dict[str, Any]:
        """Do the step on the customer's own device (before verification the flow's scope names none yet)."""
        target = self.target_of(step_id)
        service_id = scope.get("service_id") if target == "router" else scope.get("line_id")
        if service_id is None and target != "router":
            service_id = self.own_line_id()
        return apply_customer_step(self.sandbox, step_id, scope.get("customer_id") or self.scenario.customer_id,
                                   service_id)

    def respond(self, request: CustomerRequest, scope: dict[str, Any]) -> Any:
        if request.kind == "customer_step":
            return self.perform(request.id, scope)
        return self.answer(request.id)
