"""Judging a finished conversation against the scenario's expected end state, and the suite summary."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from telco.models import World
from telco.sandbox.state import Sandbox

from telco.scenarios.checks import CheckContext, CheckResult, evaluate
from telco.scenarios.outcome import Outcome
from telco.scenarios.spec import Scenario


class ScenarioResult(BaseModel):
    scenario_id: str
    family: str
    source: bool
    passed: bool
    checks: list[CheckResult]
    outcome: Outcome


def judge(scenario: Scenario, before: World, after: Sandbox, outcome: Outcome) -> ScenarioResult:
    checks = evaluate(CheckContext(scenario=scenario, before=before, after=after, outcome=outcome))
    if outcome.error:
        checks.append(CheckResult(check="no_error", ok=False, detail=outcome.error))
    return ScenarioResult(scenario_id=scenario.id, family=scenario.family, source=scenario.source,
                          passed=all(c.ok for c in checks), checks=checks, outcome=outcome)


def summarise(results: list[ScenarioResult], runner: str) -> dict[str, Any]:
    total = len(results)
    passed = sum(r.passed for r in results)
    by_family: dict[str, list[int]] = {}
    for r in results:
        tally = by_family.setdefault(r.family, [0, 0])
        tally[0] += r.passed
        tally[1] += 1
    return {
        "runner": runner,
        "total": total,
        "passed": passed,
        "failed": total - passed,
        "pass_rate": round(passed / total, 4) if total else 0.0,
        "source_passed": sum(r.passed for r in results if r.source),
        "source_total": sum(r.source for r in results),
        "failed_ids": [r.scenario_id for r in results if not r.passed],
        "families": {f: f"{p}/{n}" for f, (p, n) in sorted(by_family.items())},
    }
