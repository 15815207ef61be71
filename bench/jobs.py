"""Learn-job throughput (episodes/s) on synthetic episodes in LanceDB on disk.

    OMP_NUM_THREADS=1 python bench/jobs.py --episodes 10000 100000 [--engine local ray]

Episodes are written straight into a fresh episodes table (no embeddings: learn does not read them; not
compacted: no vector index over null vectors), then `jobs.intent.learning.learn` runs once over all of them
(intent examples off: synthetic episodes have no turns), and a second time to show the incremental cost when
nothing is new. Last line: one-line JSON summary.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.common.command import print_summary  # noqa: E402

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
SHAPES = {
    "mobile_data": ([("get_line_status", "tool"), ("get_data_usage", "tool"), ("check_status_bar", "customer_step")],
                    ["turn_on_mobile_data", "turn_off_data_saver", "reset_apn"]),
    "broadband_drops": ([("get_broadband_status", "tool"), ("check_router_lights", "customer_step")],
                        ["restart_router", "move_router_to_ventilated_spot"]),
    "mobile_no_service": ([("get_line_status", "tool"), ("check_status_bar", "customer_step")],
                          ["turn_off_airplane_mode", "reseat_sim"]),
}
PLAYBOOK = {"mobile_data": "mobile_data", "broadband_drops": "broadband_drops", "mobile_no_service": "no_service"}


def synthetic(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        intent = rng.choice(sorted(SHAPES))
        looks, fixes = SHAPES[intent]
        outcome = "resolved" if rng.random() < 0.8 else "escalated"
        steps = [{"name": s, "kind": k, "result": {"ok": True, "seen": rng.randrange(5)}, "ok": True}
                 for s, k in looks]
        if outcome == "resolved":
            steps.append({"name": rng.choice(fixes), "kind": "customer_step", "result": {"ok": True}, "ok": True})
        else:
            steps.append({"name": "open_ticket", "kind": "tool", "result": {"ticket_id": f"T{i}"}, "ok": True})
        at = T0 + timedelta(seconds=30 * i)
        rows.append({"episode_id": f"syn-{seed}-{i}", "customer_id": f"C{100000 + rng.randrange(50000)}",
                     "conversation_id": f"conv-{i}", "summary": f"{intent} {outcome} with playbook "
                     f"{PLAYBOOK[intent]} v1", "intents": [intent], "intent": intent, "service_type": "mobile",
                     "playbook": PLAYBOOK[intent], "playbook_version": 1,
                     "steps": json.dumps(steps), "outcome": outcome, "started_at": at,
                     "ended_at": at + timedelta(minutes=rng.randrange(2, 30))})
    return rows


def prepare(uri: str, n: int) -> float:
    from memory.procedural import ProceduralMemory
    from memory.store import connect
    from memory.writer import LocalWriter

    store = connect(uri)
    writer = LocalWriter(store)
    ProceduralMemory(store, writer).load_playbooks()
    started = time.perf_counter()
    rows = synthetic(n)
    for i in range(0, n, 20_000):
        writer.append("episodes", rows[i:i + 20_000])
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--engine", nargs="+", choices=["local", "ray"], default=["local"])
    args = ap.parse_args()
    from jobs.intent.learning import learn

    results = []
    for engine in args.engine:
        if engine == "ray":
            import ray

            ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
        try:
            for n in args.episodes:
                uri = tempfile.mkdtemp(prefix=f"bench-jobs-{n}-")
                load_s = prepare(uri, n)
                first = learn(uri, engine=engine, with_examples=False)
                second = learn(uri, engine=engine, with_examples=False)
                row = {"engine": engine, "episodes": n, "load_s": round(load_s, 1),
                       "learn_s": first["seconds"], "episodes_per_s": first["episodes_per_s"],
                       "rerun_new": second["episodes"], "rerun_s": second["seconds"]}
                print(json.dumps(row), file=sys.stderr)
                results.append(row)
        finally:
            if engine == "ray":
                ray.shutdown()
    print_summary({"bench": "jobs_learn_throughput", "results": results})


if __name__ == "__main__":
    main()
