"""Benchmark: what distribution costs a turn. One command sends bench/turns.py's scripted customers (the same six
openings, device steps and answers) to three systems, one after the other, never two Ray clusters at once:

1. in-process: LocalClient (actors/runtime/local.py), every agent in this process without Ray, over memory on disk,
   with the Serve app's operations hooks (area incident check) and world keeping: CPU seconds of this process per
   turn over the timed sequential turns, and the turn's p50;
2. the zero-work floor (bench/serve_floor.py: the turn's hops with nothing in them): p50 sequential, turns/s with
   the same number of clients, CPU per turn;
3. the Serve app (bench/turns.py's two phases): p50 sequential, turns/s with 32 clients, and CPU per turn summed
   over every process of its local Ray cluster (this driver, which runs the clients, excluded), by process; also the
   cores that cluster uses with no traffic at all (polling, heartbeats, metrics), which every turn shares.

Usage: python bench/overhead.py [--turns 120] [--clients 32] [--duration 20]
The last line is a one-line JSON summary with `targets` (issue #16: app p50 <= 1.5x the floor's, app turns/s >= 50%
of the floor's, app CPU per turn <= 2x the in-process client's); the exit status is 1 when one is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as in the replicas (bench/turns.py APP_ENV), before torch loads

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve_floor import floor_app, load
from bench.turns import (
    APP_ENV,
    _load,
    _log,
    concurrent,
    cpu_snapshot,
    latency,
    machine,
    mix,
    replica_counts,
    sequential_on,
)

TARGET_P50_RATIO, TARGET_THROUGHPUT_SHARE, TARGET_CPU_RATIO = 1.5, 0.5, 2.0


# ---- the in-process system behind the customer's four requests -----------------------------------------------------
class _Reply:
    def __init__(self, status_code: int, text: str) -> None:
        self.status_code, self.text = status_code, text

    def json(self) -> Any:
        return json.loads(self.text)


class InProcessHttp:
    """What bench/turns.py's Customer posts (open a conversation, a message, a device step, a world reset), answered
    by a LocalClient's planner and sandbox in this process instead of over HTTP; keys resolve as the ingress does."""

    def __init__(self, client: Any) -> None:
        from serve.auth import KeyRing
        from telco.config import get_settings

        self.client, self.keys = client, KeyRing.from_settings(get_settings())

    def post(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> _Reply:
        try:
            status, body = self.client._run(self._answer(path, headers or {}, kw.get("json") or {}))
        except Exception as err:  # noqa: BLE001 - counted as the turn's error by the Customer, as an HTTP 500 would be
            return _Reply(500, f"{type(err).__name__}: {err}")
        return _Reply(status, body if isinstance(body, str) else json.dumps(body))

    async def _answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        import httpx

        from telco.contract.http import CustomerStepIn, MessageIn, NewConversation

        principal = self.keys.authenticate(httpx.Headers(headers))  # case-insensitive, as the ingress reads them
        planner, oss_bss = self.client.planner, self.client.oss_bss
        parts = path.strip("/").split("/")
        if parts == ["v1", "conversations"]:
            created = await planner.start_conversation(principal, NewConversation.model_validate(body))
            return 201, created.model_dump_json()
        if parts[:2] == ["v1", "conversations"] and parts[-1] == "messages":
            out = await planner.handle_turn(principal, parts[2], MessageIn.model_validate(body))
            return 200, out.model_dump_json()  # what the client reads is JSON on both systems
        if path == "/v1/admin/sandbox/customer-steps":
            step = CustomerStepIn.model_validate(body)
            return 200, await oss_bss.apply_customer_step(step.step_id, step.customer_id, step.service_id)
        if path == "/v1/admin/sandbox/world":
            loaded = await oss_bss.load_world(body["fixture"])
            if planner.ops is not None:
                await planner.ops.world_reloaded()
            return 200, loaded
        return 404, {"error": f"no route {path}"}


def in_process(memory_uri: str, turns: int, warmup: int, max_turns: int) -> dict[str, Any]:
    """Sequential turns through LocalClient; CPU is this process's (all its threads) over the timed turns only."""
    import torch

    from actors.operations.incidents import IncidentBook
    from actors.operations.turn_hooks import Operations
    from actors.runtime.local import LocalClient
    from actors.runtime.oss_bss import OssBss
    from actors.runtime.world_keeper import WorldKeeper
    from memory.audit import local_audit
    from memory.store import connect
    from memory.writer import LocalWriter

    torch.set_num_threads(1)  # as every replica does (actors/runtime/deployments.py)
    # The Serve app's OssBss keeps the world and audits writes; its planner screens reports against area incidents.
    oss_bss = OssBss("demo", audit=local_audit(memory_uri),
                     keeper=WorldKeeper(memory_uri, LocalWriter(connect(memory_uri))))
    with LocalClient(memory_uri, oss_bss=oss_bss) as client:
        client.planner.ops = Operations(oss_bss, IncidentBook())
        http = InProcessHttp(client)
        sequential_on(http, warmup, 0, max_turns)  # untimed: the models, caches and tables warm up
        cpu0, wall0 = time.process_time(), time.perf_counter()
        samples, errors, _ = sequential_on(http, turns, 0, max_turns)
        client._run(client.planner.drain())  # episodes still being written belong to these turns
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(samples) or 1
    return {"turns": len(samples), "errors": len(errors), "error_examples": errors[:3], **latency(samples),
            **_mix_short(samples), "cpu_s": round(cpu, 2), "cpu_ms_per_turn": round(cpu / n * 1000, 1),
            "cores": round(cpu / wall, 2), "seconds": round(wall, 1)}


def _mix_short(samples: list[Any]) -> dict[str, Any]:
    m = mix(samples)
    return {"status": m["status"], "opening_p50_ms": m["opening_p50_ms"], "follow_up_p50_ms": m["follow_up_p50_ms"],
            "tools_per_turn": m["tools_per_turn"]}


# ---- CPU of a cluster, per process group ----------------------------------------------------------------------------
def cluster_cpu(before: dict[str, Any], after: dict[str, Any], seconds: float, turns: int) -> dict[str, Any]:
    """CPU ms per turn of every process under this driver but the driver itself, by group, and in total."""
    groups: dict[str, float] = {}
    count: dict[str, int] = {}
    for pid, used in after["procs"].items():
        role = after["roles"][pid]
        if role == "bench client" or "py-spy" in role:  # the clients and the profiler are not the app
            continue
        groups[role] = groups.get(role, 0.0) + used - before["procs"].get(pid, 0.0)
        count[role] = count.get(role, 0) + 1
    total = sum(groups.values())
    n = turns or 1
    machine_busy = after["machine_busy_s"] - before["machine_busy_s"]
    return {"cpu_ms_per_turn": round(total / n * 1000, 1), "cores": round(total / seconds, 2),
            "machine_cores_busy": round(machine_busy / seconds, 2),
            "by_process_ms_per_turn": {k: round(v / n * 1000, 1)
                                       for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
            "processes": {k: count[k] for k in sorted(count)}}


def idle_cores(seconds: float) -> dict[str, Any]:
    """Cores the cluster under this driver uses with no request at all."""
    before = cpu_snapshot(os.getpid())
    time.sleep(seconds)
    out = cluster_cpu(before, cpu_snapshot(os.getpid()), seconds, 1)
    return {"seconds": seconds, "cores": out["cores"],
            "by_process_cores": {k: round(v / 1000 / seconds, 3) for k, v in out["by_process_ms_per_turn"].items()
                                 if v / 1000 / seconds >= 0.005}}


def profile(before: dict[str, Any], after: dict[str, Any], args: argparse.Namespace) -> list[Any]:
    """py-spy (raw, non-blocking) on the processes of the app that used the most CPU in the sequential phase, for the
    whole concurrent phase: where a replica's time goes under load. Output: one folded-stacks file per process."""
    import subprocess

    used = {pid: t - before["procs"].get(pid, 0.0) for pid, t in after["procs"].items()
            if not after["roles"][pid].startswith(("ray system", "bench client"))}
    busiest = sorted(used, key=lambda pid: -used[pid])[:args.profile_top]
    Path(args.profile).mkdir(parents=True, exist_ok=True)
    seconds = int(args.concurrent_warmup + args.duration)
    procs = []
    for pid in busiest:
        name = after["roles"][pid].replace(":", "-").replace(" ", "_")
        procs.append(subprocess.Popen([args.py_spy, "record", "-p", pid, "-d", str(seconds), "--nonblocking",
                                       "--format", "raw", "-o", f"{args.profile}/{name}-{pid}.txt"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _log(f"profiling {after['roles'][pid]} (pid {pid}) for {seconds} s")
    return procs


# ---- the floor and the app ---------------------------------------------------------------------------------------
def floor(clients: int, duration: float) -> dict[str, Any]:
    with floor_app() as url:
        load(url, 4, 3.0)  # warm-up: replicas, routers, connections
        out: dict[str, Any] = {}
        for phase, n in (("sequential", 1), ("concurrent", clients)):
            before, started = cpu_snapshot(os.getpid()), time.perf_counter()
            result = load(url, n, duration / 2 if n == 1 else duration)
            cpu = cluster_cpu(before, cpu_snapshot(os.getpid()), time.perf_counter() - started, result["turns"])
            out[phase] = {**result, "cpu_ms_per_turn": cpu["cpu_ms_per_turn"], "cores": cpu["cores"],
                          "by_process_ms_per_turn": cpu["by_process_ms_per_turn"]}
            _log(f"floor {phase}: {json.dumps(out[phase])}")
    return out


def app(memory_uri: str, args: argparse.Namespace) -> dict[str, Any]:
    from serve.local_app import local_app

    out: dict[str, Any] = {}
    with local_app(memory_uri, APP_ENV) as url:
        import httpx

        with httpx.Client(base_url=url, timeout=60) as http:
            sequential_on(http, args.warmup, 0, args.max_turns)
            before, started = cpu_snapshot(os.getpid()), time.perf_counter()
            samples, errors, _ = sequential_on(http, args.turns, 0, args.max_turns)
            seconds = time.perf_counter() - started
        cpu = cluster_cpu(before, cpu_snapshot(os.getpid()), seconds, len(samples))
        out["sequential"] = {"turns": len(samples), "errors": len(errors), "error_examples": errors[:3],
                             **latency(samples), **_mix_short(samples), "seconds": round(seconds, 1), **cpu}
        out["load_after_sequential"] = _load()
        _log(f"app sequential: {json.dumps(out['sequential'])}")
        out["idle"] = idle_cores(args.idle)  # after the sequential turns: models and caches are as under traffic
        _log(f"app idle: {json.dumps(out['idle'])}")
        # The idle cores are paid per second, not per turn: on a loaded machine turns are slower and each carries
        # more of them. Net of them, the figure is what the turns themselves cost.
        seq = out["sequential"]
        seq["cpu_ms_per_turn_net_of_idle"] = round(
            seq["cpu_ms_per_turn"] - out["idle"]["cores"] * seq["seconds"] / max(seq["turns"], 1) * 1000, 1)
        profilers = profile(before, cpu_snapshot(os.getpid()), args) if args.profile else []
        samples, errors, elapsed, cores = concurrent(url, args.clients, args.duration, None, args.max_turns,
                                                     args.concurrent_warmup, os.getpid())
        for proc in profilers:
            proc.wait(timeout=120)
        tps = len(samples) / elapsed
        by_group = {k: v for k, v in cores["by_group_cores"].items() if k != "bench client" and "py-spy" not in k}
        out["concurrent"] = {"clients": args.clients, "seconds": round(elapsed, 1), "turns": len(samples),
                             "errors": len(errors), "error_examples": errors[:3], "turns_per_s": round(tps, 1),
                             **latency(samples), "cores": round(sum(by_group.values()), 2),
                             "machine_cores_busy": cores["machine_cores_busy"],
                             "cpu_ms_per_turn": round(sum(by_group.values()) / tps * 1000, 1) if tps else None,
                             "by_process_ms_per_turn": {k: round(v / tps * 1000, 1) for k, v in by_group.items()}
                             if tps else {}}
        out["replicas_after"] = replica_counts()
        _log(f"app concurrent: {json.dumps(out['concurrent'])}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=120, help="timed sequential turns, in-process and on the app")
    parser.add_argument("--warmup", type=int, default=20, help="sequential turns sent first and not timed")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (app and floor)")
    parser.add_argument("--duration", type=float, default=20.0, help="concurrent phase length (s)")
    parser.add_argument("--concurrent-warmup", type=float, default=8.0, help="untimed concurrent load first (s)")
    parser.add_argument("--max-turns", type=int, default=4, help="turns before a customer starts a new conversation")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the app is watched with no traffic")
    parser.add_argument("--profile", help="a directory: py-spy the busiest app processes in the concurrent phase")
    parser.add_argument("--profile-top", type=int, default=2, help="how many processes --profile records")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy")
    args = parser.parse_args(argv)
    for name in ("turns", "clients", "max_turns"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings

    summary: dict[str, Any] = {"bench": "overhead", "machine": machine(), "mode": "offline",
                               "load": {"start": _load()}}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        local_uri, app_uri = f"{tmp}/local", f"{tmp}/app"
        started = time.perf_counter()
        memory_bootstrap(Settings(memory_uri=local_uri))
        shutil.copytree(local_uri, app_uri)  # both systems start from the same memory; bootstrap finds it done
        _log(f"memory bootstrapped in {time.perf_counter() - started:.0f} s")

        summary["in_process"] = in_process(local_uri, args.turns, args.warmup, args.max_turns)
        summary["load"]["after_in_process"] = _load()
        _log(f"in-process: {json.dumps(summary['in_process'])}")
        summary["floor"] = floor(args.clients, args.duration)
        summary["load"]["after_floor"] = _load()
        summary["app"] = app(app_uri, args)
        summary["load"]["after_app"] = _load()

    local, fl, served = summary["in_process"], summary["floor"], summary["app"]
    p50_ratio = served["sequential"]["p50_ms"] / fl["sequential"]["p50_ms"]
    share = served["concurrent"]["turns_per_s"] / fl["concurrent"]["turns_per_s"]
    cpu_ratio = served["sequential"]["cpu_ms_per_turn"] / local["cpu_ms_per_turn"]
    summary["ratios"] = {"app_p50_vs_in_process": round(served["sequential"]["p50_ms"] / local["p50_ms"], 2),
                         "app_cpu_net_of_idle_vs_in_process": round(
                             served["sequential"]["cpu_ms_per_turn_net_of_idle"] / local["cpu_ms_per_turn"], 2),
                         "floor_cpu_share_of_app_cpu": round(fl["sequential"]["cpu_ms_per_turn"]
                                                             / served["sequential"]["cpu_ms_per_turn"], 2)}
    errors = local["errors"] + served["sequential"]["errors"] + served["concurrent"]["errors"]
    summary["targets"] = {
        "sequential_p50_vs_floor": {"target": TARGET_P50_RATIO, "value": round(p50_ratio, 2),
                                    "met": p50_ratio <= TARGET_P50_RATIO},
        "throughput_share_of_floor": {"target": TARGET_THROUGHPUT_SHARE, "value": round(share, 2),
                                      "met": share >= TARGET_THROUGHPUT_SHARE},
        "cpu_per_turn_vs_in_process": {"target": TARGET_CPU_RATIO, "value": round(cpu_ratio, 2),
                                       "met": cpu_ratio <= TARGET_CPU_RATIO},
        "errors": {"target": 0, "value": errors, "met": errors == 0},
    }
    print(json.dumps(summary))
    return 0 if all(t["met"] for t in summary["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
