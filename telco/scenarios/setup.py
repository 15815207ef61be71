"""Builds a scenario's starting world: the fixture or generated world, then the injected faults."""
from __future__ import annotations

from telco.sandbox.faults import apply_context, inject_fault
from telco.sandbox.state import Sandbox
from telco.scenarios.spec import Scenario


def build_sandbox(scenario: Scenario) -> Sandbox:
    if scenario.world == "demo":
        sandbox = Sandbox.demo()
    else:
        from telco.sandbox.generator import generate_world

        sandbox = Sandbox(generate_world(scenario.world.seed, customers=scenario.world.customers))
    if scenario.context is not None and scenario.customer_id is not None:
        apply_context(sandbox, scenario.context, scenario.customer_id, scenario.service_id)
    for fault in scenario.faults:
        customer_id = fault.customer_id or scenario.customer_id
        if customer_id is None:
            raise ValueError(f"scenario {scenario.id}: fault {fault.name} needs a customer_id")
        inject_fault(sandbox, fault.name, customer_id, fault.service_id, **fault.params)
    return sandbox
