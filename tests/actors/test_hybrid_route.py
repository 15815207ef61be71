"""Hybrid mode in-process (actors/runtime/local.py) with the Claude path against a scripted Messages API through the
real anthropic SDK: the deterministic path answers what it is sure of without a model call, the model is called for
what it does better, and every turn's trace says which path answered and why (actors/planner/route.py)."""
from __future__ import annotations

import asyncio
import contextlib

import llm_kit
import pytest
from memory_template import bootstrapped_memory

from actors.planner.llm_brain import ClaudeBrain, brain_from_settings
from actors.runtime.local import LocalClient
from telco.config import Settings
from telco.contract.http import MessageIn, NewConversation
from telco.contract.principal import Principal
from telco.scenarios import load_scenarios
from telco.scenarios.agents_driver import run_scenario_with_agents
from telco.testing.competent_model import PLAN_TOOL, competent_reply
from telco.testing.scripted_api import ScriptedMessagesApi

pytestmark = pytest.mark.slow  # loads the embedding model once for the module

C1001 = Principal(key_id="test-c1001", role="customer", customer_id="C1001")
CONFIDENT = "My phone says no service since this morning."  # the classifier: mobile_no_service, 0.99, alone


def opening(scenario_id: str) -> str:
    return next(s for s in load_scenarios() if s.id == scenario_id).message


@pytest.fixture(scope="module")
def memory_uri(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("memory"))
    bootstrapped_memory(uri)
    return uri


@pytest.fixture
def make(memory_uri):
    """The in-process system on a scripted competent model, in the given mode; closed when the test ends."""
    with contextlib.ExitStack() as built:
        def build(mode: str = "hybrid", wording: tuple[str, ...] | None = None):
            api = ScriptedMessagesApi(competent_reply, cache=llm_kit.CacheSimulator(min_cacheable_tokens=0))
            brain = ClaudeBrain(llm_kit.client(api), mode=mode, wording=wording)
            return built.enter_context(LocalClient(memory_uri, llm=brain)), api
        yield build


def open_and_send(client: LocalClient, text: str) -> tuple[str, dict]:
    cid = client._run(client.planner.start_conversation(C1001, NewConversation())).conversation_id
    return cid, send(client, cid, {"text": text})


def send(client: LocalClient, cid: str, body: dict) -> dict:
    out = client._run(client.planner.handle_turn(C1001, cid, MessageIn.model_validate(body)))
    return out.model_dump(mode="json")


def test_a_confident_single_intent_and_the_step_results_after_it_make_no_model_call(make):
    client, api = make()
    cid, turn = open_and_send(client, CONFIDENT)
    assert not api.requests and turn["trace"]["llm_calls"] == [] and turn["mode"] == "offline"
    assert turn["trace"]["route"] == {"setting": "hybrid", "path": "deterministic",
                                      "reason": "confident_single_intent", "understood_by": "code",
                                      "written_by": "code"}
    assert turn["intents"][0]["intent"] == "mobile_no_service" and turn["customer_steps"]  # the flow went on
    step = turn["customer_steps"][0]["step_id"]
    observation = client.perform_step(step, "C1001", None)
    after = send(client, cid, {"text": "Done.", "step_results": [{"step_id": step, "observation": observation}]})
    assert not api.requests and after["mode"] == "offline"
    assert after["trace"]["route"]["reason"] == "step_result" and after["trace"]["route"]["path"] == "deterministic"


def test_a_low_confidence_message_is_read_by_the_model_and_the_template_reply_stands(make):
    client, api = make()
    _, turn = open_and_send(client, opening("bb-stale-port"))  # the classifier: broadband_drops 0.41 or slow 0.40
    route = turn["trace"]["route"]
    assert route == {"setting": "hybrid", "path": "model", "reason": "low_confidence", "understood_by": "model",
                     "written_by": "code"}
    assert [r.forced_tool for r in api.requests] == [PLAN_TOOL]  # one call: the reading; the template is the reply
    assert turn["mode"] == "llm" and [c["agent"] for c in turn["trace"]["llm_calls"]] == ["planner"]
    assert turn["intents"][0]["intent"] == "broadband_drops"  # the model's reading (the scenario's label)
    # the classifier ran first and its reading was not acted on
    assert [a["agent"] for a in turn["trace"]["agents"]][:2] == ["intent", "planner"]


