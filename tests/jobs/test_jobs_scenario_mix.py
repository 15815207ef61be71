"""Simulated contacts are reproducible from a seed and come from the fault catalogue on generated worlds."""
from __future__ import annotations

from jobs.common.scenario_mix import draw_contacts, load_traffic
from telco.sandbox.faults import list_faults


def test_the_same_seed_draws_the_same_contacts():
    first = [c.model_dump(mode="json") for c in draw_contacts(5, 6)]
    assert first == [c.model_dump(mode="json") for c in draw_contacts(5, 6)]
    assert first != [c.model_dump(mode="json") for c in draw_contacts(6, 6)]
    faults = {f.name for f in list_faults()}
    for c in first:
        assert c["scenario"]["world"]["seed"] and c["scenario"]["customer_id"]
        assert c["scenario"]["faults"][0]["name"] in faults
        assert c["persona"] in load_traffic().personas


def test_contacts_can_be_limited_to_the_intents_of_one_playbook():
    intents = {c.scenario.intents[0] for c in draw_contacts(9, 5, intents={"mobile_data"})}
    assert intents == {"mobile_data"}
