"""Benchmark: generate a synthetic world, dump it to JSON, check its integrity; report time and peak memory.

Usage: python bench/generator.py [--customers 100000] [--seed 7] [--skip-check]
The last line of output is a one-line JSON summary (for RESULTS.md and CI to parse).
Peak RSS is the process high-water mark from getrusage, so it covers every phase run before it is read.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

# Runnable as a plain script from a checkout, whether or not the package is installed in the venv.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telco.sandbox.generator import dump_world, generate_world  # noqa: E402
from telco.sandbox.integrity import check_world  # noqa: E402


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-check", action="store_true", help="do not time check_world")
    args = parser.parse_args(argv)

    summary: dict[str, object] = {"bench": "generator", "customers": args.customers, "seed": args.seed}
    started = time.perf_counter()
    world = generate_world(args.seed, args.customers)
    summary["generate_s"] = round(time.perf_counter() - started, 2)
    summary["rss_after_generate_mb"] = _peak_rss_mb()
    print(f"generated {args.customers} customers in {summary['generate_s']} s", file=sys.stderr)

    # The generator pauses the cyclic GC; its first full pass over the new heap is a one-off cost the
    # process pays afterwards, timed here so it is not silently charged to whatever runs next.
    started = time.perf_counter()
    gc.collect()
    summary["first_gc_s"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    data = dump_world(world)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "world.json").write_bytes(data)
    summary["dump_s"] = round(time.perf_counter() - started, 2)
    summary["json_mb"] = round(len(data) / 1e6, 1)
    del data
    print(f"dumped {summary['json_mb']} MB in {summary['dump_s']} s", file=sys.stderr)

    if not args.skip_check:
        started = time.perf_counter()
        problems = check_world(world)
        summary["check_s"] = round(time.perf_counter() - started, 2)
        summary["problems"] = len(problems)
        for problem in problems[:5]:
            print(f"problem: {problem}", file=sys.stderr)

    summary["records"] = {
        "areas": len(world.areas),
        "cells": len(world.cells),
        "access_nodes": len(world.access_nodes),
        "lines": len(world.lines),
        "broadband": len(world.broadband),
        "bills": len(world.bills),
        "line_items": sum(len(b.items) for b in world.bills.values()),
    }
    summary["peak_rss_mb"] = _peak_rss_mb()
    summary["machine"] = {"nproc": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(summary))
    return 1 if summary.get("problems") else 0


if __name__ == "__main__":
    raise SystemExit(main())
