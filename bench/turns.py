"""Benchmark: turn latency and throughput over HTTP against the real app (Ray Serve, every agent, LanceDB memory on
disk, the real embedding model), offline mode.

Usage: python bench/turns.py [--url http://127.0.0.1:8000] [--turns 200] [--clients 32] [--duration 30]
Without --url it starts its own local Ray cluster and the app (the way tests/integration/test_api_e2e.py does) and
shuts both down at the end. A "turn" is one POST /v1/conversations/{id}/messages from a customer-channel key, so the
channel has already verified the customer. Creating conversations and doing customer steps on the simulated device
(admin sandbox endpoint) are the customer's side of the conversation: they are sent but not timed as turns.
The last line of output is a one-line JSON summary (for RESULTS.md and CI to parse).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CUSTOMER_KEY, ADMIN_KEY = "dev-customer-c1001-key", "dev-admin-key"
CUSTOMER_ID = "C1001"  # the customer the key above is bound to (demo world: fiber at home and a 5G line)
# Each opening runs a real flow: an area outage scan, a mobile-data playbook with diagnostics and device steps,
# an MMS playbook, a broadband check and a knowledge question.
OPENINGS = (
    "Is there an outage in my area?",
    "My mobile data is slow",
    "I can't send picture messages",
    "My home internet keeps dropping",
    "How much does it cost to refuel data?",
)
TARGET_P50_MS, TARGET_TURNS_PER_S = 60.0, 60.0
APP_ENV = {"TELCO_LIMITS__RATE_PER_MINUTE": "1000000", "OMP_NUM_THREADS": "1"}


# ---- starting the app ----------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_app() -> Iterator[str]:
    """A fresh local Ray cluster running the app over memory bootstrapped into a temporary directory."""
    import ray
    from ray import serve

    with tempfile.TemporaryDirectory(prefix="bench-turns-") as uri:
        env = {"TELCO_MEMORY_URI": uri, **APP_ENV}
        os.environ.update(env)
        from memory.bootstrap import memory_bootstrap
        from telco.config import Settings, get_settings

        get_settings.cache_clear()
        settings = Settings(memory_uri=uri)
        started = time.perf_counter()
        memory_bootstrap(settings)
        _log(f"memory bootstrapped in {time.perf_counter() - started:.1f} s")
        ray.init(address="local", include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
        try:
            port = _free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            from serve.app import build_app

            serve.run(build_app(settings), name="telco", route_prefix="/")
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, timeout_s=180)
            _log(f"app ready at {url} after {time.perf_counter() - started:.1f} s")
            yield url
        finally:
            with contextlib.suppress(Exception):
                serve.shutdown()
            ray.shutdown()


def _wait_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=10).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app at {url} did not become ready within {timeout_s:.0f} s")
        time.sleep(1)


# ---- one customer ----------------------------------------------------------------------------------------------
@dataclass
class Sample:
    wall_ms: float
    server_ms: float
    agents: dict[str, float]  # agent -> ms spent in it this turn (summed over its calls)
    calls: dict[str, int]
    tools: int
    status: str
    opening: bool  # the first turn of a conversation (intent classification and a new flow)


@dataclass
class Customer:
    """A scripted customer on the app channel: opens a conversation, does the device steps it is asked for, answers
    a choice with the first option, and starts over when the conversation ends or has gone on for max_turns."""

    http: httpx.Client
    max_turns: int
    offset: int = 0  # where in OPENINGS this customer starts, so concurrent customers do not move in lockstep
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _conversation: str | None = None
    _turns_here: int = 0
    _next: dict[str, Any] | None = None
    _opened: int = 0

    def __post_init__(self) -> None:
        self._customer = {"Authorization": f"Bearer {CUSTOMER_KEY}"}
        self._admin = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def turn(self) -> Sample | None:
        """One timed turn (plus the untimed customer-side requests around it). None when the turn failed."""
        try:
            if self._conversation is None or self._next is None or self._turns_here >= self.max_turns:
                self._open()
            body, opening = self._next, self._turns_here == 0
            started = time.perf_counter()
            resp = self.http.post(f"/v1/conversations/{self._conversation}/messages", headers=self._customer,
                                  json=body)
            wall_ms = (time.perf_counter() - started) * 1000
            if resp.status_code != 200:
                raise RuntimeError(f"turn -> {resp.status_code}: {resp.text[:200]}")
            out = resp.json()
            self._turns_here += 1
            self._next = self._reply_to(out)
        except Exception as err:  # counted and reported, never hidden: the bench requires 0 errors
            self.errors.append(f"{type(err).__name__}: {err}")
            self._conversation = None
            return None
        sample = _sample(out, wall_ms, opening)
        self.samples.append(sample)
        return sample

    def _open(self) -> None:
        resp = self.http.post("/v1/conversations", headers=self._customer, json={"channel": "app"})
        if resp.status_code != 201:
            raise RuntimeError(f"start conversation -> {resp.status_code}: {resp.text[:200]}")
        self._conversation = resp.json()["conversation_id"]
        self._turns_here = 0
        self._next = {"text": OPENINGS[(self.offset + self._opened) % len(OPENINGS)]}
        self._opened += 1

    def _reply_to(self, out: dict[str, Any]) -> dict[str, Any] | None:
        """What this customer says next, or None when the conversation is over for them."""
        if out["status"] in ("resolved", "handed_off"):
            return None
        if out["customer_steps"]:
            step = out["customer_steps"][0]["step_id"]
            resp = self.http.post("/v1/admin/sandbox/customer-steps", headers=self._admin,
                                  json={"step_id": step, "customer_id": CUSTOMER_ID})
            if resp.status_code != 200:
                raise RuntimeError(f"customer step {step} -> {resp.status_code}: {resp.text[:200]}")
            return {"text": "Done.", "step_results": [{"step_id": step, "observation": resp.json()}]}
        question = out.get("question")
        if question and question["kind"] == "choice" and question["options"]:
            return {"text": f"I mean {question['options'][0].replace('_', ' ')}."}
        return None  # a question this script cannot answer, or nothing asked: start a new conversation

    def reset_world(self) -> None:
        resp = self.http.post("/v1/admin/sandbox/world", headers=self._admin, json={"fixture": "demo"})
        if resp.status_code != 200:
            raise RuntimeError(f"reset world -> {resp.status_code}: {resp.text[:200]}")
        self._conversation = None  # a conversation must not carry on over a world it did not start in


def _sample(out: dict[str, Any], wall_ms: float, opening: bool) -> Sample:
    trace = out.get("trace") or {}
    agents: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for a in trace.get("agents", []):
        agents[a["agent"]] += a["ms"]
        calls[a["agent"]] += 1
    return Sample(wall_ms=wall_ms, server_ms=float(trace.get("latency_ms", 0.0)), agents=dict(agents),
                  calls=dict(calls), tools=len(trace.get("tools", [])), status=out["status"], opening=opening)


# ---- the two phases ----------------------------------------------------------------------------------------------
def sequential(url: str, turns: int, warmup: int, max_turns: int) -> tuple[list[Sample], list[str]]:
    with httpx.Client(base_url=url, timeout=60) as http:
        customer = Customer(http, max_turns)
        customer.reset_world()
        for _ in range(warmup):  # first calls load lazy state in replicas; not what a steady service sees
            customer.turn()
        customer.samples.clear()
        if customer.errors:
            raise RuntimeError(f"warm-up failed: {customer.errors[:3]}")
        round_size = len(OPENINGS) * max_turns
        while len(customer.samples) < turns:
            customer.turn()
            # Device steps change the simulated phone and router; a fresh world each round keeps flows comparable.
            if len(customer.samples) % round_size == 0:
                customer.reset_world()
            if len(customer.errors) > 10:
                break
        return customer.samples, customer.errors


def concurrent(url: str, clients: int, duration_s: float, turns: int | None,
               max_turns: int) -> tuple[list[Sample], list[str], float]:
    with httpx.Client(base_url=url, timeout=60) as http:
        Customer(http, max_turns).reset_world()
    done = threading.Event()
    counted = 0
    lock = threading.Lock()
    customers: list[Customer] = []

    def run(customer: Customer) -> None:
        nonlocal counted
        while not done.is_set():
            if customer.turn() is not None and turns is not None:
                with lock:
                    counted += 1
                    if counted >= turns:
                        done.set()
            if len(customer.errors) > 10:
                return

    # The world is not reset during this phase: 32 customers share one account, and a reload under a running
    # conversation would change what its next diagnostic sees. Their device steps only switch settings back on.
    threads = []
    clients_http = [httpx.Client(base_url=url, timeout=60) for _ in range(clients)]
    try:
        for n, http in enumerate(clients_http):
            customers.append(Customer(http, max_turns, offset=n))
        started = time.perf_counter()
        for c in customers:
            t = threading.Thread(target=run, args=(c,), daemon=True)
            t.start()
            threads.append(t)
        if turns is None:
            time.sleep(duration_s)
            done.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        for http in clients_http:
            http.close()
    samples = [s for c in customers for s in c.samples]
    errors = [e for c in customers for e in c.errors]
    return samples, errors, elapsed


def healthz_baseline(url: str, n: int = 100) -> float:
    """p50 of GET /healthz: the HTTP proxy and the ingress alone, no planner, to separate transport from work."""
    times = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(n):
            started = time.perf_counter()
            http.get("/healthz").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return round(_pct(times, 50), 2)


# ---- statistics ---------------------------------------------------------------------------------------------------
def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was measured)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency(samples: list[Sample]) -> dict[str, float]:
    wall = [s.wall_ms for s in samples]
    server = [s.server_ms for s in samples]
    return {"p50_ms": round(_pct(wall, 50), 1), "p95_ms": round(_pct(wall, 95), 1),
            "p99_ms": round(_pct(wall, 99), 1), "mean_ms": round(statistics.fmean(wall), 1) if wall else None,
            "server_p50_ms": round(_pct(server, 50), 1)}


def breakdown(samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Per agent: mean ms per turn (all turns, zero when not called), share of turns that call it, and the p50 of
    its time in the turns that do. Knowledge runs alongside Technical, so the sum can exceed server latency."""
    names = sorted({a for s in samples for a in s.agents})
    n = len(samples) or 1
    out: dict[str, dict[str, float]] = {}
    for name in names:
        present = [s.agents[name] for s in samples if name in s.agents]
        out[name] = {"mean_ms_per_turn": round(sum(present) / n, 2), "turn_share": round(len(present) / n, 2),
                     "p50_ms_when_called": round(_pct(present, 50), 2),
                     "calls_per_turn": round(sum(s.calls.get(name, 0) for s in samples) / n, 2)}
    return out


