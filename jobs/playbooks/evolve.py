"""Rule-based variant generator: from the costliest playbook failure pattern, propose playbook versions that send
the failing edge somewhere else (first where an earlier version sent it, then each step of the flow that still
tries something), gate them on a small batch of replayed contacts of that intent, and store the best one as a
candidate version for the full evaluation (jobs.playbooks.versions).

Run as `python -m jobs.evolve --memory-uri ./var/memory [--pattern PATTERN_ID] [--batch 12]`.
"""
from __future__ import annotations

import json
from typing import Any

from jobs.common.library import Library
from jobs.common.scenario_mix import draw_contacts
from jobs.common.trace import escalation_tail
from jobs.playbooks.failures import edge_target
from memory.procedural import ProceduralMemory
from memory.store import MemoryStore, sql_str
from telco.intents import load_intents
from telco.playbooks.spec import Playbook
from telco.scenarios.playbook_driver import run_scenario_with_playbooks

MAX_CANDIDATES = 6
REPLAY_SEED = 424242


def repoint(book: Playbook, step_id: str, via: str, target: str, version: int) -> Playbook:
    body = book.model_dump(mode="json", exclude_none=True)
    body["version"] = version
    step = next(s for s in body["steps"] if s["id"] == step_id)
    if via == "next":
        step["next"] = target
    elif via == "on_error":
        step["on_error"] = target
    else:
        step["branches"][int(via.split(":")[1])]["goto"] = target
    return Playbook.model_validate(body)


def candidates(pattern: dict[str, Any], lib: Library) -> list[Playbook]:
    fix = json.loads(pattern["proposed_fix"])
    if fix.get("kind") != "playbook_branch":
        return []
    name = fix["playbook"]
    book = lib.books(pattern["playbook"], int(pattern["version"]))[name]
    tail = escalation_tail(book)
    ids = [s.id for s in book.steps]
    here = ids.index(fix["step"])
    others = [i for i in ids[here + 1:] + ids[:here] if i not in tail and i != fix["step"]]
    targets = ([fix["to"]] if fix.get("to") else []) + [t for t in others if t != fix.get("to")]
    version = max(v for (n, v) in lib.versions if n == name) + 1
    return [repoint(book, fix["step"], fix["via"], t, version) for t in targets[:MAX_CANDIDATES]]


def pass_rate(books: dict[str, Playbook], scenarios: list) -> float:
    return sum(run_scenario_with_playbooks(s, books).passed for s in scenarios) / len(scenarios)


def intents_of(playbook: str) -> set[str]:
    return {i for i, spec in load_intents().items() if spec.playbook == playbook}


def evolve(store: MemoryStore, writer, pattern: dict[str, Any], *, batch: int = 12) -> dict[str, Any]:
    lib = Library(store)
    current = lib.books(pattern["playbook"], int(pattern["version"]))
    cands = candidates(pattern, lib)
    if not cands:
        return {"job": "evolve", "pattern": pattern["pattern_id"], "candidates": 0, "stored": None}
    scenarios = [c.scenario for c in draw_contacts(REPLAY_SEED, batch, intents=intents_of(pattern["playbook"]))]
    baseline = pass_rate(current, scenarios)
    gated = []
    for cand in cands:
        rate = pass_rate({**current, cand.id: cand}, scenarios)
        gated.append((rate, cand))
    best_rate, best = max(gated, key=lambda g: g[0])  # max keeps the first of equals: earlier-version target first
    stored = None
    if best_rate > baseline:
        fix = json.loads(pattern["proposed_fix"])
        target = edge_target(best.step(fix["step"]), fix["via"])
        note = (f"evolved from failure pattern {pattern['pattern_id']}: {fix['step']} {fix['via']} "
                f"{fix['from']} -> {target}; gate {best_rate:.0%} vs {baseline:.0%} on {len(scenarios)} replays")
        ProceduralMemory(store, writer).add_version(best.model_dump(mode="json", exclude_none=True),
                                                    status="candidate", note=note)
        stored = {"playbook": best.id, "version": best.version, "note": note}
    return {"job": "evolve", "pattern": pattern["pattern_id"], "candidates": len(cands),
            "gate_batch": len(scenarios), "gate_baseline": round(baseline, 4),
            "gate_rates": [round(r, 4) for r, _ in gated], "stored": stored}


def top_pattern(store: MemoryStore, pattern_id: str | None = None) -> dict[str, Any] | None:
    q = store.table("failure_patterns").search()
    if pattern_id:
        q = q.where(f"pattern_id = {sql_str(pattern_id)}")
    rows = [r for r in q.limit(100_000).to_list() if json.loads(r["proposed_fix"]).get("kind") == "playbook_branch"]
    rows.sort(key=lambda r: (-r["cost"], -r["count"], r["pattern_id"]))
    return rows[0] if rows else None

