"""Evaluate a candidate playbook version against the active one on a replay set, and promote it only when the
evidence says so (jobs.ab.decide: minimum sample, one-sided two-proportion z-test against a margin).

Offline metrics per arm: end state reached (the scenario's checks), turns, escalation correct (handed over exactly
when the scenario expects a person). Replays run the playbooks against the sandbox with the scripted customer
(telco.scenarios.playbook_driver), so both arms see the same contacts. Promotion and rollback go through
procedural memory, which keeps every version with its activation history; each decision is also kept in
job_state ("prompt_eval") with its numbers.

    python -m jobs.prompt_eval --playbook mobile_data --candidate 3 --replay 200 [--promote]
    python -m jobs.prompt_eval --playbook mobile_data --candidate 3 --start-ab 0.2   # serve it to 20%
    python -m jobs.prompt_eval --playbook mobile_data --decide-ab [--promote]         # after jobs.learn
    python -m jobs.prompt_eval --playbook mobile_data --rollback

Prompt versions of a role (jobs.prompt_versions; needs a model: an API key, or --model scripted-guided):

    python -m jobs.prompt_eval --role dialogue [--candidate 4] --replay 200 [--promote] [--model scripted-guided]
    python -m jobs.prompt_eval --role dialogue --rollback

and served to a share of conversations on the Claude path (jobs.prompt_ab; no model needed to start or decide):

    python -m jobs.prompt_eval --role dialogue --candidate 4 --start-ab 0.2
    python -m jobs.prompt_eval --role dialogue --decide-ab [--promote]
"""
from __future__ import annotations

import json
from typing import Any

from memory.procedural import ProceduralMemory
from memory.experiments import Experiments
from memory.store import MemoryStore, now_utc, sql_str, sql_ts
from telco.playbooks.spec import Playbook
from telco.scenarios.playbook_driver import run_scenario_with_playbooks

from jobs.ab import MARGIN, MIN_PER_ARM, decide, families_worse
from jobs.common import local_writer, parser, print_summary, progress
from jobs.failures import Library
from jobs.prompt_model import MODELS
from jobs.scenario_mix import draw_contacts

JOB = "prompt_eval"
REPLAY_SEED = 515151


def _escalation_correct(result) -> bool:
    """Handed over exactly when the scenario expects a person (scenarios without a hand-over check: True)."""
    return next((c.ok for c in result.checks if c.check == "handoff"), True)


def evaluate(books: dict[str, Playbook], scenarios: list, desc: str) -> dict[str, Any]:
    return summarise([run_scenario_with_playbooks(s, books) for s in progress(scenarios, desc=desc)])


def summarise(results: list) -> dict[str, Any]:
    """The offline metrics of one arm's scenario results."""
    n = len(results)
    return {"n": n, "resolved": sum(r.passed for r in results),
            "resolution_rate": round(sum(r.passed for r in results) / n, 4) if n else 0.0,
            "mean_turns": round(sum(r.outcome.turns for r in results) / n, 2) if n else 0.0,
            "escalation_correct": round(sum(_escalation_correct(r) for r in results) / n, 4) if n else 0.0,
            "by_family": _by_family(results)}


def _by_family(results: list) -> dict[str, float]:
    fam: dict[str, list[int]] = {}
    for r in results:
        t = fam.setdefault(r.family, [0, 0])
        t[0] += r.passed
        t[1] += 1
    return {f: round(p / t, 4) for f, (p, t) in sorted(fam.items())}


def _log_decision(store: MemoryStore, writer, entry: dict[str, Any]) -> None:
    rows = store.table("job_state").search().where(f"job = {sql_str(JOB)}").limit(1).to_list()
    state = json.loads(rows[0]["state"]) if rows else {"history": []}
    state["history"].append(entry)
    writer.upsert("job_state", [{"job": JOB, "watermark": None, "state": json.dumps(state, default=str),
                                 "updated_at": now_utc()}])


def compare(store: MemoryStore, writer, playbook: str, candidate: int, *, replay: int = 200,
            regression: int = 100, seed: int = REPLAY_SEED, promote: bool = False, min_per_arm: int = MIN_PER_ARM,
            margin: float = MARGIN) -> dict[str, Any]:
    """The significance test runs on replayed contacts of the intents this playbook serves (where a playbook
    change can show); a regression set over every family checks that no family gets worse."""
    from jobs.evolve import intents_of

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
    _log_decision(store, writer, entry)
    return {"job": JOB, **entry}


