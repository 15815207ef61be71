"""Benchmark: turn latency and throughput over HTTP against the real app (Ray Serve, every agent, LanceDB memory on
disk, the real embedding model), offline mode.

Usage: python bench/turns.py [--url http://127.0.0.1:8000] [--turns 200] [--clients 32] [--duration 30]
Without --url it starts its own local Ray cluster and the app (the way tests/integration/live/test_api_e2e.py does) and
shuts both down at the end. A "turn" is one POST /v1/conversations/{id}/messages from a customer-channel key, so the
channel has already verified the customer. Creating conversations and doing customer steps on the simulated device
(admin sandbox endpoint) are the customer's side of the conversation: they are sent but not timed as turns.
The last line of output is a one-line JSON summary (for RESULTS.md and CI to parse); the exit status is 1 when a
target (sequential p50, concurrent turns/s, zero errors) is missed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
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
# Each opening runs a real flow on the demo world: an area outage scan, the mobile-data and no-service playbooks
# (line, usage and outage reads, then device steps), the MMS playbook, the broadband-drops playbook (router status,
# line test) and a bill review that hands over to billing (a write: a handoff record). Most also fetch KB passages.
OPENINGS = (
    "Is there an outage in my area?",
    "My mobile data is slow",
    "I can't send picture messages",
    "My home internet keeps dropping",
    "Why is my bill so high this month?",
    "My phone has no signal",
)
TARGET_P50_MS, TARGET_TURNS_PER_S = 60.0, 60.0
APP_ENV = {"TELCO_LIMITS__RATE_PER_MINUTE": "1000000", "OMP_NUM_THREADS": "1"}


# ---- starting the app ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def local_app() -> Iterator[str]:
    """A fresh local Ray cluster running the app over memory bootstrapped into a temporary directory."""
    from serve.local_app import local_app as start

    with tempfile.TemporaryDirectory(prefix="bench-turns-") as uri:
        started = time.perf_counter()
        with start(uri, APP_ENV) as url:
            _log(f"app ready at {url} after {time.perf_counter() - started:.1f} s")
            yield url


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
    last_reply_json: str = ""  # the last turn as the server sent it (a realistic trace for the store probe)

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
            self.last_reply_json = resp.text
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
            from telco.intents import load_intents

            # Like the scenario driver's customer: describe the first offered concern in words.
            return {"text": f"I mean: {load_intents()[question['options'][0]].description.rstrip('.').lower()}."}
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
def sequential(url: str, turns: int, warmup: int, max_turns: int
               ) -> tuple[list[Sample], list[str], tuple[str | None, str]]:
    with httpx.Client(base_url=url, timeout=60) as http:
        return sequential_on(http, turns, warmup, max_turns)


def sequential_on(http: Any, turns: int, warmup: int, max_turns: int
                  ) -> tuple[list[Sample], list[str], tuple[str | None, str]]:
    """One customer after another over `http` (an httpx.Client, or anything with its `post`: bench/overhead.py
    sends the same script to the in-process system)."""
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
    return customer.samples, customer.errors, (customer._conversation, customer.last_reply_json)


def concurrent(url: str, clients: int, duration_s: float, turns: int | None, max_turns: int,
               warmup_s: float = 0.0, cpu_root: int | None = None
               ) -> tuple[list[Sample], list[str], float, dict[str, Any]]:
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
        for c in customers:
            t = threading.Thread(target=run, args=(c,), daemon=True)
            t.start()
            threads.append(t)
        # Untimed warm-up under the same load: autoscaling adds replicas (each loads its models) in the first
        # seconds, which a service under steady load has long done.
        time.sleep(warmup_s)
        with lock:
            counted = 0
            for c in customers:
                c.samples.clear()
        cpu_before, started = cpu_snapshot(cpu_root), time.perf_counter()
        if turns is None:
            time.sleep(duration_s)
            done.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        cpu = cpu_delta(cpu_before, cpu_snapshot(cpu_root), elapsed)
    finally:
        for http in clients_http:
            http.close()
    samples = [s for c in customers for s in c.samples]
    errors = [e for c in customers for e in c.errors]
    return samples, errors, elapsed, cpu


# ---- where the CPU goes (Linux /proc) -----------------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2:].split()  # the command name may contain spaces; fields after it do not
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / _TICK


def _role(pid: str) -> str:
    """A readable group for a process of our cluster: the Serve deployment, a Ray actor by its class, or the Ray
    system process by its program (raylet, gcs_server, the dashboard agent, the log monitor...)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    title = argv[0].decode(errors="replace")
    # A busy worker's title also names the method it runs ("ray::ServeReplica:telco:Planner.handle_request...").
    if title.startswith("ray::ServeReplica:"):
        return "replica:" + title.rsplit(":", 1)[-1].split(".")[0]
    if title.startswith("ray::"):
        name = title[5:].split()[0].split(".")[0]
        return "ray (idle workers)" if name == "IDLE" else name
    # A system process: its program, or the script a Python program runs (dashboard/agent.py, log_monitor.py).
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:  # a zombie has no command line left
        return "gone"
    scripts = [w for w in words[1:] if w.endswith(".py")]
    program = Path(scripts[0]).stem if scripts and "python" in Path(words[0]).name else Path(words[0].split()[0]).name
    return f"ray system: {program}"


