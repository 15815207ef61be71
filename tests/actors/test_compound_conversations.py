"""Compound-fault scenarios through every agent in one process (actors/runtime/local.py): the customer's own words,
intent reading, help on the phone before verification, identity by either method, the closed loop, hand-overs
labelled as called for. A spread sample here; the whole generated suite is
`telco scenarios run --runner local --suite compound` (bench/RESULTS.md)."""
from __future__ import annotations

import pytest

from telco.scenarios import compound
from telco.scenarios.agents_driver import run_scenario_with_agents
from telco.scenarios.report import suite_extras

pytestmark = pytest.mark.slow  # bootstraps memory and loads the embedding model once for the module

SAMPLE = 24


@pytest.fixture(scope="module")
def client(offline_client):
    return offline_client


@pytest.fixture(scope="module")
def sample():
    return compound.sample(list(compound.generate()), SAMPLE)


def test_a_sample_of_the_compound_suite_reaches_its_end_states(client, sample):
    results = [run_scenario_with_agents(s, client) for s in sample]
    failed = {r.scenario_id: [c.detail for c in r.checks if not c.ok] for r in results if not r.passed}
    extras = suite_extras(sample, results)
    assert extras["error_ends"] == 0
    assert extras["handoffs"] == extras["handoffs_called_for"]
    # The sample spans every family, both identity methods and declined offers; at most one may miss.
    assert len(failed) <= 1, failed


def test_the_offline_path_is_deterministic(client, sample):
    picked = sample[:4]
    first = suite_extras(picked, [run_scenario_with_agents(s, client) for s in picked])
    second = suite_extras(picked, [run_scenario_with_agents(s, client) for s in picked])
    assert first["transcript_digest"] == second["transcript_digest"]


def test_a_problem_fixed_on_the_phone_is_never_followed_by_identity_questions(client, monkeypatch):
    """Help before verification: airplane mode fixed from the status bar needs no account, so nobody is asked who
    they are once it works (nor after)."""
    from telco.scenarios import agents_driver, load_scenarios

    turns: list[dict] = []
    real = agents_driver.send_logged

    def logged(*args):
        turns.append(real(*args))
        return turns[-1]

    monkeypatch.setattr(agents_driver, "send_logged", logged)
    scenario = next(s for s in load_scenarios() if s.id == "no-service-airplane-mode")
    assert run_scenario_with_agents(scenario, client).passed
    assert turns[-1]["status"] == "resolved"
    identity = {"full_name", "date_of_birth", "phone", "customer_id"}
    assert not [t["question"] for t in turns if t["question"] and t["question"]["slot"] in identity]
