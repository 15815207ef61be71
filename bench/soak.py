"""Soak: many turns at a steady offered rate against the real app (Ray Serve, every agent, LanceDB on disk, the real
embedding model), offline mode. Does the system stay as fast, as small and as correct at the end as at the start?

Usage: python bench/soak.py [--turns 10000] [--rate 8] [--clients 8] [--url http://127.0.0.1:8000]
The customers are bench/turns.py's (openings that run real flows on the demo world, device steps done on the
simulated device, choices answered). Turns are paced to `--rate` turns/s in total, so the load is the same at the
end as at the start and latency drift means the system changed, not the load. Every `--sample-every` turns it
records the LanceDB fragment count of each memory table and the resident memory of every process of the cluster.

Targets: p99 of the last 1,000 turns <= 1.5x the p99 of the first 1,000; fragments bounded (the largest count of any
table in the last quarter of the run <= what scheduled compaction allows); cluster memory bounded (the last quarter's
peak RSS <= 1.5x the first quarter's); 0 errors. The last line is a one-line JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turns import Customer, _load, _log, _pct, cpu_snapshot, machine  # noqa: E402

WINDOW = 1000  # turns compared at the start and the end
P99_RATIO, RSS_RATIO = 1.5, 1.5
# Writers compact after at most this many commits (memory/writer.py compact_every_commits); between two compactions
# a table gains about one fragment per commit, so a bounded table stays under this many fragments.
FRAGMENT_BOUND = 250
TABLES = ("turns", "episodes", "audit")  # what every turn (and every write, every ended issue) appends to
APP_ENV = {"TELCO_LIMITS__RATE_PER_MINUTE": "1000000", "OMP_NUM_THREADS": "1"}


def _rss_mib(pid: str) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def cluster_rss_mib(root: int) -> float:
    """Resident memory of every process under `root` (this bench, the Ray cluster it started, every replica)."""
    return round(sum(_rss_mib(pid) for pid in cpu_snapshot(root)["procs"]), 1)


def fragments(uri: str) -> dict[str, int]:
    from memory.store import connect

    store = connect(uri)
    out = {}
    for name in TABLES:
        try:
            out[name] = len(store.table(name).to_lance().get_fragments())
        except Exception as err:  # a table that does not exist yet in this memory is not a failure of the soak
            _log(f"fragments of {name}: {type(err).__name__}: {err}")
    return out


class Pacer:
    """Hands out send times `1/rate` apart to any number of client threads: a steady offered load."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            at = self.next_at = max(self.next_at + self.interval, time.monotonic() - self.interval)
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def soak(url: str, uri: str | None, args: argparse.Namespace) -> dict[str, Any]:
    pacer, done, lock = Pacer(args.rate), threading.Event(), threading.Lock()
    walls: list[float] = []  # in completion order
    errors: list[str] = []
    samples: list[dict[str, Any]] = []
    root = os.getpid() if args.url is None else None

    def take_sample(turns: int) -> None:
        # The load average says whether a change in latency came from this system or from others on the machine.
        row: dict[str, Any] = {"turns": turns, "at_s": round(time.monotonic() - started, 1), "load": _load()[0]}
        if root is not None:
            row["rss_mib"] = cluster_rss_mib(root)
        if uri:
            row["fragments"] = fragments(uri)
        samples.append(row)
        _log(f"soak: {json.dumps(row)} p50 so far {_pct(walls[-WINDOW:], 50):.0f} ms, errors {len(errors)}")

    def run(customer: Customer) -> None:
        while not done.is_set():
            pacer.wait()
            if done.is_set():
                return
            sample = customer.turn()
            with lock:
                if sample is not None:
                    walls.append(sample.wall_ms)
                errors.extend(customer.errors)
                customer.errors.clear()
                if len(walls) >= args.turns or len(errors) > args.max_errors:
                    done.set()

    with httpx.Client(base_url=url, timeout=60) as http:
        Customer(http, args.max_turns).reset_world()
    clients = [httpx.Client(base_url=url, timeout=60) for _ in range(args.clients)]
    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(Customer(c, args.max_turns, offset=n),), daemon=True)
               for n, c in enumerate(clients)]
    try:
        for t in threads:
            t.start()
        take_sample(0)
        next_sample = args.sample_every
        while not done.wait(1.0):
            if len(walls) >= next_sample:
                take_sample(len(walls))
                next_sample += args.sample_every
        for t in threads:
            t.join()
        take_sample(len(walls))
    finally:
        for c in clients:
            c.close()
    elapsed = time.monotonic() - started
    return {"turns": len(walls), "seconds": round(elapsed, 1), "turns_per_s": round(len(walls) / elapsed, 2),
            "errors": len(errors), "error_examples": errors[:5], "walls": walls, "samples": samples}


def judge(result: dict[str, Any], window: int) -> dict[str, Any]:
    walls, samples = result["walls"], result["samples"]
    first, last = walls[:window], walls[-window:]
    p99_first, p99_last = _pct(first, 99), _pct(last, 99)
    quarter = max(1, len(samples) // 4)
    targets: dict[str, Any] = {
        "p99_last_over_first": {"target": P99_RATIO, "value": round(p99_last / p99_first, 2),
                                "met": p99_last <= P99_RATIO * p99_first},
        "errors": {"target": 0, "value": result["errors"], "met": result["errors"] == 0},
    }
    with_frag = [s for s in samples if s.get("fragments")]
    if with_frag:
        peak = max(max(s["fragments"].values()) for s in with_frag[-quarter:])
        targets["fragments_peak_last_quarter"] = {"target": FRAGMENT_BOUND, "value": peak,
                                                  "met": peak <= FRAGMENT_BOUND}
    with_rss = [s["rss_mib"] for s in samples if "rss_mib" in s]
    if len(with_rss) >= 4:
        head, tail = max(with_rss[:quarter]), max(with_rss[-quarter:])
        targets["rss_last_over_first_quarter"] = {"target": RSS_RATIO, "value": round(tail / head, 2),
                                                  "met": tail <= RSS_RATIO * head}
    return {"p99_first_ms": round(p99_first, 1), "p99_last_ms": round(p99_last, 1),
            "p50_first_ms": round(_pct(first, 50), 1), "p50_last_ms": round(_pct(last, 50), 1), "targets": targets}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start a local Ray cluster and the app)")
    parser.add_argument("--memory", help="the running app's memory directory (for fragment counts with --url)")
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=8.0, help="offered turns per second, all clients together")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-turns", type=int, default=4, help="turns before a customer starts a new conversation")
    parser.add_argument("--sample-every", type=int, default=500, help="turns between fragment and memory samples")
    parser.add_argument("--max-errors", type=int, default=50, help="stop early after this many errors")
    args = parser.parse_args(argv)
    if args.turns < 200 or args.rate <= 0 or args.clients < 1:
        parser.error("--turns must be at least 200, --rate positive, --clients at least 1")
    window = min(WINDOW, args.turns // 2)

    summary: dict[str, Any] = {"bench": "soak", "machine": machine(), "load_at_start": _load(), "mode": "offline",
                               "rate": args.rate, "clients": args.clients, "window": window}
    if args.url:
        result = soak(args.url.rstrip("/"), args.memory, args)
    else:
        from serve.local_app import local_app

        with tempfile.TemporaryDirectory(prefix="bench-soak-") as uri, local_app(uri, APP_ENV) as url:
            result = soak(url, uri, args)
    summary.update({k: v for k, v in result.items() if k != "walls"})
    summary.update(judge(result, window))
    summary["load_at_end"] = _load()
    print(json.dumps(summary))
    return 0 if all(t["met"] for t in summary["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
