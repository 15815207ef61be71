"""What the operations monitor costs per turn it is fed (the monitor actor's CPU), at a small and a full window.

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/ops_monitor.py  (no Ray: the actor's body as a plain class).
The last line is a JSON summary.
"""
from __future__ import annotations

import json
import os
import platform
import random
import time

from telco.contract.messages import IntentScore
from actors.operations.monitor import Monitor, MonitorConfig, TurnSample
from telco.contract.http import TurnOut
from telco.contract.trace import AgentTrace, ToolTrace, TurnTrace

INTENTS = ["broadband_drops", "broadband_slow", "mobile_data", "mms", "billing_dispute", "plan_upgrade"]


def sample_turn(rng: random.Random, n: int) -> TurnOut:
    trace = TurnTrace(agents=[AgentTrace(agent=a, ms=rng.uniform(2, 60)) for a in
                              ("intent", "escalation", "technical", "dialogue", "knowledge")],
                      tools=[ToolTrace(name="get_router_status", kind="read", ok=True)],
                      latency_ms=rng.uniform(40, 400))
    return TurnOut(turn_id=f"c:{n:05d}", conversation_id="c", reply="r", mode="offline",
                   intents=[IntentScore(intent=rng.choice(INTENTS), confidence=rng.uniform(0.6, 1))], trace=trace)


def run(turns_per_s: float, seconds: float, seed: int = 1) -> dict:
    rng = random.Random(seed)
    monitor = Monitor(MonitorConfig.load())
    outs = [sample_turn(rng, i) for i in range(500)]
    n = int(turns_per_s * seconds)
    build = observe = 0.0
    for i in range(n):
        t0 = time.perf_counter()
        s = TurnSample.of(outs[i % 500], at=i / turns_per_s)
        t1 = time.perf_counter()
        monitor.observe(s)
        t2 = time.perf_counter()
        build, observe = build + (t1 - t0), observe + (t2 - t1)
    return {"turns_per_s": turns_per_s, "turns": n, "window_turns_at_end": len(monitor.window),
            "sample_us_per_turn": round(build / n * 1e6, 1), "observe_us_per_turn": round(observe / n * 1e6, 1),
            "monitor_cores_at_that_rate": round(observe / n * turns_per_s, 3)}


if __name__ == "__main__":
    results = [run(2, 600), run(60, 600)]
    summary = {"bench": "ops_monitor", "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
               "load_at_start": [round(x, 2) for x in os.getloadavg()], "runs": results}
    print(json.dumps(summary))
