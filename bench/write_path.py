"""Benchmark: the write path of the turns log, 1, 2 and 4 shards, on local disk and on S3 (SeaweedFS), in one run.

What is measured is what a planner waits for after a turn: `record_exchange` on the working-memory holder that owns
the conversation (memory/shards.py), which redacts the exchange, numbers it, and commits it through its shard's
writer actor; a commit counts when its acknowledgement is back. `--clients` conversations run at once on a private
local Ray cluster, each committing exchanges one after the other (a conversation's turns are sequential), with a
turn-sized trace (about 3 KB of JSON) and planner state (about 2 KB). Per configuration: acknowledged commits/s,
p50/p99 commit latency, how many requests each writer commit carried, and the CPU each process spent per commit.

Also, once per backend: the raw commit (one exchange appended by an in-process committer, nothing else running),
which is what S3 costs against local disk before any batching.

Usage: python bench/write_path.py [--clients 32] [--duration 12] [--backends local,s3] [--shards 1,2,4]
The last line is a one-line JSON summary with targets {name: {target, value, met}}.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = str(Path(__file__).resolve().parents[1])
TARGET_TWO_SHARDS = 1.6  # issue 16: 2 shards >= 1.6x the commits/s of 1 shard


def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (every reported value was measured)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "load_at_start": [round(x, 2) for x in os.getloadavg()]}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 ** 2, 1)
    return info


def trace_json(n: int) -> str:
    """A turn's trace of the usual size: agent rows, intents, a reply."""
    rows = [{"agent": a, "ms": 3.5 + i, "ok": True, "detail": {"step": f"check_{a}", "observations":
             {"signal_dbm": -97, "airplane_mode": False, "apn": "internet", "data_used_gb": 3.2}}}
            for i, a in enumerate(("intent", "technical", "oss_bss", "knowledge", "escalation", "dialogue") * 3)]
    return json.dumps({"turn_id": f"t-{n}", "reply": "Let's check your APN settings next. " * 4, "mode": "offline",
                       "intents": [{"intent": "mobile_data", "confidence": 0.91}], "trace": {"agents": rows}})


def context(n: int) -> dict[str, Any]:
    """The planner's state of the usual size."""
    return {"conversation_id": f"c-{n}", "channel": "chat", "turns": n, "issues": [
        {"intent": "mobile_data", "playbook": "mobile_data", "step": f"step_{k}", "done": [f"s{j}" for j in range(8)],
         "slots": {"line_id": "L-1001-1", "device": "Pixel 8", "apn": "internet"}} for k in range(6)],
        "identity": {"verified_customer_id": None, "asked": {"full_name": 1}}, "notes": "x" * 300}


# -- one configuration ----------------------------------------------------------------------------------------------

def _pid(handle) -> int:
    import ray

    return ray.get(handle.__ray_call__.remote(lambda self: os.getpid()))


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process on this machine (/proc; every actor runs here)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


async def _drive(holders, clients: int, duration_s: float, trace: str, tag: str) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration_s

    async def conversation(k: int) -> None:
        nonlocal errors
        cid = f"bench-{tag}-{k:04d}"
        await holders.record_exchange.remote(cid, [("system", "conversation opened on chat", None)],
                                             customer_id=None, patch={"context": context(0)}, expected_seq=0)
        seq, n = 1, 0
        while time.perf_counter() < stop_at:
            n += 1
            started = time.perf_counter()
            try:
                await holders.record_exchange.remote(
                    cid, [("customer", f"turn {n}: the data still does not work", None), ("agent", "ok", trace)],
                    customer_id=None, intents=["mobile_data"], patch={"context": context(n)}, expected_seq=seq)
            except Exception as exc:  # counted, and the run goes on: a benchmark reports errors, it does not hide them
                errors += 1
                _log(f"commit failed: {type(exc).__name__}: {exc}")
                return
            latencies.append((time.perf_counter() - started) * 1000)
            seq += 2

    await asyncio.gather(*(conversation(k) for k in range(clients)))
    return latencies, errors


