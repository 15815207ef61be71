"""Failure analysis over the closed-loop flows (a `diagnose` step): the episode says how the loop ended, the replay
takes the step as one step whose result is that end, a hand-over the loop called for is not a failure, and one it
did not call for is a pattern named by the loop's goal and cause, whose fix is the diagnosis catalogue's, never a
repointed branch."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from actors.agents.escalation import called_for_rules
from jobs.common.runs import called_for
from jobs.common.trace import trace
from jobs.playbooks.evolve import top_pattern
from jobs.playbooks.failures import failures
from memory.episodic import EpisodicMemory
from memory.procedural import ProceduralMemory
from telco.contract.episode import Episode, EpisodeStep
from telco.playbooks import load_playbooks
from telco.playbooks.diagnosis import Finish
from telco.playbooks.runner import PlaybookRunner
from telco.scenarios import load_scenarios
from telco.scenarios.customer import ScriptedCustomer
from telco.scenarios.outcome import Outcome
from telco.scenarios.playbook_driver import _drive
from telco.scenarios.setup import build_sandbox
from telco.tools.port import LocalToolPort

T0 = datetime(2026, 11, 3, 9, tzinfo=timezone.utc)
BOOKS = load_playbooks()


def loop_steps(scenario_id: str, playbook: str) -> tuple[list[EpisodeStep], str]:
    """The steps of one real run of a closed-loop flow, as the planner's episode_of keeps them, and how it ended."""
    scenario = next(s for s in load_scenarios() if s.id == scenario_id)
    sandbox = build_sandbox(scenario)
    port = LocalToolPort(sandbox, conversation_id=f"test-{scenario_id}")
    runner = PlaybookRunner(BOOKS)
    customer = ScriptedCustomer(scenario, sandbox)

    async def run():
        outcome = Outcome(scenario_id=scenario.id)
        scope = {"requested_service_id": scenario.service_id} if scenario.service_id else {}
        state = await _drive(runner, await runner.start(playbook, port, scope), port, customer, outcome)
        if state.needs == "identity":  # the loop reached the account: verify, as the planner would, and go on
            await _drive(runner, await runner.start("identify", port, scope={}), port, customer, outcome)
            state = await _drive(runner, await runner.advance(state, port), port, customer, outcome)
        return state

    state = asyncio.run(run())
    steps = [EpisodeStep(name=r.name, kind=r.kind, result=r.error or r.result, ok=r.error is None)
             for r in state.history if r.kind in ("tool", "customer_step", "ask", "inform", "diagnosis")]
    return steps, state.status


def test_a_fixed_loop_is_one_step_of_the_replay():
    steps, status = loop_steps("data-saver-on", "mobile_data")
    assert status == "resolved"
    ended = [s for s in steps if s.kind == "diagnosis"]
    assert len(ended) == 1 and ended[0].name == "data"
    assert isinstance(ended[0].result, Finish) and ended[0].result.outcome == "passed"
    t = trace(BOOKS, "mobile_data", steps)
    assert t.complete and t.failure is None
    assert t.path == ["mobile_data.diagnose", "mobile_data.fixed", "mobile_data.done"]


def test_a_loop_that_calls_for_a_person_is_traced_to_its_end_and_is_not_a_failure():
    steps, status = loop_steps("sim-pin-locked-handoff", "no_service")
    assert status == "escalated"
    t = trace(BOOKS, "no_service", steps)
    assert t.path == ["no_service.diagnose", "no_service.hand_over"] and t.complete
    assert (t.failure.step, t.failure.via, t.failure.target) == ("diagnose", "branch:1", "hand_over")
    assert (t.finding.outcome, t.finding.goal, t.finding.cause, t.finding.called_for) == (
        "person", "service", "sim_puk_locked", True)
    # No hand-over step recorded (an older episode): the end step's "{vars.diagnosis.called_for}" reads the loop's.
    episode = Episode(episode_id="ep-puk", customer_id="C1007", summary="no service escalated", outcome="escalated",
                      intents=["mobile_no_service"], playbook="no_service",
                      playbook_version=BOOKS["no_service"].version, steps=steps, started_at=T0, ended_at=T0)
    assert episode.diagnosis == t.finding
    assert called_for(episode, t.path, BOOKS, called_for_rules(), t.vars) == "no_service.hand_over"


def finish(cause: str | None, called: bool) -> dict:
    return {"name": "data", "kind": "diagnosis", "ok": True,
            "result": {"outcome": "person", "goal": "data", "cause": cause, "queue": "technical",
                       "reason": "mobile data still failing", "called_for": called}}


LOOKS = [{"name": "run_phone_speed_test", "kind": "customer_step", "result": {"label": "none"}, "ok": True},
         {"name": "get_data_usage", "kind": "tool", "result": {"remaining_gb": 0}, "ok": True}]


def episode(n: int, steps: list[dict], outcome: str = "escalated") -> Episode:
    return Episode(episode_id=f"ep-{n}", customer_id=f"C{1000 + n}", conversation_id=f"conv-{n}",
                   summary=f"mobile data {outcome}", intents=["mobile_data"], playbook="mobile_data",
                   playbook_version=BOOKS["mobile_data"].version, service_type="mobile", steps=steps,
                   outcome=outcome, started_at=T0, ended_at=T0 + timedelta(minutes=5))


@pytest.fixture
def uri(tmp_path, store, writer, embedder):
    ProceduralMemory(store, writer).load_playbooks()
    EpisodicMemory(store, writer, embedder).record(
        # A loop that ended with a person it did not call for (as a catalogue whose remedy gives up would record):
        # failures, one pattern per way the loop ended.
        *[episode(n, LOOKS + [finish("allowance_used_up", False)]) for n in range(3)],
        episode(3, LOOKS + [finish(None, False)]),
        # Called for by the loop: not failures.
        *[episode(10 + n, LOOKS + [finish(None, True)]) for n in range(2)],
        episode(20, LOOKS + [{"name": "data", "kind": "diagnosis", "ok": True,
                              "result": {"outcome": "passed", "goal": "data"}},
                             {"name": "data_working", "kind": "inform", "ok": True}], outcome="resolved"),
    )
    return str(tmp_path / "memory")


def test_failure_patterns_of_a_loop_name_its_goal_and_cause_and_propose_a_catalogue_fix(uri, store, tmp_path):
    summary = failures(uri, str(tmp_path / "failures.md"))
    assert (summary["failed"], summary["called_for"], summary["untraced"]) == (4, 2, 0)
    patterns = sorted(store.table("failure_patterns").search().limit(10).to_list(), key=lambda p: -p["count"])
    assert [(p["failure_step"], p["count"]) for p in patterns] == [
        ("mobile_data.diagnose -> person (goal data, cause allowance_used_up)", 3),
        ("mobile_data.diagnose -> person (goal data)", 1)]
    fix = json.loads(patterns[0]["proposed_fix"])
    assert (fix["kind"], fix["goal"], fix["cause"], fix["outcome"]) == (
        "diagnosis_catalogue", "data", "allowance_used_up", "person")
    assert json.loads(patterns[1]["proposed_fix"])["cause"] is None
    report = (tmp_path / "failures.md").read_text()
    assert "mobile_data.diagnose -> person (goal data, cause allowance_used_up)" in report
    assert "catalogue: allowance_used_up" in report
    # The loop has no graph branch to repoint: evolution leaves it to the catalogue.
    assert top_pattern(store) is None
