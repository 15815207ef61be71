"""A/B splits of playbook versions in serving: a candidate served to a share of new conversations (sticky per
conversation, memory.experiments), decided from the runs each version served (procedure_runs, which jobs.learn
records from the episodes); promotion activates the candidate and ends the split. Every start and decision is
logged in job_state ("prompt_eval", jobs.common.decisions).

Run as `python -m jobs.prompt_eval --playbook mobile_data --start-ab 0.2`, then `--decide-ab [--promote]`.
"""
from __future__ import annotations

from typing import Any

from jobs.common.ab import MIN_PER_ARM, decide
from jobs.common.decisions import EVAL_JOB, log_decision
from jobs.common.library import Library
from memory.experiments import Experiments
from memory.procedural import ProceduralMemory
from memory.store import MemoryStore, now_utc, sql_str, sql_ts


def start_ab(store: MemoryStore, writer, playbook: str, candidate: int, share: float) -> dict[str, Any]:
    """Serve `candidate` to `share` of new conversations (sticky per conversation) next to the active version."""
    control = Library(store).active[playbook]
    experiment_id = Experiments(store, writer).start(playbook, control, candidate, share)
    entry = {"at": now_utc().isoformat(), "playbook": playbook, "experiment": experiment_id, "share": share,
             "control_version": control, "candidate_version": candidate}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}


def online_outcomes(store: MemoryStore, playbook: str, version: int, since) -> tuple[int, int]:
    """(resolved, runs) of one version since the experiment started, from the runs jobs.learn recorded."""
    where = f"procedure_id = {sql_str(f'{playbook}@{version}')} AND at >= {sql_ts(since)}"
    rows = store.table("procedure_runs").search().where(where).select(["outcome"]).limit(10_000_000).to_list()
    return sum(r["outcome"] == "resolved" for r in rows), len(rows)


def decide_ab(store: MemoryStore, writer, playbook: str, *, promote: bool = False,
              min_per_arm: int = MIN_PER_ARM) -> dict[str, Any]:
    """Decide the running experiment on `playbook` from served outcomes; promotion ends the experiment."""
    running = [e for e in Experiments(store, writer).running() if e["playbook"] == playbook]
    if not running:
        raise SystemExit(f"playbook {playbook!r} has no running experiment")
    e = running[0]
    a_ok, a_n = online_outcomes(store, playbook, int(e["control_version"]), e["started_at"])
    b_ok, b_n = online_outcomes(store, playbook, int(e["candidate_version"]), e["started_at"])
    decision = decide(a_ok, a_n, b_ok, b_n, min_per_arm=min_per_arm)
    promoted = None
    if promote and decision.promote:
        ProceduralMemory(store, writer).activate(playbook, int(e["candidate_version"]))
        Experiments(store, writer).stop(playbook)
        promoted = int(e["candidate_version"])
    entry = {"at": now_utc().isoformat(), "playbook": playbook, "experiment": e["experiment_id"],
             "decision": decision.model_dump(), "promoted": promoted}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}
