"""Every scenario reaches its expected end state through the playbook runner, and its checks can fail."""
import json
import subprocess
import sys

import pytest

from telco.scenarios import load_scenarios
from telco.scenarios.outcome import Outcome
from telco.scenarios.playbook_driver import run_scenario_with_playbooks
from telco.scenarios.report import judge
from telco.scenarios.setup import build_sandbox

SCENARIOS = load_scenarios()
SOURCE_FAMILIES_REQUIRED = {"broadband_drops", "broadband_slow", "billing", "moving_house", "plan_upgrade",
                            "outage", "conflicting_intents", "identity", "no_service"}


def test_the_suite_is_large_and_covers_the_source_scenarios():
    assert len(SCENARIOS) >= 40
    source = [s for s in SCENARIOS if s.source]
    assert SOURCE_FAMILIES_REQUIRED <= {s.family for s in source}
    assert any(len(s.intents) > 1 for s in source), "a source scenario with two intents"
    assert any(len(s.faults) > 1 for s in SCENARIOS), "a scenario with several faults"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_scenario_reaches_its_end_state(scenario):
    result = run_scenario_with_playbooks(scenario)
    failed = [f"{c.check}: {c.detail}" for c in result.checks if not c.ok]
    assert result.passed, "\n".join(failed)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_doing_nothing_fails_the_scenario(scenario):
    """The expected end state is not already true: a conversation that does nothing must not pass."""
    sandbox = build_sandbox(scenario)
    result = judge(scenario, sandbox.world.model_copy(deep=True), sandbox, Outcome(scenario_id=scenario.id))
    assert not result.passed, f"{scenario.id} passes without any conversation: its checks prove nothing"


def test_cli_prints_a_json_summary_last():
    ids = ["bb-drops-overheating-wfh", "unknown-customer"]
    proc = subprocess.run([sys.executable, "-m", "cli.main", "scenarios", "run", "--runner", "playbook",
                           "--only", *ids], capture_output=True, text=True, check=True)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["total"] == 2 and summary["passed"] == 2 and summary["runner"] == "playbook"
