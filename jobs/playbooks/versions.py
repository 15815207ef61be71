"""Evaluate a candidate playbook version against the active one on a replay set, and promote it only when the
evidence says so (jobs.common.ab.decide: minimum sample, one-sided two-proportion z-test against a margin).

Offline metrics per arm: end state reached (the scenario's checks), turns, escalation correct (handed over exactly
when the scenario expects a person). Replays run the playbooks against the sandbox with the scripted customer
(telco.scenarios.playbook_driver), so both arms see the same contacts. Promotion and rollback go through
procedural memory, which keeps every version with its activation history; each decision is also kept in
job_state ("prompt_eval", jobs.common.decisions) with its numbers.

Run as `python -m jobs.prompt_eval --playbook mobile_data --candidate 3 --replay 200 [--promote]` (or --rollback).
"""
from __future__ import annotations

from typing import Any

from jobs.common.ab import MARGIN, MIN_PER_ARM, decide, families_worse
from jobs.common.command import progress
from jobs.common.decisions import EVAL_JOB, log_decision
from jobs.common.library import Library
from jobs.common.offline_metrics import summarise
from jobs.common.scenario_mix import draw_contacts
from jobs.playbooks.evolve import intents_of
from memory.experiments import Experiments
from memory.procedural import ProceduralMemory
from memory.store import MemoryStore, now_utc
from telco.playbooks.spec import Playbook
from telco.scenarios.playbook_driver import run_scenario_with_playbooks

REPLAY_SEED = 515151


def evaluate(books: dict[str, Playbook], scenarios: list, desc: str) -> dict[str, Any]:
    return summarise([run_scenario_with_playbooks(s, books) for s in progress(scenarios, desc=desc)])


def compare(store: MemoryStore, writer, playbook: str, candidate: int, *, replay: int = 200,
            regression: int = 100, seed: int = REPLAY_SEED, promote: bool = False, min_per_arm: int = MIN_PER_ARM,
            margin: float = MARGIN) -> dict[str, Any]:
    """The significance test runs on replayed contacts of the intents this playbook serves (where a playbook
    change can show); a regression set over every family checks that no family gets worse."""
    lib = Library(store)
    if (playbook, candidate) not in lib.versions:
        raise SystemExit(f"playbook {playbook!r} has no version {candidate}")
    control_books = lib.books()
    candidate_books = {**control_books, playbook: lib.versions[(playbook, candidate)]}
    served = [c.scenario for c in draw_contacts(seed, replay, intents=intents_of(playbook))]
    mixed = [c.scenario for c in draw_contacts(seed + 1, regression)]
    control = evaluate(control_books, served, f"control {playbook} v{lib.active.get(playbook)}")
    cand = evaluate(candidate_books, served, f"candidate {playbook} v{candidate}")
    control_mix = evaluate(control_books, mixed, "regression control")
    cand_mix = evaluate(candidate_books, mixed, "regression candidate")
    decision = decide(control["resolved"], control["n"], cand["resolved"], cand["n"], min_per_arm=min_per_arm,
                      margin=margin)
    worse = sorted({*families_worse(control, cand), *families_worse(control_mix, cand_mix)})
    promoted = None
    if promote and decision.promote and not worse:
        ProceduralMemory(store, writer).activate(playbook, candidate)
        promoted = candidate
    entry = {"at": now_utc().isoformat(), "playbook": playbook, "control_version": lib.active.get(playbook),
             "candidate_version": candidate, "control": control, "candidate": cand,
             "regression": {"control": control_mix, "candidate": cand_mix},
             "decision": decision.model_dump(), "families_worse": worse, "promoted": promoted}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}


def rollback(store: MemoryStore, writer, playbook: str) -> dict[str, Any]:
    before = Library(store).active.get(playbook)
    Experiments(store, writer).stop(playbook)
    now = ProceduralMemory(store, writer).rollback(playbook)
    entry = {"at": now_utc().isoformat(), "playbook": playbook, "rolled_back_from": before, "active": now.version}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}


def newest_candidate(store: MemoryStore, writer, playbook: str) -> int:
    cands = [v.version for v in ProceduralMemory(store, writer).versions(playbook) if v.status == "candidate"]
    if not cands:
        raise SystemExit(f"playbook {playbook!r} has no candidate version")
    return max(cands)
