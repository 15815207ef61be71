"""Simulate N customer contacts against the running system; the planner writes an episode for every issue that
ends, so afterwards episodic memory holds what the learning jobs learn from.

    python -m jobs.simulate --n 200 --seed 7 --base-url http://127.0.0.1:8000   # over the HTTP API
    python -m jobs.simulate --n 200 --seed 7 --memory-uri ./var/memory          # agents composed in this process

Same seed, same contacts (world, fault, words, persona) in the same order.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from jobs.common import parser, print_summary, progress
from jobs.personas import PersonaResult, run_contact
from jobs.scenario_mix import draw_contacts


def make_client(memory_uri: str, base_url: str | None, operations_key: str, admin_key: str):
    if base_url:
        from telco.scenarios.agents_driver import HttpClient

        return HttpClient(base_url, operations_key, admin_key)
    from actors.runtime.local import LocalClient

    return LocalClient(memory_uri)


def drain(client: Any) -> None:
    """Wait for the episodes the in-process planner writes off the reply path."""
    planner = getattr(client, "planner", None)
    if planner is not None:
        client.loop.run_until_complete(planner.drain())


def simulate(client: Any, seed: int, n: int, *, desc: str = "simulate") -> list[PersonaResult]:
    rng = random.Random(seed ^ 0x5EED)
    results = []
    for contact in progress(draw_contacts(seed, n), total=n, desc=desc):
        results.append(run_contact(contact, client, rng))
    drain(client)
    return results


def tally(results: list[PersonaResult]) -> dict[str, Any]:
    fam: dict[str, list[int]] = {}
    for r in results:
        t = fam.setdefault(r.family, [0, 0])
        t[0] += r.passed
        t[1] += 1
    n = len(results)
    return {"contacts": n, "resolved": sum(r.passed for r in results),
            "resolution_rate": round(sum(r.passed for r in results) / n, 4) if n else 0.0,
            "abandoned": sum(r.abandoned for r in results), "errors": sum(bool(r.outcome.error) for r in results),
            "personas": dict(Counter(r.persona for r in results)),
            "families": {f: round(p / t, 4) for f, (p, t) in sorted(fam.items())}}


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
