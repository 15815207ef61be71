"""The learning loop, measured: plant a defective playbook version, simulate contacts, then learn → failures →
evolve → prompt_eval → promotion, and compare resolution on a held-out set of contacts before and after.

    OMP_NUM_THREADS=1 python bench/learning_loop.py --contacts 500 --held-out 150

The simulation and the held-out runs drive the whole agent system in this process (actors.runtime.local: intent,
technical, knowledge, dialogue, escalation agents on LanceDB memory), not over HTTP: 500+ conversations over
Serve on this 2-core machine would take far longer. Held-out contacts come from another seed and run against a
separate memory, so nothing learned comes from them. Last line: one-line JSON summary.

    OMP_NUM_THREADS=1 python bench/learning_loop.py --intents

plants an intent-phrasing gap instead and runs learn -> publish (bench/intent_loop.py).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.common.command import print_summary  # noqa: E402

DEFECT = ROOT / "bench" / "data" / "planted_defect.yaml"
# The repair must win back at least this much of the resolution the defect took from the families that draw the
# defective playbook. A lift over all traffic would depend on the playbook's share of it (telco/data/traffic.yaml):
# 15 points were half of what a defect in mobile_data (30% of contacts) can cost, but more than a broadband flow's
# whole share.
MIN_FAMILY_LIFT_POINTS = 50


def exposed_families(playbook: str) -> set[str]:
    """The traffic families with a contact template whose intent the playbook serves."""
    from jobs.common.scenario_mix import templates
    from telco.intents import load_intents

    intents = load_intents()
    return {family for family, ts in templates().items()
            if any(getattr(intents.get(t.intents[0]), "playbook", None) == playbook for t in ts)}


def bootstrap(uri: str) -> None:
    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings

    memory_bootstrap(Settings(memory_uri=uri))


def activate_body(uri: str, body: dict, note: str) -> None:
    from jobs.common.tables import local_writer
    from memory.procedural import ProceduralMemory

    store, writer = local_writer(uri)
    ProceduralMemory(store, writer).add_version(body, status="active", note=note)


def plant(uri: str) -> dict:
    from jobs.playbooks.evolve import repoint
    from telco.playbooks import load_playbooks

    spec = yaml.safe_load(DEFECT.read_text())
    good = load_playbooks()[spec["playbook"]]
    bad = repoint(good, spec["step"], spec["via"], spec["target"], good.version + 1)
    body = bad.model_dump(mode="json", exclude_none=True)
    activate_body(uri, body, spec["note"])
    return {**spec, "version": bad.version, "body": body}


def held_out(uri: str, seed: int, n: int, desc: str) -> dict:
    from jobs.common.simulation import make_client, simulate, tally

    with make_client(uri, None, "", "") as client:  # in-process: closed, so no episode write is left pending
        return tally(simulate(client, seed, n, desc=desc))


def main() -> None:
    if "--intents" in sys.argv[1:]:
        from intent_loop import main as intents  # bench/ is this script's directory, first on sys.path

        return intents(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=500)
    ap.add_argument("--held-out", type=int, default=150)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--held-out-seed", type=int, default=9001)
    ap.add_argument("--replay", type=int, default=200)
    ap.add_argument("--report", default=str(ROOT / "bench" / "learning_loop_failures.md"))
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    from jobs.common.tables import local_writer
    from jobs.intent.learning import learn
    from jobs.playbooks.evolve import evolve, top_pattern
    from jobs.playbooks.failures import failures
    from jobs.playbooks.versions import compare

    work = Path(args.workdir or tempfile.mkdtemp(prefix="learning-loop-"))
    live, holdout = str(work / "live"), str(work / "holdout")
    t0 = time.perf_counter()
    timings = {}
    for uri in (live, holdout):
        bootstrap(uri)
    defect = plant(live)
    activate_body(holdout, defect["body"], defect["note"])
    t = time.perf_counter()
    before = held_out(holdout, args.held_out_seed, args.held_out, "held-out before")
    timings["held_out_before_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    sim = held_out(live, args.seed, args.contacts, "simulate")
    timings["simulate_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"simulate": sim}), file=sys.stderr)

    t = time.perf_counter()
    learned = learn(live)
    fail = failures(live, args.report)
    store, writer = local_writer(live)
    pattern = top_pattern(store)
    evolved = evolve(store, writer, pattern) if pattern else {"stored": None}
    timings["learn_failures_evolve_s"] = round(time.perf_counter() - t, 1)
    fix = json.loads(pattern["proposed_fix"]) if pattern else {}
    named = bool(pattern and pattern["playbook"] == defect["playbook"] and pattern["version"] == defect["version"]
                 and fix.get("step") == defect["step"] and fix.get("via") == defect["via"]
                 and fix.get("from") == defect["target"])

    evaluation, promoted = None, None
    if evolved.get("stored"):
        t = time.perf_counter()
        stored = evolved["stored"]
        evaluation = compare(store, writer, stored["playbook"], stored["version"], replay=args.replay, promote=True)
        timings["prompt_eval_s"] = round(time.perf_counter() - t, 1)
        promoted = evaluation["promoted"]
    after = before
    if promoted:
        from jobs.common.library import Library

        body = Library(store).versions[(defect["playbook"], promoted)].model_dump(mode="json", exclude_none=True)
        activate_body(holdout, body, "promoted by the learning loop")
        t = time.perf_counter()
        after = held_out(holdout, args.held_out_seed, args.held_out, "held-out after")
        timings["held_out_after_s"] = round(time.perf_counter() - t, 1)
    families = sorted(set(before["families"]) | set(after["families"]))
    per_family = {f: {"before": before["families"].get(f), "after": after["families"].get(f)} for f in families}
    worse = [f for f, v in per_family.items() if (v["after"] or 0) < (v["before"] or 0)]
    lift = round((after["resolution_rate"] - before["resolution_rate"]) * 100, 1)
    exposed = sorted(exposed_families(defect["playbook"]) & set(per_family))
    family_lift = max((round(((per_family[f]["after"] or 0) - (per_family[f]["before"] or 0)) * 100, 1)
                       for f in exposed), default=0.0)
    timings["total_s"] = round(time.perf_counter() - t0, 1)
    print_summary({
        "bench": "learning_loop", "contacts": args.contacts, "held_out": args.held_out,
        "defect": {k: defect[k] for k in ("playbook", "version", "step", "via", "target")},
        "failure_report_names_defect": named, "top_pattern": pattern["diagnosis"] if pattern else None,
        "simulated_resolution": sim["resolution_rate"], "episodes_learned": learned["episodes"],
        "failed_episodes": fail["failed"], "evolve": {k: evolved.get(k) for k in ("candidates", "gate_baseline",
                                                                                   "gate_rates", "stored")},
        "decision": evaluation["decision"] if evaluation else None, "promoted_version": promoted,
        "held_out_before": before["resolution_rate"], "held_out_after": after["resolution_rate"],
        "lift_points": lift, "families": per_family, "families_worse": worse,
        "exposed_families": exposed, "family_lift_points": family_lift,
        "acceptance": bool(named and promoted and lift > 0 and family_lift >= MIN_FAMILY_LIFT_POINTS and not worse),
        "timings": timings})


if __name__ == "__main__":
    main()
