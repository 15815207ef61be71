"""Judging a finished conversation against the scenario's expected end state, and the suite summary."""
from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel

from telco.models import World
from telco.policy import IdentityDetail, load_policy
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
    outcome.handoffs = [{"queue": h.queue, "reason": h.reason, "called_for": bool(h.context.get("called_for"))}
                        for key, h in after.world.handoffs.items() if key not in before.handoffs]
    checks = evaluate(CheckContext(scenario=scenario, before=before, after=after, outcome=outcome))
    checks.append(identity_questions(outcome))
    if outcome.error:
        checks.append(CheckResult(check="no_error", ok=False, detail=outcome.error))
    return ScenarioResult(scenario_id=scenario.id, family=scenario.family, source=scenario.source,
                          passed=all(c.ok for c in checks), checks=checks, outcome=outcome)


def identity_questions(outcome: Outcome) -> CheckResult:
    """Every scenario, whatever it expects: no identity question is put more often than policy's attempt limit."""
    limit = load_policy().identity.max_failed_attempts
    asked = {slot: n for slot, n in outcome.asked.items() if slot in get_args(IdentityDetail)}
    over = {slot: n for slot, n in asked.items() if n > limit}
    return CheckResult(check="identity_questions", ok=not over,
                       detail=f"identity questions asked {asked or 'none'}, at most {limit} times each")


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


def suite_extras(scenarios: list[Scenario], results: list[ScenarioResult]) -> dict[str, Any]:
    """What a generated suite is judged on besides the pass rate: error ends, hand-overs labelled as called for,
    pass rates per fault, and a digest of every transcript (two runs of the offline path must give the same)."""
    from telco.scenarios.compound import transcript_digest

    by_id = {s.id: s for s in scenarios}
    by_fault: dict[str, list[int]] = {}
    for r in results:
        for fault in {f.name for f in by_id[r.scenario_id].faults}:
            tally = by_fault.setdefault(fault, [0, 0])
            tally[0] += r.passed
            tally[1] += 1
    handed = [r for r in results if r.outcome.handoffs]
    transcripts = ["\n".join(f"{x.who}: {x.text}" for x in r.outcome.transcript) for r in results]
    return {
        "error_ends": sum(1 for r in results if r.outcome.error),
        "handoffs": len(handed),
        "handoffs_called_for": sum(all(h["called_for"] for h in r.outcome.handoffs) for r in handed),
        "faults": {f: f"{p}/{n}" for f, (p, n) in sorted(by_fault.items())},
        "transcript_digest": transcript_digest(transcripts),
    }