def test_a_message_with_two_intents_is_read_by_the_model(make):
    client, api = make()
    _, turn = open_and_send(client, opening("slow-bb-and-upgrade-question"))
    route = turn["trace"]["route"]
    assert route["path"] == "model" and route["reason"].startswith("multi_intent")
    assert route["understood_by"] == "model" and api.requests[0].forced_tool == PLAN_TOOL
    assert {i["intent"] for i in turn["intents"]} == {"broadband_slow", "plan_upgrade"}


def test_an_emotional_message_gets_the_models_wording_but_not_its_reading(make):
    client, api = make()
    _, turn = open_and_send(client, "My phone has no signal at all, this is ridiculous and I'm fed up!")
    assert turn["trace"]["route"] == {"setting": "hybrid", "path": "model", "reason": "emotional",
                                      "understood_by": "code", "written_by": "model"}
    assert len(api.requests) == 1 and api.requests[0].stream and api.requests[0].forced_tool is None
    assert turn["mode"] == "llm" and [c["agent"] for c in turn["trace"]["llm_calls"]] == ["dialogue"]


def test_a_wording_setting_has_the_model_word_a_hand_over(make):
    text = "I don't want a bot. Please put me through to a real person."
    client, api = make()
    _, plain = open_and_send(client, text)
    assert plain["status"] == "handed_off" and not api.requests
    assert plain["trace"]["route"]["reason"] == "confident_single_intent"
    client, api = make(wording=("handoff",))
    _, worded = open_and_send(client, text)
    assert worded["trace"]["route"]["reason"] == "wording_setting:handoff" and len(api.requests) == 1
    assert worded["trace"]["route"]["written_by"] == "model" and worded["mode"] == "llm"


def test_llm_mode_reads_and_words_every_new_message_and_offline_never_calls(make, memory_uri):
    client, api = make(mode="llm")
    _, turn = open_and_send(client, CONFIDENT)
    assert len(api.requests) == 2 and turn["trace"]["route"] == {
        "setting": "llm", "path": "model", "reason": "llm_mode", "understood_by": "model", "written_by": "model"}
    with LocalClient(memory_uri) as offline:
        _, turn = open_and_send(offline, CONFIDENT)
    assert turn["mode"] == "offline" and turn["trace"]["route"] == {
        "setting": "offline", "path": "deterministic", "reason": "offline_mode", "understood_by": "code",
        "written_by": "code"}


@pytest.mark.parametrize("scenario_id", ["bb-stale-port", "identity-phone-not-birth-date",
                                         "conflicting-cancel-and-upgrade"])
def test_hybrid_reaches_the_end_states_with_a_competent_model(make, scenario_id):
    client, api = make()
    scenario = next(s for s in load_scenarios() if s.id == scenario_id)
    result = run_scenario_with_agents(scenario, client)
    assert result.passed, [c.detail for c in result.checks if not c.ok]
    assert not api.problems


def test_a_deployment_gets_the_mode_setting(tmp_path):
    def brain(**anthropic):
        return brain_from_settings(Settings(memory_uri=str(tmp_path), anthropic=anthropic))

    assert brain() is None  # no key: offline
    assert brain(api_key="sk-test", mode="offline") is None
    for mode, wording, expected in ((None, None, "hybrid"), ("llm", ["handoff"], "llm")):
        made = brain(api_key="sk-test", mode=mode, model_wording=wording)
        assert made.mode == expected and made.wording == (tuple(wording) if wording else None)
        asyncio.run(made.aclose())
