"""Prompt versions through the whole loop, on LanceDB on disk, the real embedding model and the Claude path
in-process (actors/runtime/local.py) with the real anthropic SDK against the scripted prompt-following model:
failure report -> guideline proposals -> evolved candidate (reflective, gated) -> evaluation -> promotion or not
-> rollback. The scripted model writes differently only when a guideline's text is in the prompt it receives,
so these tests fail if a candidate prompt does not reach the model."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from memory_template import bootstrapped_memory

from jobs.playbooks.failures import analyse
from jobs.prompts.evolve import evolve_prompt
from jobs.prompts.model_source import scripted_source
from jobs.prompts.versions import compare_prompts, rollback_prompt
from memory.bootstrap import load_role_prompts
from memory.episodic import EpisodicMemory
from memory.procedural import ProceduralMemory
from memory.prompts import PromptRegistry
from memory.store import connect
from memory.working import WorkingMemory
from memory.writer import LocalWriter
from telco.contract.episode import Episode
from telco.prompt_guidelines import carried, load_guidelines, with_guidelines
from telco.testing.guided_model import REWRITE_TOOL, guided_api, guided_reply
from telco.testing.scripted_api import ScriptedMessagesApi, tool_use

pytestmark = pytest.mark.slow  # replays conversations through every agent

DIALOGUE_GUIDELINES = ["concision", "acknowledgement", "history"]
T0 = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def replay_uri(tmp_path_factory):
    """A bootstrapped memory the replays run in (shared by the module; the replays only add conversations)."""
    uri = str(tmp_path_factory.mktemp("replay"))
    bootstrapped_memory(uri)
    return uri


def dialogue_requests(api) -> list[str]:
    """The dialogue prompt of every streamed reply request the model received."""
    return [r.body["system"][0]["text"] for r in api.requests if r.stream]


def test_the_guideline_candidate_wins_on_replies_is_promoted_and_rolled_back(replay_uri):
    store = connect(replay_uri)
    writer = LocalWriter(store)
    registry = PromptRegistry(store, writer)
    control = registry.active("dialogue")
    cand = registry.register("dialogue", with_guidelines(control.text, DIALOGUE_GUIDELINES), note="test")
    api = guided_api()
    out = compare_prompts(store, writer, "dialogue", cand.version, scripted_source(api), replay_n=10,
                          min_per_arm=10, promote=True, replay_uri=replay_uri)
    a, b = out["control"], out["candidate"]
    assert a["n"] == b["n"] == 10 and a["resolution_rate"] == b["resolution_rate"] > 0.8
    assert b["mean_reply_words"] < a["mean_reply_words"] - 10
    assert b["opening_acknowledged"] == 1.0 and a["opening_acknowledged"] < 0.5
    assert b["reply_standard_met"] > a["reply_standard_met"] and a["llm_calls"] > 2 * a["n"]
    assert a["degraded_turns"] == b["degraded_turns"] == 0 and not api.problems
    # the candidate's text reached the model on its arm's reply requests, and only there
    seen = [carried(t) for t in dialogue_requests(api)]
    assert set(DIALOGUE_GUIDELINES) in seen and set() in seen
    assert out["decision"]["promote"] and out["families_worse"] == [] and out["promoted"] == cand.version
    assert registry.active("dialogue").version == cand.version
    # the judge scored both arms in one batch, next to the offline numbers
    judged = out["judge"]
    assert judged["candidate"]["judged"] == judged["control"]["judged"] == 10
    assert judged["candidate"]["efficiency"] > judged["control"]["efficiency"]
    assert judged["candidate"]["cost_usd"] > 0 and out["judge_batch"]["request_counts"]["succeeded"] == 20
    metrics = registry.get("dialogue", cand.version).metrics
    assert metrics["reply_standard_met"] == b["reply_standard_met"] and "judge_efficiency" in metrics
    state = json.loads(store.table("job_state").search().where("job = 'prompt_eval'").to_list()[0]["state"])
    assert state["history"][-1]["promoted"] == cand.version and state["history"][-1]["role"] == "dialogue"

    back = rollback_prompt(store, writer, "dialogue")
    assert (back["rolled_back_from"], back["active"]) == (cand.version, control.version)
    assert registry.active("dialogue").version == control.version


def test_identical_prompt_versions_do_not_promote(replay_uri):
    store = connect(replay_uri)
    writer = LocalWriter(store)
    registry = PromptRegistry(store, writer)
    active = registry.active("dialogue")
    twin = registry.register("dialogue", active.text, note="identical twin")
    out = compare_prompts(store, writer, "dialogue", twin.version, scripted_source(guided_api()), replay_n=5,
                          min_per_arm=5, promote=True, judge=False, replay_uri=replay_uri)
    assert out["control"]["successes"] == out["candidate"]["successes"]
    assert out["control"]["mean_reply_words"] == out["candidate"]["mean_reply_words"]
    assert not out["decision"]["promote"] and out["promoted"] is None
    assert registry.active("dialogue").version == active.version


def plant_failed_conversations(store, writer, embedder, n: int = 6) -> None:
    """Failed issues whose replies are long, never acknowledge the customer and ask the same question twice."""
    ProceduralMemory(store, writer).load_playbooks()
    load_role_prompts(store, writer)
    working = WorkingMemory(store, writer)
    long_reply = "Please provide the details requested below so that we can continue. " * 9
    episodes = []
    for i in range(n):
        cid = f"failed-{i}"
        for reply in ("What is the account holder's full name?", long_reply, long_reply):
            turn = {"reply": reply, "citations": [], "question": {"slot": "full_name", "kind": "text",
                                                                  "text": reply}}
            working.record_exchange(cid, [("customer", "My internet keeps dropping.", None),
                                          ("agent", reply, json.dumps(turn))], customer_id="C1001")
        episodes.append(Episode(episode_id=f"{cid}:0", customer_id="C1001", conversation_id=cid,
                                summary="broadband drops abandoned after 3 turns",
                                intents=["broadband_drops"], outcome="abandoned", started_at=T0,
                                ended_at=T0 + timedelta(minutes=4)))
    EpisodicMemory(store, writer, embedder).record(*episodes)


def test_failure_report_proposes_guidelines_and_evolve_writes_a_gated_reflective_candidate(
        store, writer, embedder, replay_uri):
    plant_failed_conversations(store, writer, embedder)
    _, facts = analyse(store)
    proposed = {(g["role"], g["guideline"]) for g in facts["guidelines"]}
    assert {("dialogue", "concision"), ("dialogue", "acknowledgement"), ("dialogue", "history"),
            ("planner", "history")} <= proposed

    api = guided_api()
    out = evolve_prompt(store, writer, "dialogue", scripted_source(api), batch=3, replay_uri=replay_uri)
    assert out["guidelines"] == ["concision", "acknowledgement", "history"]
    assert out["reflection"]["used"] and out["stored"]["how"] == "reflective"
    assert out["gate"]["reflective"] > out["gate_baseline"]
    rewrite = next(r for r in api.requests if r.forced_tool == REWRITE_TOOL)
    asked = rewrite.body["messages"][0]["content"]
    assert "signal: acknowledgement" in asked and "Please provide the details requested" in asked
    stored = PromptRegistry(store, writer).get("dialogue", out["stored"]["version"])
    assert stored.status == "candidate" and "evolved (reflective)" in stored.note
    assert carried(stored.text) == set(DIALOGUE_GUIDELINES)


def test_a_rewrite_that_drops_a_policy_line_falls_back_to_the_rule_based_candidate(store, writer, replay_uri):
    load_role_prompts(store, writer)
    registry = PromptRegistry(store, writer)
    current = registry.active("dialogue").text
    careless = "\n".join(line for line in current.splitlines() if "never" not in line.lower())

    def script(body):
        if body.get("tool_choice", {}).get("name") == REWRITE_TOOL:
            return tool_use(REWRITE_TOOL, {"prompt": careless + "\nBe brief.", "rationale": "shorter"})
        return guided_reply(body)
    api = ScriptedMessagesApi(script)
    out = evolve_prompt(store, writer, "dialogue", scripted_source(api), names=["concision", "acknowledgement"],
                        batch=3, replay_uri=replay_uri)
    assert not out["reflection"]["used"] and "dropped the policy line" in out["reflection"]["why"]
    assert out["candidates"] == 1 and out["stored"]["how"] == "rule-based"
    stored = registry.get("dialogue", out["stored"]["version"])
    assert "reflective rewrite not used" in stored.note
    assert stored.text == with_guidelines(current, ["concision", "acknowledgement"], load_guidelines())


def test_the_replay_memory_runs_the_evaluated_memorys_active_playbooks(store, writer, tmp_path):
    from jobs.common.library import Library
    from jobs.playbooks.evolve import repoint
    from jobs.prompts.replay import copy_active_playbooks
    from telco.playbooks import load_playbooks

    ProceduralMemory(store, writer).load_playbooks()
    good = load_playbooks()["slow_broadband"]
    changed = repoint(good, "first_test", "next", "hand_over", good.version + 1)
    ProceduralMemory(store, writer).add_version(changed.model_dump(mode="json", exclude_none=True), status="active")
    target = connect(str(tmp_path / "scratch"))
    ProceduralMemory(target, LocalWriter(target)).load_playbooks()  # what a bootstrap gives: the shipped versions
    copy_active_playbooks(store, str(tmp_path / "scratch"))
    assert Library(connect(str(tmp_path / "scratch"))).active == Library(store).active
    assert Library(connect(str(tmp_path / "scratch"))).books()["slow_broadband"] == changed