def start_ab(store: MemoryStore, writer, playbook: str, candidate: int, share: float) -> dict[str, Any]:
    """Serve `candidate` to `share` of new conversations (sticky per conversation) next to the active version."""
    control = Library(store).active[playbook]
    experiment_id = Experiments(store, writer).start(playbook, control, candidate, share)
    entry = {"at": now_utc().isoformat(), "playbook": playbook, "experiment": experiment_id, "share": share,
             "control_version": control, "candidate_version": candidate}
    _log_decision(store, writer, entry)
    return {"job": JOB, **entry}


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
    _log_decision(store, writer, entry)
    return {"job": JOB, **entry}


def rollback(store: MemoryStore, writer, playbook: str) -> dict[str, Any]:
    before = Library(store).active.get(playbook)
    Experiments(store, writer).stop(playbook)
    now = ProceduralMemory(store, writer).rollback(playbook)
    entry = {"at": now_utc().isoformat(), "playbook": playbook, "rolled_back_from": before, "active": now.version}
    _log_decision(store, writer, entry)
    return {"job": JOB, **entry}


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--playbook")
    what.add_argument("--role", help="a role of the prompt registry (e.g. dialogue): evaluate prompt versions")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="--role: the model the replays talk to (default: Claude when an API key is set)")
    p.add_argument("--min-per-arm", type=int, default=MIN_PER_ARM)
    p.add_argument("--no-judge", action="store_true", help="--role: skip the LLM judge's Message Batch")
    p.add_argument("--candidate", type=int, help="the version to evaluate; default: the newest candidate")
    p.add_argument("--replay", type=int, default=200,
                   help="replayed contacts per arm (--playbook: of its intents; --role: of every family)")
    p.add_argument("--regression", type=int, default=100, help="replayed contacts of every family per arm")
    p.add_argument("--seed", type=int, default=None, help="the replay set's seed (default: one per mode)")
    p.add_argument("--promote", action="store_true", help="activate the candidate when the decision says so")
    p.add_argument("--rollback", action="store_true", help="re-activate the previously active version")
    p.add_argument("--start-ab", type=float, metavar="SHARE", help="serve the candidate to this share of traffic")
    p.add_argument("--decide-ab", action="store_true", help="decide the running experiment from served outcomes")
    args = p.parse_args(argv)
    store, writer = local_writer(args.memory_uri)
    if args.role:
        print_summary(_prompt_job(store, writer, args))
        return
    if args.rollback:
        print_summary(rollback(store, writer, args.playbook))
        return
    if args.decide_ab:
        print_summary(decide_ab(store, writer, args.playbook, promote=args.promote))
        return
    version = args.candidate
    if version is None:
        cands = [v.version for v in ProceduralMemory(store, writer).versions(args.playbook) if v.status == "candidate"]
        if not cands:
            raise SystemExit(f"playbook {args.playbook!r} has no candidate version")
        version = max(cands)
    if args.start_ab is not None:
        print_summary(start_ab(store, writer, args.playbook, version, args.start_ab))
        return
    print_summary(compare(store, writer, args.playbook, version, replay=args.replay, regression=args.regression,
                          seed=REPLAY_SEED if args.seed is None else args.seed, promote=args.promote,
                          min_per_arm=args.min_per_arm))


def _prompt_job(store: MemoryStore, writer, args) -> dict[str, Any]:
    from jobs.prompt_ab import decide_prompt_ab, start_prompt_ab
    from jobs.prompt_model import model_source
    from jobs.prompt_versions import REPLAY_SEED as PROMPT_SEED, compare_prompts, newest_candidate, rollback_prompt

    if args.rollback:
        return rollback_prompt(store, writer, args.role)
    if args.decide_ab:
        return decide_prompt_ab(store, writer, args.role, promote=args.promote, min_per_arm=args.min_per_arm)
    version = args.candidate if args.candidate is not None else newest_candidate(store, writer, args.role)
    if args.start_ab is not None:
        return start_prompt_ab(store, writer, args.role, version, args.start_ab)
    source = model_source(args.model, f"evaluating a {args.role} prompt")
    return compare_prompts(store, writer, args.role, version, source, replay_n=args.replay,
                           seed=PROMPT_SEED if args.seed is None else args.seed, promote=args.promote,
                           min_per_arm=args.min_per_arm, judge=not args.no_judge)


if __name__ == "__main__":
    main()
