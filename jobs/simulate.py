"""Simulate N customer contacts against the running system; the planner writes an episode for every issue that
ends, so afterwards episodic memory holds what the learning jobs learn from.

    python -m jobs.simulate --n 200 --seed 7 --base-url http://127.0.0.1:8000   # over the HTTP API
    python -m jobs.simulate --n 200 --seed 7 --memory-uri ./var/memory          # agents composed in this process

Same seed, same contacts (world, fault, words, persona) in the same order (jobs.common.simulation).
"""
from __future__ import annotations

import time

from jobs.common.command import parser, print_summary
from jobs.common.simulation import make_client, simulate, tally


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--base-url", default=None, help="drive the HTTP API here instead of in-process agents")
    p.add_argument("--operations-key", default="dev-operations-key")
    p.add_argument("--admin-key", default="dev-admin-key")
    args = p.parse_args(argv)
    client = make_client(args.memory_uri, args.base_url, args.operations_key, args.admin_key)
    started = time.perf_counter()
    try:
        results = simulate(client, args.seed, args.n)
    finally:
        if hasattr(client, "close"):
            client.close()
    elapsed = time.perf_counter() - started
    print_summary({"job": "simulate", "seed": args.seed, "via": "http" if args.base_url else "in-process",
                   "seconds": round(elapsed, 1), **tally(results)})


if __name__ == "__main__":
    main()
