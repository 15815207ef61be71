"""Failure analysis: takes the escalated, unresolved and abandoned episodes, replays each through the playbook
version that ran it to find the failure point, groups the same failure point and observation into patterns, ranks
them by frequency and cost, proposes a fix for each, and writes the `failure_patterns` table and a markdown report.
It also proposes prompt guidelines from the failed conversations' replies (jobs.guideline_rules).

    python -m jobs.failures --memory-uri ./var/memory --report var/failures.md
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from actors.agents.escalation import called_for_rules
from memory.store import MemoryStore, now_utc
from telco.intents import load_intents
from telco.playbooks.spec import Playbook

from jobs.common import local_writer, parser, print_summary, progress
from jobs.episodes import COLUMNS, playbook_of, steps_of
from jobs.guideline_rules import reply_guidelines
from jobs.trace import Edge, trace

FAILED = ("escalated", "unresolved", "abandoned")
# A failure costs a person's time (the hand-over) plus the customer's effort: 0.1 per step they went through.
HANDOFF_COST, STEP_COST = 1.0, 0.1
LONG_RUN_STEPS = 14  # failed runs longer than this suggest a concision guideline


class Library:
    """Playbook versions from procedural memory, loaded once."""

    def __init__(self, store: MemoryStore) -> None:
        rows = store.table("procedures").search().select(["name", "version", "status", "body"]).limit(
            100_000).to_list()
        self.versions = {(r["name"], int(r["version"])): Playbook.model_validate_json(r["body"]) for r in rows}
        self.active = {r["name"]: int(r["version"]) for r in rows if r["status"] == "active"}

    def books(self, name: str | None = None, version: int | None = None) -> dict[str, Playbook]:
        out = {n: self.versions[(n, v)] for n, v in self.active.items()}
        if name and version and (name, version) in self.versions:
            out[name] = self.versions[(name, version)]
        return out

    def history(self, name: str) -> list[Playbook]:
        return [b for (n, _), b in sorted(self.versions.items()) if n == name]


def _start_of(row: dict[str, Any], lib: Library) -> tuple[str | None, int | None]:
    """The playbook the issue started in (summary names the last one, after any continue_with)."""
    spec = load_intents().get(row.get("intent") or "")
    start = spec.playbook if spec else None
    name, version = playbook_of(row["summary"])
    if start is None:
        return name, version
    return start, version if name == start and version else lib.active.get(start)


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


def called_for(steps: list[dict[str, Any]], path: list[str], books: dict[str, Playbook],
               rules: frozenset[str]) -> str | None:
    """Why a hand-over was the right outcome, or None when it is a failure. The episode records the escalation
    rule that handed over (escalation.yaml marks the rules a situation calls for; an intent with no playbook is
    one only a person handles); a playbook's own hand-over is called for when its end step says so."""
    handoff = next((s.get("result") for s in reversed(steps) if s.get("kind") == "handoff"), None)
    rule = handoff.get("rule") if isinstance(handoff, dict) else None
    if rule in rules:
        return rule
    spec = load_intents().get((rule or "").removeprefix("intent_")) if (rule or "").startswith("intent_") else None
    if spec is not None and spec.playbook is None:
        return rule
    if path:
        playbook, step_id = path[-1].split(".", 1)
        end = books[playbook].step(step_id)
        if end.end == "escalated" and (end.handoff or {}).get("called_for") is True:
            return path[-1]
    return None


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


def edge_target(step: Any, via: str) -> str | None:
    if via == "next":
        return step.next
    if via == "on_error":
        return step.on_error
    i = int(via.split(":")[1])
    return step.branches[i].goto if i < len(step.branches) else None