def run_config(uri: str, shards: int, clients: int, duration_s: float,
               store_pid: int | None = None) -> dict[str, Any]:
    import ray

    from actors.runtime.conversation_store import HOLDER_NAME, memory_backed
    from memory.shards import ShardedHolders, holder_name
    from memory.writer import actor_name, stop_writers

    store = memory_backed(uri, shared=True, shards=shards)
    holders = store.memory
    handles = holders.handles if isinstance(holders, ShardedHolders) else [holders]
    from memory.writer import get_writer_actor

    ray.get([h.cached.remote() for h in handles])
    # Start every shard's writer before the clock runs (a new actor process imports LanceDB: seconds on a busy
    # machine, which the holders' first commits would otherwise wait out).
    ray.get([get_writer_actor(uri, "conversations", (k, shards)).ping.remote() for k in range(shards)])
    warm = asyncio.run(_drive(holders, clients, 1.5, trace_json(0), "warm"))  # connects, opens tables, first commits
    writers = [ray.get_actor(actor_name(uri, "conversations", (k, shards)), namespace="telco-memory")
               for k in range(shards)]
    pids = {**{f"holder{k}": _pid(h) for k, h in enumerate(handles)},
            **{f"writer{k}": _pid(w) for k, w in enumerate(writers)}}
    if store_pid:
        pids["seaweedfs"] = store_pid  # the S3 server shares the machine's two cores with everything else
    before_stats = ray.get([w.stats.remote() for w in writers])
    before_cpu = {name: _cpu_s(pid) for name, pid in pids.items()} | {"driver": _cpu_s(os.getpid())}
    started = time.perf_counter()
    latencies, errors = asyncio.run(_drive(holders, clients, duration_s, trace_json(1), "run"))
    elapsed = time.perf_counter() - started
    after_cpu = {name: _cpu_s(pid) for name, pid in pids.items()} | {"driver": _cpu_s(os.getpid())}
    after_stats = ray.get([w.stats.remote() for w in writers])
    commits = len(latencies)
    requests = sum(a["requests"] - b["requests"] for a, b in zip(after_stats, before_stats))
    batches = sum(a["batches"] - b["batches"] for a, b in zip(after_stats, before_stats))
    cpu_ms = {name: round((after_cpu[name] - before_cpu[name]) * 1000 / max(commits, 1), 2) for name in after_cpu}
    out = {"shards": shards, "clients": clients, "seconds": round(elapsed, 1), "commits": commits,
           "errors": errors + warm[1], "commits_per_s": round(commits / elapsed, 1),
           "p50_ms": round(_pct(latencies, 50), 1), "p99_ms": round(_pct(latencies, 99), 1),
           "requests_per_writer_commit": round(requests / batches, 2) if batches else None,
           "writer_commits_per_s": round(batches / elapsed, 1),
           # wall time of one writer commit (each writer commits one batch after the other)
           "ms_per_writer_commit": round(1000 * elapsed * shards / batches, 1) if batches else None,
           "cpu_ms_per_commit": cpu_ms,
           "cores_busy": round(sum(after_cpu[n] - before_cpu[n] for n in after_cpu) / elapsed, 2)}
    for k in range(shards):
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(holder_name(HOLDER_NAME, k, shards), namespace="telco"), no_restart=True)
    stop_writers(uri)
    return out


