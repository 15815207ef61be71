"""Failure analysis: takes the escalated, unresolved and abandoned episodes, replays each through the playbook
version that ran it to find the failure point, groups the same failure point and observation into patterns, ranks
them by frequency and cost, proposes a fix for each, and writes the `failure_patterns` table and a markdown report.
It also proposes prompt guidelines from the failed runs and conversations (jobs.prompts.guideline_rules).

Run as `python -m jobs.failures --memory-uri ./var/memory --report var/failures.md`.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jobs.common.episodes import read_all
from jobs.common.library import Library
from jobs.common.runs import FAILED, runs_of
from jobs.common.tables import local_writer
from jobs.common.trace import Edge, finding_label
from jobs.prompts.guideline_rules import proposed_guidelines
from memory.store import MemoryStore, now_utc
from telco.contract.episode import Episode

# A failure costs a person's time (the hand-over) plus the customer's effort: 0.1 per step they went through.
HANDOFF_COST, STEP_COST = 1.0, 0.1


def _signature(observation: Any) -> str:
    """The scalar facts a step saw, as stable JSON (what a pattern's episodes have in common)."""
    if isinstance(observation, dict):
        return json.dumps({k: v for k, v in sorted(observation.items())
                           if isinstance(v, (str, int, float, bool)) and k not in ("step_id", "done")},
                          sort_keys=True)
    return json.dumps(observation, default=str)


def _common(observations: list[str]) -> dict[str, Any]:
    """Facts shared by at least 80% of a pattern's observations."""
    counts: Counter = Counter()
    for o in observations:
        val = json.loads(o)
        if isinstance(val, dict):
            counts.update((k, json.dumps(v)) for k, v in val.items())
    need = 0.8 * len(observations)
    return {k: json.loads(v) for (k, v), n in sorted(counts.items()) if n >= need}


def propose_fix(edge: Edge, lib: Library, version: int) -> dict[str, Any]:
    """A playbook branch change: where this edge went in earlier versions, when it went somewhere else."""
    earlier = [b for b in lib.history(edge.playbook) if b.version < version]
    for book in reversed(earlier):
        try:
            step = book.step(edge.step)
        except KeyError:
            continue
        before = edge_target(step, edge.via)
        if before and before != edge.target:
            return {"kind": "playbook_branch", "playbook": edge.playbook, "step": edge.step, "via": edge.via,
                    "from": edge.target, "to": before, "why": f"v{book.version} went to {before} here"}
    return {"kind": "playbook_branch", "playbook": edge.playbook, "step": edge.step, "via": edge.via,
            "from": edge.target, "to": None, "why": "try the other steps of the flow (see jobs.evolve)"}


def catalogue_fix(finish: dict[str, Any]) -> dict[str, Any]:
    """For a closed loop that ended badly: its remedies are data in the diagnosis catalogue, not branches of the
    graph (repointing the step's branch would only hide how the loop ended), so the fix to review is the cause's
    remedy, or for a goal no known cause explained, a cause the catalogue lacks."""
    cause, goal = finish.get("cause"), finish.get("goal")
    why = (f"review the remedy of cause {cause} (goal {goal}) in telco/data/diagnosis.yaml" if cause else
           f"goal {goal} failed with no known cause present: a cause telco/data/diagnosis.yaml lacks")
    return {"kind": "diagnosis_catalogue", "goal": goal, "cause": cause, "outcome": finish.get("outcome"),
            "why": why}


def edge_target(step: Any, via: str) -> str | None:
    if via == "next":
        return step.next
    if via == "on_error":
        return step.on_error
    i = int(via.split(":")[1])
    return step.branches[i].goto if i < len(step.branches) else None


def analyse(store: MemoryStore) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lib = Library(store)
    episodes = read_all(store)
    runs = runs_of(episodes, lib, desc="failures")
    per_version = Counter((r.playbook, r.version) for r in runs)
    groups: dict[tuple, list[tuple[Episode, Any, int]]] = defaultdict(list)
    untraced = 0
    correct_handoffs = Counter(r.called_for for r in runs if r.called_for is not None)  # correct, at no cost
    for run in runs:
        if not run.failed:
            continue
        ep, name, version, t = run.episode, run.playbook, run.version, run.trace
        if t.failure is None:
            untraced += 1
            key = (name, version, ep.intent, "(not traced)", "", "", ep.outcome)
            groups[key].append((ep, None, len(ep.steps)))
            continue
        e = t.failure
        where = f"{e.playbook}.{e.step}"
        if t.finding is not None:
            # A closed loop's failures differ by how it ended (which goal, which cause), not by the branch taken.
            where = f"{where} -> {finding_label(t.finding)}"
        key = (name, version, ep.intent, where, e.via, e.target, ep.outcome)
        groups[key].append((ep, _signature(t.observation), len(ep.steps)))
    patterns = []
    now = now_utc()
    for (name, version, intent, where, via, target, outcome), items in groups.items():
        count = len(items)
        cost = sum(HANDOFF_COST + STEP_COST * n for _, _, n in items)
        trigger = _common([o for _, o, _ in items if o is not None]) if where != "(not traced)" else {}
        if where == "(not traced)":
            fix = {"kind": "review", "why": "the recorded steps do not follow this playbook version"}
            diagnosis = f"{count} {outcome} runs of {name} v{version} could not be replayed through the playbook"
        elif " -> " in where:
            point, ended = where.split(" -> ", 1)
            fix = catalogue_fix(trigger)
            diagnosis = (f"{count} of {per_version[(name, version)]} runs of {name} v{version} ended {outcome}: the "
                         f"closed loop of step {point} ended {ended}, and the {via} edge leads to {target}, which "
                         f"hands over without trying anything else")
        else:
            pb, step = where.split(".", 1)
            fix = propose_fix(Edge(playbook=pb, step=step, via=via, target=target), lib, version)
            diagnosis = (f"{count} of {per_version[(name, version)]} runs of {name} v{version} ended {outcome}: at "
                         f"step {where} the {via} edge leads to {target}, which hands over without trying anything "
                         f"else, when the customer saw {json.dumps(trigger, sort_keys=True)}")
        pid = hashlib.sha1(f"{name}|{version}|{where}|{via}|{target}|{outcome}".encode()).hexdigest()[:16]
        patterns.append({
            "pattern_id": pid, "playbook": name, "version": version, "intent": intent, "failure_step": where,
            "trigger": json.dumps({"via": via, "target": target, "observation": trigger}, sort_keys=True),
            "outcome": outcome, "count": count, "cost": round(cost, 2),
            "share_of_runs": round(count / per_version[(name, version)], 4), "diagnosis": diagnosis,
            "proposed_fix": json.dumps(fix, sort_keys=True),
            "examples": [ep.episode_id for ep, _, _ in items[:5]], "detected_at": now})
    patterns.sort(key=lambda p: (-p["cost"], -p["count"], p["pattern_id"]))
    guidelines = proposed_guidelines(store, [e for e in episodes if e.outcome in FAILED], runs)
    return patterns, {"episodes": len(episodes), "failed": sum(len(v) for v in groups.values()),
                      "untraced": untraced, "guidelines": guidelines, "called_for": dict(correct_handoffs)}


def report_markdown(patterns: list[dict[str, Any]], facts: dict[str, Any], top: int = 10) -> str:
    lines = ["# Failure patterns", "",
             f"{facts['failed']} failed episodes of {facts['episodes']}; ranked by cost "
             f"({HANDOFF_COST} per hand-over + {STEP_COST} per step the customer went through). "
             f"{sum(facts['called_for'].values())} hand-overs the situation called for are not failures.", "",
             "| # | playbook | failure point | outcome | count | share of runs | cost | proposed fix |",
             "|---|---|---|---|---|---|---|---|"]
    for n, p in enumerate(patterns[:top], 1):
        fix = json.loads(p["proposed_fix"])
        change = (f"{fix['step']} {fix['via']}: {fix['from']} → {fix['to'] or '?'}"
                  if fix["kind"] == "playbook_branch" else
                  f"catalogue: {fix['cause'] or 'goal ' + str(fix['goal'])}" if fix["kind"] == "diagnosis_catalogue"
                  else fix["kind"])
        lines.append(f"| {n} | {p['playbook']} v{p['version']} | {p['failure_step']} | {p['outcome']} | "
                     f"{p['count']} | {p['share_of_runs']:.0%} | {p['cost']} | {change} |")
    lines += ["", "## Diagnoses", ""]
    lines += [f"{n}. {p['diagnosis']}" for n, p in enumerate(patterns[:top], 1)]
    if facts["guidelines"]:
        lines += ["", "## Prompt guidelines proposed", ""]
        lines += [f"- {g['role']}: {g['guideline']} ({g['why']})" for g in facts["guidelines"]]
    return "\n".join(lines) + "\n"


def failures(memory_uri: str, report: str | None = None) -> dict[str, Any]:
    store, writer = local_writer(memory_uri)
    patterns, facts = analyse(store)
    if patterns:
        writer.upsert("failure_patterns", patterns)
    text = report_markdown(patterns, facts)
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(text)
    top = ({k: patterns[0][k] for k in ("playbook", "version", "failure_step", "count", "proposed_fix")}
           if patterns else None)
    return {"job": "failures", "episodes": facts["episodes"], "failed": facts["failed"],
            "patterns": len(patterns), "untraced": facts["untraced"], "report": report,
            "called_for": sum(facts["called_for"].values()), "top": top}