def analyse(store: MemoryStore) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lib = Library(store)
    rows = store.table("episodes").search().select(COLUMNS).limit(10_000_000).to_arrow().to_pylist()
    runs: Counter = Counter()
    groups: dict[tuple, list[tuple[dict, Any, int]]] = defaultdict(list)
    guideline_hits: Counter = Counter()
    untraced = 0
    correct_handoffs: Counter = Counter()
    rules = called_for_rules()
    for row in progress(rows, desc="failures"):
        name, version = _start_of(row, lib)
        if not name or not version:
            continue
        runs[(name, version)] += 1
        if row["outcome"] not in FAILED:
            continue
        steps = steps_of(row)
        books = lib.books(name, version)
        t = trace(books, name, steps)
        why = called_for(steps, t.path, books, rules) if row["outcome"] == "escalated" else None
        if why is not None:
            correct_handoffs[why] += 1  # the situation needed a person: a correct outcome, at no cost
            continue
        if len(steps) > LONG_RUN_STEPS:
            guideline_hits["concision"] += 1
        if t.failure is None:
            untraced += 1
            key = (name, version, row.get("intent"), "(not traced)", "", "", row["outcome"])
            groups[key].append((row, None, len(steps)))
            continue
        e = t.failure
        key = (name, version, row.get("intent"), f"{e.playbook}.{e.step}", e.via, e.target, row["outcome"])
        groups[key].append((row, _signature(t.observation), len(steps)))
    patterns = []
    now = now_utc()
    for (name, version, intent, where, via, target, outcome), items in groups.items():
        count = len(items)
        cost = sum(HANDOFF_COST + STEP_COST * n for _, _, n in items)
        trigger = _common([o for _, o, _ in items if o is not None]) if where != "(not traced)" else {}
        if where == "(not traced)":
            fix = {"kind": "review", "why": "the recorded steps do not follow this playbook version"}
            diagnosis = f"{count} {outcome} runs of {name} v{version} could not be replayed through the playbook"
        else:
            pb, step = where.split(".", 1)
            fix = propose_fix(Edge(playbook=pb, step=step, via=via, target=target), lib, version)
            diagnosis = (f"{count} of {runs[(name, version)]} runs of {name} v{version} ended {outcome}: at step "
                         f"{where} the {via} edge leads to {target}, which hands over without trying anything "
                         f"else, when the customer saw {json.dumps(trigger, sort_keys=True)}")
        pid = hashlib.sha1(f"{name}|{version}|{where}|{via}|{target}|{outcome}".encode()).hexdigest()[:16]
        patterns.append({
            "pattern_id": pid, "playbook": name, "version": version, "intent": intent, "failure_step": where,
            "trigger": json.dumps({"via": via, "target": target, "observation": trigger}, sort_keys=True),
            "outcome": outcome, "count": count, "cost": round(cost, 2),
            "share_of_runs": round(count / runs[(name, version)], 4), "diagnosis": diagnosis,
            "proposed_fix": json.dumps(fix, sort_keys=True),
            "examples": [r["episode_id"] for r, _, _ in items[:5]], "detected_at": now})
    patterns.sort(key=lambda p: (-p["cost"], -p["count"], p["pattern_id"]))
    guidelines = []
    if guideline_hits["concision"]:
        guidelines.append({"kind": "prompt_guideline", "role": "dialogue", "guideline": "concision",
                           "why": f"{guideline_hits['concision']} failed runs took more than {LONG_RUN_STEPS} steps"})
    guidelines += reply_guidelines(store, [r for r in rows if r["outcome"] in FAILED],
                                   have={g["guideline"] for g in guidelines})
    return patterns, {"episodes": len(rows), "failed": sum(len(v) for v in groups.values()),
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
                  if fix["kind"] == "playbook_branch" else fix["kind"])
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
    top = patterns[0] if patterns else None
    return {"job": "failures", "episodes": facts["episodes"], "failed": facts["failed"],
            "patterns": len(patterns), "untraced": facts["untraced"], "report": report,
            "called_for": sum(facts["called_for"].values()),
            "top": {k: top[k] for k in ("playbook", "version", "failure_step", "count", "proposed_fix")} if top else None}


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--report", default=None, help="write the markdown report here")
    args = p.parse_args(argv)
    summary = failures(args.memory_uri, args.report)
    if args.report:
        print(Path(args.report).read_text())
    print_summary(summary)


if __name__ == "__main__":
    main()