def raw_commits(uri: str, n: int = 60) -> dict[str, Any]:
    """One exchange per commit through an in-process committer: the store's own cost, no actors, no batching."""
    from datetime import datetime, timezone

    from memory.store import connect
    from memory.writer import LocalWriter, Op

    store = connect(uri)
    writer = LocalWriter(store)
    trace = trace_json(0)
    times = []
    for k in range(n):
        rows = [{"turn_id": f"raw-{k}:{seq:07d}", "conversation_id": f"raw-{k}", "seq": seq, "role": role,
                 "text": "x", "trace": trace if role == "agent" else None, "created_at": datetime.now(timezone.utc)}
                for seq, role in ((1, "customer"), (2, "agent"))]
        started = time.perf_counter()
        writer.apply([Op(table="turns", kind="append", rows=rows, fresh=True)])
        times.append((time.perf_counter() - started) * 1000)
    return {"commits": n, "p50_ms": round(_pct(times, 50), 1), "p99_ms": round(_pct(times, 99), 1),
            "commits_per_s": round(n / (sum(times) / 1000), 1)}


# -- main -----------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=12.0, help="seconds measured per configuration")
    p.add_argument("--backends", default="local,s3")
    p.add_argument("--shards", default="1,2,4")
    args = p.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    layouts = [int(s) for s in args.shards.split(",") if s]

    import ray

    from telco.testing.seaweed import seaweed_s3

    work = Path(tempfile.mkdtemp(prefix="write-path-"))
    summary: dict[str, Any] = {"bench": "write_path", "machine": machine(), "args": vars(args), "backends": {}}
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        env_vars = {"PYTHONPATH": ROOT}
        s3 = None
        if "s3" in backends:
            s3 = stack.enter_context(seaweed_s3(work / "seaweed"))
            s3.create_bucket("bench")
            os.environ.update(s3.env())
            env_vars.update(s3.env())
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": env_vars})
        stack.callback(ray.shutdown)
        for backend in backends:
            base = "s3://bench" if backend == "s3" else str(work / "local")
            result: dict[str, Any] = {"raw_commit": raw_commits(f"{base}/raw")}
            _log(f"{backend} raw commit: {result['raw_commit']}")
            for n in layouts:
                r = run_config(f"{base}/shards{n}", n, args.clients, args.duration,
                               s3.process.pid if backend == "s3" and s3 else None)
                _log(f"{backend} {n} shard(s): {r}")
                result[f"shards_{n}"] = r
            summary["backends"][backend] = result

    targets: dict[str, Any] = {}
    for backend, result in summary["backends"].items():
        one, two = result.get("shards_1"), result.get("shards_2")
        if one and two and one["commits_per_s"]:
            ratio = round(two["commits_per_s"] / one["commits_per_s"], 2)
            targets[f"two_shards_vs_one_{backend}"] = {"target": f">= {TARGET_TWO_SHARDS}", "value": ratio,
                                                       "met": ratio >= TARGET_TWO_SHARDS}
            if ratio < TARGET_TWO_SHARDS:
                # Where the time goes: the CPU each process spent per acknowledged commit, how busy the machine's
                # cores were with it, and how long one writer commit took and how many turns it carried.
                summary.setdefault("breakdown", {})[backend] = {
                    f"shards_{n}": {k: result[f"shards_{n}"][k] for k in (
                        "cpu_ms_per_commit", "cores_busy", "ms_per_writer_commit", "requests_per_writer_commit",
                        "writer_commits_per_s")} for n in layouts}
        errors = sum(r["errors"] for k, r in result.items() if k.startswith("shards_"))
        targets[f"errors_{backend}"] = {"target": 0, "value": errors, "met": errors == 0}
    if "local" in summary["backends"] and "s3" in summary["backends"]:
        local, s3r = summary["backends"]["local"], summary["backends"]["s3"]
        summary["s3_vs_local"] = {
            "raw_commit_p50_ratio": round(s3r["raw_commit"]["p50_ms"] / local["raw_commit"]["p50_ms"], 2),
            "one_shard_commits_per_s_ratio": round(s3r["shards_1"]["commits_per_s"]
                                                   / local["shards_1"]["commits_per_s"], 2)
            if "shards_1" in s3r and "shards_1" in local else None}
    summary["targets"] = targets
    print(json.dumps(summary, sort_keys=True), flush=True)
    return summary


if __name__ == "__main__":
    main()
