"""The offline metrics of one arm's replayed scenarios (a playbook or a prompt version): end state reached, turns,
escalation correct, and the resolution rate per scenario family (which jobs.common.ab.families_worse compares)."""
from __future__ import annotations

from typing import Any


def escalation_correct(result: Any) -> bool:
    """Handed over exactly when the scenario expects a person (scenarios without a hand-over check: True)."""
    return next((c.ok for c in result.checks if c.check == "handoff"), True)


def summarise(results: list) -> dict[str, Any]:
    """The offline metrics of one arm's scenario results (telco.scenarios.report.ScenarioResult)."""
    n = len(results)
    return {"n": n, "resolved": sum(r.passed for r in results),
            "resolution_rate": round(sum(r.passed for r in results) / n, 4) if n else 0.0,
            "mean_turns": round(sum(r.outcome.turns for r in results) / n, 2) if n else 0.0,
            "escalation_correct": round(sum(escalation_correct(r) for r in results) / n, 4) if n else 0.0,
            "by_family": by_family(results)}


def by_family(results: list) -> dict[str, float]:
    fam: dict[str, list[int]] = {}
    for r in results:
        t = fam.setdefault(r.family, [0, 0])
        t[0] += r.passed
        t[1] += 1
    return {f: round(p / t, 4) for f, (p, t) in sorted(fam.items())}
