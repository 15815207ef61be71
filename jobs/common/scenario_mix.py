"""Simulated contacts, reproducible from a seed: a fault from the catalogue on a customer of a generated world,
phrased like one of the single-fault scenarios in telco/data/scenarios (the templates), with a persona.

A template says which fault, intent and end state belong together; the draw moves it onto a customer of a
generated world that has the right kind of service. A draw the reference playbooks (the YAML files) cannot
resolve is dropped, so every simulated contact is one the system is able to resolve: failures then come from
the system under test, not from an impossible scenario.
"""
from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Literal

import yaml
from pydantic import BaseModel

from telco.data import TRAFFIC_FILE
from telco.errors import TelcoError
from telco.intents import load_intents
from telco.playbooks import load_playbooks
from telco.sandbox.faults import inject_fault
from telco.sandbox.generator import generate_world
from telco.sandbox.state import Sandbox
from telco.scenarios.spec import FaultSpec, GeneratedWorld, Identity, Scenario, load_scenarios

Persona = Literal["patient", "impatient", "confused", "wrong_details_first", "two_things"]
WORLD_CUSTOMERS = 60
CONTACTS_PER_WORLD = 25  # a new generated world every this many contacts


class Traffic(BaseModel):
    families: dict[str, float]
    personas: dict[Persona, float]
    second_asks: list[str]
    confused_replies: list[str]
    impatient_openers: list[str]
    impatient_patience: int


class Contact(BaseModel):
    """One simulated customer contact: the scenario (world, fault, words, expected end state) and the persona."""

    scenario: Scenario
    persona: Persona
    template_id: str


@lru_cache(maxsize=1)
def load_traffic(path: str = str(TRAFFIC_FILE)) -> Traffic:
    return Traffic.model_validate(yaml.safe_load(Path(path).read_text()))


@lru_cache(maxsize=1)
def templates() -> dict[str, list[Scenario]]:
    """Single-fault, single-intent scenarios with no scripted answers, by family."""
    out: dict[str, list[Scenario]] = {}
    for s in load_scenarios():
        if len(s.faults) == 1 and s.customer_id and len(s.intents) == 1 and not s.answers:
            out.setdefault(s.family, []).append(s)
    return out


def _service_kind(template: Scenario) -> str:
    playbook = load_intents()[template.intents[0]].playbook
    return load_playbooks()[playbook].service if playbook else "account"


def _retarget(template: Scenario, world: Sandbox, seed: int, customer_id: str, n: int) -> Scenario | None:
    """The template moved onto one customer of the generated world, or None when the fault cannot apply there."""
    kind = _service_kind(template)
    w = world.world
    if kind == "mobile":
        services = sorted(i for i, line in w.lines.items() if line.customer_id == customer_id)
    elif kind == "broadband":
        services = sorted(i for i, bb in w.broadband.items() if bb.customer_id == customer_id)
    else:
        services = [None]
    if not services:
        return None
    service_id = services[0]
    fault = template.faults[0]
    probe = Sandbox(w.model_copy(deep=True))
    try:
        inject_fault(probe, fault.name, customer_id, service_id, **fault.params)
    except TelcoError:
        return None
    customer = w.customers[customer_id]
    return template.model_copy(update={
        "id": f"{template.id}#{seed}-{n}", "world": GeneratedWorld(seed=seed, customers=WORLD_CUSTOMERS),
        "customer_id": customer_id, "service_id": service_id,
        "identity": Identity(full_name=customer.name, date_of_birth=customer.date_of_birth),
        "faults": [FaultSpec(name=fault.name, service_id=service_id, params=fault.params)],
    })


def _resolvable(scenario: Scenario) -> bool:
    from telco.scenarios.playbook_driver import run_scenario_with_playbooks

    return run_scenario_with_playbooks(scenario).passed


def draw_contacts(seed: int, n: int, *, check_resolvable: bool = True,
                  intents: set[str] | None = None) -> Iterator[Contact]:
    """n contacts drawn from the traffic mix (only templates of `intents` when given); the same seed gives the
    same contacts in the same order."""
    traffic = load_traffic()
    rng = random.Random(seed)
    by_family = {f: kept for f, ts in templates().items()
                 if (kept := [t for t in ts if intents is None or t.intents[0] in intents])}
    families = [f for f in traffic.families if f in by_family]
    weights = [traffic.families[f] for f in families]
    personas = list(traffic.personas)
    made = attempts = 0
    world_seed, world = None, None
    family, retry = None, False
    while made < n:
        attempts += 1
        if attempts > n * 20:
            raise RuntimeError(f"could only draw {made} of {n} resolvable contacts (seed {seed})")
        if world is None or attempts % CONTACTS_PER_WORLD == 0:
            world_seed = seed * 100_003 + attempts
            world = Sandbox(generate_world(world_seed, WORLD_CUSTOMERS))
        # A draw that cannot apply is redrawn within the same family, so the mix keeps the traffic's weights.
        family = family if retry else rng.choices(families, weights)[0]
        template = rng.choice(by_family[family])
        customer_id = rng.choice(sorted(world.world.customers))
        persona = rng.choices(personas, [traffic.personas[p] for p in personas])[0]
        scenario = _retarget(template, world, world_seed, customer_id, attempts)
        retry = scenario is None or (check_resolvable and not _resolvable(scenario))
        if retry:
            continue
        made += 1
        yield Contact(scenario=scenario, persona=persona, template_id=template.id)