def cpu_snapshot(root: int | None) -> dict[str, Any]:
    """CPU seconds of the machine, and of every process under `root` (this bench and the cluster it started)."""
    machine_busy = 0.0
    with contextlib.suppress(OSError):
        # user nice system idle iowait irq softirq steal (guest time is already inside user)
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        machine_busy = (sum(ticks) - ticks[3] - ticks[4]) / _TICK
    stats = {pid: st for pid in os.listdir("/proc") if pid.isdigit() and (st := _proc_stat(pid))}
    mine: dict[str, float] = {}
    if root is not None:
        children: dict[int, list[str]] = defaultdict(list)
        for pid, (ppid, _) in stats.items():
            children[ppid].append(pid)
        todo = [str(root)]
        while todo:
            pid = todo.pop()
            if pid in stats:
                mine[pid] = stats[pid][1]
            todo.extend(children.get(int(pid), []))
    return {"machine_busy_s": machine_busy, "procs": mine,
            "roles": {pid: ("bench client" if pid == str(root) else _role(pid)) for pid in mine}}


def cpu_delta(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    """CPU cores used per group over the interval (1.0 = one core busy the whole time)."""
    by_role: dict[str, float] = defaultdict(float)
    for pid, used in after["procs"].items():
        by_role[after["roles"][pid]] += used - before["procs"].get(pid, 0.0)
    ours = sum(by_role.values())
    machine_busy = after["machine_busy_s"] - before["machine_busy_s"]
    cores = {k: round(v / seconds, 2) for k, v in sorted(by_role.items(), key=lambda kv: -kv[1])}
    return {"machine_cores_busy": round(machine_busy / seconds, 2), "ours_cores": round(ours / seconds, 2),
            "other_work_cores": round(max(0.0, machine_busy - ours) / seconds, 2), "by_group_cores": cores}


def probe_store(conversation_id: str | None, reply_json: str, n: int = 30) -> dict[str, float]:
    """Times the working-memory holder's calls a turn makes outside its traced latency, from this driver: load
    (inside the trace) and the turn's commit, an exchange with a real trace and a real state (outside it)."""
    import ray

    from actors.runtime.conversation_store import HOLDER_NAME

    holder = ray.get_actor(HOLDER_NAME, namespace="telco")
    real = ray.get(holder.load.remote(conversation_id)) if conversation_id else None
    context = (real or {}).get("context") or {}
    probe = "conv-benchprobe"
    ray.get(holder.record_exchange.remote(probe, [("system", "probe opened", None)], customer_id=CUSTOMER_ID,
                                          patch={"context": context}))
    loads, commits = [], []
    for _ in range(n):
        started = time.perf_counter()
        ray.get(holder.load.remote(probe))
        loads.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ray.get(holder.record_exchange.remote(probe, [("customer", "Done.", None), ("agent", "ok", reply_json)],
                                              customer_id=CUSTOMER_ID, patch={"context": context}))
        commits.append((time.perf_counter() - started) * 1000)
    return {"load_p50_ms": round(_pct(loads, 50), 2), "commit_p50_ms": round(_pct(commits, 50), 2),
            "state_bytes": len(json.dumps(context)), "trace_bytes": len(reply_json)}


def replica_counts() -> dict[str, int]:
    """Running replicas per deployment of the app this process started (autoscaling may have added some)."""
    from ray import serve

    app = serve.status().applications["telco"]
    return {name: sum(n for state, n in d.replica_states.items() if str(state).endswith("RUNNING"))
            for name, d in app.deployments.items()}


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
    # Wall time the turn's own trace does not cover: HTTP proxy and ingress, the planner handle hop, the commit of
    # the turn to the log, and (when an issue ends) writing its episode. Split by whether the turn ended an issue.
    ending = [s.wall_ms - s.server_ms for s in samples if s.status in ("resolved", "handed_off")]
    going_on = [s.wall_ms - s.server_ms for s in samples if s.status not in ("resolved", "handed_off")]
    return {"status": dict(status), "opening_turns": len(openings), "opening_p50_ms": round(_pct(openings, 50), 1),
            "follow_up_p50_ms": round(_pct(follow, 50), 1),
            "outside_trace_p50_ms": {"turn_ends_issue": round(_pct(ending, 50), 1),
                                     "conversation_goes_on": round(_pct(going_on, 50), 1)},
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

    cpu_root = os.getpid() if args.url is None else None  # only a cluster this process started is ours to account
    cpu_before, started = cpu_snapshot(cpu_root), time.perf_counter()
    samples, errors, (last_conversation, last_reply) = sequential(url, args.turns, args.warmup, args.max_turns)
    cpu = cpu_delta(cpu_before, cpu_snapshot(cpu_root), time.perf_counter() - started)
    half = len(samples) // 2
    # Drift over the run: the memory tables gain a fragment per commit until the writer's scheduled compaction.
    drift = {"p50_first_half_ms": round(_pct([s.wall_ms for s in samples[:half]], 50), 1),
             "p50_second_half_ms": round(_pct([s.wall_ms for s in samples[half:]], 50), 1)}
    summary["sequential"] = {"turns": len(samples), "errors": len(errors), **latency(samples), **drift,
                             **mix(samples), "agents": breakdown(samples), "cpu": cpu}
    summary["load_after_sequential"] = _load()
    if args.url is None:  # the driver of the cluster can reach the holder actor directly
        summary["store_probe"] = probe_store(last_conversation, last_reply)
        _log(f"store probe: {summary['store_probe']}")
    _log(f"sequential: {json.dumps(summary['sequential'])}")
    for e in errors[:5]:
        _log(f"  error: {e}")

    samples, errors, elapsed, cpu = concurrent(url, args.clients, args.duration, args.concurrent_turns,
                                               args.max_turns, args.concurrent_warmup, cpu_root)
    summary["concurrent"] = {"clients": args.clients, "warmup_s": args.concurrent_warmup,
                             "seconds": round(elapsed, 1), "turns": len(samples),
                             "errors": len(errors), "turns_per_s": round(len(samples) / elapsed, 1),
                             **latency(samples), **mix(samples), "agents": breakdown(samples), "cpu": cpu}
    if args.url is None:
        summary["replicas_after"] = replica_counts()
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
    parser.add_argument("--concurrent-warmup", type=float, default=10.0,
                        help="seconds of concurrent load sent before the timed window (autoscaling settles)")
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