def mix(samples: list[Sample]) -> dict[str, Any]:
    status: dict[str, int] = defaultdict(int)
    for s in samples:
        status[s.status] += 1
    openings = [s.wall_ms for s in samples if s.opening]
    follow = [s.wall_ms for s in samples if not s.opening]
    return {"status": dict(status), "opening_turns": len(openings), "opening_p50_ms": round(_pct(openings, 50), 1),
            "follow_up_p50_ms": round(_pct(follow, 50), 1),
            "tools_per_turn": round(statistics.fmean(s.tools for s in samples), 2) if samples else 0}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 ** 2, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    return info


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- main ---------------------------------------------------------------------------------------------------------
def run(url: str, args: argparse.Namespace, summary: dict[str, Any]) -> None:
    summary["healthz_p50_ms"] = healthz_baseline(url)

    samples, errors = sequential(url, args.turns, args.warmup, args.max_turns)
    summary["sequential"] = {"turns": len(samples), "errors": len(errors), **latency(samples), **mix(samples),
                             "agents": breakdown(samples)}
    summary["load_after_sequential"] = _load()
    _log(f"sequential: {json.dumps(summary['sequential'])}")
    for e in errors[:5]:
        _log(f"  error: {e}")

    samples, errors, elapsed = concurrent(url, args.clients, args.duration, args.concurrent_turns, args.max_turns)
    summary["concurrent"] = {"clients": args.clients, "seconds": round(elapsed, 1), "turns": len(samples),
                             "errors": len(errors), "turns_per_s": round(len(samples) / elapsed, 1),
                             **latency(samples), **mix(samples), "agents": breakdown(samples)}
    summary["load_after_concurrent"] = _load()
    _log(f"concurrent: {json.dumps(summary['concurrent'])}")
    for e in errors[:5]:
        _log(f"  error: {e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start a local Ray cluster and the app)")
    parser.add_argument("--turns", type=int, default=200, help="sequential turns timed")
    parser.add_argument("--warmup", type=int, default=20, help="sequential turns sent first and not timed")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (one thread, one httpx each)")
    parser.add_argument("--duration", type=float, default=30.0, help="concurrent phase length in seconds")
    parser.add_argument("--concurrent-turns", type=int, default=None,
                        help="end the concurrent phase after this many turns instead of --duration")
    parser.add_argument("--max-turns", type=int, default=4, help="turns before a customer starts a new conversation")
    args = parser.parse_args(argv)
    for name in ("turns", "clients", "max_turns"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    summary: dict[str, Any] = {"bench": "turns", "machine": machine(), "load_at_start": _load(),
                               "mode": "offline", "url": args.url or "local"}
    if args.url:
        run(args.url.rstrip("/"), args, summary)
    else:
        with local_app() as url:
            run(url, args, summary)

    seq, conc = summary["sequential"], summary["concurrent"]
    summary["targets"] = {
        "sequential_p50_ms": {"target": TARGET_P50_MS, "value": seq["p50_ms"], "met": seq["p50_ms"] <= TARGET_P50_MS},
        "concurrent_turns_per_s": {"target": TARGET_TURNS_PER_S, "value": conc["turns_per_s"],
                                   "met": conc["turns_per_s"] >= TARGET_TURNS_PER_S},
        "errors": {"target": 0, "value": seq["errors"] + conc["errors"],
                   "met": seq["errors"] + conc["errors"] == 0},
    }
    print(json.dumps(summary))
    return 0 if all(t["met"] for t in summary["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
