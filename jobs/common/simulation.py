"""Simulated customer contacts run against the system, over its HTTP API or through agents composed in this
process; the planner writes an episode for every issue that ends, so afterwards episodic memory holds what the
learning jobs learn from. Same seed, same contacts (world, fault, words, persona) in the same order."""
from __future__ import annotations

import random
from collections import Counter
from typing import Any

from jobs.common.command import progress
from jobs.common.offline_metrics import by_family
from jobs.common.personas import PersonaResult, run_contact
from jobs.common.scenario_mix import draw_contacts


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
    n = len(results)
    return {"contacts": n, "resolved": sum(r.passed for r in results),
            "resolution_rate": round(sum(r.passed for r in results) / n, 4) if n else 0.0,
            "abandoned": sum(r.abandoned for r in results), "errors": sum(bool(r.outcome.error) for r in results),
            "personas": dict(Counter(r.persona for r in results)), "families": by_family(results)}
