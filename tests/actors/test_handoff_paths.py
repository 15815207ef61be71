"""Hand-overs through the whole offline system in one process (actors/runtime/local.py) over memory bootstrapped on disk:
what an escalated episode records about why, and the paths that must still reach a person."""
from __future__ import annotations

import json
import random

import pytest
from memory_template import bootstrapped_memory

from actors.runtime.local import LocalClient
from jobs.common.personas import run_contact
from jobs.common.scenario_mix import Contact
from jobs.playbooks.failures import failures
from memory.store import connect
from telco.contract.http import MessageIn, NewConversation
from telco.contract.principal import Principal
from telco.playbooks import load_playbooks
from telco.policy import load_policy
from telco.scenarios import load_scenarios
from telco.scenarios.agents_driver import run_scenario_with_agents

pytestmark = pytest.mark.slow  # bootstraps memory and loads the embedding model once for the module

C1001 = Principal(key_id="test-c1001", role="customer", customer_id="C1001")


@pytest.fixture(scope="module")
def memory_uri(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("memory"))
    bootstrapped_memory(uri)
    return uri


@pytest.fixture(scope="module")
def client(memory_uri):
    with LocalClient(memory_uri) as c:
        yield c


def say(client: LocalClient, cid: str, text: str) -> dict:
    return client._run(client.planner.handle_turn(C1001, cid, MessageIn(text=text))).model_dump(mode="json")


def episode_row(memory_uri: str, conversation_id: str) -> dict:
    rows = connect(memory_uri).table("episodes").search().where(
        f"conversation_id = '{conversation_id}'").limit(5).to_list()
    assert len(rows) == 1
    return rows[0]


def test_escalated_episodes_record_why_and_correct_handoffs_are_not_failures(client, memory_uri):
    # A closed loop that reads the account (so the customer is verified and the issue becomes an episode) and finds
    # what only a person can lift: the episode says how the loop ended.
    scenario = next(s for s in load_scenarios() if s.id == "contract-ended-suspension-handoff")
    assert run_scenario_with_agents(scenario, client).passed
    client._run(client.planner.drain())
    barred = [r for r in connect(memory_uri).table("episodes").search().limit(10).to_list()
              if r["intent"] == "mobile_no_service"]
    assert len(barred) == 1 and barred[0]["outcome"] == "escalated"
    ended = [s for s in json.loads(barred[0]["steps"]) if s["kind"] == "diagnosis"]
    assert [(s["name"], s["result"]["outcome"], s["result"]["cause"], s["result"]["called_for"]) for s in ended] == [
        ("service", "person", "line_suspended_other", True)]
    cid = client._run(client.planner.start_conversation(C1001, NewConversation())).conversation_id
    assert say(client, cid, "My mobile data is not working at all")["status"] == "waiting_customer"
    out = say(client, cid, "This is outrageous, I will file a formal complaint with the regulator")
    assert out["handoff"]["queue"] == "complaints"
    client._run(client.planner.drain())

    row = episode_row(memory_uri, cid)
    step = json.loads(row["steps"])[-1]
    assert (step["kind"], step["result"]["rule"], step["result"]["queue"]) == ("handoff", "complaint", "complaints")
    # The playbook version that ran the issue is a column of its own, not words in the summary.
    assert (row["playbook"], row["playbook_version"]) == ("mobile_data", load_playbooks()["mobile_data"].version)
    summary = failures(memory_uri)
    assert (summary["episodes"], summary["failed"], summary["called_for"]) == (2, 0, 2)


def test_a_wrong_date_of_birth_gets_another_try_before_a_person(client):
    """The wrong_details_first persona (jobs/common/personas.py) is verified on its second try; the retries are
    bounded by policy.yaml identity.max_failed_attempts, after which a person takes over. The bound is shown on a
    flow that reads the account at once (a bill); the mobile flows help on the phone before verification."""
    scenario = next(s for s in load_scenarios() if s.id == "data-limit-refuel")
    contact = Contact(scenario=scenario, persona="wrong_details_first", template_id="test")
    result = run_contact(contact, client, random.Random(7))
    assert result.passed, [c for c in result.checks if not c.ok]

    cid = client.start()
    client.send(cid, {"text": "I was charged twice on my last bill"})
    attempts = load_policy().identity.max_failed_attempts
    for n in range(attempts):
        client.send(cid, {"text": "Maya Lindqvist"})
        out = client.send(cid, {"text": f"1987-03-{15 + n}"})
        if n < attempts - 1:
            assert out["status"] == "open" and out["handoff"] is None
            assert out["question"]["slot"] == "full_name"
            assert "couldn't find an account" in out["reply"] and f"attempts left: {attempts - 1 - n}" in out["reply"]
    assert out["handoff"]["reason"].startswith("identity_not_verified")


def test_a_person_still_takes_over_while_ticketing_is_down(client):
    """The handoff queue is its own system (telco/data/backends.yaml): a CRM outage drill leaves it up."""
    sim_locked = next(s for s in load_scenarios() if s.id == "sim-pin-locked-handoff")
    client._run(client.oss_bss.set_chaos({"unavailable": ["crm"]}))
    try:
        result = run_scenario_with_agents(sim_locked, client)  # a playbook's own hand-over
        assert result.passed, [c for c in result.checks if not c.ok]
        person = Principal(key_id="test-c1009", role="customer", customer_id="C1009")
        cid = client._run(client.planner.start_conversation(person, NewConversation())).conversation_id
        out = client._run(client.planner.handle_turn(person, cid, MessageIn(
            text="I don't want a bot. Please put me through to a real person."))).model_dump(mode="json")
    finally:
        client._run(client.oss_bss.set_chaos({}))
    assert out["status"] == "handed_off" and out["handoff"]["queue"] == "support"
    assert "customer support team" in out["reply"]
    held = client._run(client.oss_bss.handoffs("get", out["handoff"]["handoff_id"]))
    assert held["customer_id"] == "C1009" and held["status"] == "queued"
