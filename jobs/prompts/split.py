"""A/B splits of a role's PROMPT versions in serving, decided from the outcomes of the conversations they served.
Run through jobs.prompt_eval:

    python -m jobs.prompt_eval --role dialogue --candidate 3 --start-ab 0.2   # serve dialogue@3 to 20%
    python -m jobs.prompt_eval --role dialogue --decide-ab [--promote]       # once enough episodes ended
    python -m jobs.prompt_eval --role dialogue --rollback                    # also stops a running split

The split is a row of the experiments table with subject `prompt:<role>` (memory.experiments), served by the
Claude path sticky per conversation (actors.planner.prompt_split). Each episode names the prompt versions that
served its conversation (its `prompts` field); an episode counts for the arm whose version of the role alone
served it (a conversation keeps the version it was first served, so only conversations older than that rule can
have seen both; they count for neither), and it succeeds when it ended resolved. The decision is
jobs.common.ab.decide (minimum sample per arm, one-sided z-test against a margin); promotion activates the
candidate in the prompt registry (which keeps the history) and stops the split. Every start and decision is
logged in job_state ("prompt_eval", jobs.common.decisions).
"""
from __future__ import annotations

from typing import Any

from actors.planner.prompt_split import pinned_versions
from jobs.common.ab import MARGIN, MIN_PER_ARM, decide
from jobs.common.decisions import EVAL_JOB, log_decision
from jobs.common.episodes import read_all
from memory.experiments import Experiments, prompt_subject
from memory.prompts import PromptRegistry
from memory.store import MemoryStore, now_utc, sql_ts


def start_prompt_ab(store: MemoryStore, writer, role: str, candidate: int, share: float) -> dict[str, Any]:
    """Serve `candidate` of `role` to `share` of new conversations next to the active version."""
    registry = PromptRegistry(store, writer)
    control, cand = registry.active(role).version, registry.get(role, candidate).version
    if cand == control:
        raise SystemExit(f"{role}@{candidate} is the active version; split traffic with another version")
    experiment_id = Experiments(store, writer).start(prompt_subject(role), control, cand, share)
    entry = {"at": now_utc().isoformat(), "role": role, "experiment": experiment_id, "share": share,
             "control_version": control, "candidate_version": cand}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}


def served_outcomes(store: MemoryStore, role: str, versions: tuple[int, int], since) -> dict[int, tuple[int, int]]:
    """{version: (resolved, episodes)} of the episodes since `since` that one of `versions` of `role` served."""
    out = {v: (0, 0) for v in versions}
    for episode in read_all(store, f"started_at >= {sql_ts(since)}"):
        version = pinned_versions(episode.prompts).get(role)  # None when two versions served it: counts for neither
        if version in out:
            ok, n = out[version]
            out[version] = (ok + (episode.outcome == "resolved"), n + 1)
    return out


def decide_prompt_ab(store: MemoryStore, writer, role: str, *, promote: bool = False,
                     min_per_arm: int = MIN_PER_ARM, margin: float = MARGIN) -> dict[str, Any]:
    """Decide the running split on `role` from served episodes; promotion activates the candidate and ends it."""
    experiments = Experiments(store, writer)
    running = [e for e in experiments.running() if e["playbook"] == prompt_subject(role)]
    if not running:
        raise SystemExit(f"role {role!r} has no running prompt experiment")
    e = running[0]
    control, cand = int(e["control_version"]), int(e["candidate_version"])
    counts = served_outcomes(store, role, (control, cand), e["started_at"])
    (a_ok, a_n), (b_ok, b_n) = counts[control], counts[cand]
    decision = decide(a_ok, a_n, b_ok, b_n, min_per_arm=min_per_arm, margin=margin)
    registry = PromptRegistry(store, writer)
    for version, ok, n in ((control, a_ok, a_n), (cand, b_ok, b_n)):
        if n:
            registry.record_metrics(role, version, {"served_resolution_rate": round(ok / n, 4), "served_n": n})
    promoted = None
    if promote and decision.promote:
        registry.activate(role, cand)
        experiments.stop(prompt_subject(role))
        promoted = cand
    entry = {"at": now_utc().isoformat(), "role": role, "experiment": e["experiment_id"],
             "control_version": control, "candidate_version": cand, "decision": decision.model_dump(),
             "promoted": promoted}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}
