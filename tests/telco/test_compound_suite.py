"""The generated compound-fault suite: built from the fault catalogue and the physics, not by hand, and the flows
reach its derived end states. Here through the playbook runner (fast, all flows, no agents); through every agent
in tests/actors/test_compound_conversations.py; in full with `telco scenarios run --runner local --suite compound`."""
from __future__ import annotations

from collections import Counter

import pytest

from telco.sandbox.faults import mobile_faults
from telco.scenarios import compound
from telco.scenarios.playbook_driver import run_scenario_with_playbooks


@pytest.fixture(scope="module")
def suite():
    return list(compound.generate())


def test_the_suite_is_large_and_covers_every_family_fault_and_variation(suite):
    assert len(suite) >= 300
    assert set(Counter(s.family for s in suite)) == set(compound.FAMILIES)
    seen = {f.name for s in suite for f in s.faults}
    assert seen == {f.name for f in mobile_faults()}, {f.name for f in mobile_faults()} - seen
    assert Counter(len(s.faults) for s in suite).keys() == {2, 3, 4}
    # Each customer variation occurs: both identity methods, one line and several, declined offers, abroad.
    assert {s.identity.date_of_birth is None for s in suite} == {True, False}
    assert any(s.service_id != sorted(x for x in compound._demo().world.lines
                                      if compound._demo().world.lines[x].customer_id == s.customer_id)[0]
               for s in suite)
    assert any(not s.accepts_offers for s in suite) and any(s.context == "abroad" for s in suite)


def test_every_pair_of_compatible_faults_is_in_the_suite(suite):
    from telco.sandbox.faults import valid_subsets

    for family in compound.FAMILIES:
        pairs = {frozenset(f.name for f in c) for c in valid_subsets(compound.family_pool(family), [2])}
        have = {frozenset(f.name for f in s.faults) for s in suite if s.family == family and len(s.faults) == 2}
        assert have == pairs, sorted(sorted(p) for p in pairs - have)


def test_generation_is_deterministic(suite):
    again = list(compound.generate())
    assert [s.model_dump() for s in again] == [s.model_dump() for s in suite]


def test_expected_end_states_follow_from_the_faults(suite):
    for s in suite:
        kinds = {compound.get_fault_kind(f.name) for f in s.faults}
        if "person" in kinds:
            assert s.expect["handoff"] == {"called_for": True}
        elif "wait" in kinds:
            assert s.expect["handoff"] is False and "informed_any" in s.expect
        elif not s.accepts_offers and "end_to_end_fails" in s.expect:
            assert s.expect["handoff"] is False
        else:
            assert s.expect["handoff"] is False and compound.FAMILIES[s.family][1] in s.expect["end_to_end"]


@pytest.mark.slow
def test_the_flows_reach_the_derived_end_states(suite):
    sample = compound.sample(suite, 90)
    results = [run_scenario_with_playbooks(s) for s in sample]
    failed = {r.scenario_id: [c.detail for c in r.checks if not c.ok] for r in results if not r.passed}
    assert not failed, failed
    handed = [h for r in results for h in r.outcome.handoffs]
    assert handed and all(h["called_for"] for h in handed)
