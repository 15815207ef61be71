"""Benchmark: the most turns per second this machine can serve with the turn's shape and NO work in it.

The app here has the same hops as a real offline turn (HTTP → proxy → Ingress → Planner → agent deployments, two
calls to an actor standing in for the working-memory holder, which calls a writer actor) but every agent returns at
once. What it measures is the price of the architecture the design card binds us to (each agent its own Serve
deployment) on this machine: a turn's throughput cannot beat it, whatever the agents do.

Usage: python bench/serve_floor.py [--clients 32] [--duration 20]   (bench/turns.py measures the real turn)
The last line is a one-line JSON summary.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Calls per offline turn, from bench/turns.py's traces: intent, technical (which calls OSS/BSS ~1.5 times),
# knowledge on half the turns, escalation, dialogue; the holder is called to load and to commit, and commits
# through the writer.
AGENT_CALLS = ("intent", "technical", "oss_bss", "oss_bss_half", "knowledge_half", "escalation", "dialogue")


def build_app():
    import ray
    from fastapi import FastAPI
    from ray import serve

    @serve.deployment(ray_actor_options={"num_cpus": 0.05}, max_ongoing_requests=256)
    class Agent:
        async def call(self, payload: dict) -> dict:
            return payload

    @ray.remote(num_cpus=0)
    class Writer:
        async def apply(self, rows: list) -> int:
            return len(rows)

    @ray.remote(num_cpus=0)
    class Holder:
        def __init__(self) -> None:
            self.writer = Writer.remote()

        async def load(self, conversation_id: str) -> dict:
            return {"conversation_id": conversation_id}

        async def commit(self, conversation_id: str, rows: list) -> int:
            return await self.writer.apply.remote(rows)

    @serve.deployment(ray_actor_options={"num_cpus": 0.05}, max_ongoing_requests=256)
    class Planner:
        def __init__(self, agent) -> None:
            self.agent = agent
            self.holder = Holder.remote()
            self.n = 0

        async def turn(self, conversation_id: str, text: str) -> dict:
            self.n += 1
            await self.holder.load.remote(conversation_id)
            for name in AGENT_CALLS:
                if name.endswith("_half") and self.n % 2:
                    continue
                await self.agent.call.remote({"agent": name, "text": text})
            await self.holder.commit.remote(conversation_id, [{"text": text}, {"text": "reply"}])
            return {"reply": "ok"}

    api = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0.05}, max_ongoing_requests=256)
    @serve.ingress(api)
    class Ingress:
        def __init__(self, planner) -> None:
            self.planner = planner

        @api.post("/v1/conversations/{conversation_id}/messages")
        async def message(self, conversation_id: str, body: dict) -> dict:
            return await self.planner.turn.remote(conversation_id, body.get("text", ""))

    return Ingress.bind(Planner.bind(Agent.bind()))


@contextlib.contextmanager
def floor_app() -> Iterator[str]:
    """The zero-work app on a fresh local Ray cluster; yields its base URL, shuts both down after."""
    import ray
    from ray import serve

    from serve.local_app import free_port

    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(), name="floor", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def load(url: str, clients: int, duration: float) -> dict:
    done: list[float] = []
    errors = [0]
    stop = time.monotonic() + duration

    def client(n: int) -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                r = http.post(f"{url}/v1/conversations/c{n}/messages", json={"text": "my internet keeps dropping"})
                if r.status_code == 200:
                    done.append((time.perf_counter() - started) * 1000)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    lat = sorted(done)
    return {"clients": clients, "turns": len(done), "errors": errors[0], "turns_per_s": round(len(done) / seconds, 1),
            "p50_ms": round(statistics.median(lat), 2) if lat else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args(argv)

    with floor_app() as url:
        load(url, 4, 3.0)  # warm-up: replicas, routers, connections
        sequential = load(url, 1, args.duration / 2)
        concurrent = load(url, args.clients, args.duration)
    summary = {"bench": "serve_floor", "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
               "load_at_start": [round(x, 2) for x in os.getloadavg()],
               "calls_per_turn": {"http": 1, "serve_handle": 1 + sum(0.5 if a.endswith("_half") else 1 for a in AGENT_CALLS),
                                  "actor": 3},
               "sequential": sequential, "concurrent": concurrent}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
